"""The helper as a daemon: SIGHUP reloads, SIGTERM drains, systemd socket
activation, syslog facilities.  The built helper, the real module through
pamtester, the emulator."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import pexpect

from freddytest import HELPER, PYTHON, FreddyEnv, main, unit_environment, wait_for

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")
EX_OSERR = 71


def connect_error(path):
    """None if a client can connect to `path`, else the errno name."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        return None
    except OSError as e:
        return e.__class__.__name__
    finally:
        s.close()


class Signals(unittest.TestCase):

    def setUp(self):
        self.env = FreddyEnv()

    def tearDown(self):
        self.env.close()

    def rewrite_config(self, extra):
        with open(self.env.helper.config, "w") as f:
            f.write(self.env.make_config(extra))

    def hup_and_wait(self, needle):
        before = self.env.helper.read_log().count(needle)
        self.env.helper.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.env.helper.read_log().count(needle) > before, what=needle)

    def wrong_code_once(self):
        return self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "0000"),
        ], timeout=20)

    def test_sighup_applies_a_changed_config(self):
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "0000"),
            ("Invalid code, 2 attempts left", "0000"),
            ("Invalid code, 1 attempt left", "0000"),
        ])
        self.assertNotEqual(r.status, 0, r)
        self.rewrite_config("max_code_attempts = 1\n")
        self.hup_and_wait("configuration reloaded")
        r = self.wrong_code_once()
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid code, no attempts left", r.transcript)
        self.assertIsNone(self.env.helper.proc.poll())

    def test_sighup_with_a_bad_config_keeps_the_running_one(self):
        self.rewrite_config("max_code_attempts = 1\nno_such_key = 1\n")
        self.hup_and_wait("reload refused")
        self.assertIn("no_such_key", self.env.helper.read_log())
        self.assertIsNone(self.env.helper.proc.poll())
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "0000"),
            ("Invalid code, 2 attempts left",
             lambda: self.env.emu.code_for("alice@example.com")),
        ])
        self.assertEqual(r.status, 0, r)

    def test_sighup_with_an_unsafe_config_file_keeps_the_running_one(self):
        self.rewrite_config("max_code_attempts = 1\n")
        os.chmod(self.env.helper.config, 0o666)
        self.hup_and_wait("reload refused")
        self.assertIsNone(self.env.helper.proc.poll())
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "0000"),
            ("Invalid code, 2 attempts left",
             lambda: self.env.emu.code_for("alice@example.com")),
        ])
        self.assertEqual(r.status, 0, r)

    def start_login_at_code_prompt(self):
        started = time.time() - 0.001
        child = pexpect.spawn("pamtester", ["-v", "freddy-test", "alice", "authenticate"],
                              env=self.env.pam_env(), encoding="utf-8", timeout=20)
        child.expect("Password: ")
        child.sendline("Correct-Horse-1")
        child.expect("code, or Enter to resend: ")
        return child, started

    def test_sigterm_lets_a_login_in_flight_finish_and_refuses_new_ones(self):
        child, started = self.start_login_at_code_prompt()
        proc = self.env.helper.proc
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "finishing 1 login(s)" in self.env.helper.read_log(), what="drain")
        # New clients are turned away at once, not queued.
        self.assertIsNotNone(connect_error(self.env.socket))
        self.assertIsNone(proc.poll(), "helper exited with a login in flight")
        child.sendline(self.env.emu.code_for("alice@example.com", started))
        child.expect(pexpect.EOF)
        child.close()
        self.assertEqual(child.exitstatus, 0, child.before)
        self.assertIn("successfully authenticated", child.before)
        self.assertEqual(proc.wait(5), 0)
        self.assertFalse(os.path.exists(self.env.socket))

    def test_sigterm_waits_no_longer_than_the_grace(self):
        child, _ = self.start_login_at_code_prompt()
        proc = self.env.helper.proc
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(20), 0)
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 8.0)
        self.assertLess(elapsed, 13.0)
        wait_for(lambda: "exiting with 1 login(s) unfinished" in self.env.helper.read_log(),
                 timeout=5, what="the unfinished-login warning in the helper log")
        child.sendline("1234")
        child.expect(pexpect.EOF)
        child.close()
        self.assertNotEqual(child.exitstatus, 0)

    def test_sigterm_when_idle_exits_at_once(self):
        proc = self.env.helper.proc
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(5), 0)
        self.assertLess(time.monotonic() - t0, 2.0)


