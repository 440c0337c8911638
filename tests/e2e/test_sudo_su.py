"""sudo and su end to end, run by an ordinary user: the setuid programs
load pam_freddy.so from the shipped etc/pam.d/sudo and etc/pam.d/su."""

import os

from e2e import E2ETestCase, Session, add_user, as_user, install_service
from freddytest import main

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


if __name__ == "__main__":
    main()
