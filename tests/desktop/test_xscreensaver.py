"""xscreensaver 6 as the person runs it: locked, then unlocked with the
Freddy password and the mailed code, through the shipped
etc/pam.d/xscreensaver.

xscreensaver's setuid helper drops root before pam_start, so the helper
sees the person's own uid as the caller.  Its dialog is drawn with Xlib,
without accessibility; what it was given to show comes from its own
`--verbose` log, which records every PAM message (`pam_conversation
(ECHO_OFF="...")`), and what it drew is kept as screenshots.  The lock
state comes from `xscreensaver-command -time`, and each step waits for the
emulator to have seen the request the step causes.
"""

import os
import re
import subprocess
import time

from desktop import (LAST_RETRY_TEXT, PASSWORD, RETRY_TEXT, SANDBOX, USER, DesktopTestCase,
                     process_running, settle)
from e2e import install_service
from freddytest import main, wait_for

VERIFY = "POST /v1/auth/verify"
RESEND = "POST /v1/auth/resend-email"
LOGIN = "POST /v1/auth/login"
QUESTION = "\n\n4-digit code, or Enter to resend: "


class XScreenSaver(DesktopTestCase):

    desktop_name = "xscreensaver"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        install_service("xscreensaver", example="xscreensaver")
        # A blank screen: the demos would only cost CPU and clutter the
        # screenshots.
        prefs = os.path.join(cls.pw.pw_dir, ".xscreensaver")
        with open(prefs, "w") as f:
            f.write("mode: blank\nlock: False\nfade: False\nunfade: False\n")
        os.chown(prefs, cls.pw.pw_uid, cls.pw.pw_gid)
        cls.log = os.path.join(SANDBOX, "xscreensaver.log")
        cls.saver = cls.desktop.spawn(cls.as_user(["xscreensaver", "--no-splash", "--verbose"]),
                                      log="xscreensaver")
        # Its first answer can take long on a loaded machine (CI once
        # waited out 20 s).  A saver that died says why in its log, except
        # when it cannot open the display (it then exits 1 without a word),
        # so the X server's log is shown as well.
        try:
            wait_for(lambda: cls.saver.poll() is not None or cls.command("-time").returncode == 0, 60, 0.2,
                     what="xscreensaver answering")
        except AssertionError:
            raise AssertionError("xscreensaver does not answer; " + cls.logs())
        if cls.saver.poll() is not None:
            raise AssertionError("xscreensaver exited with status %s; %s" % (cls.saver.returncode, cls.logs()))

    @classmethod
    def logs(cls):
        return "its log ends:\n%s\nXvfb's log ends:\n%s" % (cls.desktop.log_tail(cls.log),
                                                           cls.desktop.log_tail(cls.desktop.log))

    @classmethod
    def command(self, *args):
        return subprocess.run(self.as_user(["xscreensaver-command", *args]), capture_output=True,
                              text=True, timeout=20, env=self.desktop.env())

    def setUp(self):
        super().setUp()
        self.log_start = os.path.getsize(self.log)

    def shown(self):
        """The PAM messages xscreensaver was given since the test began,
        as (style, text)."""
        with open(self.log, errors="replace") as f:
            f.seek(self.log_start)
            log = f.read()
        return re.findall(r'(ECHO_OFF|ECHO_ON|ERROR_MSG|TEXT_INFO)="(.*?)"(?=[,)])', log, re.S)

    def assertShown(self, style, text):
        self.assertIn((style, text), self.shown())

    def locked(self):
        return "locked" in self.command("-time").stdout

    def lock_and_wake(self):
        """Locks the screen, then presses Shift until the unlock dialog
        (xscreensaver-auth) is up, as a person would."""
        if not self.locked():
            self.command("-lock")
            wait_for(self.locked, 20, 0.2, what="the screen locked")
        for _ in range(40):
            if process_running("xscreensaver-au"):
                break
            self.desktop.xdotool("key", "shift")
            time.sleep(0.5)
        self.assertTrue(process_running("xscreensaver-au"), "the unlock dialog never came up")
        settle(1.5)	# it drops keys while it opens

    def enter_password(self):
        self.desktop.shot("password-prompt")
        self.desktop.type(PASSWORD)
        self.wait_requests(LOGIN, 1)
        code = self.code()
        settle(1)
        return code

    def test_1_password_and_code_unlock(self):
        self.lock_and_wake()
        code = self.enter_password()
        self.desktop.shot("code-prompt")
        self.assertShown("ECHO_OFF", "Code emailed to d***@example.com." + QUESTION)
        self.desktop.type(code)
        wait_for(lambda: not self.locked(), 20, 0.2, what="the screen unlocked")
        self.desktop.shot("unlocked")
        self.assertIn("success for user=%s service=xscreensaver" % USER, self.env.helper.read_log())
        self.assertIn("caller_uid=%d " % self.pw.pw_uid, self.env.helper.read_log())

    def test_2_empty_answer_mails_a_new_code_and_a_wrong_code_may_be_retried(self):
        self.lock_and_wake()
        self.enter_password()
        asked = time.time()
        self.desktop.type("")
        self.wait_requests(RESEND, 1)
        second = self.wait_new_code(asked)
        settle(1)
        self.desktop.shot("new-code-prompt")
        self.assertShown("ECHO_OFF", "New code emailed to d***@example.com." + QUESTION)
        self.assertEqual(self.env.emu.codes_sent(), 2)
        self.desktop.type("0000" if second != "0000" else "0001")
        self.wait_requests(VERIFY, 1)
        settle(1)
        self.desktop.shot("wrong-code-retry")
        self.assertShown("ECHO_OFF", RETRY_TEXT + QUESTION)
        self.assertTrue(self.locked())
        self.desktop.type(second)
        wait_for(lambda: not self.locked(), 20, 0.2, what="the screen unlocked")
        self.desktop.shot("unlocked")

    def test_3_three_wrong_codes_keep_the_screen_locked(self):
        self.lock_and_wake()
        code = self.enter_password()
        wrong = [c for c in ("1000", "1001", "1002", "1003") if c != code][:3]
        for n, answer in enumerate(wrong, 1):
            self.desktop.type(answer)
            self.wait_requests(VERIFY, n)
            settle(1)
            self.desktop.shot("wrong-code-%d" % n)
        self.assertTrue(self.locked())
        self.assertShown("ECHO_OFF", LAST_RETRY_TEXT + QUESTION)
        self.assertShown("ERROR_MSG", "Invalid code, no attempts left")
        self.assertRegex(self.env.helper.read_log(),
                         r"freddy: (?!success)\w+ for user=%s service=xscreensaver" % USER)
        self.assertEqual(self.env.emu.requests(VERIFY), 3)
        # The dialog goes away after its message; the screen stays locked.
        time.sleep(3)
        self.assertTrue(self.locked())
        self.desktop.shot("still-locked")


if __name__ == "__main__":
    main()
