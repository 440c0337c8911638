"""The failure budget is spent when a password goes to the API, per origin,
and bounded: parallel guesses cannot all reach the API before one of them
is counted, one origin's guesses spend that origin's budget first, and a
user's own login from elsewhere waits at most rate_limit_user_max_delay.

Root callers (su, sudo, sshd) are pamtester as root with PAM_RUSER or
PAM_RHOST set, as su and sshd set them; the non-root attacker is a real
unprivileged uid through setpriv."""

import concurrent.futures
import os
import re
import subprocess
import time

import pexpect

from freddytest import PASSWORDS, PRIVATE_TMP, TOP_SRCDIR, FreddyTestCase, PamResult, main

NSS_CASELESS_SRC = os.path.join(TOP_SRCDIR, "tests", "lib", "nss_caseless.c")
import security

# Below the emulator's own lockout (5 failures in 10 minutes, as the real
# API may have one): the helper must stop guesses before the API locks the
# account for everyone.
THRESHOLD = 3
WRONG = "Not-Her-Password"


def parallel(n, fn):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: fn(i), range(n)))


class Budget(FreddyTestCase):
    env_kwargs = {"config": "rate_limit_failures = %d\nrate_limit_delay = 2\n"
                            "rate_limit_user_max_delay = 8\n" % THRESHOLD}

    def attempt(self, user, item, password=WRONG, prefix=()):
        """One login with PAM item `item` (e.g. "ruser=mallory"): the
        password if it is asked for, then the mailed code if that is."""
        email = next(u["email"] for u in self.env.users if u["username"] == user)
        started = time.time() - 0.001
        argv = [*PRIVATE_TMP, *prefix, "pamtester", "-v", "-I", item, "freddy-test", user,
                "authenticate"]
        child = pexpect.spawn(argv[0], argv[1:], env=self.env.pam_env(private_tmp=True), encoding="utf-8",
                              timeout=60, codec_errors="replace")
        out = []
        steps = [("Password: ", lambda: password),
                 ("code, or Enter to resend: ", lambda: self.env.emu.code_for(email, started))]
        for pattern, answer in steps:
            if child.expect([pattern, pexpect.EOF]) == 1:
                break
            out.append(child.before + child.after)
            child.sendline(answer())
        else:
            child.expect(pexpect.EOF)
        out.append(child.before)
        child.close()
        return PamResult(child.exitstatus, "".join(out), 0)

    def guess(self, user, item, prefix=()):
        return self.attempt(user, item, WRONG, prefix)

    def login_from(self, user, item, deadline_s):
        """A correct login from `item`, retried after each "try again in N s"
        until `deadline_s`; returns (result, seconds waited)."""
        start = time.monotonic()
        while True:
            r = self.attempt(user, item, PASSWORDS[user])
            if r.status == 0:
                return r, time.monotonic() - start
            m = re.search(r"try again in (\d+) s", r.transcript)
            self.assertIsNotNone(m, r)
            self.assertLessEqual(time.monotonic() - start + int(m.group(1)), deadline_s, r)
            time.sleep(int(m.group(1)) + 0.2)

    def test_parallel_guesses_spend_at_most_the_threshold(self):
        # Twenty `su alice` at once from the same invoking user.
        results = parallel(20, lambda i: self.guess("alice", "ruser=mallory"))
        self.assertTrue(all(r.status != 0 for r in results))
        sent = self.env.emu.requests("POST /v1/auth/login")
        self.assertLessEqual(sent, THRESHOLD)
        refused = sum("Too many failed attempts" in r.transcript for r in results)
        self.assertEqual(refused + sent, 20, [r.transcript for r in results])
        print("20 parallel wrong attempts from one origin: %d password checks at the API" % sent)
        self.assertIn("not sent: out of attempts", self.env.helper.read_log())
        # The same origin stays shut for longer than the user does...
        r = self.guess("alice", "ruser=mallory")
        self.assertIn("that origin is rate-limited", self.env.helper.read_log())
        # ...while alice herself, over ssh from elsewhere, gets in within
        # the user's bounded delay.
        r, waited = self.login_from("alice", "rhost=198.51.100.20", deadline_s=8 + 3)
        self.assertEqual(r.status, 0, r)
        print("alice's own login from another origin: in after %.1f s" % waited)


