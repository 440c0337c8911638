"""passwd for AIUS accounts through pam_sm_chauthtok, the real helper and
the emulator, as real unprivileged users (issue 14): the current password
(not asked of root), the reset code from the email, the new password
twice; a wrong current password mails nothing; a mismatch asks again; on
success PAM_AUTHTOK is the new password and the cached verifier is the
new password's.  For freddy and jwt: PAM_IGNORE without a prompt."""

import json
import os
import subprocess
import time

import fakehelper as fh
from cachetest import UIDS
from freddytest import PASSWORDS, PYTHON, TOP_SRCDIR, main, wait_for
from selfservice import (CODE_PROMPT, CURRENT, NEW, RESET_CODE, RETYPE, SelfServiceTestCase,
                         raw_passwd_begin, setpriv)

NEW_PASSWORD = "Brand-New-Pass-9"
# The masked address: a***@example.com for alice, b***@example.com for bob.
EMAILED = "A password reset code was emailed to %s\\*\\*\\*@example.com."
MISMATCH = "Sorry, passwords do not match."
REQUEST = "POST /api/v1/password/reset/request"
CONFIRM = "POST /api/v1/password/reset/confirm"


def logged_in(case, *users):
    """Self-service needs a cached login (issue 14); the emulator's
    counters start again after it."""
    for user in users:
        r = case.env.aius_login(user)
        case.assertEqual(r.status, 0, r)
    case.env.emu.admin("reset", {})


