"""Audit records (audit_log = PATH): one JSON line per decision, with the
right members after the action that causes it, written by the real
helper for logins through pamtester and requests from freddyctl; no
secret in the file; reopened on SIGHUP; hostile names escaped.  The
journal side is unit-tested (tests/unit/test_audit.c) and tried under a
real systemd in stage 75."""

import os
import re
import signal
import stat
import subprocess
import time
import unittest

import pexpect

from audittest import LOGIN_ID, RFC3339, assert_no_secret, enable_audit
from cachetest import CacheEnv, CacheTestCase, UIDS
from flowtest import EMULATOR_SECRETS, FlowEnv, totp_code
from freddytest import PASSWORDS, PRIVATE_TMP, TOP_SRCDIR, FreddyEnv, main, wait_for
from selfservice import CURRENT, NEW, RESET_CODE, RETYPE, SelfServiceTestCase

ROOT = os.geteuid()


def read(path):
    with open(path) as f:
        return f.read()
OUTAGE_S = 2


class AuditCase(CacheTestCase):
    """One helper with cached re-authentication and offline login on, so
    that one environment makes every kind of login record."""
    env_kwargs = {"config": "cached_auth_timeout = 600\noffline_login = yes\noffline_password_only = yes\n"
                            "offline_after = %d\nmax_clients_per_uid = 2\n" % OUTAGE_S}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.audit = enable_audit(cls.env)
        # Unprivileged callers (uid 2001 = alice) reach the service files.
        os.chmod(cls.env.pam_dir, 0o755)
        for name in os.listdir(cls.env.pam_dir):
            os.chmod(os.path.join(cls.env.pam_dir, name), 0o644)
        cls.extra_secrets = set()

    @classmethod
    def tearDownClass(cls):
        # Whatever the tests did, the file holds no secret.
        try:
            assert_no_secret(unittest.TestCase(), cls.audit, cls.env, cls.extra_secrets)
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.env.emu.admin("config", {"fault": None})
        self.mark = self.audit.mark()

    def assertCommon(self, rec, caller=ROOT):
        self.assertRegex(rec["time"], RFC3339)
        self.assertAlmostEqual(time.mktime(time.strptime(rec["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone,
                               time.time(), delta=60)
        self.assertEqual(rec["caller_uid"], caller)

    def test_login_success(self):
        r = self.env.login("alice", extra=("-I", "rhost=192.0.2.7", "-I", "tty=pts/7"))
        self.assertEqual(r.status, 0, r)
        rec = self.audit.wait(self.mark, event="login_success")
        self.assertCommon(rec)
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["service"], "freddy-test")
        self.assertEqual(rec["rhost"], "192.0.2.7")
        self.assertEqual(rec["tty"], "pts/7")
        self.assertEqual(rec["factor"], "email_code")
        self.assertEqual(rec["result"], "success")
        self.assertNotIn("trace_id", rec)  # the API sends none with a success
        self.assertRegex(rec["login_id"], LOGIN_ID)
        # The LOG_AUTHPRIV line carries the same id, so the two can be joined.
        self.assertIn("for user=alice service=freddy-test rhost=192.0.2.7 tty=pts/7 caller_uid=%d login_id=%s "
                      % (ROOT, rec["login_id"]), self.env.helper.read_log())
        self.audit.settle()
        self.assertEqual([x["event"] for x in self.audit.since(self.mark)], ["login_success"])

    def test_login_ids_differ(self):
        for _ in range(2):
            self.assertNotEqual(self.env.password_login("alice", "Wrong-Horse").status, 0)
        wait_for(lambda: len(self.audit.since(self.mark)) >= 2, what="two records")
        ids = [x["login_id"] for x in self.audit.since(self.mark)]
        self.assertEqual(len(set(ids)), 2, ids)

    def test_wrong_password_has_the_apis_trace_id(self):
        r = self.env.password_login("alice", "Wrong-Horse")
        self.assertNotEqual(r.status, 0, r)
        rec = self.audit.wait(self.mark, event="login_failure")
        self.assertCommon(rec)
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["factor"], "password")
        self.assertEqual(rec["result"], "auth_err")
        self.assertRegex(rec["trace_id"], r"^req_[0-9a-f]{16}$")
        self.assertNotIn("rhost", rec)
        self.assertNotIn("tty", rec)

    def test_wrong_codes(self):
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         ("code, or Enter to resend: ", "1111"),
                                         ("code, or Enter to resend: ", "1112"),
                                         ("code, or Enter to resend: ", "1113")])
        self.assertNotEqual(r.status, 0, r)
        rec = self.audit.wait(self.mark, event="login_failure")
        self.assertEqual(rec["factor"], "email_code")
        self.assertEqual(rec["result"], "maxtries")
        self.assertRegex(rec["trace_id"], r"^req_[0-9a-f]{16}$")  # INVALID_VERIFICATION_CODE's

    def test_abandoned_login(self):
        argv = [*PRIVATE_TMP, "pamtester", "-v", "freddy-test", "alice", "authenticate"]
        child = pexpect.spawn(argv[0], argv[1:], env=self.env.pam_env(private_tmp=True), encoding="utf-8",
                              timeout=30)
        child.expect("Password: ")
        child.sendline(PASSWORDS["alice"])
        child.expect("code, or Enter to resend: ")
        child.close(force=True)
        rec = self.audit.wait(self.mark, event="login_failure")
        self.assertEqual(rec["result"], "abandoned")
        self.assertEqual(rec["factor"], "email_code")
        self.assertRegex(rec["login_id"], LOGIN_ID)

    def test_no_local_account(self):
        r = self.env.password_login("zoe", "whatever")
        self.assertNotEqual(r.status, 0, r)
        rec = self.audit.wait(self.mark, event="login_failure", user="zoe")
        self.assertEqual(rec["result"], "auth_err")
        self.assertEqual(rec["factor"], "password")

    def test_cached_reauthentication(self):
        self.assertEqual(self.env.login("alice").status, 0)
        mark = self.audit.mark()
        r = self.env.password_login("alice", PASSWORDS["alice"])
        self.assertEqual(r.status, 0, r)
        rec = self.audit.wait(mark, event="cached_auth")
        self.assertCommon(rec)
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["factor"], "cached")
        self.assertEqual(rec["result"], "success")
        # Refused at once when the API no longer accepts the login.
        self.env.emu.admin("revoke", {"username": "alice"})
        mark = self.audit.mark()
        r = self.env.password_login("alice", PASSWORDS["alice"])
        self.assertNotEqual(r.status, 0, r)
        rec = self.audit.wait(mark, event="cached_auth")
        self.assertEqual(rec["result"], "auth_err")
        self.assertEqual(rec["factor"], "cached")

    def test_offline_login(self):
        self.assertEqual(self.env.login("carol").status, 0)
        self.env.emu.admin("config", {"fault": "reset"})
        mark = self.audit.mark()
        # The first failure is no outage yet: unavailable.
        self.assertNotEqual(self.env.password_login("carol", "any").status, 0)
        rec = self.audit.wait(mark, event="login_failure", user="carol")
        self.assertEqual(rec["result"], "authinfo_unavail")
        time.sleep(OUTAGE_S + 0.3)
        mark = self.audit.mark()
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertEqual(r.status, 0, r)
        rec = self.audit.wait(mark, event="offline_login")
        self.assertCommon(rec)
        self.assertEqual(rec["user"], "carol")
        self.assertEqual(rec["factor"], "offline")
        self.assertEqual(rec["result"], "success")
        mark = self.audit.mark()
        self.assertNotEqual(self.env.password_login("carol", "Not-Hers-9").status, 0)
        rec = self.audit.wait(mark, event="offline_login")
        self.assertEqual(rec["result"], "auth_err")

    def test_refused_callers(self):
        as_alice = ["setpriv", "--reuid=2001", "--regid=2001", "--clear-groups", "--"]
        r = self.env.pamtester("bob", [], prefix=as_alice)
        self.assertNotEqual(r.status, 0, r)
        rec = self.audit.wait(self.mark, event="caller_refused", user="bob")
        self.assertCommon(rec, caller=UIDS["alice"])
        self.assertEqual(rec["result"], "perm_denied")
        self.assertEqual(rec["service"], "freddy-test")
        mark = self.audit.mark()
        r = self.env.ctl("cache", "list", user="alice")
        self.assertNotEqual(r.returncode, 0, r)
        rec = self.audit.wait(mark, event="caller_refused")
        self.assertEqual(rec["caller_uid"], UIDS["alice"])
        self.assertEqual(rec["result"], "perm_denied")
        self.assertNotIn("user", rec)
        # A uid with no user name asks for its token.
        mark = self.audit.mark()
        r = self.env.ctl("token", user=4242)
        self.assertNotEqual(r.returncode, 0, r)
        rec = self.audit.wait(mark, event="caller_refused")
        self.assertEqual(rec["caller_uid"], 4242)
        self.assertEqual(rec["result"], "not_found")

    def test_caller_over_its_connection_limit(self):
        # uid 2001 opens three connections at once; max_clients_per_uid = 2.
        # (One refusal only: further ones in the same 10 s would make the
        # interval's summary record later, in another test's window.)
        hold = ("import socket, sys, time\n"
                "ss = [socket.socket(socket.AF_UNIX) for _ in range(3)]\n"
                "[s.connect(sys.argv[1]) for s in ss]\n"
                "time.sleep(1)\n")
        r = subprocess.run(["setpriv", "--reuid=2001", "--regid=2001", "--clear-groups", "/usr/bin/python3",
                            "-c", hold, self.env.socket], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        rec = self.audit.wait(self.mark, event="caller_refused", result="busy")
        self.assertEqual(rec["caller_uid"], UIDS["alice"])
        self.assertNotIn("user", rec)
        self.audit.settle()
        self.assertEqual(len([x for x in self.audit.since(self.mark) if x["result"] == "busy"]), 1)

    def test_token_handed_out(self):
        self.assertEqual(self.env.login("alice").status, 0)
        mark = self.audit.mark()
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 0, r)
        self.extra_secrets.add(r.stdout.strip())
        rec = self.audit.wait(mark, event="token_issued")
        self.assertCommon(rec, caller=UIDS["alice"])
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["result"], "success")
        self.assertNotIn(r.stdout.strip(), read(self.audit.path))

    def test_session_close(self):
        r = self.env.pamtester("alice", [], ops=("open_session", "close_session"),
                               extra=("-I", "rhost=198.51.100.4", "-I", "tty=pts/2"))
        self.assertEqual(r.status, 0, r)
        rec = self.audit.wait(self.mark, event="session_close")
        self.assertCommon(rec)
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["service"], "freddy-test")
        self.assertEqual(rec["rhost"], "198.51.100.4")
        self.assertEqual(rec["tty"], "pts/2")
        self.assertEqual(rec["result"], "success")
        self.assertNotIn("login_id", rec)

    def test_secret_scan_after_every_kind_of_login(self):
        # A full login, a wrong code, a cached login, a token: then no
        # password, code, token, email_key or key is in the file.
        self.assertEqual(self.env.login("alice").status, 0)
        self.assertEqual(self.env.password_login("alice", PASSWORDS["alice"]).status, 0)
        wrong = ["1234", "1235", "1236"]
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"])] +
                               [("code, or Enter to resend: ", code) for code in wrong])
        self.assertNotEqual(r.status, 0, r)
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 0, r)
        self.extra_secrets.add(r.stdout.strip())
        self.audit.wait(self.mark, event="token_issued")
        assert_no_secret(self, self.audit, self.env, self.extra_secrets | set(wrong))

    def test_hostile_names_are_escaped(self):
        rhost = 'x","result":"success"}\n{"event":"login_success","user":"root\\'
        tty = "\x1b]0;owned\x07\"\\"
        r = self.env.password_login("alice", "Wrong-Horse", extra=("-I", "rhost=" + rhost, "-I", "tty=" + tty))
        self.assertNotEqual(r.status, 0, r)
        rec = self.audit.wait(self.mark, event="login_failure")
        # One line, one record, the names inside their strings (control
        # characters were already made '?' when the helper cleaned them).
        self.assertEqual(len(self.audit.since(self.mark)), 1)
        self.assertEqual(rec["rhost"], rhost.replace("\n", " "))
        self.assertEqual(rec["tty"], "?]0;owned?\"\\")
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["result"], "auth_err")

    def test_reopen_on_sighup(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.audit.wait(self.mark, event="login_success")
        rotated = self.audit.path + ".1"
        os.rename(self.audit.path, rotated)
        before = read(rotated)
        self.env.helper.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(self.audit.path), what="a new audit log after SIGHUP")
        self.assertEqual(stat.S_IMODE(os.stat(self.audit.path).st_mode), 0o600)
        self.assertNotEqual(self.env.password_login("alice", "Wrong-Horse").status, 0)
        rec = self.audit.wait(0, event="login_failure")
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(read(rotated), before)
        os.unlink(rotated)