class BudgetManyOrigins(Budget):
    # No lockout at the API here: what is measured is the helper's own cap.
    env_kwargs = dict(Budget.env_kwargs, emulator_args=("--max-login-failures", "0"))

    def test_parallel_guesses_spend_at_most_the_threshold(self):
        pass	# Budget's; not run twice

    def test_many_origins_hold_the_user_at_most_the_user_cap(self):
        # A stranger with many addresses: each has a budget of its own, the
        # user's all-origins key caps at rate_limit_user_max_delay.
        for round_ in range(4):
            parallel(4, lambda i: self.guess("bob", "rhost=203.0.113.%d" % (10 * round_ + i)))
            r = self.guess("bob", "rhost=203.0.113.250")
            m = re.search(r"try again in (\d+) s", r.transcript)
            if m:
                self.assertLessEqual(int(m.group(1)), 8, r)
                time.sleep(int(m.group(1)) + 0.2)
        r, waited = self.login_from("bob", "rhost=198.51.100.21", deadline_s=8 + 3)
        self.assertEqual(r.status, 0, r)


class CanonicalNames(FreddyTestCase):
    """With case-insensitive NSS (SSSD, some LDAP), "ALICE" and "alice"
    are one account: one budget, one cache file, the canonical name at the
    API.  tests/lib/nss_caseless.c is such an NSS module, under nss_wrapper."""
    env_kwargs = {"start_helper": False,
                  "config": "rate_limit_failures = 2\nrate_limit_delay = 60\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        so = os.path.join(cls.env.tmp, "libnss_caseless.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, NSS_CASELESS_SRC], check=True)
        cls.env.helper.env = dict(cls.env.helper_env, NSS_WRAPPER_MODULE_SO_PATH=so,
                                  NSS_WRAPPER_MODULE_FN_PREFIX="caseless",
                                  NSS_CASELESS_PASSWD=cls.env.helper_env["NSS_WRAPPER_PASSWD"])
        cls.env.helper.start(wait_socket=cls.env.socket)

    def test_one_budget_and_one_cache_file_whatever_the_case(self):
        for spelling in ("ALICE", "Alice"):
            r = self.env.pamtester(spelling, [("Password: ", WRONG)])
            self.assertIn("Invalid email or password", r.transcript)
        r = self.env.pamtester("alice", [])
        self.assertRegex(r.transcript, r"Too many failed attempts; try again in \d+ s")
        self.assertIn("refusing a login for alice", self.env.helper.read_log())

    def test_login_under_another_case_uses_the_canonical_name(self):
        r = self.env.login("bob")
        self.assertEqual(r.status, 0, r)
        r = self.attempt_as("BOB")
        self.assertEqual(r.status, 0, r)
        self.env.flush_cache()
        self.assertEqual(sorted(f for f in os.listdir(self.env.cache_dir) if not f.startswith(".")),
                         ["bob"])
        self.assertIn("for user=bob service=freddy-test", self.env.helper.read_log())

    def attempt_as(self, spelling):
        started = time.time() - 0.001
        return self.env.pamtester(spelling, [
            ("Password: ", PASSWORDS["bob"]),
            ("code, or Enter to resend: ", lambda: self.env.emu.code_for("bob@example.com", started)),
        ])


class NonRootBudget(FreddyTestCase):
    """A non-root caller (a screen locker's uid) guessing its own account's
    password from many processes at once."""

    @classmethod
    def setUpClass(cls):
        from test_security_callers import make_env
        cls.env = make_env("rate_limit_failures = %d\nrate_limit_delay = 2\n" % THRESHOLD)

    def test_parallel_guesses_of_an_unprivileged_caller(self):
        results = parallel(12, lambda i: Budget.attempt(self, "alice", "tty=pts/%d" % i,
                                                        prefix=security.as_nobody()))
        self.assertTrue(all(r.status != 0 for r in results))
        self.assertLessEqual(self.env.emu.requests("POST /v1/auth/login"), THRESHOLD)


if __name__ == "__main__":
    main()