class AiusPasswd(SelfServiceTestCase):
    env_kwargs = {"api": "aius"}

    def setUp(self):
        super().setUp()
        logged_in(self, "alice", "bob")

    def code(self, user, started):
        return lambda: self.env.reset_code(user, started)

    def full_change(self, user="alice", as_user="alice", new=NEW_PASSWORD, service="passwd-test"):
        started = time.time() - 0.001
        script = [(CURRENT, PASSWORDS[user])] if as_user != "root" else []
        script += [(EMAILED % user[0] + "\r?\n\r?\n" + RESET_CODE, self.code(user, started)), (NEW, new),
                   (RETYPE, new)]
        return self.env.chauthtok(user, script, as_user=as_user, service=service)

    def assertPassword(self, user, password):
        email = "%s@example.com" % user
        self.assertEqual(self.env.aius_api_login(email, password), 200, password)

    def test_user_changes_their_password(self):
        r = self.full_change()
        self.assertEqual(r.status, 0, r)
        requests = self.env.api_requests()
        self.assertEqual(requests.get("POST /api/v1/login"), 1)     # the current password
        self.assertEqual(requests.get(REQUEST), 1)
        self.assertEqual(requests.get(CONFIRM), 1)
        self.assertPassword("alice", NEW_PASSWORD)
        self.assertNotEqual(self.env.aius_api_login("alice@example.com", PASSWORDS["alice"]), 200)
        code = open(self.env.reset_file("alice")).read().strip()
        self.assertEqual(self.env.secrets_in_log([NEW_PASSWORD, PASSWORDS["alice"], code]), [])

    def test_wrong_current_password_mails_nothing(self):
        r = self.env.chauthtok("alice", [(CURRENT, "not-her-password")], as_user="alice")
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn(RESET_CODE, r.transcript)
        self.assertNotIn(NEW, r.transcript)
        requests = self.env.api_requests()
        self.assertEqual(requests.get("POST /api/v1/login"), 1)
        self.assertEqual(requests.get(REQUEST, 0), 0)
        self.assertEqual(self.env.emu.stats()["resets_sent"], 0)
        self.assertFalse(os.path.exists(self.env.reset_file("alice")))
        self.assertPassword("alice", PASSWORDS["alice"])

    def test_a_2fa_challenge_counts_as_the_right_password(self):
        r = self.full_change("bob", as_user="bob")
        self.assertEqual(r.status, 0, r)
        self.assertNotIn(CODE_PROMPT, r.transcript)
        self.assertEqual(self.env.api_requests().get("POST /api/v1/2fa/login", 0), 0)

    def test_mismatched_retype_asks_again(self):
        started = time.time() - 0.001
        r = self.env.chauthtok("alice", [
            (CURRENT, PASSWORDS["alice"]), (RESET_CODE, self.code("alice", started)),
            (NEW, "First-Try-Pass-1"), (RETYPE, "Other-Pass-2"),
            (MISMATCH + "\r?\n\r?\n" + NEW, NEW_PASSWORD), (RETYPE, NEW_PASSWORD)], as_user="alice")
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.api_requests().get(CONFIRM), 1)     # only the matching pair
        self.assertPassword("alice", NEW_PASSWORD)

    def test_three_mismatches_end_it(self):
        started = time.time() - 0.001
        script = [(CURRENT, PASSWORDS["alice"]), (RESET_CODE, self.code("alice", started))]
        prompt = NEW
        for i in range(3):
            script += [(prompt, "Pass-Number-%d" % i), (RETYPE, "Other-Number-%d" % i)]
            prompt = MISMATCH + "\r?\n\r?\n" + NEW
        r = self.env.chauthtok("alice", script, as_user="alice")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Have exhausted maximum number of retries", r.transcript)
        self.assertEqual(self.env.api_requests().get(CONFIRM, 0), 0)
        self.assertPassword("alice", PASSWORDS["alice"])

    def test_wrong_reset_code_is_asked_again(self):
        started = time.time() - 0.001
        r = self.env.chauthtok("alice", [
            (CURRENT, PASSWORDS["alice"]), (RESET_CODE, "AAAA-BBBB-CCCC"),
            (NEW, NEW_PASSWORD), (RETYPE, NEW_PASSWORD),
            ("Invalid code, 2 attempts left\r?\n\r?\n" + RESET_CODE, self.code("alice", started))],
            as_user="alice")
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.api_requests().get(CONFIRM), 2)
        self.assertEqual(self.env.api_requests().get(REQUEST), 1)
        self.assertPassword("alice", NEW_PASSWORD)

    def test_password_the_api_refuses_is_asked_again(self):
        started = time.time() - 0.001
        r = self.env.chauthtok("alice", [
            (CURRENT, PASSWORDS["alice"]), (RESET_CODE, self.code("alice", started)),
            (NEW, "short"), (RETYPE, "short"),
            ("Password must be at least 8 characters\r?\n\r?\n" + NEW, NEW_PASSWORD),
            (RETYPE, NEW_PASSWORD)], as_user="alice")
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.api_requests().get(CONFIRM), 2)
        self.assertPassword("alice", NEW_PASSWORD)

    def test_root_is_not_asked_for_the_current_password(self):
        r = self.full_change("alice", as_user="root")
        self.assertEqual(r.status, 0, r)
        self.assertNotIn(CURRENT, r.transcript)
        self.assertEqual(self.env.api_requests().get("POST /api/v1/login", 0), 0)
        self.assertPassword("alice", NEW_PASSWORD)

    def test_no_cached_login_no_request(self):
        r = self.env.chauthtok("carol", [], as_user="carol")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("No cached Freddy login", r.transcript)
        self.assertNotIn(CURRENT, r.transcript)
        self.assertNoApiRequest()

    def test_another_users_password_is_refused_before_any_request(self):
        r = self.env.chauthtok("bob", [], as_user="alice")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Permission denied", r.transcript)
        self.assertNoApiRequest()

    def test_authtok_for_the_modules_after(self):
        r = self.full_change(service="passwd-stacked")
        self.assertEqual(r.status, 0, r)
        with open(self.env.authtok_seen) as f:
            self.assertEqual(f.read(), NEW_PASSWORD)

    def test_server_text_is_sanitised(self):
        self.env.emu.admin("config", {"control_chars": True})
        r = self.env.chauthtok("alice", [(CURRENT, "not-her-password")], as_user="alice")
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("\x1b", r.transcript)

    def test_api_unreachable(self):
        self.env.emu.admin("config", {"fault": "reset"})
        r = self.env.chauthtok("alice", [(CURRENT, PASSWORDS["alice"])], as_user="alice")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)


