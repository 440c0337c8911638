"""Automation against hosts that use pam_freddy (doc/automation.md), with
the real sshd, ssh, scp, git and sudo: an automation account that logs in
by key and uses NOPASSWD sudo is never asked for a Freddy code, whether
it is skipped by a pam_succeed_if line or left out of allowed_groups; a
person's second ssh, scp and git connection over an SSH ControlMaster
needs no code, and within cached_auth_timeout neither does their sudo."""

import os
import subprocess

import cachefile
from e2e import EXAMPLES, E2ETestCase, Session, add_user, as_user, install_service
from freddytest import PASSWORDS, main, wait_for
from test_sshd import SERVICE, Sshd

DEPLOY_PASSWORD = "Deploy-Unix-7"
# The line doc/automation.md tells administrators to put first in
# /etc/pam.d/sshd and /etc/pam.d/sudo: members of "automation" skip the
# next two lines (the uid check and pam_freddy) and go to common-auth.
SKIP_LINE = "auth       [success=2 default=ignore]                pam_succeed_if.so user ingroup automation quiet\n"
SUDO_SERVICE = "sudo-freddytest"


def example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return f.read()


def with_skip_line(text):
    """The shipped file with SKIP_LINE before its first auth line."""
    lines = text.splitlines(True)
    first = next(i for i, line in enumerate(lines) if line.startswith("auth"))
    return "".join(lines[:first] + [SKIP_LINE] + lines[first:])


def user_key(user):
    """A key pair for `user` in their home, authorised for the test sshds."""
    entry = add_user(user)
    key = os.path.join(entry.pw_dir, "id_ed25519")
    if not os.path.exists(key):
        subprocess.run(as_user(user) + ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    os.makedirs("/etc/ssh/freddytest_keys", mode=0o755, exist_ok=True)
    with open(key + ".pub") as src, open("/etc/ssh/freddytest_keys/" + user, "w") as dst:
        dst.write(src.read())
    return key


def host_key(tmp):
    path = os.path.join(tmp, "host_key")
    if not os.path.exists(path):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)


def write_sudoers(text):
    path = "/etc/sudoers.d/freddytest"
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o440)


def ssh_argv(user, server, key, *options, command="echo hello from $(id -un)"):
    return as_user(user) + [
        "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", "-i", key, "-o", "IdentitiesOnly=yes", *options,
        "-p", str(server.port), "%s@127.0.0.1" % user, command]


