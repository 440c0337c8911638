"""The helper socket under abuse, and the module's checks of the helper.

Raw clients send random bytes, oversize lengths, truncated frames, slow
writes and hundreds of idle connections; the helper drops each offender,
keeps serving real logins, and its fd count and memory stay bounded.  The
module refuses a socket that is not root's or that sits in a folder others
can write, and a peer whose SO_PEERCRED uid is not the helper's."""

import os
import resource
import socket
import threading
import time

from freddytest import FreddyEnv, FreddyTestCase, main, wait_for
import security

UNAVAIL = "Authentication service cannot retrieve authentication info"
IDLE_TIMEOUT = 10		# server.c FIRST_REQUEST_TIMEOUT_S


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 4096):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))


class SocketAbuse(FreddyTestCase):

    def setUp(self):
        super().setUp()
        self.pid = security.helper_pid(self.env)
        self.fds0 = security.fd_count(self.pid)

    def assert_helper_fine(self):
        self.assertIsNone(self.env.helper.proc.poll(), self.env.helper.read_log())
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: security.fd_count(self.pid) <= self.fds0 + 2, timeout=5,
                 what="helper fds back to normal")

    def test_random_bytes_close_only_that_connection(self):
        rnd = __import__("random").Random(5)
        for i in range(30):
            s = security.connect(self.env.socket)
            s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 9000))))
            # Either the length is refused at once or the garbage frame is
            # malformed; the 10 s idle limit ends the rest.
            self.assertTrue(security.closed_by_peer(s, IDLE_TIMEOUT + 3), i)
            s.close()
        self.assert_helper_fine()

    def test_oversize_length_is_refused_at_once(self):
        for length in (0xFFFFFFFF, 8193, 1 << 20):
            s = security.connect(self.env.socket)
            s.sendall(length.to_bytes(4, "big") + b"x" * 100)
            t = time.monotonic()
            self.assertTrue(security.closed_by_peer(s, 2))
            self.assertLess(time.monotonic() - t, 2)
            s.close()
        self.assertIn("closing connection", self.env.helper.read_log())
        self.assert_helper_fine()

    def test_malformed_and_out_of_turn_messages(self):
        frames = [
            security.frame(2, security.field(9, "answer-first")),	# ANSWER before a request
            security.frame(64, security.field(9, "x")),		# a helper->client type
            b"\x00\x00\x00\x02\x07\x01",				# wrong version
            security.frame(security.AUTH_BEGIN, security.field(1, "al\x00ice"),
                           security.field(2, "s")),			# NUL in a string
            security.frame(security.AUTH_BEGIN, security.field(1, "alice"),
                           security.field(1, "bob"), security.field(2, "s")),  # duplicate tag
            security.frame(security.AUTH_BEGIN, security.field(1, "alice"))[:-2] + b"\x00\x09",
        ]
        for f in frames:
            s = security.connect(self.env.socket)
            s.sendall(f)
            self.assertTrue(security.closed_by_peer(s, 3), f)
            s.close()
        self.assert_helper_fine()

    def test_idle_truncated_slow_and_many_connections(self):
        raise_nofile()
        rss0 = security.rss_kib(self.pid)
        idle = [security.connect(self.env.socket) for _ in range(500)]
        trunc = security.connect(self.env.socket)
        trunc.sendall((100).to_bytes(4, "big") + b"\x01\x01" + b"\x01\x00\x05ali")
        begin = security.frame(security.AUTH_BEGIN, security.field(1, "alice"),
                               security.field(2, "slow"))
        slow = security.connect(self.env.socket)
        stop = threading.Event()

        def trickle():
            for b in begin[:-1]:
                if stop.wait(0.5):
                    return
                try:
                    slow.send(bytes([b]))
                except OSError:
                    return
        writer = threading.Thread(target=trickle)
        writer.start()
        try:
            wait_for(lambda: security.fd_count(self.pid) >= self.fds0 + 500, timeout=10,
                     what="helper accepted the idle connections")
            # A real login goes through while they all hang around.
            r = self.env.login("alice")
            self.assertEqual(r.status, 0, r)
            self.assertLessEqual(security.fd_count(self.pid), self.fds0 + 510)
            self.assertLess(security.rss_kib(self.pid) - rss0, 16 * 1024)
            # Nobody gets to hold a connection without a request for long.
            t0 = time.monotonic()
            self.assertTrue(security.closed_by_peer(trunc, IDLE_TIMEOUT + 3))
            self.assertTrue(security.closed_by_peer(slow, IDLE_TIMEOUT + 3))
            for s in idle:
                self.assertTrue(security.closed_by_peer(s, max(0.1, IDLE_TIMEOUT + 3 - (time.monotonic() - t0))))
            wait_for(lambda: security.fd_count(self.pid) <= self.fds0 + 2, timeout=5,
                     what="helper fds back to normal")
        finally:
            stop.set()
            writer.join()
            for s in idle + [trunc, slow]:
                s.close()
        self.assertIn("timed out", self.env.helper.read_log())
        self.assert_helper_fine()