class CallerRules(SelfServiceTestCase):
    """Who is the caller: the real uid from a root peer, else the peer."""
    env_kwargs = {"api": "aius"}

    def setUp(self):
        super().setUp()
        logged_in(self, "alice", "bob")

    def raw_as(self, uid, user, caller_uid, phase=fh.CHAUTHTOK_UPDATE):
        """PASSWD_BEGIN from a client running as `uid`; its first reply."""
        code = ("import json, sys; from selfservice import raw_passwd_begin; "
                "s, m = raw_passwd_begin(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])); "
                "print(json.dumps([m.type, m.str(9), m.num(12)]))")
        env = dict(os.environ, PYTHONPATH=os.path.join(TOP_SRCDIR, "tests", "lib"))
        r = subprocess.run([*setpriv(uid), PYTHON, "-c", code, self.env.socket, user,
                            str(caller_uid), str(phase)], capture_output=True, text=True, timeout=20,
                           env=env)
        self.assertEqual(r.returncode, 0, r)
        return json.loads(r.stdout)

    def first_reply(self, user, caller_uid, phase=fh.CHAUTHTOK_UPDATE):
        s, msg = raw_passwd_begin(self.env.socket, user, caller_uid, phase)
        s.close()
        return msg

    def test_root_peer_speaking_for_a_user_asks_the_current_password(self):
        msg = self.first_reply("alice", UIDS["alice"])       # what set-uid passwd sends
        self.assertEqual((msg.type, msg.str(fh.TEXT)), (fh.PROMPT, CURRENT))

    def test_root_peer_as_root_skips_it(self):
        msg = self.first_reply("alice", 0)
        self.assertNotEqual((msg.type, msg.str(fh.TEXT)), (fh.PROMPT, CURRENT))

    def test_root_peer_speaking_for_another_user_is_refused(self):
        msg = self.first_reply("bob", UIDS["alice"])
        self.assertEqual((msg.type, msg.num(fh.RESULT)), (fh.DONE, fh.PERM_DENIED))
        self.assertNoApiRequest()

    def test_a_user_cannot_claim_to_be_root(self):
        kind, text, _ = self.raw_as(UIDS["alice"], "alice", 0)
        self.assertEqual((kind, text), (fh.PROMPT, CURRENT))
        kind, _, result = self.raw_as(UIDS["alice"], "bob", 0)
        self.assertEqual((kind, result), (fh.DONE, fh.PERM_DENIED))
        self.assertNoApiRequest()

    def test_prelim_phase_asks_nothing_and_sends_nothing(self):
        msg = self.first_reply("alice", UIDS["alice"], fh.CHAUTHTOK_PRELIM)
        self.assertEqual((msg.type, msg.num(fh.RESULT)), (fh.DONE, fh.SUCCESS))
        self.assertNoApiRequest()

    def test_expired_only_is_ignored(self):
        for phase in (fh.CHAUTHTOK_PRELIM, fh.CHAUTHTOK_UPDATE):
            msg = self.first_reply("alice", 0, phase | fh.CHAUTHTOK_EXPIRED_ONLY)
            self.assertEqual((msg.type, msg.num(fh.RESULT)), (fh.DONE, fh.IGNORE))
        self.assertNoApiRequest()


