"""Test fixture for pam_freddy: the emulator, the helper and PAM programs.

Each test gets a private temporary folder holding certificates, the emulator,
a helper with its own config, socket and cache, and a PAM service folder for
pam_wrapper, so tests need no change to /etc and can run in parallel.
Nothing here stubs the code under test: the real helper, the real module
loaded by the real libpam, driven by pamtester through a pseudo-terminal.
"""

import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import pexpect

TOP_BUILDDIR = os.environ.get("FREDDY_TOP_BUILDDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_SRCDIR = os.environ.get("FREDDY_TOP_SRCDIR") or TOP_BUILDDIR
HELPER = os.path.join(TOP_BUILDDIR, "freddy-helperd")
MODULE = os.path.join(TOP_BUILDDIR, ".libs", "pam_freddy.so")
FREDDYCTL = os.path.join(TOP_BUILDDIR, "freddyctl")
EMULATOR = os.path.join(TOP_SRCDIR, "tests", "emulator", "freddy_emulator.py")
MAKE_CERTS = os.path.join(TOP_SRCDIR, "tests", "emulator", "make-certs.sh")
HELPER_UNIT = os.path.join(TOP_SRCDIR, "etc", "systemd", "freddy-helperd.service")
PAM_WRAPPER = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so"
NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
FIRST_TEST_UID = 2001
PYTHON = "/usr/bin/python3"
# Prepended to the helper's command line, e.g. "valgrind --error-exitcode=99 ..."
HELPER_WRAPPER = shlex.split(os.environ.get("FREDDY_HELPER_WRAPPER", ""))

API_KEY = "ak_test_9f8e7d6c5b4a"

# The variables the module reads a person's language from (and freddyctl
# its own).  PAM programs start without them unless a test gives them,
# so that the texts are English whatever the machine's locale is.
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
# The catalogues as built (po/LL.gmo, in the source folder, as gettext's
# po/Makefile makes them) and the languages of po/LINGUAS.
PO_DIR = os.path.join(TOP_SRCDIR, "po")


def po_languages():
    with open(os.path.join(PO_DIR, "LINGUAS")) as f:
        return [w for line in f if not line.startswith("#") for w in line.split()]


def make_locale_dir(tmp):
    """A locale folder laid out as $(localedir) is after `make install`
    (LL/LC_MESSAGES/pam_freddy.mo), from the built catalogues: what the
    helper's locale_dir and freddyctl's FREDDY_LOCALEDIR point at."""
    top = os.path.join(tmp, "locale")
    for lang in po_languages():
        folder = os.path.join(top, lang, "LC_MESSAGES")
        os.makedirs(folder, exist_ok=True)
        shutil.copyfile(os.path.join(PO_DIR, lang + ".gmo"), os.path.join(folder, "pam_freddy.mo"))
        os.chmod(os.path.join(folder, "pam_freddy.mo"), 0o644)
    for dirpath, _, _ in os.walk(top):
        os.chmod(dirpath, 0o755)
    return top

TEST_TMPDIR = os.environ.get("FREDDY_TEST_TMPDIR", "/var/tmp")
# pam_wrapper keeps its state in /tmp/pam.X, one letter for each process
# that uses it at once: a few dozen pamtesters on the whole machine (ours
# in parallel, other test runs) and the next one fails.  As root, each
# pamtester gets a /tmp of its own.
# unshare, sh and mount must not load pam_wrapper themselves (it would
# make its folder in the shared /tmp): the preload is set only for what
# runs after the mount, from FREDDY_PAM_LD_PRELOAD (see pam_env).
PRIVATE_TMP = (["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                'mount -t tmpfs -o mode=1777,size=4m freddy-pamtmp /tmp && '
                'exec env LD_PRELOAD="$FREDDY_PAM_LD_PRELOAD" "$@"', "sh"]
               if os.geteuid() == 0 else [])

DEFAULT_USERS = [
    {"username": "alice", "email": "alice@example.com", "password": "Correct-Horse-1"},
    {"username": "bob", "email": "bob@example.com", "password": "Bob-Pass-2",
     "totp_secret_hex": "3132333435363738393031323334353637383930",
     "recovery_codes": ["abcd-efgh-ijkl", "mnop-qrst-uvwx"], "aius_2fa": True},
    {"username": "carol", "email": "carol@example.com", "password": "Carol-Pass-3",
     "aius_2fa": False},
]
PASSWORDS = {u["username"]: u["password"] for u in DEFAULT_USERS}


def nss_wrapper_preload(tmp):
    """LD_PRELOAD for a helper under nss_wrapper: nss_wrapper, then
    tests/lib/nss_warm.c (built into `tmp`), which loads nss_wrapper's
    files before the helper's lookup threads can race in that first load
    (the reason, measured, is in that file)."""
    so = os.path.join(tmp, "libnss_warm.so")
    if not os.path.exists(so):
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, os.path.join(TOP_SRCDIR, "tests", "lib", "nss_warm.c"),
                        NSS_WRAPPER], check=True)
    return NSS_WRAPPER + " " + so


