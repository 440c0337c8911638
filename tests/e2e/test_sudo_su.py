"""sudo and su end to end, run by an ordinary user: the setuid programs
load pam_freddy.so from the shipped etc/pam.d/sudo and etc/pam.d/su."""

import os
import time

from e2e import CODE_PROMPT, E2ETestCase, Session, add_user, as_user, install_service
from freddytest import PASSWORDS, main

# sudo's own PAM service for alice only: the machine's sudo stays as it is.
# passwd_tries=1: sudo would otherwise start over (a new password, a new
# email) after a refused login, up to three times.
SUDOERS = """Defaults:alice pam_service=sudo-freddytest, !lecture, passwd_tries=1
alice ALL=(ALL) ALL
"""


class Sudo(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_user("alice")
        install_service("sudo-freddytest", example="sudo")
        path = "/etc/sudoers.d/freddytest"
        with open(path, "w") as f:
            f.write(SUDOERS)
        os.chmod(path, 0o440)

    def sudo(self, user="alice"):
        # -k: never a cached timestamp; -S: password and code from stdin.
        return Session(as_user(user) + ["sudo", "-S", "-k", "id", "-un"])

    def test_password_and_code(self):
        s = self.sudo()
        self.freddy_login(s, "alice")
        s.expect("root")
        self.assertEqual(s.finish(), 0, s.transcript)

    def test_wrong_code_is_refused(self):
        # sudo 1.9.13 always calls PAM with PAM_SILENT; "Invalid code" is
        # still shown because the module folds it into the next prompt.
        s = self.sudo()
        self.freddy_login(s, "alice", code="0000")
        s.expect("Invalid code, 2 attempts left")
        s.send("0001")
        s.expect("Invalid code, 1 attempt left")
        s.send("0002")
        s.expect("sudo: 1 incorrect password attempt")
        self.assertEqual(s.finish(), 1, s.transcript)
        self.assertNotIn("root", s.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/verify"), 3)

    def test_wrong_password_sends_no_code(self):
        s = self.sudo()
        s.expect("[Pp]assword[^\n]*: ")
        s.send("not-her-password")
        s.expect("sudo: 1 incorrect password attempt")
        self.assertEqual(s.finish(), 1, s.transcript)
        self.assertNoCodeSent()


class Su(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_user("alice")
        add_user("bob")
        install_service("su", example="su")

    def su(self):
        # "su -" uses the su-l service, which includes su.
        return Session(as_user("alice") + ["su", "-", "bob", "-c", "id -un"])

    def test_password_and_code(self):
        s = self.su()
        self.freddy_login(s, "bob")
        s.expect("\r\nbob\r\n")
        self.assertEqual(s.finish(), 0, s.transcript)

    def test_wrong_code_is_refused(self):
        s = self.su()
        self.freddy_login(s, "bob", code="0000")
        s.expect("Invalid code, 2 attempts left")
        s.send("0001")
        s.expect("Invalid code, 1 attempt left")
        s.send("0002")
        s.expect("su: Have exhausted maximum number of retries")
        self.assertEqual(s.finish(), 1, s.transcript)

    def test_root_needs_no_code(self):
        # pam_rootok: root switching user is not asked anything.
        s = Session(["su", "-", "bob", "-c", "id -un"])
        s.expect("bob")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


class SuBudget(E2ETestCase):
    """Twenty `su - bob` at once by alice, all with a wrong password, spend
    alice's budget for bob (PAM_RUSER=alice) and reach the API at most
    rate_limit_failures times; bob is then not held for longer than
    rate_limit_user_max_delay, and carol's su of bob gets in."""
    helper_config = "rate_limit_failures = 3\nrate_limit_delay = 2\nrate_limit_user_max_delay = 8\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for user in ("alice", "bob", "carol"):
            add_user(user)
        install_service("su", example="su")

    def su(self, caller):
        return Session(as_user(caller) + ["su", "-", "bob", "-c", "id -un"], timeout=60)

    def test_parallel_wrong_su_and_the_owner_gets_in(self):
        sessions = [self.su("alice") for _ in range(20)]
        for s in sessions:
            s.expect("[Pp]assword[^\n]*: ")
        for s in sessions:
            s.send("not-bobs-password")
        for s in sessions:
            self.assertNotEqual(s.finish(), 0, s.transcript)
        sent = self.env.emu.requests("POST /v1/auth/login")
        self.assertLessEqual(sent, 3)
        print("20 parallel wrong `su - bob`: %d password checks at the API" % sent)
        deadline = time.monotonic() + 8 + 3
        while True:
            s = self.su("carol")
            s.expect("[Pp]assword[^\n]*: ")
            s.send(PASSWORDS["bob"])
            i = s.child.expect(["Too many failed attempts; try again in (\\d+) s", CODE_PROMPT])
            if i == 1:
                s.send(self.code("bob", s))
                s.expect("\r\nbob\r\n")
                self.assertEqual(s.finish(), 0, s.transcript)
                break
            wait = int(s.child.match.group(1))
            s.finish()
            self.assertLess(time.monotonic() + wait, deadline, "held too long")
            time.sleep(wait + 0.2)


if __name__ == "__main__":
    main()
