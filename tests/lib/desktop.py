"""Desktop fixture: the real graphical programs on Xvfb, inside sandbox.sh.

Each test program gets its own X server (Xvfb on a display it picks),
a system D-Bus of its own (sandbox.sh gives it an empty /run), the helper
and the emulator from e2e.py.  Programs are driven with xdotool and looked
at with ImageMagick's `import`; every step's screenshot is kept under
FREDDY_SCREENSHOTS (the desktop stage copies them to _build/results/) so
a person can see what the person at the screen saw.
"""

import os
import select
import subprocess
import sys
import time
import unittest

import e2e
from e2e import SANDBOX, add_user, require_sandbox
from freddytest import DEFAULT_USERS, FreddyEnv, Helper, wait_for

SCREENSHOTS = os.environ.get("FREDDY_SCREENSHOTS") or os.path.join(SANDBOX or "/tmp", "screenshots")


_private_x_done = []


def private_x_sockets():
    """X sockets of this test's own: /tmp/.X11-unix becomes a tmpfs in the
    sandbox's namespace, so an Xvfb that the sandbox's PID namespace ends
    leaves no socket in the host's /tmp (and Xvfb runs with -nolock)."""
    if not _private_x_done:
        os.makedirs("/tmp/.X11-unix", mode=0o1777, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "freddy-x11", "/tmp/.X11-unix"],
                       check=True)
        _private_x_done.append(True)


class XvfbExited(Exception):
    pass


