"""OpenSSH end to end: the real sshd with the shipped etc/pam.d/sshd, the
real ssh client typing the Freddy password and the emailed code."""

import os
import socket
import subprocess
import time

import pexpect

from e2e import CODE_PROMPT, E2ETestCase, Session, add_user, as_user, free_port, install_service
from freddytest import PASSWORDS, main, wait_for

# sshd names its PAM service after the program: a symlink gives the test a
# service of its own, so the machine's /etc/pam.d/sshd stays as it is.
SERVICE = "sshd-freddytest"


class Sshd:
    """`extra`: more sshd_config lines, after the others (Match blocks)."""

    def __init__(self, tmp, name, methods, grace=60, extra=""):
        self.port = free_port()
        self.log_path = os.path.join(tmp, name + ".log")
        self.config = os.path.join(tmp, name + ".conf")
        with open(self.config, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\n"
                    "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\n"
                    "AuthenticationMethods %s\nAuthorizedKeysFile /etc/ssh/freddytest_keys/%%u\n"
                    "LoginGraceTime %d\nLogLevel VERBOSE\n%s"
                    % (self.port, os.path.join(tmp, "host_key"), methods, grace, extra))
        program = os.path.join(tmp, SERVICE)
        if not os.path.exists(program):
            os.symlink("/usr/sbin/sshd", program)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([program, "-D", "-e", "-f", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.listening, what="sshd on port %d" % self.port)

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("sshd exited:\n" + self.read_log())
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class SshLogin(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = add_user("alice")
        install_service(SERVICE, example="sshd")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        tmp = cls.env.tmp
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(tmp, "host_key")], check=True)
        # alice's own key pair, for the publickey,keyboard-interactive server.
        cls.key = os.path.join(cls.alice.pw_dir, "id_ed25519")
        subprocess.run(as_user("alice") + ["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                                           "-f", cls.key], check=True)
        os.makedirs("/etc/ssh/freddytest_keys", mode=0o755, exist_ok=True)
        with open(cls.key + ".pub") as src, open("/etc/ssh/freddytest_keys/alice", "w") as dst:
            dst.write(src.read())
        cls.kbdint = Sshd(tmp, "sshd-kbdint", "keyboard-interactive")
        cls.addClassCleanup(cls.kbdint.stop)
        cls.pubkey = Sshd(tmp, "sshd-pubkey", "publickey,keyboard-interactive")
        cls.addClassCleanup(cls.pubkey.stop)
        cls.hasty = Sshd(tmp, "sshd-hasty", "keyboard-interactive", grace=3)
        cls.addClassCleanup(cls.hasty.stop)

    def ssh(self, server, *options):
        argv = as_user("alice") + [
            "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "NumberOfPasswordPrompts=1", *options,
            "-p", str(server.port), "alice@127.0.0.1", "echo hello from $(id -un)"]
        return Session(argv)

    def test_password_and_code_run_a_command(self):
        s = self.ssh(self.kbdint, "-o", "PreferredAuthentications=keyboard-interactive")
        s.expect("\\(alice@127.0.0.1\\) Password: ")
        s.send("Correct-Horse-1")
        # The "code sent" text must be on screen before the code prompt,
        # although sshd holds back PAM info messages until the next prompt.
        s.expect("Code emailed to a\\*\\*\\*@example.com.\r?\n\r?\n"
                 "4-digit code, or Enter to resend: ")
        s.send(self.code("alice", s))
        s.expect("hello from alice")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/verify"), 1)

    def test_wrong_code_is_refused(self):
        s = self.ssh(self.kbdint, "-o", "PreferredAuthentications=keyboard-interactive")
        self.freddy_login(s, "alice", code="0000")
        s.expect("Invalid code, 2 attempts left")
        s.send("0001")
        s.expect("Invalid code, 1 attempt left")
        s.send("0002")
        s.expect("Permission denied")
        self.assertEqual(s.finish(), 255, s.transcript)
        self.assertNotIn("hello from", s.transcript)
        self.assertIn("Failed keyboard-interactive/pam for alice", self.kbdint.read_log())

    def test_wrong_password_sends_no_code(self):
        s = self.ssh(self.kbdint, "-o", "PreferredAuthentications=keyboard-interactive")
        s.expect("Password: ")
        s.send("not-her-password")
        s.expect("Permission denied")
        self.assertEqual(s.finish(), 255, s.transcript)
        self.assertNoCodeSent()

    def test_publickey_then_password_and_code(self):
        s = self.ssh(self.pubkey, "-i", self.key, "-o", "IdentitiesOnly=yes",
                     "-o", "PreferredAuthentications=publickey,keyboard-interactive")
        self.freddy_login(s, "alice")
        s.expect("hello from alice")
        self.assertEqual(s.finish(), 0, s.transcript)
        log = self.pubkey.read_log()
        self.assertIn("Partial publickey for alice", log)
        self.assertIn("Accepted keyboard-interactive/pam for alice", log)

    def test_publickey_server_refuses_without_the_key(self):
        # Without the key nobody gets as far as the password: no code is sent.
        s = self.ssh(self.pubkey, "-o", "PubkeyAuthentication=no",
                     "-o", "PreferredAuthentications=keyboard-interactive")
        s.expect("Permission denied \\(publickey\\)")
        self.assertEqual(s.finish(), 255, s.transcript)
        self.assertNotIn("Password", s.transcript)
        self.assertNoCodeSent()
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)

    def test_login_grace_time_covers_the_wait_for_the_email(self):
        # The code comes later than sshd's LoginGraceTime (3 s here): sshd
        # ends the connection, the helper abandons the login, and the code
        # typed afterwards reaches nobody.  (The ssh client notices only
        # when the person answers the prompt.)
        s = self.ssh(self.hasty, "-o", "PreferredAuthentications=keyboard-interactive")
        s.expect("Password: ")
        s.send("Correct-Horse-1")
        s.expect(CODE_PROMPT)
        code = self.code("alice", s)
        wait_for(lambda: "login for alice (service %s) abandoned" % SERVICE in self.env.helper.read_log(),
                 timeout=15, what="sshd's LoginGraceTime to end the login")
        s.send(code)
        self.assertEqual(s.finish(), 255, s.transcript)
        self.assertNotIn("hello from", s.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/verify"), 0)


class SshBudget(E2ETestCase):
    """Ten wrong passwords at once over ssh from one address spend that
    address's budget and reach the API at most rate_limit_failures times;
    alice's own login from another address gets in within
    rate_limit_user_max_delay."""
    helper_config = "rate_limit_failures = 3\nrate_limit_delay = 2\nrate_limit_user_max_delay = 8\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_user("alice")
        install_service(SERVICE, example="sshd")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(cls.env.tmp, "host_key")], check=True)
        cls.sshd = Sshd(cls.env.tmp, "sshd-budget", "keyboard-interactive")
        cls.addClassCleanup(cls.sshd.stop)

    def ssh(self, source):
        return Session(as_user("alice") + [
            "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "NumberOfPasswordPrompts=1", "-o", "PreferredAuthentications=keyboard-interactive",
            "-b", source, "-p", str(self.sshd.port), "alice@127.0.0.1", "echo hello from $(id -un)"],
            timeout=60)

    def test_parallel_wrong_passwords_and_the_owner_gets_in(self):
        sessions = [self.ssh("127.0.0.1") for _ in range(10)]
        for s in sessions:
            s.expect("Password: ")
        for s in sessions:
            s.send("a-strangers-guess")
        for s in sessions:
            self.assertEqual(s.finish(), 255, s.transcript)
        sent = self.env.emu.requests("POST /v1/auth/login")
        self.assertLessEqual(sent, 3)
        print("10 parallel wrong ssh passwords from one address: %d password checks at the API" % sent)
        deadline = time.monotonic() + 8 + 3
        while True:
            s = self.ssh("127.0.0.2")
            # While the user's all-origins delay runs, the helper refuses
            # at the start, before any prompt: ssh just says no.
            if s.child.expect(["Password: ", "Permission denied", pexpect.EOF]) != 0:
                s.finish()
                self.assertLess(time.monotonic(), deadline, "held too long")
                time.sleep(1)
                continue
            s.send(PASSWORDS["alice"])
            i = s.child.expect(["Too many failed attempts; try again in (\\d+) s", CODE_PROMPT])
            if i == 1:
                s.send(self.code("alice", s))
                s.expect("hello from alice")
                self.assertEqual(s.finish(), 0, s.transcript)
                break
            wait = int(s.child.match.group(1))
            s.finish()
            self.assertLess(time.monotonic() + wait, deadline, "held too long")
            time.sleep(wait + 0.2)
        self.assertIn("from:alice/rhost=127.0.0.1", self.env.helper.read_log())


if __name__ == "__main__":
    main()
