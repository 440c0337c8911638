"""End-to-end fixture: the real sshd, sudo, su, login and PAM files.

These tests change /etc/pam.d, /etc/passwd, sudoers.d and run daemons as
root, so they only run inside tests/e2e/sandbox.sh, which gives each test
program a private mount namespace with copies of /etc, the PAM module folder
(with pam_freddy.so installed into it), /usr/share/pam-configs and
/var/lib/pam, and empty /run and /var/log.  The helper listens on the
module's default socket, /run/freddy/helperd.sock, so the shipped PAM files
in etc/pam.d/ are installed byte for byte.
"""

import os
import pwd
import socket
import subprocess
import time
import unittest

import pexpect

from flowtest import API_PATHS
from freddytest import PASSWORDS, TOP_SRCDIR, FreddyEnv, Helper

SANDBOX = os.environ.get("FREDDY_E2E_SANDBOX", "")
SOCKET = "/run/freddy/helperd.sock"
EXAMPLES = os.path.join(TOP_SRCDIR, "etc", "pam.d")
PAM_CONFIG = os.path.join(TOP_SRCDIR, "etc", "pam-configs", "freddy")
EMAILS = {"alice": "alice@example.com", "bob": "bob@example.com", "carol": "carol@example.com"}
CODE_PROMPT = "4-digit code, or Enter to resend: "


def mount_points():
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def require_sandbox():
    """Refuse to run anywhere but inside sandbox.sh's namespace."""
    if not SANDBOX or not os.path.isdir(SANDBOX) or not {"/etc", "/run"} <= mount_points():
        raise unittest.SkipTest("run through tests/e2e/sandbox.sh (make check-e2e)")


def e2e_env(config="", api="freddy"):
    """FreddyEnv whose helper listens on the default socket and speaks
    `api` to the emulator (AIUS names its users by email, as
    tests/lib/selfservice.py configures it)."""
    env = FreddyEnv(start_helper=False)
    os.makedirs(os.path.dirname(SOCKET), mode=0o755, exist_ok=True)
    env.socket = SOCKET
    env.api_url = env.emu.base + API_PATHS[api]
    if api == "aius":
        config = "user_template = %u@example.com\n" + config
    env.config_text = env.make_config(("api = %s\n" % api) + config)
    env.helper = Helper(env.tmp, env.config_text)
    env.helper.start(wait_socket=SOCKET)
    return env


def add_user(name, password=None, groups=()):
    """A local account in the sandbox's /etc; its Unix password is locked
    unless `password` is given.  Returns the passwd entry."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    home = os.path.join(SANDBOX, "home", name)
    subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh", "-U", name], check=True)
    for group in groups:
        subprocess.run(["groupadd", "-f", group], check=True)
        subprocess.run(["usermod", "-a", "-G", group, name], check=True)
    if password is not None:
        set_password(name, password)
    entry = pwd.getpwnam(name)
    os.mkdir(home, 0o700)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    return entry


def set_password(name, password):
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["usermod", "-p", hashed, name], check=True)


def set_home(name, home):
    """Point `name`'s home at `home` in the sandbox's /etc/passwd (usermod
    refuses while the user has processes, and root always has)."""
    with open("/etc/passwd") as f:
        lines = f.read().splitlines(True)
    for i, line in enumerate(lines):
        fields = line.rstrip("\n").split(":")
        if fields[0] == name:
            fields[5] = home
            lines[i] = ":".join(fields) + "\n"
    with open("/etc/passwd.freddy-e2e", "w") as f:
        f.write("".join(lines))
    os.chmod("/etc/passwd.freddy-e2e", 0o644)
    os.replace("/etc/passwd.freddy-e2e", "/etc/passwd")


def install_service(name, text=None, example=None):
    """Write /etc/pam.d/NAME, from text or from a shipped example file."""
    if example is not None:
        with open(os.path.join(EXAMPLES, example)) as f:
            text = f.read()
    path = os.path.join("/etc/pam.d", name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def as_user(name):
    """argv prefix that runs a program as local user `name`, like a login would."""
    return ["setpriv", "--reuid", name, "--regid", name, "--init-groups", "--reset-env", "--"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    """One program driven through a pseudo-terminal, with its transcript."""

    def __init__(self, argv, timeout=30, env=None):
        self.started = time.time() - 0.001
        self.child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=timeout,
                                   codec_errors="replace", env=env)
        self.transcript = ""

    def expect(self, pattern):
        try:
            self.child.expect(pattern)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.transcript += str(self.child.before)
            self.child.close(force=True)
            raise AssertionError("%s waiting for %r; transcript:\n%s"
                                 % (type(e).__name__, pattern, self.transcript))
        after = self.child.after if isinstance(self.child.after, str) else ""
        self.transcript += self.child.before + after
        return self.child.match

    def send(self, line):
        self.child.sendline(line)

    def finish(self):
        """Read to the end; returns the exit status (signal: 128+n)."""
        self.expect(pexpect.EOF)
        self.child.close()
        if self.child.exitstatus is None:
            return 128 + (self.child.signalstatus or 0)
        return self.child.exitstatus


class E2ETestCase(unittest.TestCase):
    """One helper + emulator per test class, on the default socket."""

    helper_config = ""
    helper_api = "freddy"

    @classmethod
    def setUpClass(cls):
        require_sandbox()
        cls.env = e2e_env(cls.helper_config, cls.helper_api)
        # A class cleanup runs even when a subclass's set-up fails later.
        cls.addClassCleanup(cls.env.close)

    def setUp(self):
        self.env.emu.admin("reset", {})

    def code(self, user, session):
        """The code mailed to `user` since `session` started."""
        return self.env.emu.code_for(EMAILS[user], session.started)

    def freddy_login(self, s, user, code=None, password=None):
        """Answer the Freddy flow's two prompts in session `s`."""
        s.expect("[Pp]assword[^\n]*: ")
        s.send(PASSWORDS[user] if password is None else password)
        s.expect("Code emailed to [^\n]*\r?\n\r?\n[^\n]*" + CODE_PROMPT)
        s.send(self.code(user, s) if code is None else code)

    def assertNoCodeSent(self):
        self.assertEqual(self.env.emu.codes_sent(), 0)


