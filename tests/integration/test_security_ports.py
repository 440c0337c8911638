"""Offline login is never opened by local resource exhaustion.  A local
user who binds every ephemeral port makes the helper's connections to the
API fail with EADDRNOTAVAIL; that is "unavailable", not an outage, so even
with offline_login = yes and offline_password_only = yes nobody gets in
with a password alone.  A real outage afterwards does open offline login,
which shows the test would notice.

The whole test runs in a network namespace of its own (it re-executes
itself under unshare --net) whose ephemeral port range is a thousand ports."""

import os
import subprocess
import sys
import time

if os.environ.get("FREDDY_PORTS_NETNS") != "1":
    if os.geteuid() != 0:
        print("SKIP: needs root for a network namespace")
        sys.exit(77)
    os.environ["FREDDY_PORTS_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "--net", "--", sys.executable, *sys.argv])

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
    f.write("40000 40999")
# Ports of earlier connections (in TIME_WAIT) cannot be bound by the
# attacker; without reuse they cannot serve a new connection either, so
# the attacker's binds take every port there is.
with open("/proc/sys/net/ipv4/tcp_tw_reuse", "w") as f:
    f.write("0")

from cachetest import CacheTestCase  # noqa: E402
from freddytest import PASSWORDS, PYTHON, main  # noqa: E402
import security  # noqa: E402

OUTAGE_S = 2
# Binds every port of the range that is still free, then waits.
HOG = r"""
import socket, sys, time
held = []
for port in range(40000, 41000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        held.append(s)
    except OSError:
        s.close()
print(len(held), flush=True)
time.sleep(float(sys.argv[1]))
"""


class PortExhaustion(CacheTestCase):
    env_kwargs = {"config": "offline_login = yes\noffline_password_only = yes\n"
                            "offline_after = %d\ndebug = yes\n" % OUTAGE_S}

    def test_ports_taken_never_open_offline_login(self):
        self.assertEqual(self.env.login("carol").status, 0)
        # A fresh helper: no kept-alive connection to the API to reuse.
        self.env.restart_helper()
        hog = subprocess.Popen(security.as_nobody() + [PYTHON, "-c", HOG, "30"],
                               stdout=subprocess.PIPE, text=True)
        try:
            self.assertGreaterEqual(int(hog.stdout.readline()), 900)
            deadline = time.monotonic() + 3 * OUTAGE_S + 1
            attempts = 0
            while time.monotonic() < deadline:
                r = self.env.password_login("carol", PASSWORDS["carol"])
                attempts += 1
                self.assertNotEqual(r.status, 0, r)
                self.assertIn("Authentication service unavailable", r.transcript)
                time.sleep(0.5)
            log = self.env.helper.read_log()
            self.assertIn("local resources exhausted", log)
            self.assertNotIn("OFFLINE login", log)
            self.assertNotIn("the API is not reachable", log)	# no outage began
            print("%d logins while the ports were taken over %.0f s: none offline, none in"
                  % (attempts, 3 * OUTAGE_S + 1))
        finally:
            hog.kill()
            hog.wait()
        # A real outage: the same account then logs in offline.
        self.env.emu.stop()
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertNotEqual(r.status, 0, r)
        time.sleep(OUTAGE_S + 0.3)
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertEqual(r.status, 0, r)
        self.assertIn("offline login", r.transcript)


if __name__ == "__main__":
    main()
