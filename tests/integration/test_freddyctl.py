"""freddyctl token / status / cache against the real helper and emulator.
Local users come from nss_wrapper; freddyctl runs as their uids."""

import os
import subprocess
import threading
import time

import cachefile
from cachetest import CacheTestCase, FREDDYCTL, UIDS
from freddytest import main, wait_for


class Token(CacheTestCase):
    env_kwargs = {"config": "refresh_margin = 300\n"}

    def test_own_token_without_a_request(self):
        self.assertEqual(self.env.login("alice").status, 0)
        cached = self.env.cached("alice")
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, cached["access_token"] + "\n")
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 0)
        # Without cached_auth or offline_login, no password verifier is kept.
        self.assertNotIn("verifier", cached)

    def test_token_refused_to_other_users(self):
        self.assertEqual(self.env.login("alice").status, 0)
        token = self.env.cached("alice")["access_token"]
        for who in ("bob", "root", 3999):   # another user, root, a uid without a name
            r = self.env.ctl("token", user=who)
            self.assertEqual(r.returncode, 1, (who, r))
            self.assertNotIn(token, r.stdout + r.stderr)
            self.assertEqual(r.stdout, "")
        r = self.env.ctl("token", user="bob")
        self.assertIn("No cached Freddy login", r.stderr)
        # No argument can name another user.
        r = self.env.ctl("token", "alice", user="bob")
        self.assertEqual(r.returncode, 2, r)

    def test_expired_token_is_refreshed(self):
        self.assertEqual(self.env.login("alice").status, 0)
        old = self.env.cached("alice")["access_token"]
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 0, r)
        new = r.stdout.strip()
        self.assertNotEqual(new, old)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 1)
        cached = self.env.cached("alice")
        self.assertEqual(cached["access_token"], new)
        # DOCS SILENT in the guide: the refresh reply has no expires_in; 24 h.
        self.assertAlmostEqual(cached["access_expires"], time.time() + 86400, delta=60)
        # Fresh again: the next call needs no request.
        self.assertEqual(self.env.ctl("token", user="alice").stdout.strip(), new)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 1)

    def test_revoked_refresh_token(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        self.env.emu.admin("revoke", {"username": "alice"})
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no longer valid", r.stderr)
        self.assertIsNone(self.env.cached("alice"))

    def test_refresh_with_api_unreachable(self):
        self.assertEqual(self.env.login("alice").status, 0)
        old = self.env.cached("alice")["access_token"]
        self.env.emu.admin("config", {"fault": "reset"})
        # Near expiry but still valid: the old token is better than nothing.
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        r = self.env.ctl("token", user="alice")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, old), r)
        # Expired: nothing usable.
        self.env.rewrite_cache("alice", access_expires=int(time.time()) - 10)
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 3, r)
        self.assertEqual(r.stdout, "")
        self.assertIn("cannot be reached", r.stderr)
        self.assertIsNotNone(self.env.cached("alice"))   # kept for later
        self.assertGreaterEqual(self.env.emu.requests("POST /v1/auth/refresh"), 2)

    def test_ten_concurrent_calls_make_one_refresh(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        self.env.emu.admin("config", {"latency_ms": 1500})
        procs = [self.env.ctl_start("token", user="alice") for _ in range(10)]
        outs = [p.communicate(timeout=30) for p in procs]
        self.assertEqual([p.returncode for p in procs], [0] * 10, outs)
        tokens = {o[0].strip() for o in outs}
        self.assertEqual(len(tokens), 1, tokens)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 1)
        self.assertEqual(self.env.cached("alice")["access_token"], tokens.pop())

    def test_caller_leaving_during_refresh(self):
        # A client that goes away while its refresh is in flight must not
        # disturb the helper or the others waiting on the same refresh.
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        self.env.emu.admin("config", {"latency_ms": 1500})
        quitter = self.env.ctl_start("token", user="alice")
        stayer = self.env.ctl_start("token", user="alice")
        time.sleep(0.5)
        quitter.kill()
        quitter.communicate()
        out, err = stayer.communicate(timeout=30)
        self.assertEqual(stayer.returncode, 0, err)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 1)
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 0)