def write_local_accounts(tmp, accounts):
    """passwd and group files for nss_wrapper from {name: uid} (root is
    always there); returns the environment that makes a program see them
    as its local accounts.  The helper refuses logins for names with no
    local account, so every test user needs one."""
    accounts = {"root": 0, **accounts}
    passwd = os.path.join(tmp, "passwd")
    group = os.path.join(tmp, "group")
    with open(passwd, "w") as f:
        for name, uid in accounts.items():
            f.write("%s:x:%d:%d:%s:/nonexistent:/bin/sh\n" % (name, uid, uid, name))
    with open(group, "w") as f:
        for name, uid in accounts.items():
            f.write("%s:x:%d:\n" % (name, uid))
    for path in (passwd, group):
        os.chmod(path, 0o644)
    env = dict(os.environ)
    env.update({"LD_PRELOAD": nss_wrapper_preload(tmp), "NSS_WRAPPER_PASSWD": passwd,
                "NSS_WRAPPER_GROUP": group})
    return env


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def read_text(path):
    """Stripped contents of a file, or None if it does not exist yet."""
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


class Emulator:
    def __init__(self, tmp, certs, users, extra_args=(), cert="server"):
        self.tmp = tmp
        self.outbox = os.path.join(tmp, "outbox")
        os.makedirs(self.outbox, exist_ok=True)
        self.users_file = os.path.join(tmp, "users.json")
        with open(self.users_file, "w") as f:
            json.dump({"users": users}, f)
        port_file = os.path.join(tmp, "emu.port")
        self.log = open(os.path.join(tmp, "emulator.log"), "w")
        self.proc = subprocess.Popen(
            [PYTHON, EMULATOR, "--cert", os.path.join(certs, cert + ".pem"),
             "--key", os.path.join(certs, cert + ".key"), "--users", self.users_file,
             "--outbox", self.outbox, "--port", "0", "--port-file", port_file,
             "--api-key", API_KEY, *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = int(wait_for(lambda: read_text(port_file), what="emulator port"))
        self.base = "https://127.0.0.1:%d" % self.port
        self.ssl = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))

    def admin(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + "/_emu/" + path, data=data,
                                     method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ssl, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def stats(self):
        return self.admin("stats")

    def requests(self, what):
        return self.stats()["requests"].get(what, 0)

    def code_for(self, email, after=0.0, timeout=10.0):
        """The newest code mailed to `email` after time `after`."""
        path = os.path.join(self.outbox, email + ".code")

        def fresh():
            try:
                if os.stat(path).st_mtime >= after:
                    return read_text(path)
            except FileNotFoundError:
                return None
            return None
        return wait_for(fresh, timeout=timeout, what="mailed code for " + email)

    def codes_sent(self):
        return self.stats()["codes_sent"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


API_SERVER = os.path.join(TOP_SRCDIR, "tests", "bench", "api_server.js")
NODE = shutil.which("node") or shutil.which("nodejs") or "node"


class ApiServer:
    """tests/bench/api_server.js (Node.js): the Freddy email flow over
    HTTP/2 (the h2 port also takes HTTP/1.1) and HTTP/1.1 only (the http1
    port), counting connections by protocol and streams per connection.
    Users are bench0 .. bench<users-1>, all with `password`, code `code`."""

    def __init__(self, tmp, certs, password, code, users=100, streams=128, setup_ms=0,
                 latency_ms=0, name="api_server"):
        port_file = os.path.join(tmp, name + ".ports")
        self.log = open(os.path.join(tmp, name + ".log"), "w")
        self.proc = subprocess.Popen(
            [NODE, API_SERVER, "--cert", os.path.join(certs, "server.pem"),
             "--key", os.path.join(certs, "server.key"), "--password", password,
             "--code", str(code), "--users", str(users), "--streams", str(streams),
             "--setup-ms", str(setup_ms), "--latency-ms", str(latency_ms), "--port-file", port_file],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: read_text(port_file) or self.proc.poll() is not None, timeout=30,
                 what="api_server ports")
        if self.proc.poll() is not None:
            raise AssertionError("api_server exited %s" % self.proc.returncode)
        self.ports = json.loads(read_text(port_file))
        # Admin requests go to the HTTP/1.1 port: the h2 port's counters
        # then show the helper's connections only.
        self.base = "https://127.0.0.1:%d" % self.ports["http1"]
        self.ssl = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))

    def url(self, proto):
        """api_url for `proto`, "h2" or "http1"."""
        return "https://127.0.0.1:%d/v1" % self.ports[proto]

    admin = Emulator.admin
    stats = Emulator.stats

    def peaks(self):
        """Peaks since the previous call (open connections, streams on one
        connection, streams in all), then resets them."""
        return self.admin("peaks", {})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def unit_environment(unit=HELPER_UNIT):
    """The Environment= assignments of the packaged unit, so that every test
    runs the helper with the environment systemd gives it.  Only the
    unquoted form is understood; anything else fails here, not later."""
    assignments = {}
    with open(unit) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if key != "Environment" or not sep:
                continue
            if any(q in value for q in "\"'\\%$"):
                raise ValueError("%s: %s: quoting and specifiers are not understood here" % (unit, line.strip()))
            for assignment in value.split():
                name, sep, val = assignment.partition("=")
                if not sep or not name:
                    raise ValueError("%s: %s: not NAME=VALUE" % (unit, line.strip()))
                assignments[name] = val
    return assignments


