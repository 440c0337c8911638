"""max_api_connections bounds the helper's HTTPS connections to the API.
Requests beyond it wait in the helper's own queue (no curl handle, no
buffers) for a connection to come free, in arrival order, and the time
they wait counts toward `timeout`: a queued login never waits longer for
the API than one that was sent at once."""

import threading
import time

from freddytest import FreddyTestCase, main

LATENCY_MS = 300
# Concurrent logins need users of their own: a second login of one user
# replaces the code mailed to the first.
USERS = [{"username": "user%d" % i, "email": "user%d@example.com" % i, "password": "Pass-%d-x" % i}
         for i in range(6)]
UNAVAIL = "Authentication service cannot retrieve authentication info"


def concurrently(count, fn):
    """Run fn(i) for i in range(count) at once; the results in order."""
    results = [None] * count

    def run(i):
        results[i] = fn(i)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class QueuedBeyondTheLimit(FreddyTestCase):
    env_kwargs = {"config": "max_api_connections = 2\n", "users": USERS}

    def test_six_logins_share_two_connections(self):
        self.env.emu.admin("config", {"latency_ms": LATENCY_MS})
        try:
            # Each admin call is a connection of its own, counted too.
            before = self.env.emu.stats()["connections"]
            started = time.monotonic()
            results = concurrently(6, lambda i: self.env.login(USERS[i]["username"],
                                                               password=USERS[i]["password"]))
            elapsed = time.monotonic() - started
            opened = self.env.emu.stats()["connections"] - before - 1
        finally:
            self.env.emu.admin("config", {"latency_ms": 0})
        for r in results:
            self.assertEqual(r.status, 0, r)
        # At most two connections, kept and reused: never a third.
        self.assertLessEqual(opened, 2)
        # Twelve requests, two at a time, each at least LATENCY_MS: they
        # really queued (six at once would take two latencies in all).
        self.assertGreaterEqual(elapsed, 6 * LATENCY_MS / 1000.0)


class QueueWaitCountsTowardTheTimeout(FreddyTestCase):
    env_kwargs = {"config": "max_api_connections = 1\ntimeout = 2\n"}

    def test_a_queued_login_fails_within_one_timeout(self):
        self.env.emu.admin("config", {"fault": "hang", "fault_paths": ["/v1/auth/login"]})
        try:
            results = concurrently(2, lambda i: self.env.pamtester(
                ["alice", "bob"][i], [("Password: ", "whatever-1")], timeout=30))
        finally:
            self.env.emu.admin("config", {"fault": None})
        for r in results:
            self.assertIn(UNAVAIL, r.transcript, r)
            # One request hangs for the whole timeout; the other waits for
            # its connection that long and then has no time left.  Neither
            # takes two timeouts (plus process start-up).
            self.assertLess(r.elapsed, 2 * 2 - 0.5, r)
        self.assertIn("timed out", self.env.helper.read_log().lower())
        # The helper serves normally afterwards.
        self.assertEqual(self.env.login("alice").status, 0)


if __name__ == "__main__":
    main()
