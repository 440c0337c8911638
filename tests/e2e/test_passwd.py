"""passwd(1) end to end: the real set-uid /usr/bin/passwd, run by the
ordinary user alice, with the shipped etc/pam.d/passwd installed as the
sandbox's /etc/pam.d/passwd (the only service name passwd knows).

With api = aius the module leads the change through the helper (issue 14):
the current Freddy password, the reset code the emulator mailed, the new
password twice; alice's cached login comes first from a real console login
(login(1) with the shipped etc/pam.d/login).  With api = freddy the module
answers PAM_IGNORE and the rest of the stack (Debian's common-password,
pam_unix) changes the Unix password, with no Freddy prompt at all.

Every transcript is compared whole: what passwd itself prints around the
module's prompts is part of what a person sees."""

import os
import re
import shutil
import subprocess

from e2e import PAM_CONFIG, E2ETestCase, Session, add_user, as_user, install_service, set_password
from freddytest import PASSWORDS, main, wait_for

# The module's texts, exactly as issue 14 gives them.
CURRENT = "Current Freddy password: "
EMAILED = "A password reset code was emailed to a***@example.com."
RESET_CODE = "Reset code from the email: "
NEW = "New password: "
RETYPE = "Retype new password: "
MISMATCH = "Sorry, passwords do not match."
NOT_CACHED = "No cached Freddy login; log in first"
# What passwd(1) itself says (shadow 4.13, libmisc/pam_pass.c): one line on
# success; on failure pam_strerror() of pam_chauthtok's result, then
# "password unchanged", and exit status 10.
UPDATED = "passwd: password updated successfully"
UNCHANGED = "passwd: password unchanged"
PASSWD_FAILED = 10

NEW_PASSWORD = "Brand-New-Pass-9"
UNIX_PASSWORD = "Alice-Unix-5"          # where alice has one: not her Freddy password
NEW_UNIX_PASSWORD = "Quite-Different-Unix-73"
RESET = "POST /api/v1/password/reset/request"
CONFIRM = "POST /api/v1/password/reset/confirm"