# A launcher that hands the helper fd 3 the way systemd does.
LAUNCH = ("import os, sys\n"
          "os.dup2(int(sys.argv[1]), 3)\n"
          "os.environ['LISTEN_PID'] = str(os.getpid())\n"
          "os.environ['LISTEN_FDS'] = sys.argv[2]\n"
          "os.execv(sys.argv[3], sys.argv[3:])\n")


class SocketActivation(unittest.TestCase):

    def setUp(self):
        self.env = FreddyEnv(start_helper=False)
        # The socket key names a path the helper must not create when it
        # is handed one.
        self.unused = os.path.join(self.env.tmp, "run", "unused.sock")
        self.env.helper.config_text = self.env.config_text.replace(self.env.socket, self.unused)
        with open(self.env.helper.config, "w") as f:
            f.write(self.env.helper.config_text)
        self.proc = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.env.close()

    @unittest.skipUnless(SOCKET_ACTIVATE, "systemd-socket-activate not installed")
    def test_login_through_systemd_socket_activate(self):
        log = open(os.path.join(self.env.tmp, "helper.log"), "w")
        self.proc = subprocess.Popen(
            [SOCKET_ACTIVATE, "-l", self.env.socket,
             # It passes the helper no environment but what -E names.
             *["-E%s=%s" % (k, self.env.helper_env[k])
               for k in ("LD_PRELOAD", "NSS_WRAPPER_PASSWD", "NSS_WRAPPER_GROUP", "ASAN_OPTIONS",
                         "UBSAN_OPTIONS") if k in self.env.helper_env],
             HELPER, "--config", self.env.helper.config],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: os.path.exists(self.env.socket), what="listening socket")
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)
        self.assertFalse(os.path.exists(self.unused))
        # Without --foreground it must not have forked away from its socket.
        self.assertIsNone(self.proc.poll())
        self.assertEqual(self.env.login("alice").status, 0)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(5), 0)

    def launch(self, sock, nfds="1"):
        return subprocess.run(
            [PYTHON, "-c", LAUNCH, str(sock.fileno()), nfds, HELPER, "--config",
             self.env.helper.config, "--foreground"],
            pass_fds=[sock.fileno()], capture_output=True, text=True, timeout=10)

    def test_inherited_socket_that_is_not_listening_is_refused(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.path.join(self.env.tmp, "run", "not-listening.sock"))
        r = self.launch(sock)
        sock.close()
        self.assertEqual(r.returncode, EX_OSERR, r.stdout + r.stderr)
        self.assertIn("not a listening socket", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(self.unused))

    def test_more_than_one_inherited_socket_is_refused(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.path.join(self.env.tmp, "run", "two.sock"))
        sock.listen(1)
        r = self.launch(sock, nfds="2")
        sock.close()
        self.assertEqual(r.returncode, EX_OSERR, r.stdout + r.stderr)
        self.assertIn("expected exactly one", r.stdout + r.stderr)