class NearExpiry(CacheTestCase):
    """refresh_margin longer than a token lives: every call refreshes."""
    env_kwargs = {"config": "refresh_margin = 86400\n"}

    def test_margin_triggers_refresh(self):
        self.assertEqual(self.env.login("alice").status, 0)
        for n in (1, 2):
            r = self.env.ctl("token", user="alice")
            self.assertEqual(r.returncode, 0, r)
            self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), n)


class Status(CacheTestCase):

    def test_status_lines(self):
        self.assertEqual(self.env.login("alice").status, 0)
        r = self.env.ctl("status", user="bob")   # anyone may ask
        self.assertEqual(r.returncode, 0, r)
        lines = dict(line.split(": ", 1) for line in r.stdout.splitlines())
        self.assertRegex(lines["helper version"], r"^\d+\.\d+")
        self.assertRegex(lines["api"], r"^reachable \(HTTP \d{3}, \d+ ms\)$")
        # Activity is for root only: another user learns nothing of logins.
        self.assertEqual(set(lines), {"helper version", "api"}, r.stdout)
        self.env.flush_cache()
        r = self.env.ctl("status")
        lines = dict(line.split(": ", 1) for line in r.stdout.splitlines())
        self.assertEqual(lines["cached users"], "1")
        self.assertEqual(lines["logins in progress"], "0")
        self.assertIn("open sessions", lines)
        self.assertIn("api connections opened", lines)
        self.assertRegex(lines["longest event-loop pass since the last status"], r"^\d+ us$")
        self.assertRegex(lines["longest single event since the last status"], r"^\d+ us$")
        # Both calls shared one probe (or one an earlier test made).
        self.assertLessEqual(self.env.emu.stats()["requests"].get("GET /v1/", 0), 1)

    def test_logins_in_progress(self):
        import pexpect
        child = pexpect.spawn("pamtester", ["-v", "freddy-test", "alice", "authenticate"],
                              env=self.env.pam_env(), encoding="utf-8", timeout=20)
        try:
            child.expect("Password: ")
            r = self.env.ctl("status")
            self.assertIn("logins in progress: 1\n", r.stdout, r)
        finally:
            child.close(force=True)
        wait_for(lambda: "logins in progress: 0\n" in self.env.ctl("status").stdout,
                 what="login to end")


class StatusStorm(CacheTestCase):
    """A fresh helper: no probe result yet."""

    def test_status_storm_makes_few_api_requests(self):
        # Sixteen clients asking in a loop for 8 s: the probe result is
        # shared for 10 s, so at most two probes reach the API.
        before = self.env.emu.stats()["requests"].get("GET /v1/", 0)
        script = ("end=$(($(date +%s) + 8)); n=0; while [ $(date +%s) -lt $end ]; do "
                  "CTL --socket SOCKET status >/dev/null || exit 1; n=$((n+1)); done; echo $n")
        procs = [subprocess.Popen((["setpriv", "--reuid=%d" % UIDS[u], "--regid=%d" % UIDS[u],
                                    "--clear-groups"] if u != "root" else []) +
                                  ["sh", "-c", script.replace("CTL", FREDDYCTL).replace("SOCKET", self.env.socket)],
                                  stdout=subprocess.PIPE, text=True)
                 for u in ["root", "alice", "bob", "carol"] * 4]
        calls = sum(int(p.communicate(timeout=60)[0] or 0) for p in procs)
        probes = self.env.emu.stats()["requests"].get("GET /v1/", 0) - before
        self.assertGreater(calls, 100)
        self.assertGreaterEqual(probes, 1)
        self.assertLessEqual(probes, 2, calls)
        print("16 looping status clients for 8 s: %d calls, %d API requests" % (calls, probes))


class StatusApiDown(CacheTestCase):

    def setUp(self):
        pass    # the emulator is stopped by the test

    def test_api_unreachable(self):
        self.env.emu.stop()     # connection refused from now on
        r = self.env.ctl("status")
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("api: unreachable", r.stdout)