class Helper:
    def __init__(self, tmp, config_text, name="helper", env=None):
        self.tmp = tmp
        self.config = os.path.join(tmp, name + ".conf")
        with open(self.config, "w") as f:
            f.write(config_text)
        os.chmod(self.config, 0o600)
        self.log_path = os.path.join(tmp, name + ".log")
        self.env = env  # None: this process's
        self.proc = None

    def environment(self):
        """What the helper runs with: `env` and the unit's Environment=."""
        return dict(os.environ if self.env is None else self.env, **unit_environment())

    def start(self, wait_socket=None, extra_args=(), prefix=()):
        """`prefix` runs the helper through another program that ends by
        exec'ing it (so that proc is still the helper)."""
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([*prefix, *HELPER_WRAPPER, HELPER, "--config", self.config, "--foreground",
                                      *extra_args],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.environment())
        if wait_socket:
            wait_for(lambda: os.path.exists(wait_socket) or self.proc.poll() is not None,
                     timeout=60 if HELPER_WRAPPER else 10, what="helper socket")
            if self.proc.poll() is not None:
                raise AssertionError("helper exited %s:\n%s" % (self.proc.returncode, self.read_log()))
        return self

    def run_to_exit(self, timeout=10, extra_args=()):
        r = subprocess.run([HELPER, "--config", self.config, "--foreground", *extra_args],
                           capture_output=True, text=True, timeout=timeout, env=self.environment())
        return r.returncode, r.stdout + r.stderr

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc


