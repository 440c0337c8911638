"""api = aius: POST /v1/login {email, password}; for accounts with 2FA,
POST /v1/2fa/login {challenge_token, code} with the authenticator's code
(from oathtool here) or a recovery code.  require_2fa refuses accounts
without 2FA."""

import os

from flowtest import EMULATOR_SECRETS, FlowEnv, FlowTestCase, totp_code
from freddytest import PASSWORDS, main

AIUS_CONFIG = "user_template = %u@example.com\n"
CODE_PROMPT = "Authenticator or recovery code: "


class AiusLogin(FlowTestCase):
    env_kwargs = {"api": "aius", "config": AIUS_CONFIG}

    def login(self, user, codes=(), password=None):
        script = [("Password: ", PASSWORDS.get(user, "x") if password is None else password)]
        prompt = CODE_PROMPT
        for code in codes:
            script.append((prompt, code))
            prompt = "Invalid code.*\r?\n\r?\n.*" + CODE_PROMPT
        return self.env.pamtester(user, script)

    def test_totp_accepted(self):
        r = self.login("bob", [lambda: totp_code(EMULATOR_SECRETS["bob"])])
        self.assertEqual(r.status, 0, r)
        self.assertIn("successfully authenticated", r.transcript)
        req = self.env.emu.stats()["requests"]
        self.assertEqual(req.get("POST /api/v1/login"), 1)
        self.assertEqual(req.get("POST /api/v1/2fa/login"), 1)

    def test_wrong_totp_refused_then_right_one(self):
        secret = EMULATOR_SECRETS["bob"]
        wrong = lambda: "%06d" % ((int(totp_code(secret)) + 500000) % 1000000)
        r = self.login("bob", [wrong, lambda: totp_code(secret)])
        self.assertEqual(r.status, 0, r)
        self.assertIn("Invalid code, 2 attempts left", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /api/v1/2fa/login"), 2)

    def test_wrong_codes_exhaust_attempts(self):
        r = self.login("bob", ["000000", "not-a-code", ""])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid code, no attempts left", r.transcript)
        self.assertIn("Have exhausted maximum number of retries", r.transcript)
        # The empty answer cost an attempt without a request.
        self.assertEqual(self.env.emu.requests("POST /api/v1/2fa/login"), 2)

    def test_recovery_code_accepted_once(self):
        r = self.login("bob", ["  abcd-efgh-ijkl "])
        self.assertEqual(r.status, 0, r)
        r = self.login("bob", ["abcd-efgh-ijkl", "mnop-qrst-uvwx"])
        self.assertEqual(r.status, 0, r)
        self.assertIn("Invalid code, 2 attempts left", r.transcript)

    def test_account_without_2fa_logs_in_with_the_password(self):
        r = self.env.pamtester("carol", [("Password: ", PASSWORDS["carol"])])
        self.assertEqual(r.status, 0, r)
        self.assertNotIn(CODE_PROMPT, r.transcript)
        self.assertEqual(self.env.emu.requests("POST /api/v1/2fa/login"), 0)

    def test_wrong_password(self):
        r = self.login("bob", password="wrong")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid email or password", r.transcript)
        self.assertNotIn(CODE_PROMPT, r.transcript)

    def test_server_text_is_sanitised(self):
        self.env.emu.admin("config", {"control_chars": True})
        r = self.login("bob", password="wrong")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid email or password", r.transcript)
        self.assertNotIn("\x1b", r.transcript)

    def test_server_error_is_unavailable(self):
        self.env.emu.admin("config", {"fault": "status", "fault_status": 503,
                                      "fault_paths": ["/api/v1/2fa/login"]})
        r = self.login("bob", ["123456"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)

    def test_wrong_types_in_the_login_reply_never_pass(self):
        self.env.emu.admin("config", {"fault": "wrongtypes", "fault_paths": ["/api/v1/login"]})
        r = self.env.pamtester("carol", [("Password: ", PASSWORDS["carol"])])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)


class AiusRequire2fa(FlowTestCase):
    # One wrong code drops the challenge on the server side.
    env_kwargs = {"api": "aius", "config": AIUS_CONFIG + "require_2fa = yes\n",
                  "emulator_args": ("--max-code-failures", "1")}

    def test_account_without_2fa_refused(self):
        r = self.env.pamtester("carol", [("Password: ", PASSWORDS["carol"])])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Two-factor authentication is required", r.transcript)
        self.assertIn("carol has no two-factor authentication", self.env.helper.read_log())

    def test_account_with_2fa_accepted(self):
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"]),
                                       (CODE_PROMPT, lambda: totp_code(EMULATOR_SECRETS["bob"]))])
        self.assertEqual(r.status, 0, r)

    def test_expired_challenge_ends_the_login(self):
        r = self.env.pamtester("bob", [
            ("Password: ", PASSWORDS["bob"]),
            (CODE_PROMPT, "000000"),
            ("Invalid code, 2 attempts left.*\r?\n\r?\n.*" + CODE_PROMPT,
             lambda: totp_code(EMULATOR_SECRETS["bob"])),
        ])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("The login has expired, please start again", r.transcript)


class AiusFirstPass(FlowTestCase):
    """The password step every profile shares (the engine, auth/login.c) honours
    use_first_pass / try_first_pass like the Freddy flow."""
    env_kwargs = {"api": "aius", "config": AIUS_CONFIG}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        items = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so"
        env.write_service("first-use", "auth required %s\nauth required %s\n"
                          % (items, env.module_line("debug use_first_pass")))
        env.write_service("first-try", "auth required %s\nauth required %s\n"
                          % (items, env.module_line("debug try_first_pass")))

    def run_with_authtok(self, service, authtok, script):
        os.environ["PAM_AUTHTOK"] = authtok
        try:
            return self.env.pamtester("bob", script, service=service)
        finally:
            del os.environ["PAM_AUTHTOK"]

    def test_use_first_pass_asks_only_for_the_code(self):
        r = self.run_with_authtok("first-use", PASSWORDS["bob"], [
            (CODE_PROMPT, lambda: totp_code(EMULATOR_SECRETS["bob"]))])
        self.assertEqual(r.status, 0, r)
        self.assertNotIn("Password:", r.transcript)

    def test_use_first_pass_wrong_password_never_prompts(self):
        r = self.run_with_authtok("first-use", "wrong", [])
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("Password:", r.transcript)

    def test_try_first_pass_prompts_after_a_wrong_one(self):
        r = self.run_with_authtok("first-try", "wrong", [
            ("Password: ", PASSWORDS["bob"]),
            (CODE_PROMPT, lambda: totp_code(EMULATOR_SECRETS["bob"]))])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /api/v1/login"), 2)


if __name__ == "__main__":
    main()