class AutomationAccount(E2ETestCase):
    """deploy (group automation): key-only ssh through a Match block, and
    NOPASSWD sudo; where a service does ask, the pam_succeed_if line
    sends deploy to the Unix password and never to Freddy."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = cls.env.tmp
        cls.alice_key = user_key("alice")
        add_user("deploy", password=DEPLOY_PASSWORD, groups=("automation",))
        cls.deploy_key = user_key("deploy")
        install_service(SERVICE, text=with_skip_line(example("sshd")))
        install_service(SUDO_SERVICE, text=with_skip_line(example("sudo")))
        # NOPASSWD for what automation runs; as alice only with deploy's
        # (Unix) password, to try the skip line in the sudo stack too.
        write_sudoers("Defaults:deploy,alice pam_service=%s, !lecture, passwd_tries=1\n"
                      "deploy ALL=(ALL) NOPASSWD: ALL\n"
                      "deploy ALL=(alice) PASSWD: ALL\n" % SUDO_SERVICE)
        host_key(tmp)
        # The recommended server, with the automation account's exception.
        cls.sshd = Sshd(tmp, "sshd-automation", "publickey,keyboard-interactive",
                        extra="Match User deploy\n    AuthenticationMethods publickey\n")
        cls.addClassCleanup(cls.sshd.stop)
        # The same without the exception: PAM runs for deploy too.
        cls.kbdint = Sshd(tmp, "sshd-automation-kbdint", "publickey,keyboard-interactive")
        cls.addClassCleanup(cls.kbdint.stop)

    def assertFreddyNotAsked(self, user):
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.assertNoCodeSent()
        self.assertNotIn("for user=%s " % user, self.env.helper.read_log())

    def test_key_login_and_nopasswd_sudo_ask_nothing(self):
        # BatchMode: any prompt at all would fail the login.
        s = Session(ssh_argv("deploy", self.sshd, self.deploy_key, "-o", "BatchMode=yes",
                             command="sudo -n id -un"))
        s.expect("root")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertIn("Accepted publickey for deploy", self.sshd.read_log())
        self.assertFreddyNotAsked("deploy")

    def test_pam_succeed_if_sends_the_automation_account_to_the_unix_password(self):
        # Without the Match block's exception (keyboard-interactive after
        # the key), PAM runs: deploy gets pam_unix's prompt, not Freddy's.
        s = Session(ssh_argv("deploy", self.kbdint, self.deploy_key,
                             "-o", "PreferredAuthentications=publickey,keyboard-interactive"))
        s.expect("[Pp]assword: ")
        s.send(DEPLOY_PASSWORD)
        s.expect("hello from deploy")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertNotIn("Code emailed", s.transcript)
        self.assertFreddyNotAsked("deploy")
        # A sudo rule with a password also skips Freddy for deploy.
        s = Session(as_user("deploy") + ["sudo", "-S", "-k", "-u", "alice", "id", "-un"])
        s.expect("[Pp]assword[^\n]*: ")
        s.send(DEPLOY_PASSWORD)
        s.expect("alice")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertFreddyNotAsked("deploy")

    def test_people_are_still_asked(self):
        s = Session(ssh_argv("alice", self.sshd, self.alice_key,
                             "-o", "PreferredAuthentications=publickey,keyboard-interactive"))
        self.freddy_login(s, "alice")
        s.expect("hello from alice")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(self.env.emu.codes_sent(), 1)


class AutomationOutsideAllowedGroups(E2ETestCase):
    """The other way: allowed_groups names the people's group; deploy is
    not in it, so the helper answers PAM_IGNORE and the shipped stack's
    common-auth (the Unix password) decides."""
    helper_config = "allowed_groups = freddy-users\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        subprocess.run(["groupadd", "-f", "freddy-users"], check=True)
        add_user("deploy", password=DEPLOY_PASSWORD, groups=("automation",))
        cls.deploy_key = user_key("deploy")
        install_service(SERVICE, example="sshd")
        host_key(cls.env.tmp)
        cls.sshd = Sshd(cls.env.tmp, "sshd-groups", "publickey,keyboard-interactive")
        cls.addClassCleanup(cls.sshd.stop)

    def test_unix_password_after_the_key(self):
        s = Session(ssh_argv("deploy", self.sshd, self.deploy_key))
        s.expect("[Pp]assword: ")
        s.send(DEPLOY_PASSWORD)
        s.expect("hello from deploy")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertIn("deploy is not in allowed_groups", self.env.helper.read_log())
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.assertNoCodeSent()


class Multiplexing(E2ETestCase):
    """A person's ControlMaster connection: one Freddy login, then ssh, scp
    and git over it without one; sudo inside within cached_auth_timeout
    with the password only."""
    helper_config = "cached_auth_timeout = 600\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = add_user("alice")
        cls.key = user_key("alice")
        install_service(SERVICE, example="sshd")
        install_service(SUDO_SERVICE, example="sudo")
        write_sudoers("Defaults:alice pam_service=%s, !lecture, passwd_tries=1\nalice ALL=(ALL) ALL\n"
                      % SUDO_SERVICE)
        host_key(cls.env.tmp)
        cls.sshd = Sshd(cls.env.tmp, "sshd-mux", "publickey,keyboard-interactive",
                        extra="Subsystem sftp internal-sftp\n")
        cls.addClassCleanup(cls.sshd.stop)
        home = cls.alice.pw_dir
        cls.control = os.path.join(home, "cm-%C")
        subprocess.run(as_user("alice") + ["git", "init", "-q", "--bare", os.path.join(home, "repo.git")],
                       check=True)

    def setUp(self):
        super().setUp()
        # The emulator forgot the tokens of an earlier test's login (reset):
        # a cached record of it would be refused, and the test is about a
        # fresh login.
        try:
            os.unlink(os.path.join(self.env.cache_dir, "alice"))
        except FileNotFoundError:
            pass

    def tearDown(self):
        subprocess.run(ssh_argv("alice", self.sshd, self.key, "-o", "ControlPath=" + self.control,
                                "-O", "exit", command=""), capture_output=True)

    def mux(self, *options, command="echo hello from $(id -un)"):
        return ssh_argv("alice", self.sshd, self.key, "-o", "ControlPath=" + self.control, *options,
                        command=command)

    def open_master(self):
        s = Session(self.mux("-o", "ControlMaster=auto", "-o", "ControlPersist=60",
                             "-o", "PreferredAuthentications=publickey,keyboard-interactive"))
        self.freddy_login(s, "alice")
        s.expect("hello from alice")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertEqual(self.env.emu.codes_sent(), 1)

    def test_ssh_scp_and_git_over_the_master_need_no_code(self):
        self.open_master()
        # BatchMode: a prompt would fail them.
        s = Session(self.mux("-o", "BatchMode=yes", command="echo second"))
        s.expect("second")
        self.assertEqual(s.finish(), 0, s.transcript)
        src = os.path.join(self.alice.pw_dir, "payload.txt")
        with open(src, "w") as f:
            f.write("over the master\n")
        os.chown(src, self.alice.pw_uid, self.alice.pw_gid)
        scp = subprocess.run(as_user("alice") + [
            "scp", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ControlPath=" + self.control,
            "-P", str(self.sshd.port), src, "alice@127.0.0.1:copied.txt"], capture_output=True, text=True,
            timeout=30)
        self.assertEqual(scp.returncode, 0, scp)
        with open(os.path.join(self.alice.pw_dir, "copied.txt")) as f:
            self.assertEqual(f.read(), "over the master\n")
        git_ssh = ("ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   "-o LogLevel=ERROR -o BatchMode=yes -o ControlPath=%s" % self.control)
        git = subprocess.run(as_user("alice") + [
            "env", "GIT_SSH_COMMAND=" + git_ssh, "HOME=" + self.alice.pw_dir, "git", "ls-remote",
            "ssh://alice@127.0.0.1:%d%s/repo.git" % (self.sshd.port, self.alice.pw_dir)],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(git.returncode, 0, git)
        # One Freddy login for all of them.
        self.assertEqual(self.env.emu.codes_sent(), 1)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 1)
        self.assertEqual(self.sshd.read_log().count("Accepted keyboard-interactive/pam for alice"), 1)

    def test_sudo_within_cached_auth_timeout_needs_no_code(self):
        self.open_master()
        # The password verifier is made while the code is typed and joins
        # the cache record just after the login.
        wait_for(lambda: "verifier" in (cachefile.read_record(os.path.join(self.env.cache_dir, "alice")) or {}),
                 what="alice's password verifier")
        s = Session(self.mux(command="sudo -S -k id -un"))
        s.expect("[Pp]assword[^\n]*: ")
        s.send(PASSWORDS["alice"])
        s.expect("root")
        self.assertEqual(s.finish(), 0, s.transcript)
        self.assertNotIn("code", s.transcript)
        self.assertEqual(self.env.emu.codes_sent(), 1)
        self.assertIn("cached re-authentication of alice for service %s" % SUDO_SERVICE,
                      self.env.helper.read_log())


if __name__ == "__main__":
    main()
