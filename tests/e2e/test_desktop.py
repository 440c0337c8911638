"""Display managers and screen lockers: the shipped gdm-password, lightdm,
sddm and xscreensaver files under their real service names.

pamtester's conversation is libpam's misc_conv, which knows only the four
standard message styles and fails the conversation on anything else, so a
login that passes here used nothing a graphical greeter could not show.
The screen-locker case runs pamtester as the unprivileged user herself,
the way xscreensaver, kscreenlocker or GNOME's shield check a password.
"""

import pwd

import pexpect

from e2e import PASSWORDS, E2ETestCase, Session, add_user, as_user, install_service
from freddytest import main

DISPLAY_MANAGERS = ("gdm-password", "lightdm", "sddm")


class DisplayManagers(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_user("alice")
        for name in DISPLAY_MANAGERS:
            install_service(name, example=name)

    def greeter(self, service, user="alice", ops=("authenticate", "acct_mgmt", "open_session",
                                                  "close_session")):
        return Session(["pamtester", "-v", service, user, *ops])

    def test_each_display_manager_logs_in_with_password_and_code(self):
        for service in DISPLAY_MANAGERS:
            with self.subTest(service=service):
                self.env.emu.admin("reset", {})
                s = self.greeter(service)
                self.freddy_login(s, "alice")
                s.expect("successfully opened a session")
                self.assertEqual(s.finish(), 0, s.transcript)

    def test_each_display_manager_refuses_a_wrong_code(self):
        for service in DISPLAY_MANAGERS:
            with self.subTest(service=service):
                self.env.emu.admin("reset", {})
                s = self.greeter(service, ops=("authenticate",))
                self.freddy_login(s, "alice", code="0000")
                s.expect("Invalid code, 2 attempts left")
                s.send("0001")
                s.expect("Invalid code, 1 attempt left")
                s.send("0002")
                s.expect("Have exhausted maximum number of retries")
                self.assertNotEqual(s.finish(), 0, s.transcript)


class ScreenLocker(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_user("alice")
        add_user("bob")
        install_service("xscreensaver", example="xscreensaver")

    def unlock(self, user):
        """alice's own locker process asks PAM about `user`."""
        return Session(as_user("alice") + ["pamtester", "-v", "xscreensaver", user, "authenticate"])

    def test_user_unlocks_her_own_session(self):
        s = self.unlock("alice")
        self.freddy_login(s, "alice")
        s.expect("successfully authenticated")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertIn("from uid %d " % pwd.getpwnam("alice").pw_uid, self.env.helper.read_log())

    def test_wrong_code_keeps_the_screen_locked(self):
        s = self.unlock("alice")
        self.freddy_login(s, "alice", code="0000")
        s.expect("Invalid code, 2 attempts left")
        s.send("0001")
        s.expect("Invalid code, 1 attempt left")
        s.send("0002")
        self.assertNotEqual(s.finish(), 0, s.transcript)

    # unix_chkpwd's rule, enforced by helperd/access.c: a non-root caller
    # may check only its own account.
    def test_user_cannot_check_another_users_password(self):
        s = self.unlock("bob")
        # Answer whatever is asked; the helper must refuse before the API
        # is asked anything on bob's behalf.
        while True:
            i = s.child.expect(["[Pp]assword: ", "code, or Enter to resend: ", pexpect.EOF],
                               timeout=15)
            s.transcript += s.child.before + (s.child.after if i < 2 else "")
            if i == 0:
                s.send(PASSWORDS["bob"])
            elif i == 1:
                s.send(self.code("bob", s))
            else:
                break
        s.child.close()
        self.assertNotEqual(s.child.exitstatus, 0, s.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


if __name__ == "__main__":
    main()
