"""Console login end to end: /bin/login on a pseudo-terminal with the shipped
etc/pam.d/login, as getty would start it."""

import os

from e2e import PASSWORDS, SANDBOX, E2ETestCase, Session, add_user, install_service, set_home, set_password
from freddytest import main

ROOT_PASSWORD = "Root-Console-7"


class ConsoleLogin(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_user("alice")
        # Only the sandbox's copies of /etc/shadow and /etc/passwd change;
        # root's shell must not write /root/.bash_history on the machine.
        set_password("root", ROOT_PASSWORD)
        home = os.path.join(SANDBOX, "home", "root")
        os.makedirs(home, mode=0o700, exist_ok=True)
        set_home("root", home)
        install_service("login", example="login")

    def login(self, user):
        s = Session(["login"])
        s.expect("login: ")
        s.send(user)
        return s

    def shell(self, s, expected_user):
        s.expect("[$#] ")
        s.send("id -un; exit")
        s.expect("[\r\n]%s\r\n" % expected_user)
        self.assertEqual(s.finish(), 0, s.transcript)

    def test_password_and_code_give_a_shell(self):
        s = self.login("alice")
        self.freddy_login(s, "alice")
        self.shell(s, "alice")
        self.assertEqual(self.env.emu.requests("POST /v1/auth/verify"), 1)

    def test_wrong_code_is_refused(self):
        s = self.login("alice")
        self.freddy_login(s, "alice", code="0000")
        s.expect("Invalid code, 2 attempts left")
        s.send("0001")
        s.expect("Invalid code, 1 attempt left")
        s.send("0002")
        s.expect("Invalid code, no attempts left")
        # PAM_MAXTRIES: login gives up at once instead of asking again.
        s.expect("Maximum number of tries exceeded")
        s.finish()  # util-linux login exits 0 here: only the transcript tells
        self.assertNotIn("$ ", s.transcript)
        self.assertNotIn("Debian GNU/Linux comes with", s.transcript)

    def test_wrong_password_sends_no_code(self):
        s = self.login("alice")
        s.expect("Password: ")
        s.send("not-her-password")
        s.expect("Invalid email or password")
        s.expect("Login incorrect")
        s.child.terminate(force=True)
        self.assertNoCodeSent()

    def test_root_keeps_the_unix_password(self):
        # System accounts skip Freddy: a Freddy outage cannot lock root out.
        s = self.login("root")
        s.expect("Password: ")
        s.send(ROOT_PASSWORD)
        self.shell(s, "root")
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)

    def test_root_with_the_wrong_password_is_refused(self):
        s = self.login("root")
        s.expect("Password: ")
        s.send(PASSWORDS["alice"])
        s.expect("Login incorrect")
        s.child.terminate(force=True)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


if __name__ == "__main__":
    main()