# Runs the helper in a private mount namespace whose /dev/log is our
# datagram socket, so the test sees exactly what syslog(3) sends.
SYSLOG_NS = r"""
set -e
mkdir -p "$T/olddev"
mount --bind /dev "$T/olddev"
mount -t tmpfs -o mode=0755 devtmp /dev
for n in null zero random urandom; do touch /dev/$n; mount --bind "$T/olddev/$n" /dev/$n; done
touch /dev/log
mount --bind "$T/log.sock" /dev/log
exec "$@"
"""


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "needs root and unshare")
class UnitEnvironment(unittest.TestCase):
    """The packaged unit's Environment=, which every test applies
    (freddytest.unit_environment): libcurl loads GnuTLS through librtmp,
    and GnuTLS must not initialise itself in the helper, which speaks TLS
    through OpenSSL only.  Its implicit initialisation, the constructor
    GNUTLS_NO_IMPLICIT_INIT=1 turns off, looks for GnuTLS's system
    priority file: strace shows whether it ran."""

    GNUTLS_SYSTEM_CONFIG = "/etc/gnutls/config"

    @classmethod
    def setUpClass(cls):
        cls.env = FreddyEnv()
        cls.strace = shutil.which("strace")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def files_looked_at(self, environment):
        self.assertIsNotNone(self.strace, "strace is not installed (.ci/packages.txt has it)")
        trace = os.path.join(self.env.tmp, "check-config.strace")
        if "ASAN_OPTIONS" in environment:
            # LeakSanitizer stops the process's threads with ptrace, which
            # a process already traced by strace cannot do: it dies with
            # "LeakSanitizer has encountered a fatal error".  The leak check
            # runs in every other test of the sanitizer stage.
            environment = dict(environment, ASAN_OPTIONS=environment["ASAN_OPTIONS"] + ":detect_leaks=0")
        r = subprocess.run([self.strace, "-f", "-qq", "-e", "trace=%file", "-o", trace,
                            HELPER, "--config", self.env.helper.config, "--check-config"],
                           capture_output=True, text=True, timeout=30, env=environment)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(trace) as f:
            return f.read()

    def test_the_unit_turns_off_gnutls_implicit_initialisation(self):
        self.assertEqual(unit_environment().get("GNUTLS_NO_IMPLICIT_INIT"), "1")

    def test_gnutls_does_not_initialise_in_the_helper(self):
        self.assertNotIn(self.GNUTLS_SYSTEM_CONFIG, self.files_looked_at(self.env.helper.environment()))

    def test_without_it_gnutls_would(self):
        # The control: the observation above can see GnuTLS's start-up.
        bare = {k: v for k, v in self.env.helper.environment().items() if k != "GNUTLS_NO_IMPLICIT_INIT"}
        self.assertIn(self.GNUTLS_SYSTEM_CONFIG, self.files_looked_at(bare))


class Syslog(unittest.TestCase):

    def test_outcomes_go_to_authpriv_and_the_rest_to_daemon(self):
        env = FreddyEnv(start_helper=False)
        tmp = tempfile.mkdtemp(prefix="freddylog-", dir=env.tmp)
        sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sink.bind(os.path.join(tmp, "log.sock"))
        sink.settimeout(0.2)
        out = open(os.path.join(tmp, "helper.out"), "w")
        # unshare and sh exec the helper: proc is the helper itself.
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", SYSLOG_NS, "sh",
             HELPER, "--config", env.helper.config, "--foreground"],
            env=dict(env.helper_env, T=tmp), stdout=out, stderr=subprocess.STDOUT)
        out.close()
        lines = []
        try:
            wait_for(lambda: os.path.exists(env.socket) or proc.poll() is not None,
                     what="helper socket")
            self.assertIsNone(proc.poll(), "helper exited %s" % proc.returncode)
            r = env.login("alice")
            self.assertEqual(r.status, 0, r)
            r = env.pamtester("alice", [("Password: ", "wrong")])
            self.assertNotEqual(r.status, 0, r)

            def outcome_seen():
                try:
                    while True:
                        lines.append(sink.recv(4096).decode(errors="replace"))
                except socket.timeout:
                    pass
                return [x for x in lines if "user=alice" in x and "success" in x] and \
                    [x for x in lines if "user=alice" in x and "success" not in x]
            wait_for(outcome_seen, what="login outcomes in syslog")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
            sink.close()
            env.close()
        authpriv = 10 << 3
        daemon = 3 << 3
        for line in lines:
            pri = int(line[1:line.index(">")])
            facility = pri & ~7
            if "user=alice" in line:
                self.assertEqual(facility, authpriv, line)
            if "ready on" in line:
                self.assertEqual(facility, daemon, line)
        self.assertTrue(any("ready on" in x for x in lines), lines)
        self.assertTrue(all("freddy-helperd[" in x for x in lines), lines)
        for secret in ("Correct-Horse-1", "wrong\n"):
            self.assertFalse(any(secret in x for x in lines), secret)


if __name__ == "__main__":
    main()