class RateLimitAudit(unittest.TestCase):
    """The helper's own failure budget refuses a login: rate_limited."""

    @classmethod
    def setUpClass(cls):
        cls.env = CacheEnv(config="rate_limit_failures = 1\nrate_limit_delay = 60\n")
        cls.addClassCleanup(cls.env.close)
        cls.audit = enable_audit(cls.env)

    def test_rate_limit_refusal(self):
        self.assertNotEqual(self.env.password_login("alice", "Wrong-Horse", extra=("-I", "rhost=203.0.113.9")).status, 0)
        r = self.env.pamtester("alice", [], extra=("-I", "rhost=203.0.113.9"))
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Too many failed attempts", r.transcript)
        rec = self.audit.wait(0, event="rate_limited")
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["service"], "freddy-test")
        self.assertEqual(rec["rhost"], "203.0.113.9")
        self.assertEqual(rec["caller_uid"], ROOT)
        self.assertEqual(rec["result"], "auth_err")
        self.assertRegex(rec["login_id"], LOGIN_ID)
        self.assertNotIn("factor", rec)
        events = [x["event"] for x in self.audit.records()]
        self.assertEqual(events, ["login_failure", "rate_limited"], events)


class FactorAudit(unittest.TestCase):
    """The factor a login passed on: a local TOTP (jwt), AIUS's TOTP or
    recovery code, the password alone."""

    def env_with(self, **kw):
        env = FlowEnv(**kw)
        self.addCleanup(env.close)
        return env, enable_audit(env)

    def test_local_totp(self):
        env, audit = self.env_with(api="jwt", config="second_factor = totp\ntotp_users_file = {totp_users_file}\n",
                                   enroll=["alice"])
        r = env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                    ("Authenticator code: ", lambda: totp_code(env.secrets["alice"]))])
        self.assertEqual(r.status, 0, r)
        rec = audit.wait(0, event="login_success")
        self.assertEqual(rec["factor"], "totp")
        r = env.pamtester("alice", [("Password: ", PASSWORDS["alice"]), ("Authenticator code: ", "000000"),
                                    ("Authenticator code: ", "000001"), ("Authenticator code: ", "000002")])
        self.assertNotEqual(r.status, 0, r)
        rec = audit.wait(0, event="login_failure")
        self.assertEqual((rec["factor"], rec["result"]), ("totp", "maxtries"))
        assert_no_secret(self, audit, env, {env.secrets["alice"]})

    def test_aius_totp_recovery_code_and_password_only(self):
        env, audit = self.env_with(api="aius", config="user_template = %u@example.com\n")
        prompt = "Authenticator or recovery code: "
        r = env.pamtester("bob", [("Password: ", PASSWORDS["bob"]),
                                  (prompt, lambda: totp_code(EMULATOR_SECRETS["bob"]))])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(audit.wait(0, event="login_success", user="bob")["factor"], "totp")
        mark = audit.mark()
        r = env.pamtester("bob", [("Password: ", PASSWORDS["bob"]), (prompt, "abcd-efgh-ijkl")])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(audit.wait(mark, event="login_success", user="bob")["factor"], "recovery_code")
        mark = audit.mark()
        r = env.pamtester("carol", [("Password: ", PASSWORDS["carol"])])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(audit.wait(mark, event="login_success", user="carol")["factor"], "password")
        assert_no_secret(self, audit, env)