def pam_auth_update(*args):
    r = subprocess.run(["pam-auth-update", *args], capture_output=True, text=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if r.returncode != 0:
        raise AssertionError("pam-auth-update %s: %s" % (" ".join(args), r.stdout + r.stderr))


def lines(transcript):
    """The transcript as the lines a person saw (the pty's \\r\\n as \\n)."""
    return transcript.replace("\r\n", "\n").split("\n")


class PasswdTestCase(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_user("alice")
        add_user("carol")
        install_service("passwd", example="passwd")
        install_service("login", example="login")
        install_service("unix-check", "auth required pam_unix.so\naccount required pam_permit.so\n")

    def passwd(self, *args, user="alice"):
        argv = (as_user(user) if user != "root" else []) + ["/usr/bin/passwd", *args]
        return Session(argv)

    def api_requests(self):
        """Requests to the API itself (the emulator's /_emu/ are not counted)."""
        return self.env.emu.stats()["requests"]

    def expect_exactly(self, s, text):
        s.expect(re.escape(text))

    # -- a real login: login(1) on a pseudo-terminal, as getty starts it

    def console_login(self, user, password):
        s = Session(["login"])
        s.expect("login: ")
        s.send(user)
        s.expect("Password: ")
        s.send(password)
        return s

    def assertLogsIn(self, user, password):
        s = self.console_login(user, password)
        s.expect("[$#] ")
        s.send("id -un; exit")
        s.expect("[\r\n]%s\r\n" % user)
        self.assertEqual(s.finish(), 0, s.transcript)

    def assertLoginRefused(self, user, password):
        s = self.console_login(user, password)
        s.expect("Invalid email or password")
        s.expect("Login incorrect")
        s.child.terminate(force=True)
        self.assertNotIn("$ ", s.transcript)

    def assertUnixPassword(self, password):
        """pam_unix alone, as root: /etc/shadow holds `password` for alice."""
        s = Session(["pamtester", "unix-check", "alice", "authenticate"])
        s.expect("Password: ")
        s.send(password)
        self.assertEqual(s.finish(), 0, s.transcript)


class AiusPasswd(PasswdTestCase):
    helper_api = "aius"

    def setUp(self):
        super().setUp()
        # The emulator's reset puts back the users' passwords but keeps its
        # outbox: no reset mail at the start of a test, so that "nothing
        # was mailed" can be seen.
        for user in ("alice", "carol"):
            try:
                os.unlink(self.reset_file(user))
            except FileNotFoundError:
                pass
        # Self-service needs a cached login: alice's console login makes it.
        self.assertLogsIn("alice", PASSWORDS["alice"])
        self.env.emu.admin("reset", {})

    def reset_file(self, user):
        return os.path.join(self.env.emu.outbox, "%s@example.com.reset" % user)

    def reset_code(self, user, session):
        """The reset code mailed to `user` since `session` started, read
        from the emulator's outbox as a person reads the email."""
        path = self.reset_file(user)

        def fresh():
            try:
                if os.stat(path).st_mtime >= session.started:
                    with open(path) as f:
                        return f.read().strip()
            except FileNotFoundError:
                return None
            return None
        return wait_for(fresh, what="the reset code mailed to " + user)

    # -- the change, prompt by prompt

    def change(self, s, current=True, new=NEW_PASSWORD):
        """Answer the whole change in session `s`."""
        if current:
            self.expect_exactly(s, CURRENT)
            s.send(PASSWORDS["alice"])
        self.expect_exactly(s, EMAILED + "\r\n\r\n" + RESET_CODE)
        s.send(self.reset_code("alice", s))
        self.expect_exactly(s, NEW)
        s.send(new)
        self.expect_exactly(s, RETYPE)
        s.send(new)

    def test_alice_changes_her_password(self):
        s = self.passwd()
        self.change(s)
        self.assertEqual(s.finish(), 0, s.transcript)
        # Nothing from pam_unix or passwd between the module's prompts:
        # common-password (and with it the Unix password) is not reached.
        self.assertEqual(lines(s.transcript), [
            CURRENT, EMAILED, "", RESET_CODE, NEW, RETYPE, UPDATED, ""])
        requests = self.api_requests()
        self.assertEqual(requests.get("POST /api/v1/login"), 1)      # the current password
        self.assertEqual(requests.get(RESET), 1)
        self.assertEqual(requests.get(CONFIRM), 1)
        self.assertEqual(self.env.emu.stats()["resets_sent"], 1)
        # The new password logs in, the old one no longer does.
        self.assertLogsIn("alice", NEW_PASSWORD)
        self.assertLoginRefused("alice", PASSWORDS["alice"])
        log = self.env.helper.read_log()
        for secret in (NEW_PASSWORD, PASSWORDS["alice"], self.reset_code("alice", s)):
            self.assertNotIn(secret, log)

    def test_mismatched_retype_asks_again(self):
        s = self.passwd()
        self.expect_exactly(s, CURRENT)
        s.send(PASSWORDS["alice"])
        self.expect_exactly(s, RESET_CODE)
        s.send(self.reset_code("alice", s))
        self.expect_exactly(s, NEW)
        s.send("First-Try-Pass-1")
        self.expect_exactly(s, RETYPE)
        s.send("Other-Pass-2")
        self.expect_exactly(s, MISMATCH + "\r\n\r\n" + NEW)
        s.send(NEW_PASSWORD)
        self.expect_exactly(s, RETYPE)
        s.send(NEW_PASSWORD)
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(lines(s.transcript), [
            CURRENT, EMAILED, "", RESET_CODE, NEW, RETYPE, MISMATCH, "", NEW, RETYPE, UPDATED, ""])
        self.assertEqual(self.api_requests().get(CONFIRM), 1)         # only the matching pair
        self.assertLogsIn("alice", NEW_PASSWORD)

    def test_wrong_current_password_mails_nothing(self):
        s = self.passwd()
        self.expect_exactly(s, CURRENT)
        s.send("not-her-password")
        self.assertEqual(s.finish(), PASSWD_FAILED, s.transcript)
        self.assertEqual(lines(s.transcript), [
            CURRENT, "Invalid email or password", "passwd: Authentication failure", UNCHANGED, ""])
        requests = self.api_requests()
        self.assertEqual(requests.get("POST /api/v1/login"), 1)
        self.assertEqual(requests.get(RESET, 0), 0)
        self.assertEqual(self.env.emu.stats()["resets_sent"], 0)
        self.assertFalse(os.path.exists(self.reset_file("alice")))
        self.assertLogsIn("alice", PASSWORDS["alice"])

    def test_root_is_not_asked_for_the_current_password(self):
        # passwd's real uid is 0: the module says so and the helper, seeing
        # a root peer, believes it.
        s = self.passwd("alice", user="root")
        self.change(s, current=False)
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(lines(s.transcript), [EMAILED, "", RESET_CODE, NEW, RETYPE, UPDATED, ""])
        self.assertEqual(self.api_requests().get("POST /api/v1/login", 0), 0)
        self.assertLogsIn("alice", NEW_PASSWORD)

    def test_no_cached_login_no_request(self):
        # carol has an AIUS account but never logged in on this host.
        s = self.passwd(user="carol")
        self.assertEqual(s.finish(), PASSWD_FAILED, s.transcript)
        self.assertEqual(lines(s.transcript), [
            NOT_CACHED, "passwd: Authentication token manipulation error", UNCHANGED, ""])
        self.assertEqual(self.api_requests(), {})


class FreddyPasswd(PasswdTestCase):
    """api = freddy documents no password change: the module answers
    PAM_IGNORE in both phases and pam_unix alone changes the password."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        set_password("alice", UNIX_PASSWORD)

    def test_no_freddy_prompt_and_pam_unix_decides(self):
        s = self.passwd()
        self.expect_exactly(s, "Current password: ")
        s.send(UNIX_PASSWORD)
        self.expect_exactly(s, NEW)
        s.send(NEW_UNIX_PASSWORD)
        self.expect_exactly(s, RETYPE)
        s.send(NEW_UNIX_PASSWORD)
        self.assertEqual(s.finish(), 0, s.transcript)
        # pam_unix's info and its three prompts, passwd's line, nothing else.
        self.assertEqual(lines(s.transcript), [
            "Changing password for alice.", "Current password: ", NEW, RETYPE, UPDATED, ""])
        self.assertEqual(self.api_requests(), {})
        self.assertUnixPassword(NEW_UNIX_PASSWORD)


class AiusPasswdFailSafe(PasswdTestCase):
    """fail_mode = safe and the API gone in the middle of a change.  In
    libpam's first phase the module said it takes part, and its success
    ended that phase ("success=done") before pam_unix checked the current
    Unix password; a PAM_IGNORE in the second phase would hand the change
    to pam_unix, which would then set a new Unix password for whoever sits
    at alice's terminal, with no password checked at all."""
    helper_api = "aius"
    helper_config = "fail_mode = safe\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        set_password("alice", UNIX_PASSWORD)

    def test_api_gone_fails_closed(self):
        self.assertLogsIn("alice", PASSWORDS["alice"])
        self.env.emu.admin("config", {"fault": "reset"})
        s = self.passwd()
        self.expect_exactly(s, CURRENT)
        s.send("anything-at-all")
        self.assertEqual(s.finish(), PASSWD_FAILED, s.transcript)
        self.assertEqual(lines(s.transcript), [
            CURRENT, "Authentication service unavailable",
            "passwd: Failed preliminary check by password service", UNCHANGED, ""])
        self.assertUnixPassword(UNIX_PASSWORD)


class ProfilePasswd(PasswdTestCase):
    """The pam-auth-update profile ("Unix password, then the Freddy code")
    with Debian's own /etc/pam.d/passwd, api = aius: passwd is Debian's,
    pam_unix alone.  A password line of the profile could only follow
    pam_unix's in common-password, where the Unix password is already set
    before the Freddy current password is checked (and passwd then says
    "password unchanged" over a changed one), and every new password is
    asked twice over."""
    helper_api = "aius"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        set_password("alice", UNIX_PASSWORD)
        install_service("passwd", "@include common-password\n")     # Debian 12's
        shutil.copy(PAM_CONFIG, "/usr/share/pam-configs/freddy")
        os.chmod("/usr/share/pam-configs/freddy", 0o644)
        pam_auth_update("--enable", "freddy")
        # The classes of this file share the sandbox's /etc.
        cls.addClassCleanup(pam_auth_update, "--remove", "freddy")

    def test_passwd_changes_the_unix_password_alone(self):
        with open("/etc/pam.d/common-auth") as f:
            self.assertIn("pam_freddy.so", f.read())           # the profile is on
        s = self.passwd()
        self.expect_exactly(s, "Current password: ")
        s.send(UNIX_PASSWORD)
        self.expect_exactly(s, NEW)
        s.send(NEW_UNIX_PASSWORD)
        self.expect_exactly(s, RETYPE)
        s.send(NEW_UNIX_PASSWORD)
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(lines(s.transcript), [
            "Changing password for alice.", "Current password: ", NEW, RETYPE, UPDATED, ""])
        self.assertEqual(self.api_requests(), {})
        self.assertUnixPassword(NEW_UNIX_PASSWORD)


if __name__ == "__main__":
    main()
