"""AIUS: one durable aius_ token per user, kept and checked (issue 14).

After an AIUS login the helper holds a durable token minted from the
session (POST /v1/tokens, the session in the __Host-aius_session cookie,
token_name "pam_freddy HOST"), keeps it while it works, caches it like the
other profiles' refresh tokens, and hands it to its owner through
freddyctl token.  Cached re-authentication checks it at GET /v1/2fa/status
first; a revoked one means the full login."""

import os
import socket
import stat
import time

from flowtest import EMULATOR_SECRETS, totp_code
from freddytest import PASSWORDS, main
from selfservice import CODE_PROMPT, NOT_CACHED, SelfServiceTestCase

TOKENS = "POST /api/v1/tokens"
STATUS = "GET /api/v1/2fa/status"


class DurableToken(SelfServiceTestCase):
    env_kwargs = {"api": "aius"}

    def token_of(self, user):
        rec = self.env.cached(user)
        return rec and rec.get("refresh_token")

    def test_login_mints_one_token_and_caches_it(self):
        r = self.env.aius_login("alice")
        self.assertEqual(r.status, 0, r)
        stats = self.env.emu.stats()
        self.assertEqual(stats["requests"].get(TOKENS), 1)
        self.assertEqual(stats["aius_tokens"], {"alice": 1})
        self.assertEqual(stats["aius_token_names"], {"alice": ["pam_freddy %s" % socket.gethostname()]})
        token = self.token_of("alice")
        self.assertTrue(token.startswith("aius_"), token)
        self.assertNotIn("access_token", self.env.cached("alice"))
        st = os.stat(self.env.cache_path("alice"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(self.env.secrets_in_log([token]), [])

    def test_two_factor_login_mints_too(self):
        r = self.env.aius_login("bob")
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.stats()["aius_tokens"], {"bob": 1})

    def test_next_login_keeps_a_working_token(self):
        self.assertEqual(self.env.aius_login("alice").status, 0)
        first = self.token_of("alice")
        self.assertEqual(self.env.aius_login("alice").status, 0)
        self.assertEqual(self.token_of("alice"), first)
        requests = self.env.api_requests()
        self.assertEqual(requests.get(TOKENS), 1)          # never one token per login
        self.assertEqual(requests.get(STATUS), 1)          # the kept one was checked
        self.assertEqual(self.env.emu.stats()["aius_tokens"], {"alice": 1})

    def test_a_refused_token_is_replaced_at_the_next_login(self):
        self.assertEqual(self.env.aius_login("alice").status, 0)
        first = self.token_of("alice")
        self.env.emu.admin("revoke-durable", {"username": "alice"})
        self.assertEqual(self.env.aius_login("alice").status, 0)
        second = self.token_of("alice")
        self.assertNotEqual(second, first)
        self.assertEqual(self.env.api_requests().get(TOKENS), 2)

    def test_mint_failure_does_not_fail_the_login(self):
        self.env.emu.admin("config", {"fault": "status", "fault_status": 503,
                                      "fault_paths": ["/api/v1/tokens"]})
        r = self.env.aius_login("alice")
        self.assertEqual(r.status, 0, r)
        self.assertIsNone(self.token_of("alice"))

    def test_freddyctl_token_prints_it_for_its_owner(self):
        self.assertEqual(self.env.aius_login("alice").status, 0)
        token = self.token_of("alice")
        before = self.env.api_requests()
        r = self.env.ctl("token", user="alice")
        self.assertEqual((r.returncode, r.stdout), (0, token + "\n"), r)
        self.assertEqual(self.env.api_requests(), before)   # no refresh: it does not expire
        for other in ("bob", "root", 3999):
            r = self.env.ctl("token", user=other)
            self.assertEqual(r.returncode, 1, (other, r))
            self.assertNotIn(token, r.stdout + r.stderr)
        self.assertIn(NOT_CACHED, self.env.ctl("token", user="bob").stderr)

    def test_no_token_without_a_login(self):
        r = self.env.ctl("token", user="carol")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(NOT_CACHED, r.stderr)
        self.assertNoApiRequest()


class CachedReauthentication(SelfServiceTestCase):
    env_kwargs = {"api": "aius", "config": "cached_auth_timeout = 600\n"}

    def test_within_the_window_the_code_is_skipped_after_a_check(self):
        self.assertEqual(self.env.aius_login("bob").status, 0)
        r = self.env.aius_login("bob", code=False)
        self.assertEqual(r.status, 0, r)
        self.assertNotIn(CODE_PROMPT, r.transcript)
        requests = self.env.api_requests()
        self.assertEqual(requests.get("POST /api/v1/login"), 1)      # the full login only
        self.assertEqual(requests.get("POST /api/v1/2fa/login"), 1)
        self.assertEqual(requests.get(STATUS), 1)                    # checked right then

    def test_revoked_token_falls_back_to_the_full_login(self):
        self.assertEqual(self.env.aius_login("bob").status, 0)
        first = self.env.cached("bob")["refresh_token"]
        self.env.emu.admin("revoke-durable", {"username": "bob"})
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"]),
                                       (CODE_PROMPT, lambda: totp_code(EMULATOR_SECRETS["bob"]))])
        self.assertEqual(r.status, 0, r)                   # the code was asked again
        requests = self.env.api_requests()
        self.assertEqual(requests.get(STATUS), 1)          # 401: revoked
        self.assertEqual(requests.get("POST /api/v1/login"), 2)
        self.assertEqual(requests.get(TOKENS), 2)          # a new one for the new login
        self.assertNotEqual(self.env.cached("bob")["refresh_token"], first)

    def test_wrong_password_gets_no_shortcut(self):
        self.assertEqual(self.env.aius_login("bob").status, 0)
        r = self.env.pamtester("bob", [("Password: ", "not-his")])
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual(self.env.api_requests().get(STATUS, 0), 0)

    def test_after_the_window_the_code_is_needed(self):
        self.assertEqual(self.env.aius_login("bob").status, 0)
        self.env.rewrite_cache("bob", last_login=int(time.time()) - 601)
        r = self.env.aius_login("bob")
        self.assertEqual(r.status, 0, r)
        self.assertIn(CODE_PROMPT, r.transcript)


OUTAGE_S = 2


class OfflineLogin(SelfServiceTestCase):
    # As test_offline_login.py: password alone (no local TOTP secret), and
    # only once the outage has lasted offline_after.
    env_kwargs = {"api": "aius", "config": "offline_login = yes\noffline_password_only = yes\n"
                                           "offline_after = %d\n" % OUTAGE_S}

    def test_offline_as_for_the_other_profiles(self):
        self.assertEqual(self.env.aius_login("alice").status, 0)
        self.env.emu.admin("config", {"fault": "reset"})
        r = self.env.pamtester("carol", [("Password: ", "any")])   # meets the outage first
        self.assertNotEqual(r.status, 0, r)
        time.sleep(OUTAGE_S + 0.3)
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"])])
        self.assertEqual(r.status, 0, r)
        self.assertIn("OFFLINE login for user=alice", self.env.helper.read_log())
        r = self.env.pamtester("alice", [("Password: ", "wrong")])
        self.assertNotEqual(r.status, 0, r)


if __name__ == "__main__":
    main()
