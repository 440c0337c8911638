"""Desktop fixture: the real graphical programs on Xvfb, inside sandbox.sh.

Each test program gets its own X server (Xvfb on a free display number),
a system D-Bus of its own (sandbox.sh gives it an empty /run), the helper
and the emulator from e2e.py.  Programs are driven with xdotool and looked
at with ImageMagick's `import`; every step's screenshot is kept under
FREDDY_SCREENSHOTS (the desktop stage copies them to _build/results/) so
a person can see what the person at the screen saw.
"""

import os
import subprocess
import time

from e2e import SANDBOX
from freddytest import wait_for

SCREENSHOTS = os.environ.get("FREDDY_SCREENSHOTS") or os.path.join(SANDBOX or "/tmp", "screenshots")


def free_display():
    for n in range(20, 99):
        if not os.path.exists("/tmp/.X11-unix/X%d" % n) and not os.path.exists("/tmp/.X%d-lock" % n):
            return n
    raise RuntimeError("no free X display number")


class Desktop:
    """An Xvfb display, its screenshots and xdotool."""

    def __init__(self, name, size="1024x768x24"):
        self.name = name
        self.number = free_display()
        self.display = ":%d" % self.number
        self.step = 0
        self.procs = []
        # -r: no auto-repeat, so a slow moment never turns a typed key into two.
        self.xvfb = self.spawn(["Xvfb", self.display, "-ac", "-nolisten", "tcp", "-r",
                                "-screen", "0", size], log="xvfb")
        wait_for(lambda: os.path.exists("/tmp/.X11-unix/X%d" % self.number), 15,
                 what="Xvfb on " + self.display)
        os.makedirs(SCREENSHOTS, exist_ok=True)

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

    def shot(self, what):
        """Screenshot of the whole screen, as NN-NAME-WHAT.png."""
        self.step += 1
        path = os.path.join(SCREENSHOTS, "%02d-%s-%s.png" % (self.step, self.name, what))
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