class AuditFileSafety(unittest.TestCase):
    """Where the file may be: a folder others may write is refused (the
    helper runs on and logs why), a symbolic link is not followed."""

    def test_unsafe_places_are_refused_and_logins_go_on(self):
        env = FreddyEnv(start_helper=False)
        self.addCleanup(env.close)
        shared = os.path.join(env.tmp, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o777)
        with open(env.helper.config, "a") as f:
            f.write("audit_log = %s/audit.log\n" % shared)
        env.helper.start(wait_socket=env.socket)
        self.assertEqual(env.login("alice").status, 0)
        wait_for(lambda: "must be owned by root and not writable by group or others" in env.helper.read_log(),
                 what="the refusal in the log")
        self.assertFalse(os.path.exists(os.path.join(shared, "audit.log")))

    def test_symlink_is_not_followed(self):
        env = FreddyEnv(start_helper=False)
        self.addCleanup(env.close)
        target = os.path.join(env.tmp, "elsewhere")
        open(target, "w").close()
        os.symlink(target, os.path.join(env.tmp, "audit.log"))
        with open(env.helper.config, "a") as f:
            f.write("audit_log = %s/audit.log\n" % env.tmp)
        env.helper.start(wait_socket=env.socket)
        self.assertEqual(env.login("alice").status, 0)
        wait_for(lambda: "cannot open: Too many levels of symbolic links" in env.helper.read_log(),
                 what="the refusal in the log")
        self.assertEqual(os.path.getsize(target), 0)

    def test_bad_value_names_file_and_line(self):
        env = FreddyEnv(start_helper=False)
        self.addCleanup(env.close)
        with open(env.helper.config, "a") as f:
            f.write("audit_log = relative.log\n")
        lines = read(env.helper.config).count("\n")
        rc, out = env.helper.run_to_exit(extra_args=("--check-config",))
        self.assertEqual(rc, 78, out)
        self.assertIn("%s:%d: audit_log must be an absolute path of a file" % (env.helper.config, lines), out)