class Cache(CacheTestCase):

    def test_list_and_forget(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.assertEqual(self.env.login("bob").status, 0)
        cached = self.env.cached("alice")
        r = self.env.ctl("cache", "list")
        self.assertEqual(r.returncode, 0, r)
        users = [line.split()[0] for line in r.stdout.splitlines()[1:]]
        self.assertEqual(sorted(users), ["alice", "bob"])
        for secret in (cached["access_token"], cached["refresh_token"]):
            self.assertNotIn(secret, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"alice +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +\d{4}-")

        r = self.env.ctl("cache", "forget", "alice")
        self.assertEqual(r.returncode, 0, r)
        self.assertIsNone(self.env.cached("alice"))
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 1)
        r = self.env.ctl("cache", "forget", "alice")
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(self.env.ctl("cache", "forget", "../etc").returncode, 1)

    def test_a_long_list_is_cut_and_says_so(self):
        # One listing holds at most 400 users (the replies are queued at
        # once); with more, the last line says the list was cut.
        self.assertEqual(self.env.login("alice").status, 0)
        rec = self.env.cached("alice")
        names = ["cut%03d" % i for i in range(400)]  # and alice: 401
        try:
            for name in names:
                rec["user"] = name
                cachefile.replace(os.path.join(self.env.cache_dir, name), cachefile.image(rec))
            r = self.env.ctl("cache", "list")
            self.assertEqual(r.returncode, 0, r)
            self.assertEqual(len(r.stdout.splitlines()[1:]), 400, r.stdout[-300:])
            self.assertIn("More cached users than one listing shows", r.stdout + r.stderr)
            self.assertEqual(self.env.ctl("cache", "forget", "alice").returncode, 0)
            r = self.env.ctl("cache", "list")
            self.assertEqual(r.returncode, 0, r)
            self.assertEqual(sorted(line.split()[0] for line in r.stdout.splitlines()[1:]), names)
            self.assertNotIn("More cached users", r.stdout + r.stderr)
        finally:
            for name in names:
                try:
                    os.unlink(os.path.join(self.env.cache_dir, name))
                except FileNotFoundError:
                    pass

    def test_root_only(self):
        self.assertEqual(self.env.login("alice").status, 0)
        for args in (("cache", "list"), ("cache", "forget", "alice")):
            r = self.env.ctl(*args, user="alice")
            self.assertEqual(r.returncode, 4, (args, r))
            self.assertEqual(r.stdout, "")
        self.assertIsNotNone(self.env.cached("alice"))


class Sessions(CacheTestCase):
    env_kwargs = {"config": "forget_on_logout = yes\n"}

    def session(self, op):
        r = self.env.pamtester("alice", [], ops=(op,))
        self.assertEqual(r.status, 0, r)

    def open_sessions(self):
        return self.env.ctl("status").stdout.split("open sessions: ")[1].split("\n")[0]

    def test_last_close_forgets(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.session("open_session")
        self.session("open_session")
        self.assertEqual(self.open_sessions(), "2")
        self.session("close_session")
        self.assertEqual(self.open_sessions(), "1")
        self.assertIsNotNone(self.env.cached("alice"), "forgotten before the last close")
        self.session("close_session")
        self.assertEqual(self.open_sessions(), "0")
        self.assertIsNone(self.env.cached("alice"))
        self.assertIn("forgot the cached tokens of alice at logout", self.env.helper.read_log())
        # A stray close (no session open) does not go negative.
        self.session("close_session")
        self.assertEqual(self.open_sessions(), "0")


class Usage(CacheTestCase):

    def test_options_and_exit_codes(self):
        import subprocess
        r = subprocess.run([FREDDYCTL, "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^freddyctl \d")
        r = subprocess.run([FREDDYCTL, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for word in ("token", "status", "cache list", "Exit codes"):
            self.assertIn(word, r.stdout)
        self.assertEqual(self.env.ctl("cache").returncode, 2)
        self.assertEqual(self.env.ctl("cache", "list", "extra").returncode, 2)
        self.assertEqual(self.env.ctl("status", "x").returncode, 2)
        r = subprocess.run([FREDDYCTL, "--socket", os.path.join(self.env.tmp, "nope.sock"), "status"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 3, r)


if __name__ == "__main__":
    main()
