"""The README's three stacks beyond the examples' "Freddy only": the
pam-auth-update profile (Unix password, then the Freddy code) switched on
and off again with pam-auth-update itself, and Freddy for one group."""

import os
import shutil
import subprocess
import unittest

from e2e import EXAMPLES, PAM_CONFIG, E2ETestCase, Session, add_user, install_service, set_password
from freddytest import PASSWORDS, main

ROOT_PASSWORD = "Root-Stack-5"
BOB_UNIX_PASSWORD = "Bob-Local-8"   # not his Freddy password


def pam_auth_update(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["pam-auth-update", *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("pam-auth-update %s: %s" % (" ".join(args), r.stdout + r.stderr))


def common_auth():
    with open("/etc/pam.d/common-auth") as f:
        return f.read()


def auth_modules():
    """(module, whole line) for each auth line of common-auth, in order."""
    return [(next(t for t in line.split() if t.endswith(".so")), line.strip())
            for line in common_auth().splitlines() if line.startswith("auth")]


class StackTestCase(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # alice's Unix password is her Freddy password; bob's is not.
        add_user("alice", password=PASSWORDS["alice"])
        add_user("bob", password=BOB_UNIX_PASSWORD)
        add_user("carol", password="Carol-Local-4")
        set_password("root", ROOT_PASSWORD)
        install_service("freddy-common", "@include common-auth\n@include common-account\n")

    def pamtester(self, user, service="freddy-common"):
        return Session(["pamtester", "-v", service, user, "authenticate", "acct_mgmt"])

    def code_login(self, user, unix_password):
        """Unix password first; Freddy takes it over and only asks the code."""
        s = self.pamtester(user)
        s.expect("Password: ")
        s.send(unix_password)
        s.expect("Code emailed to [^\n]*\r?\n\r?\n4-digit code, or Enter to resend: ")
        s.send(self.code(user, s))
        s.expect("successfully authenticated")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(s.transcript.count("Password: "), 1, s.transcript)

    def unix_only_login(self, user, password):
        s = self.pamtester(user)
        s.expect("Password: ")
        s.send(password)
        s.expect("successfully authenticated")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


class PamAuthUpdate(StackTestCase):
    """/usr/share/pam-configs/freddy, enabled and removed by pam-auth-update."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shutil.copy(PAM_CONFIG, "/usr/share/pam-configs/freddy")
        os.chmod("/usr/share/pam-configs/freddy", 0o644)

    def setUp(self):
        super().setUp()
        pam_auth_update("--enable", "freddy")

    def test_profile_is_off_by_default(self):
        # As on a machine where the profile was just installed: not yet
        # "seen", so a package's "pam-auth-update --package" would enable
        # it if it said "Default: yes".
        pam_auth_update("--remove", "freddy")
        with open("/var/lib/pam/seen") as f:
            seen = [line for line in f if line.strip() != "freddy"]
        with open("/var/lib/pam/seen", "w") as f:
            f.write("".join(seen))
        pam_auth_update("--package")
        self.assertNotIn("pam_freddy.so", common_auth())

    def test_freddy_runs_after_the_unix_password_check(self):
        lines = auth_modules()
        modules = [m for m, _ in lines]
        # pam_unix's success jumps over pam_deny to pam_permit; the profile's
        # lines follow, so they run only after a correct Unix password.
        self.assertLess(modules.index("pam_unix.so"), modules.index("pam_deny.so"))
        self.assertEqual(modules.index("pam_permit.so") + 2, modules.index("pam_freddy.so"))
        self.assertEqual(lines[modules.index("pam_unix.so")][1].split()[1:3],
                         ["[success=1", "default=ignore]"])
        self.assertEqual(lines[modules.index("pam_freddy.so")][1].split(),
                         ["auth", "required", "pam_freddy.so", "try_first_pass"])

    def test_password_change_is_left_to_pam_unix(self):
        # The profile has no password lines: after pam_unix's they would
        # change the Unix password before the Freddy one was even checked
        # (tests/e2e/test_passwd.py, ProfilePasswd, runs the real passwd).
        with open("/etc/pam.d/common-password") as f:
            text = f.read()
        self.assertIn("pam_unix.so", text)
        self.assertNotIn("pam_freddy.so", text)

    def test_unix_password_then_code(self):
        self.code_login("alice", PASSWORDS["alice"])
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 1)

    def test_wrong_unix_password_sends_no_code(self):
        s = self.pamtester("alice")
        s.expect("Password: ")
        s.send("not-her-password")
        s.expect("Authentication failure")
        self.assertNotEqual(s.finish(), 0, s.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)

    def test_different_freddy_password_is_asked_for(self):
        # try_first_pass: the Unix password is not bob's Freddy password,
        # so Freddy asks for that one too (a second "Password: ").
        s = self.pamtester("bob")
        s.expect("Password: ")
        s.send(BOB_UNIX_PASSWORD)
        s.expect("Password: ")
        s.send(PASSWORDS["bob"])
        self.freddy_code_step(s, "bob")
        s.expect("successfully authenticated")
        self.assertEqual(s.finish(), 0, s.transcript)

    def freddy_code_step(self, s, user):
        s.expect("4-digit code, or Enter to resend: ")
        s.send(self.code(user, s))

    def test_root_keeps_the_unix_password_alone(self):
        self.unix_only_login("root", ROOT_PASSWORD)

    def test_remove_switches_it_off_again(self):
        pam_auth_update("--remove", "freddy")
        self.assertNotIn("pam_freddy.so", common_auth())
        self.unix_only_login("alice", PASSWORDS["alice"])
        # and on again, without editing a file
        pam_auth_update("--enable", "freddy")
        self.code_login("alice", PASSWORDS["alice"])


GROUP_STACK = """@include common-auth
auth  [success=ignore default=1]  pam_succeed_if.so user ingroup freddy quiet
auth  required                    pam_freddy.so try_first_pass
@include common-account
"""


class GroupOnly(StackTestCase):
    """Unix password for everyone, the Freddy code for group "freddy"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        subprocess.run(["groupadd", "-f", "freddy"], check=True)
        subprocess.run(["usermod", "-a", "-G", "freddy", "alice"], check=True)
        install_service("freddy-common", GROUP_STACK)

    def test_member_gives_the_code(self):
        self.code_login("alice", PASSWORDS["alice"])

    def test_others_give_the_unix_password_only(self):
        self.unix_only_login("carol", "Carol-Local-4")

    def test_member_with_a_wrong_code_is_refused(self):
        s = self.pamtester("alice")
        s.expect("Password: ")
        s.send(PASSWORDS["alice"])
        s.expect("4-digit code, or Enter to resend: ")
        s.send("0000")
        s.expect("Invalid code, 2 attempts left")
        s.send("0001")
        s.expect("Invalid code, 1 attempt left")
        s.send("0002")
        self.assertNotEqual(s.finish(), 0, s.transcript)


class Examples(unittest.TestCase):

    def test_each_example_says_where_it_goes(self):
        names = sorted(os.listdir(EXAMPLES))
        self.assertGreaterEqual(set(names), {"sshd", "sudo", "login", "gdm-password"})
        for name in names:
            with open(os.path.join(EXAMPLES, name)) as f:
                first = f.readline()
            self.assertTrue(first.startswith("# Install as /etc/pam.d/%s " % name), (name, first))


if __name__ == "__main__":
    main()