class Documentation(unittest.TestCase):
    """freddy-helperd(8) names every event with the MESSAGE_ID the code
    sends: journalctl queries and SIEM rules are written from the page."""

    def test_message_ids_in_the_man_page_are_the_codes(self):
        src = read(os.path.join(TOP_SRCDIR, "helperd", "core", "audit.c"))
        names = dict(re.findall(r'\[(AUDIT_[A-Z_]+)\] = "([a-z_]+)"', src))
        ids = dict(re.findall(r'\[(AUDIT_[A-Z_]+)\] = "([0-9a-f]{32})"', src))
        self.assertEqual(len(names), 9, names)
        self.assertEqual(set(names), set(ids))
        page = read(os.path.join(TOP_SRCDIR, "doc", "freddy-helperd.8"))
        documented = dict(re.findall(r"^\.B ([a-z_]+) \\fR([0-9a-f]{32})$", page, re.M))
        self.assertEqual(documented, {names[k]: ids[k] for k in names})


class PasswordChangeAudit(SelfServiceTestCase):
    """password_change: passwd for an AIUS account (the reset code mailed
    to the account authorised it), success and failure, with the caller
    that asked and no password or code in the file."""
    env_kwargs = {"api": "aius"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.audit = enable_audit(cls.env)

    def test_password_change(self):
        r = self.env.aius_login("alice")
        self.assertEqual(r.status, 0, r)
        mark = len(self.audit.since(0))
        new = "New-Horse-77"
        started = time.time() - 0.001
        r = self.env.chauthtok("alice", [
            (CURRENT, PASSWORDS["alice"]),
            (RESET_CODE, lambda: self.env.reset_code("alice", started)),
            (NEW, new), (RETYPE, new)], as_user="alice")
        self.assertEqual(r.status, 0, r)
        rec = self.audit.wait(mark, event="password_change")
        self.assertEqual(rec["user"], "alice")
        self.assertEqual(rec["result"], "success")
        self.assertEqual(rec["factor"], "email_code")
        self.assertEqual(rec["caller_uid"], UIDS["alice"])
        self.assertRegex(rec["login_id"], LOGIN_ID)
        with open(self.env.reset_file("alice")) as f:
            code = f.read().strip()
        with open(self.audit.path) as f:
            text = f.read()
        for secret in (new, PASSWORDS["alice"], code):
            self.assertNotIn(secret, text)
        # A wrong current password: a failed change, recorded as such.
        mark = len(self.audit.since(0))
        r = self.env.chauthtok("alice", [(CURRENT, "not-her-password")], as_user="alice")
        self.assertNotEqual(r.status, 0, r)
        rec = self.audit.wait(mark, event="password_change")
        self.assertEqual(rec["result"], "auth_err")


if __name__ == "__main__":
    main()
