"""Account lookups do not stall the helper: getpwnam_r and getgrouplist
run on the helper's NSS threads, so a directory that is slow for one name
(a far or failing LDAP server) delays that request only.  Non-root
callers' lookups get two of the four threads at most and four per uid, so
a local user naming slow accounts cannot hold sshd, sudo or su.

The slow directory is tests/lib/nss_caseless.c under nss_wrapper: a name
lookup of "slowpoke" takes SLOW_MS."""

import os
import subprocess
import threading
import time

import security
from freddytest import DEFAULT_USERS, FREDDYCTL, TOP_SRCDIR, FreddyTestCase, main

NSS_MODULE_SRC = os.path.join(TOP_SRCDIR, "tests", "lib", "nss_caseless.c")
SLOW_MS = 4000
SLOWPOKE = {"username": "slowpoke", "email": "slowpoke@example.com", "password": "Slow-Pass-9"}


def in_background(fn):
    box = {}

    def run():
        box["result"] = fn()
        box["finished_at"] = time.monotonic()
    t = threading.Thread(target=run)
    t.start()
    return t, box


class SlowDirectory(FreddyTestCase):
    env_kwargs = {"start_helper": False, "users": DEFAULT_USERS + [SLOWPOKE]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        so = os.path.join(cls.env.tmp, "libnss_caseless.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, NSS_MODULE_SRC], check=True)
        # nss_wrapper asks its files first: slowpoke is only in the
        # module's file, so that its lookups reach the slow module.
        everyone = cls.env.helper_env["NSS_WRAPPER_PASSWD"]
        fast = os.path.join(cls.env.tmp, "passwd-fast")
        with open(everyone) as f, open(fast, "w") as out:
            out.writelines(line for line in f if not line.startswith("slowpoke:"))
        os.chmod(fast, 0o644)
        cls.env.helper.env = dict(cls.env.helper_env, NSS_WRAPPER_PASSWD=fast, NSS_WRAPPER_MODULE_SO_PATH=so,
                                  NSS_WRAPPER_MODULE_FN_PREFIX="caseless", NSS_CASELESS_PASSWD=everyone,
                                  NSS_CASELESS_SLOW="slowpoke", NSS_CASELESS_SLOW_MS=str(SLOW_MS))
        cls.env.helper.start(wait_socket=cls.env.socket)
        security.open_for_nobody(cls.env)

    def slowpoke_login(self):
        return self.env.login("slowpoke", password=SLOWPOKE["password"])

    def test_a_slow_lookup_delays_its_own_login_only(self):
        started = time.monotonic()
        slow, slow_box = in_background(self.slowpoke_login)
        time.sleep(0.3)     # slowpoke's lookup is under way
        r = self.env.login("alice")
        alice_done = time.monotonic()
        self.assertEqual(r.status, 0, r)
        status = subprocess.run([FREDDYCTL, "--socket", self.env.socket, "status"], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(status.returncode, 0, status)
        status_done = time.monotonic()
        slow.join(60)
        self.assertEqual(slow_box["result"].status, 0, slow_box["result"])
        # Alice and the status were answered while slowpoke's lookup still
        # ran: on the loop they would have waited for it.
        self.assertLess(alice_done, started + SLOW_MS / 1000.0)
        self.assertLess(status_done, started + SLOW_MS / 1000.0)
        self.assertGreaterEqual(slow_box["finished_at"] - started, SLOW_MS / 1000.0)

    def test_a_client_that_leaves_during_its_lookup(self):
        import pexpect
        child = pexpect.spawn("pamtester", ["-v", "freddy-test", "slowpoke", "authenticate"],
                              env=self.env.pam_env(), encoding="utf-8", timeout=30)
        time.sleep(0.5)
        child.close(force=True)
        # The lookup finishes for nobody; the helper carries on.
        time.sleep(SLOW_MS / 1000.0 + 0.5)
        self.assertEqual(self.env.login("alice").status, 0)
        self.assertIsNone(self.env.helper.proc.poll())

    def test_a_local_user_naming_slow_accounts_cannot_hold_root_logins(self):
        def probe(_):
            return self.env.pamtester("slowpoke", [], prefix=security.as_nobody(), timeout=60)
        attackers = [in_background(lambda: probe(0)) for _ in range(6)]
        time.sleep(0.5)     # nobody's lookups hold their two threads, two more queue
        started = time.monotonic()
        r = self.env.login("alice")
        alice_done = time.monotonic()
        self.assertEqual(r.status, 0, r)
        for t, _ in attackers:
            t.join(60)
        results = [box["result"] for _, box in attackers]
        self.assertTrue(all(res.status != 0 for res in results), results)
        # A root login did not wait behind the attacker's lookups.
        self.assertLess(alice_done - started, SLOW_MS / 1000.0)
        # Six at once: four are the uid's share, the rest were refused at
        # once, and said so in the refusal summary.
        self.assertIn("requests refused (uid at its share of the account lookups)",
                      self.env.helper.read_log())
        # Two threads for non-root lookups: the last of the four took two
        # rounds of the slow directory.
        slowest = max(box["finished_at"] for _, box in attackers)
        self.assertGreaterEqual(slowest - started + 0.5, 2 * SLOW_MS / 1000.0)

    def test_requests_waiting_on_the_directory_hold_little_memory(self):
        # A directory that hangs (LDAP down) while sshd and sudo keep
        # coming: every request waits in the NSS queue, up to max_clients
        # of them.  Each kept its whole decoded message there, 8.7 KiB
        # whatever it said; now it keeps the message's own bytes.
        waiting = 400
        pid = security.helper_pid(self.env)
        request = security.frame(security.AUTH_BEGIN, security.field(security.TAG_USER, "slowpoke"),
                                 security.field(security.TAG_SERVICE, "freddy-test"))
        before = security.rss_anon_kib(pid)
        clients = []
        try:
            for _ in range(waiting):
                s = security.connect(self.env.socket)
                s.sendall(request)
                clients.append(s)
            time.sleep(1.0)     # read, decoded and queued behind the four running
            grown = security.rss_anon_kib(pid) - before
            self.assertIsNone(self.env.helper.proc.poll())
        finally:
            for s in clients:
                s.close()
        self.assertLess(grown / waiting, 4.0,
                        "%d requests waiting on the directory took %d KiB" % (waiting, grown))
        # The queue went with its clients: logins go on.
        self.assertEqual(self.env.login("alice").status, 0)


if __name__ == "__main__":
    main()