class ClientLimit(FreddyTestCase):
    env_kwargs = {"config": "max_clients = 20\n"}

    def test_idle_flood_cannot_lock_out_logins(self):
        pid = security.helper_pid(self.env)
        fds0 = security.fd_count(pid)
        socks = [security.connect(self.env.socket) for _ in range(80)]
        try:
            time.sleep(0.5)
            self.assertLessEqual(security.fd_count(pid), fds0 + 21)
            r = self.env.login("alice")
            self.assertEqual(r.status, 0, r)
            # In the summary line of the 10 s interval.
            wait_for(lambda: "idle dropped to make room" in self.env.helper.read_log(), timeout=15,
                     what="the eviction summary")
        finally:
            for s in socks:
                s.close()


class Busy(FreddyTestCase):
    """At max_clients with every connection busy, one more client is told
    so at once ("busy", AUTHINFO_UNAVAIL), not left hanging."""
    env_kwargs = {"config": "max_clients = 3\n"}

    def test_extra_client_gets_a_clear_busy_error(self):
        busy = []
        try:
            for _ in range(3):
                s = security.connect(self.env.socket)
                s.sendall(security.frame(security.AUTH_BEGIN, security.field(security.TAG_USER, "alice"),
                                         security.field(security.TAG_SERVICE, "busy-test")))
                self.assertEqual(security.read_frame(s)[0], 64)     # PROMPT: a login in progress
                busy.append(s)
            r = self.env.pamtester("alice", [], timeout=10)
            self.assertNotEqual(r.status, 0, r)
            self.assertIn("Authentication service busy, try again", r.transcript)
            self.assertIn(UNAVAIL, r.transcript)
            self.assertLess(r.elapsed, 5, r)
        finally:
            for s in busy:
                s.close()
        # Room again once they are gone.
        wait_for(lambda: self.env.login("alice").status == 0, timeout=20, what="a login after the burst")


class ModuleChecksTheHelper(FreddyTestCase):

    def attempt(self, args=None):
        if args is not None:
            self.env.write_service("alt", "auth required %s\n" % self.env.module_line(args))
        return self.env.pamtester("alice", [], service="alt" if args is not None else "freddy-test",
                                  timeout=10)

    def assert_refused(self, r):
        self.assertNotEqual(r.status, 0, r)
        self.assertIn(UNAVAIL, r.transcript)
        self.assertNotIn("Password", r.transcript)

    def test_socket_in_world_writable_folder(self):
        run = os.path.dirname(self.env.socket)
        os.chmod(run, 0o1777)
        try:
            self.assert_refused(self.attempt())
        finally:
            os.chmod(run, 0o755)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)

    def test_untrusted_socket_is_not_softened_by_fail_mode_safe(self):
        line = self.env.module_line("debug fail_mode=safe")
        self.env.write_service("ign", "auth [success=done ignore=ignore default=die] %s\n"
                               "auth required pam_permit.so\n" % line)
        run = os.path.dirname(self.env.socket)
        os.chmod(run, 0o1777)
        try:
            r = self.env.pamtester("alice", [], service="ign", timeout=10)
        finally:
            os.chmod(run, 0o755)
        self.assert_refused(r)
        # The same stack with the helper merely absent is IGNORE (then permit).
        os.rename(self.env.socket, self.env.socket + ".away")
        try:
            r = self.env.pamtester("alice", [], service="ign", timeout=10)
        finally:
            os.rename(self.env.socket + ".away", self.env.socket)
        self.assertEqual(r.status, 0, r)

    def test_socket_in_group_writable_folder(self):
        run = os.path.dirname(self.env.socket)
        os.chmod(run, 0o775)
        try:
            self.assert_refused(self.attempt())
        finally:
            os.chmod(run, 0o755)

    def test_socket_owned_by_someone_else(self):
        os.chown(self.env.socket, security.NOBODY_UID, -1)
        try:
            self.assert_refused(self.attempt())
        finally:
            os.chown(self.env.socket, 0, -1)

    def test_peer_uid_must_match_helper_user(self):
        # The socket file claims to be nobody's, the module is told the
        # helper runs as nobody, but the process behind it is root's.
        os.chown(self.env.socket, security.NOBODY_UID, -1)
        os.chown(os.path.dirname(self.env.socket), security.NOBODY_UID, -1)
        try:
            self.assert_refused(self.attempt("debug helper_user=nobody"))
        finally:
            os.chown(self.env.socket, 0, -1)
            os.chown(os.path.dirname(self.env.socket), 0, -1)

    def test_not_a_socket(self):
        real = self.env.socket
        os.rename(real, real + ".real")
        try:
            os.symlink(real + ".real", real)	# a symlink to the right socket is still refused
            self.assert_refused(self.attempt())
        finally:
            os.unlink(real)
            os.rename(real + ".real", real)


if __name__ == "__main__":
    main()
