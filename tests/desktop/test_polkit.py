"""polkit: pkexec as an unprivileged person, authenticated through
pkttyagent in a tmux pane, with the Freddy password and the mailed code.

Debian 12's polkit 122 fails in pkexec's built-in text agent after PAM
has succeeded ("No session for cookie"), so the person's agent runs in a
second pane (`pkttyagent --process PID`), as a desktop's agent would in
its own window.  polkit-agent-helper-1 runs the PAM service polkit-1 with
the person's uid and euid 0: the helper sees a root caller.  The PAM file
is Debian's (/usr/lib/pam.d/polkit-1) with the Freddy lines of the
shipped examples in place of "@include common-auth".

What the person sees is read from the pane itself (tmux capture-pane), and
each pane is also kept as a PNG screenshot of a terminal: the text drawn
by ImageMagick.
"""

import os
import subprocess
import time

from desktop import (LAST_RETRY_TEXT, PASSWORD, RETRY_TEXT, SCREENSHOTS, USER, DesktopTestCase,
                     freddy_service, system_bus)
from e2e import SANDBOX
from freddytest import main, read_text, wait_for


class Tmux:
    def __init__(self, folder):
        self.socket = os.path.join(folder, "tmux.sock")

    def run(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True,
                              timeout=20, check=check)

    def screen(self, pane):
        return self.run("capture-pane", "-p", "-J", "-S", "-", "-t", pane).stdout

    def wait_for_text(self, pane, text, timeout=30):
        try:
            wait_for(lambda: text in self.screen(pane), timeout, 0.1, what=repr(text))
        except AssertionError:
            raise AssertionError("%r never appeared in pane %s; the panes show:\n%s"
                                 % (text, pane, "\n----\n".join(self.screen(p) for p in ("pk:0.0", "pk:0.1"))))
        return self.screen(pane)

    def type(self, pane, text):
        if text:
            self.run("send-keys", "-t", pane, "-l", text)
        self.run("send-keys", "-t", pane, "Enter")


class Polkit(DesktopTestCase):

    desktop_name = "polkit"
    user_groups = ("sudo",)		# Debian's polkit rules: sudo members are admins

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open("/usr/lib/pam.d/polkit-1") as f:
            freddy_service("polkit-1", f.read())
        system_bus()
        cls.polkitd = cls.desktop.spawn(["/usr/lib/polkit-1/polkitd", "--no-debug"], log="polkitd")
        wait_for(lambda: "true" in subprocess.run(
            ["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus", "/",
             "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.PolicyKit1"],
            capture_output=True, text=True).stdout, 20, 0.2, what="polkitd on the system bus")
        cls.count = 0

    def start(self):
        """The person's shell in pane 0 runs pkexec once her agent runs in pane 1."""
        type(self).count += 1
        work = os.path.join(SANDBOX, "pk%d" % self.count)	# the person writes here
        os.makedirs(work)
        os.chmod(work, 0o777)
        self.result = os.path.join(work, "result")
        self.tmux = Tmux(work)
        # pkexec asks polkit about its parent, this shell: the agent is
        # registered for the shell's pid.
        person = ("echo $$ >%s/pid; while [ ! -e %s/go ]; do sleep 0.1; done; "
                  "pkexec --disable-internal-agent /bin/sh -c 'id -un >%s'; echo $? >%s/status"
                  % (work, work, self.result, work))
        self.status_file = os.path.join(work, "status")
        self.tmux.run("new-session", "-d", "-x", "100", "-y", "30", "-s", "pk",
                      " ".join(self.quote(a) for a in self.as_user(["/bin/sh", "-c", person])))
        self.tmux.run("set-option", "-g", "remain-on-exit", "on")
        pid = wait_for(lambda: read_text(work + "/pid"), 10, what="the person's shell")
        self.tmux.run("split-window", "-v", "-t", "pk:0",
                      " ".join(self.quote(a) for a in self.as_user(["pkttyagent", "--process", pid])))
        time.sleep(1.5)		# the agent registers with polkitd
        open(work + "/go", "w").close()
        self.agent = "pk:0.1"
        self.person = "pk:0.0"
        self.tmux.wait_for_text(self.agent, "Password:")
        self.shot("password-prompt")

    @staticmethod
    def quote(arg):
        return "'" + arg.replace("'", "'\\''") + "'"

    def shot(self, what):
        """The agent's pane as the person sees it, as text and as a PNG."""
        text = self.tmux.screen(self.agent)
        base = os.path.join(SCREENSHOTS, "polkit-%02d-%s" % (self.desktop.next_step(), what))
        with open(base + ".txt", "w") as f:
            f.write(text)
        subprocess.run(["convert", "-size", "820x420", "xc:black", "-fill", "#d0d0d0", "-font",
                        "DejaVu-Sans-Mono", "-pointsize", "14", "-annotate", "+10+20",
                        text.rstrip("\n") or " ", base + ".png"],
                       check=True, timeout=30, capture_output=True)
        return text

    def password_then_code_prompt(self):
        self.start()
        self.tmux.type(self.agent, PASSWORD)
        screen = self.tmux.wait_for_text(self.agent, "Enter to resend:")
        self.shot("code-prompt")
        return screen

    def finish(self, status):
        """Waits for pkexec's exit status; returns what the person's pane
        shows."""
        self.assertEqual(int(wait_for(lambda: read_text(self.status_file), 30, 0.1,
                                      what="pkexec to end")), status)
        return self.tmux.screen(self.person)

    def tearDown(self):
        if getattr(self, "tmux", None):
            self.tmux.run("kill-server", check=False)

    def test_1_password_and_code_authorise_pkexec(self):
        screen = self.password_then_code_prompt()
        self.assertIn("Code emailed to d***@example.com.\n\n4-digit code, or Enter to resend:", screen)
        self.tmux.type(self.agent, self.code())
        self.tmux.wait_for_text(self.agent, "AUTHENTICATION COMPLETE")
        self.shot("complete")
        self.finish(0)
        with open(self.result) as f:
            self.assertEqual(f.read().strip(), "root")
        log = self.env.helper.read_log()
        self.assertIn("success for user=%s service=polkit-1" % USER, log)
        self.assertIn("caller_uid=0 ", log)

    def test_2_empty_answer_mails_a_new_code_and_a_wrong_code_may_be_retried(self):
        self.password_then_code_prompt()
        asked = time.time()
        self.tmux.type(self.agent, "")
        self.tmux.wait_for_text(self.agent, "New code emailed to d***@example.com.")
        second = self.wait_new_code(asked)
        self.shot("new-code-prompt")
        self.assertEqual(self.env.emu.codes_sent(), 2)
        self.tmux.type(self.agent, "0000")
        self.tmux.wait_for_text(self.agent, RETRY_TEXT)
        self.shot("wrong-code-retry")
        self.tmux.type(self.agent, second)
        self.tmux.wait_for_text(self.agent, "AUTHENTICATION COMPLETE")
        self.finish(0)

    def test_3_three_wrong_codes_refuse_pkexec(self):
        self.password_then_code_prompt()
        self.tmux.type(self.agent, "0000")
        self.tmux.wait_for_text(self.agent, RETRY_TEXT)
        self.tmux.type(self.agent, "0001")
        self.tmux.wait_for_text(self.agent, LAST_RETRY_TEXT)
        self.tmux.type(self.agent, "0002")
        self.tmux.wait_for_text(self.agent, "AUTHENTICATION FAILED")
        self.shot("failed")
        self.assertIn("Not authorized", self.finish(127))
        self.assertFalse(os.path.exists(self.result))


if __name__ == "__main__":
    main()
