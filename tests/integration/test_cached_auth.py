"""Cached re-authentication: within cached_auth_timeout of a full login,
password + a successful token refresh skip the emailed code."""

import time

from cachetest import CacheTestCase
from freddytest import main


class CachedAuth(CacheTestCase):
    env_kwargs = {"config": "cached_auth_timeout = 600\ncached_auth_services = sudo-strict\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        line = cls.env.module_line()
        cls.env.write_service("sudo-strict", "auth required %s\n" % line)
        cls.env.write_service("sudo-test", "auth required %s\n" % line)

    def full_login(self, user="alice"):
        r = self.env.login(user)
        self.assertEqual(r.status, 0, r)
        return self.env.emu.stats()["requests"]

    def test_verifier_is_stored_not_the_password(self):
        self.full_login()
        rec = self.env.cached("alice")
        self.assertTrue(rec["verifier"].startswith("$y$"), rec["verifier"])
        self.assertNotIn(b"Correct-Horse-1", self.env.cache_bytes("alice"))
        self.assertAlmostEqual(rec["last_online"], time.time(), delta=30)

    def test_within_the_window_skips_the_code(self):
        self.full_login()
        mark = self.env.log_mark()
        r = self.env.password_login("alice", "Correct-Horse-1", service="sudo-test")
        self.assertEqual(r.status, 0, r)
        self.assertNotIn("code", r.transcript)
        stats = self.env.emu.stats()["requests"]
        self.assertEqual(stats.get("POST /v1/auth/login"), 1)     # the full login only
        self.assertEqual(stats.get("POST /v1/auth/refresh"), 1)   # revocation checked
        self.assertEqual(self.env.emu.codes_sent(), 1)
        self.assertIn("cached re-authentication of alice for service sudo-test",
                      self.env.log_lines_since(mark))

    def test_wrong_password_gets_no_shortcut(self):
        self.full_login()
        r = self.env.password_login("alice", "Wrong-Horse", service="sudo-test")
        self.assertNotEqual(r.status, 0, r)
        stats = self.env.emu.stats()["requests"]
        self.assertEqual(stats.get("POST /v1/auth/login"), 2)     # asked the API normally
        self.assertEqual(stats.get("POST /v1/auth/refresh", 0), 0)

    def test_after_the_window_the_code_is_needed(self):
        self.full_login()
        self.env.rewrite_cache("alice", last_login=int(time.time()) - 601)
        r = self.env.login("alice", service="sudo-test")
        self.assertEqual(r.status, 0, r)
        self.assertIn("Code emailed to", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 0)
        # That full login opens a new window.
        self.assertAlmostEqual(self.env.cached("alice")["last_login"], time.time(), delta=30)
        r = self.env.password_login("alice", "Correct-Horse-1", service="sudo-test")
        self.assertEqual(r.status, 0, r)

    def test_revoked_account_is_refused_at_once(self):
        self.full_login()
        self.env.emu.admin("revoke", {"username": "alice"})
        r = self.env.password_login("alice", "Correct-Horse-1", service="sudo-test")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("no longer valid", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 1)
        self.assertIsNone(self.env.cached("alice"))

    def test_opted_out_service_needs_the_code(self):
        self.full_login()
        r = self.env.login("alice", service="sudo-strict")
        self.assertEqual(r.status, 0, r)
        self.assertIn("Code emailed to", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 0)

    def test_api_unreachable_falls_back_to_the_full_flow(self):
        self.full_login()
        self.env.emu.admin("config", {"fault": "reset"})
        r = self.env.password_login("alice", "Correct-Horse-1", service="sudo-test")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertIsNotNone(self.env.cached("alice"))

    def test_forged_last_login_in_the_future(self):
        self.full_login()
        self.env.rewrite_cache("alice", last_login=int(time.time()) + 3600)
        r = self.env.login("alice", service="sudo-test")
        self.assertEqual(r.status, 0, r)
        self.assertIn("Code emailed to", r.transcript)


class CachedAuthOff(CacheTestCase):

    def test_default_is_off(self):
        self.assertEqual(self.env.login("alice").status, 0)
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)
        self.assertIn("Code emailed to", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 0)


if __name__ == "__main__":
    main()