class Desktop:
    """An Xvfb display, its screenshots and xdotool."""

    def __init__(self, name, size="1024x768x24"):
        self.name = name
        self.procs = []
        self.log = os.path.join(SANDBOX or "/tmp", "xvfb.log")
        # Xvfb picks the display itself (-displayfd) and names it only once
        # it accepts clients.  A number chosen here from the socket folder
        # would not see an X server elsewhere on the host: the sandbox
        # shares the host's network namespace, where the abstract sockets
        # (@/tmp/.X11-unix/XN) live, and Xlib tries those first.
        # -r: no auto-repeat, so a slow moment never turns a typed key into two.
        # An Xvfb that exits before it is ready (a clash this fixture cannot
        # foresee, xkbcomp failing on a loaded machine) gets one successor;
        # the first one's log goes to the test's output.
        for attempt in (1, 2):
            try:
                self.number = self._start_xvfb(size)
                break
            except XvfbExited as e:
                if attempt == 2:
                    raise AssertionError(str(e))
                sys.stderr.write("%s; starting another\n" % e)
        self.display = ":%d" % self.number
        os.makedirs(SCREENSHOTS, exist_ok=True)

    def _start_xvfb(self, size):
        ready_r, ready_w = os.pipe()
        try:
            self.xvfb = self.spawn(["Xvfb", "-displayfd", str(ready_w), "-ac", "-nolisten", "tcp",
                                    "-r", "-nolock", "-screen", "0", size], log="xvfb",
                                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, pass_fds=(ready_w,))
            os.close(ready_w)
            ready_w = -1
            return int(self._read_display(ready_r, 30))
        finally:
            os.close(ready_r)
            if ready_w >= 0:
                os.close(ready_w)

    def _read_display(self, fd, timeout):
        """The display number Xvfb writes to its -displayfd when ready."""
        deadline = time.monotonic() + timeout
        got = b""
        while not got.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError("Xvfb not ready after %d s; its log ends:\n%s"
                                     % (timeout, self.log_tail(self.log)))
            chunk = os.read(fd, 16)
            if not chunk:
                raise XvfbExited("Xvfb exited with status %s while starting; its log ends:\n%s"
                                 % (self.xvfb.wait(5), self.log_tail(self.log)))
            got += chunk
        return got.strip()

    @staticmethod
    def log_tail(path, lines=30):
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return str(e)

    def env(self, **extra):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DISPLAY": self.display, "LANG": "C.UTF-8"}
        e.update(extra)
        return e

    def spawn(self, argv, log, env=None, **kw):
        out = open(os.path.join(SANDBOX or "/tmp", "%s.log" % log), "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env if env is not None else self.env(), **kw)
        out.close()
        self.procs.append(p)
        return p

    def xdotool(self, *args):
        subprocess.run(["xdotool", *args], env=self.env(), check=True, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def type(self, text):
        """Types text as a person would, then Enter."""
        if text:
            self.xdotool("type", "--delay", "30", text)
        self.xdotool("key", "Return")

    steps = {}		# per program name, across displays: the screenshots' order

    def next_step(self):
        Desktop.steps[self.name] = Desktop.steps.get(self.name, 0) + 1
        return Desktop.steps[self.name]

    def shot(self, what):
        """Screenshot of the whole screen, as NAME-NN-WHAT.png."""
        path = os.path.join(SCREENSHOTS, "%s-%02d-%s.png" % (self.name, self.next_step(), what))
        subprocess.run(["import", "-window", "root", "-display", self.display, path],
                       check=True, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return path

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def system_bus():
    """A system D-Bus in the sandbox's empty /run (LightDM and polkitd
    need one).  Returns its pid."""
    os.makedirs("/run/dbus", exist_ok=True)
    subprocess.run(["dbus-daemon", "--system", "--fork"], check=True, timeout=20)
    wait_for(lambda: os.path.exists("/run/dbus/system_bus_socket"), 10, what="the system bus")
    with open("/run/dbus/pid") as f:
        return int(f.read().strip())


def settle(seconds=0.5):
    time.sleep(seconds)


# The person at the screen.  Her password has no capital letters: xdotool
# types a capital as Shift + key, and a program that reads the modifier
# state a moment late (xscreensaver's dialog, seen here) gets a small
# letter, which would make the test about xdotool.
USER = "dana"
EMAIL = "dana@example.com"
PASSWORD = "dana-pass-4"
USERS = DEFAULT_USERS + [{"username": USER, "email": EMAIL, "password": PASSWORD}]
RETRY_TEXT = "Invalid code, 2 attempts left"
LAST_RETRY_TEXT = "Invalid code, 1 attempt left"


def desktop_env(config=""):
    """Helper and emulator as e2e.e2e_env(), with the desktop user."""
    env = FreddyEnv(start_helper=False, users=USERS)
    os.makedirs(os.path.dirname(e2e.SOCKET), mode=0o755, exist_ok=True)
    env.socket = e2e.SOCKET
    env.config_text = env.make_config(config)
    env.helper = Helper(env.tmp, env.config_text)
    env.helper.start(wait_socket=e2e.SOCKET)
    return env


def freddy_service(name, debian_text):
    """Debian's PAM file for `name` with the shipped examples' Freddy lines
    in place of "@include common-auth" (as etc/pam.d/* do)."""
    with open(os.path.join(e2e.EXAMPLES, "xscreensaver")) as f:
        freddy = [line for line in f if line.startswith("auth") and "pam_freddy" in line or
                  line.startswith("auth") and "pam_succeed_if" in line]
    out = []
    for line in debian_text.splitlines(True):
        if line.strip() == "@include common-auth":
            out.extend(freddy)
        out.append(line)
    return e2e.install_service(name, "".join(out))


def process_running(comm):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/comm" % pid) as f:
                    if f.read().strip() == comm:
                        return True
            except OSError:
                pass
    return False


class DesktopTestCase(unittest.TestCase):
    """Helper + emulator + the desktop user, one set per test class."""

    desktop_name = "desktop"
    user_groups = ()
    shared_display = True	# one Xvfb for the class, or each test makes its own

    @classmethod
    def setUpClass(cls):
        require_sandbox()
        private_x_sockets()
        for prog in ("Xvfb", "xdotool", "import", "dbus-daemon"):
            if subprocess.run(["sh", "-c", "command -v " + prog], capture_output=True).returncode:
                raise AssertionError("%s is not installed (.ci/packages.txt)" % prog)
        cls.env = desktop_env()
        cls.addClassCleanup(cls.env.close)
        cls.pw = add_user(USER, groups=cls.user_groups)
        if cls.shared_display:
            cls.desktop = Desktop(cls.desktop_name)
            cls.addClassCleanup(cls.desktop.close)

    def setUp(self):
        self.env.emu.admin("reset", {})
        self.started = time.time() - 0.001

    def code(self, after=None):
        return self.env.emu.code_for(EMAIL, self.started if after is None else after, timeout=20)

    def wait_requests(self, what, count, timeout=20):
        wait_for(lambda: self.env.emu.requests(what) >= count, timeout, 0.1,
                 what="%d x %s" % (count, what))

    def wait_new_code(self, after):
        """Waits for a code mailed after `after` (a resend); returns it."""
        return self.env.emu.code_for(EMAIL, after, timeout=20)

    @classmethod
    def user_env(self, **extra):
        return self.desktop.env(HOME=self.pw.pw_dir, USER=USER, LOGNAME=USER, **extra)

    @classmethod
    def as_user(self, argv, **extra):
        """argv that runs as the desktop user with her environment."""
        env = ["%s=%s" % kv for kv in self.user_env(**extra).items()]
        return e2e.as_user(USER) + ["env", "-i"] + env + argv


# Prints, one per line, the names of the labels and the texts of the
# entries an AT-SPI client sees showing in `app`; run as the program's
# own user (its accessibility bus lets no one else call into the program).
_ATSPI_LOOK = r"""
import sys
import gi
gi.require_version("Atspi", "2.0")
from gi.repository import Atspi
SHOWING = Atspi.StateType.SHOWING
def walk(a, depth=0):
    if depth > 1 and not a.get_state_set().contains(SHOWING):
        return
    role = a.get_role_name()
    if role in ("label", "text", "password text", "push button"):
        text = a.get_name()
        if role in ("text", "password text"):
            text = Atspi.Text.get_text(a, 0, -1)
        print("%s: %s" % (role, text.replace("\\", "\\\\").replace("\n", "\\n")))
    for i in range(a.get_child_count()):
        walk(a.get_child_at_index(i), depth + 1)
desktop = Atspi.get_desktop(0)
for i in range(desktop.get_child_count()):
    app = desktop.get_child_at_index(i)
    if app.get_name() == sys.argv[1]:
        walk(app)
"""


def atspi_look(desktop, app, user):
    """What `app` (running as `user` on `desktop`) shows: a list of
    (role, text) in screen order, texts with their line breaks."""
    r = subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--init-groups", "--",
                        "python3", "-c", _ATSPI_LOOK, app], env=desktop.env(), capture_output=True,
                       text=True, timeout=30)
    seen = []
    for line in r.stdout.splitlines():
        role, _, text = line.partition(": ")
        seen.append((role, text.replace("\\n", "\n").replace("\\\\", "\\")))
    return seen
