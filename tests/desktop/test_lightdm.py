"""LightDM with lightdm-gtk-greeter: a login with the Freddy password and
the mailed code through the shipped etc/pam.d/lightdm.

LightDM runs with a configuration of its own (--config; run, log, cache and
session folders in the sandbox; /etc/lightdm is only read) on an `xremote`
seat, i.e. on this test's Xvfb.  The greeter's home folders
(/var/lib/lightdm, /var/lib/lightdm-data) are empty tmpfs for the test.
The greeter gets a session bus (greeter-wrapper: dbus-run-session), so it
starts its accessibility bus, and the test reads what it shows (the
message bar, the entries) over AT-SPI as the greeter's own user.  The
session the person logs into is a one-line program that writes who it
runs as: the proof that the login went all the way.
"""

import os
import shutil
import subprocess
import time

from desktop import (LAST_RETRY_TEXT, PASSWORD, RETRY_TEXT, SANDBOX, USER, Desktop, DesktopTestCase,
                     atspi_look, settle, system_bus)
from e2e import install_service
from freddytest import main, read_text, wait_for

LOGIN = "POST /v1/auth/login"
VERIFY = "POST /v1/auth/verify"
RESEND = "POST /v1/auth/resend-email"


class LightDM(DesktopTestCase):

    desktop_name = "lightdm"
    shared_display = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        install_service("lightdm", example="lightdm")
        system_bus()
        for folder in ("/var/lib/lightdm", "/var/lib/lightdm-data"):
            os.makedirs(folder, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0750", "freddy-lightdm", folder],
                           check=True)
            shutil.chown(folder, "lightdm", "lightdm")
        cls.base = os.path.join(SANDBOX, "lightdm")
        for sub in ("run", "log", "cache", "sessions"):
            os.makedirs(os.path.join(cls.base, sub), exist_ok=True)
        cls.marker = os.path.join(cls.pw.pw_dir, "session-ran")	# written by the person
        # The greeter's default choice is "lightdm-xsession": ours has
        # that name.
        with open(os.path.join(cls.base, "sessions", "lightdm-xsession.desktop"), "w") as f:
            f.write("[Desktop Entry]\nName=Freddy test session\n"
                    "Exec=/bin/sh -c 'id -un >%s; sleep 2'\n" % cls.marker)
        # LightDM hands the session's Exec line over as one word, as
        # Debian's Xsession expects it.
        cls.script("session-wrapper", 'exec /bin/sh -c "$*"')
        # The greeter's session bus listens in its tmpfs home, not in /tmp.
        with open("/usr/share/dbus-1/session.conf") as f:
            bus = f.read().replace("<listen>unix:tmpdir=/tmp</listen>",
                                   "<listen>unix:dir=/var/lib/lightdm</listen>")
        with open(os.path.join(cls.base, "session-bus.conf"), "w") as f:
            f.write(bus)
        cls.script("greeter-wrapper", 'exec dbus-run-session --config-file=%s/session-bus.conf -- "$@"'
                   % cls.base)

    def configure(self):
        """A configuration for this test's display."""
        self.config = os.path.join(self.base, "lightdm.conf")
        with open(self.config, "w") as f:
            f.write("[LightDM]\n"
                    "run-directory={b}/run\nlog-directory={b}/log\ncache-directory={b}/cache\n"
                    "sessions-directory={b}/sessions\n"
                    "[Seat:*]\ntype=xremote\nxserver-hostname=\nxserver-display-number={n}\n"
                    "greeter-session=lightdm-gtk-greeter\ngreeter-hide-users=true\n"
                    "allow-guest=false\nsession-wrapper={b}/session-wrapper\n"
                    "greeter-wrapper={b}/greeter-wrapper\n".format(b=self.base, n=self.desktop.number))

    @classmethod
    def script(cls, name, line):
        path = os.path.join(cls.base, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + line + "\n")
        os.chmod(path, 0o755)

    def setUp(self):
        """A display and a LightDM of its own for each test: what one
        login leaves behind (a session, the greeter's accessibility bus
        named on the display) cannot confuse the next."""
        super().setUp()
        if os.path.exists(self.marker):
            os.unlink(self.marker)
        self.desktop = Desktop(self.desktop_name)
        self.addCleanup(self.desktop.close)
        self.configure()
        self.lightdm = self.desktop.spawn(["lightdm", "-d", "--config", self.config], log="lightdm")
        # The greeter is up once it shows its entries over AT-SPI.
        wait_for(lambda: any(role == "text" for role, _ in self.look()), 40, 1,
                 what="the greeter")
        settle(1)

    def look(self):
        return atspi_look(self.desktop, "lightdm-gtk-greeter", "lightdm")

    def message(self):
        """The text of the greeter's message bar (the module's prompt text
        lands there), or None."""
        labels = [text for role, text in self.look() if role == "label" and text]
        return labels[0] if labels else None

    def wait_message(self, start):
        try:
            return wait_for(lambda: (self.message() or "").startswith(start) and self.message(),
                            20, 1, what="the greeter to show %r" % start)
        except AssertionError:
            raise AssertionError("the greeter shows %r" % (self.look(),))

    def name_and_password(self):
        self.desktop.shot("greeter")
        self.desktop.type(USER)
        settle(1.5)	# it restarts its PAM conversation for the name
        self.desktop.shot("password-prompt")
        self.desktop.type(PASSWORD)
        self.wait_requests(LOGIN, 1)
        shown = self.wait_message("Code emailed to")
        self.desktop.shot("code-prompt")
        return shown

    def assertLoggedIn(self):
        try:
            ran_as = wait_for(lambda: read_text(self.marker), 30, 0.2, what="the session to start")
        except AssertionError:
            with open(os.path.join(self.base, "log", "lightdm.log")) as f:
                raise AssertionError("no session; LightDM's log ends:\n" + f.read()[-2500:])
        self.assertEqual(ran_as, USER)
        self.desktop.shot("session-started")
        self.assertIn("success for user=%s service=lightdm " % USER, self.env.helper.read_log())

    def test_1_password_and_code_log_in(self):
        shown = self.name_and_password()
        self.assertEqual(shown, "Code emailed to d***@example.com.\n\n4-digit code, or Enter to resend")
        self.desktop.type(self.code())
        self.assertLoggedIn()

    def test_2_empty_answer_mails_a_new_code_and_a_wrong_code_may_be_retried(self):
        self.name_and_password()
        asked = time.time()
        self.desktop.type("")
        self.wait_requests(RESEND, 1)
        second = self.wait_new_code(asked)
        self.wait_message("New code emailed to d***@example.com.")
        self.desktop.shot("new-code-prompt")
        self.assertEqual(self.env.emu.codes_sent(), 2)
        self.desktop.type("0000")
        self.assertEqual(self.wait_message(RETRY_TEXT),
                         RETRY_TEXT + "\n\n4-digit code, or Enter to resend")
        self.desktop.shot("wrong-code-retry")
        self.desktop.type(second)
        self.assertLoggedIn()

    def test_3_three_wrong_codes_end_the_login(self):
        self.name_and_password()
        self.desktop.type("0000")
        self.wait_message(RETRY_TEXT)
        self.desktop.type("0001")
        self.wait_message(LAST_RETRY_TEXT)
        self.desktop.shot("last-attempt")
        self.desktop.type("0002")
        self.wait_requests(VERIFY, 3)
        # The module ends the login with "Invalid code, no attempts left";
        # the greeter shows its own words for any failed login instead.
        shown = self.wait_message("Your password is incorrect")
        self.desktop.shot("login-refused")
        self.assertEqual(shown, "Your password is incorrect. Please try again.")
        self.assertFalse(os.path.exists(self.marker))
        self.assertRegex(self.env.helper.read_log(),
                         r"freddy: (?!success)\w+ for user=%s service=lightdm " % USER)


if __name__ == "__main__":
    main()
