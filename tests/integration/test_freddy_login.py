"""The Freddy email-code login end to end: pamtester -> libpam ->
pam_freddy.so -> freddy-helperd -> HTTPS emulator."""

import json
import os
import stat
import time

import cachefile
from freddytest import FreddyEnv, FreddyTestCase, main, wait_for


class FreddyLogin(FreddyTestCase):

    def test_success_stores_tokens_privately(self):
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)
        self.assertIn("Code emailed to a***@example.com.", r.transcript)
        self.assertIn("successfully authenticated", r.transcript)
        path = self.env.cache_file("alice")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.env.cache_dir).st_mode), 0o700)
        cached = cachefile.read_record(path)
        self.assertEqual(cached["user"], "alice")
        self.assertTrue(cached["refresh_token"])
        self.assertGreater(cached["access_expires"], time.time() + 3600)
        self.assertNotIn("password", json.dumps(cached).lower())
        stats = self.env.emu.stats()["requests"]
        self.assertEqual(stats.get("POST /v1/auth/login"), 1)
        self.assertEqual(stats.get("POST /v1/auth/verify"), 1)

    def test_code_info_is_folded_into_the_prompt(self):
        # sshd shows info text only with the next prompt: it must be part of it.
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("a\\*\\*\\*@example.com.\r?\n\r?\n4-digit code", lambda: self.env.emu.code_for("alice@example.com")),
        ])
        self.assertEqual(r.status, 0, r)

    def test_wrong_password_sends_no_code(self):
        r = self.env.pamtester("alice", [("Password: ", "wrong")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid email or password", r.transcript)
        self.assertIn("Authentication failure", r.transcript)
        self.assertEqual(self.env.emu.codes_sent(), 0)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/verify"), 0)

    def test_wrong_code_then_right_code(self):
        started = time.time() - 0.001
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "0000"),
            ("Invalid code, 2 attempts left\r?\n\r?\n4-digit code",
             lambda: self.env.emu.code_for("alice@example.com", started)),
        ])
        self.assertEqual(r.status, 0, r)

    def test_attempts_exhausted(self):
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "0001"),
            ("Invalid code, 2 attempts left", "0002"),
            ("Invalid code, 1 attempt left", "0003"),
        ])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid code, no attempts left", r.transcript)
        self.assertIn("Have exhausted maximum number of retries", r.transcript)
        # "0000"-style codes are sent to the API as numbers; all three reached it.
        self.assertEqual(self.env.emu.requests("POST /v1/auth/verify"), 3)

    def test_malformed_code_costs_an_attempt_without_a_request(self):
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "12a4"),
            ("Invalid code, 2 attempts left", "12345"),
            ("Invalid code, 1 attempt left", "1"),
        ])
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/verify"), 0)

    def test_empty_answer_resends_the_code(self):
        first = {}

        def remember_first():
            first["code"] = self.env.emu.code_for("alice@example.com")
            first["time"] = time.time()
            return ""

        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", remember_first),
            ("New code emailed to a\\*\\*\\*@example.com.\r?\n\r?\n4-digit code",
             lambda: wait_for(lambda: self.env.emu.codes_sent() == 2 and
                              self.env.emu.code_for("alice@example.com"), what="second code")),
        ])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/resend-email"), 1)

    def test_rate_limited_login(self):
        # The emulator's own limiter answers with the documented 429 body.
        for _ in range(5):
            self.env.pamtester("alice", [("Password: ", "wrong")])
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Too many login attempts, try again in 5 minutes", r.transcript)
        self.assertIn("Have exhausted maximum number of retries", r.transcript)
        self.assertEqual(self.env.emu.codes_sent(), 0)

    def test_server_timeout_is_unavailable(self):
        self.env.emu.admin("config", {"fault": "hang", "fault_paths": ["/v1/auth/login"]})
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertIn("Authentication service cannot retrieve authentication info", r.transcript)
        # timeout = 5 in the test config: no longer than that plus slack.
        self.assertLess(r.elapsed, 9, r)

    def test_unknown_user_name_characters_refused(self):
        r = self.env.pamtester("../etc", [])
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


    def test_a_session_ends_without_a_logout_request_or_an_error(self):
        # The Freddy API documents no logout: closing a session sends
        # nothing and is no error (the soak found one logged per session).
        self.assertEqual(self.env.login("alice").status, 0)
        before = sum(self.env.emu.stats()["requests"].values())
        r = self.env.pamtester("alice", [], ops=("open_session", "close_session"))
        self.assertEqual(r.status, 0, r)
        # The logout would be started in the same pass as this line.
        wait_for(lambda: "session closed for alice" in self.env.helper.read_log(), what="the session's end")
        self.assertNotRegex(self.env.helper.read_log(), r"(?m)error: .*logout")
        self.assertEqual(sum(self.env.emu.stats()["requests"].values()), before)


class HelperNotRunning(FreddyTestCase):
    env_kwargs = {"start_helper": False}

    def test_fails_fast_and_closed(self):
        r = self.env.pamtester("alice", [])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertIn("Authentication service cannot retrieve authentication info", r.transcript)
        self.assertLess(r.elapsed, 3, r)


class FirstPass(FreddyTestCase):
    """use_first_pass / try_first_pass take PAM_AUTHTOK from an earlier module."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        # pam_matrix-free way to get an AUTHTOK: pam_wrapper's pam_set_items
        # module sets items from the environment.
        items = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so"
        env.write_service("first-use", "auth required %s\nauth required %s\n"
                          % (items, env.module_line("debug use_first_pass")))
        env.write_service("first-try", "auth required %s\nauth required %s\n"
                          % (items, env.module_line("debug try_first_pass")))
        env.write_service("first-use-none", "auth required %s\n" % env.module_line("debug use_first_pass"))

    def run_with_authtok(self, service, authtok, script):
        os.environ["PAM_AUTHTOK"] = authtok
        try:
            return self.env.pamtester("alice", script, service=service)
        finally:
            del os.environ["PAM_AUTHTOK"]

    def test_use_first_pass_asks_only_for_the_code(self):
        r = self.run_with_authtok("first-use", "Correct-Horse-1", [
            ("code, or Enter to resend: ", lambda: self.env.emu.code_for("alice@example.com"))])
        self.assertEqual(r.status, 0, r)
        self.assertNotIn("Password:", r.transcript)

    def test_use_first_pass_wrong_password_never_prompts(self):
        r = self.run_with_authtok("first-use", "wrong", [])
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("Password:", r.transcript)

    def test_try_first_pass_prompts_after_a_wrong_one(self):
        r = self.run_with_authtok("first-try", "wrong", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", lambda: self.env.emu.code_for("alice@example.com"))])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 2)

    def test_use_first_pass_without_authtok_fails(self):
        r = self.env.pamtester("alice", [], service="first-use-none")
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


if __name__ == "__main__":
    main()