class VerifierReplaced(SelfServiceTestCase):
    env_kwargs = {"api": "aius", "config": "cached_auth_timeout = 600\n"}

    def test_cached_reauthentication_knows_the_new_password(self):
        r = self.env.aius_login("bob")
        self.assertEqual(r.status, 0, r)
        old = self.env.cached("bob")["verifier"]
        started = time.time() - 0.001
        r = self.env.chauthtok("bob", [(CURRENT, PASSWORDS["bob"]),
                                       (RESET_CODE, lambda: self.env.reset_code("bob", started)),
                                       (NEW, NEW_PASSWORD), (RETYPE, NEW_PASSWORD)], as_user="bob")
        self.assertEqual(r.status, 0, r)
        # Made on the verifier thread, like the one of a login.
        wait_for(lambda: self.env.cached("bob")["verifier"] != old, what="the new verifier")
        r = self.env.pamtester("bob", [("Password: ", NEW_PASSWORD)])
        self.assertEqual(r.status, 0, r)                 # the verifier's password: no code
        self.assertNotIn(CODE_PROMPT, r.transcript)
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"])])
        self.assertNotEqual(r.status, 0, r)              # the old one is gone everywhere
        self.assertIsNotNone(self.env.cached("bob").get("refresh_token"))


class NoPasswordChange(SelfServiceTestCase):
    """freddy and jwt document no password change: PAM_IGNORE, no prompt."""

    def check_ignored(self):
        r = self.env.chauthtok("alice", [], as_user="alice")
        self.assertEqual(r.status, 0, r)                 # pam_permit decides
        self.assertNotIn("password: ", r.transcript.lower())
        self.assertNoApiRequest()


class FreddyNoPasswordChange(NoPasswordChange):
    env_kwargs = {"api": "freddy"}

    def test_ignored(self):
        self.check_ignored()


class JwtNoPasswordChange(NoPasswordChange):
    env_kwargs = {"api": "jwt"}

    def test_ignored(self):
        self.check_ignored()


class GermanPasswd(SelfServiceTestCase):
    """The password change speaks the person's language (issue 16): every
    prompt, the reset notice, the mismatch and the refusals come from the
    catalogue, chosen by the locale pamtester runs in."""

    env_kwargs = {"api": "aius", "catalogues": True}
    GERMAN = {"LANGUAGE": "de", "LANG": "de_DE.UTF-8"}

    def setUp(self):
        super().setUp()
        logged_in(self, "alice")

    def test_a_change_with_a_mismatch_in_german(self):
        started = time.time() - 0.001
        new = "Neues-Passwort-7"
        r = self.env.chauthtok("alice", [
            ("Aktuelles Freddy-Passwort: ", PASSWORDS["alice"]),
            (r"Ein Code zum Zurücksetzen des Passworts wurde per E-Mail an a\*\*\*@example\.com gesendet\."
             r"\r?\n\r?\nRücksetzcode aus der E-Mail: ", lambda: self.env.reset_code("alice", started)),
            ("Neues Passwort: ", "Erster-Versuch-1"),
            ("Neues Passwort wiederholen: ", "Anderes-Passwort-2"),
            (r"Die Passwörter stimmen leider nicht überein\.\r?\n\r?\nNeues Passwort: ", new),
            ("Neues Passwort wiederholen: ", new)], as_user="alice", locale=self.GERMAN)
        self.assertEqual(r.status, 0, r)
        self.assertNotRegex(r.transcript, r"password|Password|emailed|Retype|match")
        self.assertEqual(self.env.aius_api_login("alice@example.com", new), 200)

    def test_a_wrong_current_password_is_refused_in_german(self):
        r = self.env.chauthtok("alice", [("Aktuelles Freddy-Passwort: ", "falsch")], as_user="alice",
                               locale=self.GERMAN)
        self.assertNotEqual(r.status, 0, r)
        # The emulator's message is the API's own and stays as it came;
        # the prompt after it is never shown.
        self.assertNotIn("Rücksetzcode", r.transcript)
        self.assertEqual(self.env.emu.stats()["resets_sent"], 0)

    def test_another_users_password_is_refused_in_german(self):
        r = self.env.chauthtok("bob", [], as_user="alice", locale=self.GERMAN)
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Sie dürfen nur Ihr eigenes Passwort ändern", r.transcript)


if __name__ == "__main__":
    main()