class PamResult:
    def __init__(self, status, transcript, elapsed):
        self.status = status
        self.transcript = transcript
        self.elapsed = elapsed

    @property
    def ok(self):
        return self.status == 0

    def __repr__(self):
        return "PamResult(status=%r, elapsed=%.2f, transcript=%r)" % (
            self.status, self.elapsed, self.transcript)


class FreddyEnv:
    """Emulator + helper + PAM service folder in one temporary folder."""

    def __init__(self, config="", users=None, emulator_args=(), module_args="debug",
                 start_helper=True, services=None, cert="server", local_accounts=None, catalogues=False):
        # Not in /tmp: pamtester runs with a private /tmp (see PRIVATE_TMP).
        self.tmp = tempfile.mkdtemp(prefix="freddytest-", dir=TEST_TMPDIR)
        os.chmod(self.tmp, 0o700)
        # catalogues: the helper reads the built ones (make_locale_dir);
        # otherwise it finds none in $(localedir) of an uninstalled build.
        self.locale_dir = make_locale_dir(self.tmp) if catalogues else None
        if self.locale_dir:
            config = "locale_dir = %s\n%s" % (self.locale_dir, config)
        self.certs = os.path.join(self.tmp, "certs")
        os.mkdir(self.certs)
        subprocess.run(["sh", MAKE_CERTS, self.certs], check=True)
        self.users = users if users is not None else DEFAULT_USERS
        self.emu = Emulator(self.tmp, self.certs, self.users, emulator_args, cert=cert)
        self.socket = os.path.join(self.tmp, "run", "helperd.sock")
        os.mkdir(os.path.join(self.tmp, "run"), 0o755)
        self.cache_dir = os.path.join(self.tmp, "cache")
        self.api_url = self.emu.base + "/v1"
        self.config_text = self.make_config(config)
        # Local accounts the helper sees: by default every API user, with
        # uids from FIRST_TEST_UID in the order of `users`.
        if local_accounts is None:
            local_accounts = {u["username"]: FIRST_TEST_UID + i for i, u in enumerate(self.users)}
        self.local_accounts = local_accounts
        self.helper_env = write_local_accounts(self.tmp, local_accounts)
        self.helper = Helper(self.tmp, self.config_text, env=self.helper_env)
        self.pam_dir = os.path.join(self.tmp, "pam.d")
        os.mkdir(self.pam_dir)
        self.module_args = module_args
        self.write_service("freddy-test", "auth required %s socket=%s %s\n"
                           "session optional %s socket=%s %s\n"
                           % (MODULE, self.socket, module_args, MODULE, self.socket, module_args))
        for name, text in (services or {}).items():
            self.write_service(name, text)
        self.write_service("other", "auth required pam_deny.so\naccount required pam_deny.so\n"
                           "session required pam_deny.so\npassword required pam_deny.so\n")
        if start_helper:
            self.helper.start(wait_socket=self.socket)

    def make_config(self, extra):
        base = ("socket = %s\napi = freddy\napi_url = %s\nca_file = %s\ncache_dir = %s\n"
                "timeout = 5\ndebug = yes\n"
                # Tests fail logins on purpose and quickly; the rate-limit
                # tests set their own threshold.
                "rate_limit_failures = 1000\n"
                % (self.socket, self.api_url, os.path.join(self.certs, "ca.pem"), self.cache_dir))
        keys = {}
        for line in (base + extra).splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                keys[k.strip()] = v.strip()
        return "".join("%s = %s\n" % kv for kv in keys.items())

    def write_service(self, name, text):
        with open(os.path.join(self.pam_dir, name), "w") as f:
            f.write(text)

    def module_line(self, args=None):
        return "%s socket=%s %s" % (MODULE, self.socket, self.module_args if args is None else args)

    def pam_env(self, private_tmp=False):
        """The environment of a PAM program under pam_wrapper; with
        `private_tmp`, for one started through PRIVATE_TMP."""
        env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES}
        # FREDDY_PAM_PRELOAD: the ASan runtime (and the module) for
        # sanitizer builds, loaded ahead of pam_wrapper.
        preload = " ".join(os.environ.get("FREDDY_PAM_PRELOAD", "").split() + [PAM_WRAPPER])
        env.update({"PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": self.pam_dir})
        if private_tmp and PRIVATE_TMP:
            env.pop("LD_PRELOAD", None)
            env["FREDDY_PAM_LD_PRELOAD"] = preload
        else:
            env["LD_PRELOAD"] = preload
        return env

    def pamtester(self, user, script, service="freddy-test", ops=("authenticate",),
                  timeout=30, extra=(), prefix=(), locale=None):
        """Run pamtester in a pty.  `script` is a list of (regex, answer)
        pairs; an answer may be a callable evaluated when its prompt shows.
        `prefix` runs it through another program (e.g. setpriv); `locale`
        is a dict of LOCALE_VARIABLES for it."""
        start = time.monotonic()
        argv = [*PRIVATE_TMP, *prefix, "pamtester", "-v", *extra, service, user, *ops]
        env = self.pam_env(private_tmp=True)
        env.update(locale or {})
        child = pexpect.spawn(argv[0], argv[1:],
                              env=env, encoding="utf-8", timeout=timeout,
                              codec_errors="replace")
        transcript = []
        pattern = pexpect.EOF
        try:
            for pattern, answer in script:
                child.expect(pattern)
                transcript.append(child.before + child.after)
                if callable(answer):
                    answer = answer()
                child.sendline(answer)
            pattern = pexpect.EOF
            child.expect(pexpect.EOF)
            transcript.append(child.before)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            transcript.append(str(child.before))
            child.close(force=True)
            raise AssertionError("pamtester did not follow the script at %r: %s\ntranscript: %r"
                                 % (pattern, type(e).__name__, "".join(transcript)))
        child.close()
        return PamResult(child.exitstatus, "".join(transcript), time.monotonic() - start)

    def login(self, user="alice", password=None, code=None, **kw):
        """A complete password + emailed code login."""
        password = PASSWORDS[user] if password is None else password
        email = next(u["email"] for u in self.users if u["username"] == user)
        started = time.time() - 0.001
        return self.pamtester(user, [
            ("Password: ", password),
            ("code, or Enter to resend: ",
             code if code is not None else (lambda: self.emu.code_for(email, started))),
        ], **kw)

    def flush_cache(self):
        """Wait until the helper's write-behind cache is on disk: listing
        the cache drains the writer queue first."""
        r = subprocess.run([FREDDYCTL, "--socket", self.socket, "cache", "list"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode not in (0, 1):
            raise AssertionError("freddyctl cache list failed: %s" % r.stderr)

    def cache_file(self, user):
        """Path of `user`'s cache file, once every pending write is done."""
        self.flush_cache()
        return os.path.join(self.cache_dir, user)

    def all_logs(self):
        return self.helper.read_log()

    def close(self):
        self.helper.stop()
        self.emu.stop()
        if os.environ.get("FREDDY_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class FreddyTestCase(unittest.TestCase):
    """One environment per test class; tests reset the emulator first."""

    env_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.env = FreddyEnv(**cls.env_kwargs)

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def setUp(self):
        self.env.emu.admin("reset", {})

    def assertIn_(self, needle, result):
        self.assertIn(needle, result.transcript, result)


def main():
    unittest.main(verbosity=2)
