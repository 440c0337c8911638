"""api = jwt: POST /auth/login {username, password} -> token and
refreshToken (cached); POST /auth/logout with the Bearer token when the
user's last PAM session closes (refreshing an expired token first);
optional local TOTP (second_factor = totp) with codes from oathtool."""

import os
import time

import cachefile
from flowtest import FlowEnv, FlowTestCase, totp_code, wait_for_fresh_step
from freddytest import PASSWORDS, main, wait_for

CODE_PROMPT = "Authenticator code: "


class JwtLogin(FlowTestCase):
    # zoe has a local account but none at the API.
    env_kwargs = {"api": "jwt", "local_accounts": {"alice": 2001, "bob": 2002, "carol": 2003, "zoe": 2004}}

    def cache_path(self, user="alice"):
        return self.env.cache_file(user)

    def setUp(self):
        super().setUp()
        for user in ("alice", "bob"):
            if os.path.exists(self.cache_path(user)):
                os.unlink(self.cache_path(user))

    def login(self, user="alice", password=None, ops=("authenticate",)):
        return self.env.pamtester(user, [("Password: ", PASSWORDS.get(user, "x")
                                          if password is None else password)], ops=ops)

    def logouts(self):
        return self.env.emu.stats()["logouts"]

    def test_login_caches_token_and_refresh_token(self):
        r = self.login()
        self.assertEqual(r.status, 0, r)
        self.assertNotIn(CODE_PROMPT, r.transcript)
        self.assertEqual(self.env.emu.requests("POST /api/v1/auth/login"), 1)
        cached = cachefile.read_record(self.cache_path())
        self.assertTrue(cached["refresh_token"])
        self.assertTrue(cached["access_token"])

    def test_wrong_password_and_unknown_user(self):
        r = self.login(password="wrong")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid credentials", r.transcript)
        r = self.env.pamtester("zoe", [("Password: ", "whatever")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("User not found", r.transcript)
        self.assertFalse(os.path.exists(self.cache_path()))

    def test_wrong_types_in_the_login_reply_never_pass(self):
        self.env.emu.admin("config", {"fault": "wrongtypes", "fault_paths": ["/api/v1/auth/login"]})
        r = self.login()
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertFalse(os.path.exists(self.cache_path()))

    def test_logout_sent_when_the_session_closes(self):
        r = self.login(ops=("authenticate", "open_session", "close_session"))
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: self.logouts() == ["alice"], what="logout of alice")
        self.assertEqual(self.env.emu.requests("POST /api/v1/auth/refresh"), 0)
        wait_for(lambda: "jwt: logged alice out of the API" in self.env.helper.read_log(),
                 what="logout logged")
        # The API ended those tokens: the cache no longer offers them.
        self.assertFalse(os.path.exists(self.cache_path()))

    def test_logout_only_when_the_last_session_closes(self):
        r = self.login(ops=("authenticate", "open_session"))
        self.assertEqual(r.status, 0, r)
        r = self.env.pamtester("alice", [], ops=("open_session", "close_session"))
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.logouts(), [])
        r = self.env.pamtester("alice", [], ops=("close_session",))
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: self.logouts() == ["alice"], what="logout of alice")

    def test_expired_access_token_is_refreshed_before_logout(self):
        self.assertEqual(self.login().status, 0)
        cachefile.rewrite(self.cache_path(), access_expires=1)
        r = self.env.pamtester("alice", [], ops=("open_session", "close_session"))
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: self.logouts() == ["alice"], what="logout of alice")
        self.assertEqual(self.env.emu.requests("POST /api/v1/auth/refresh"), 1)

    def test_no_cached_token_no_logout(self):
        r = self.env.pamtester("bob", [], ops=("open_session", "close_session"))
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: "no cached token for bob; no logout sent" in self.env.helper.read_log(),
                 what="log line")
        self.assertEqual(self.env.emu.requests("POST /api/v1/auth/logout"), 0)

    def test_refused_logout_is_logged(self):
        self.assertEqual(self.login().status, 0)
        self.env.emu.admin("revoke", {"username": "alice"})
        r = self.env.pamtester("alice", [], ops=("open_session", "close_session"))
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: "jwt: logout of alice refused: HTTP 401" in self.env.helper.read_log(),
                 what="refused logout logged")


class JwtLogoutAtShutdown(FlowTestCase):
    """Stops and restarts the helper: a class (an environment) of its own."""
    env_kwargs = {"api": "jwt"}

    def test_logout_in_flight_when_the_helper_stops_is_released(self):
        # A logout belongs to no PAM request any more; when the helper stops
        # while the API still holds it, its callback runs so its copies of
        # the tokens are wiped and freed (they leaked before).
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"])])
        self.assertEqual(r.status, 0, r)
        self.env.emu.admin("config", {"fault": "hang", "fault_paths": ["/api/v1/auth/logout"]})
        r = self.env.pamtester("alice", [], ops=("open_session", "close_session"))
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: self.env.emu.requests("POST /api/v1/auth/logout") == 1, what="logout sent")
        try:
            self.assertEqual(self.env.helper.stop(), 0)
            self.assertIn("jwt: logout of alice not sent: failed (the helper is shutting down)",
                          self.env.helper.read_log())
        finally:
            self.env.emu.admin("config", {"fault": None})
            if os.path.exists(self.env.socket):
                os.unlink(self.env.socket)
            self.env.helper.start(wait_socket=self.env.socket)


class JwtTotp(FlowTestCase):
    env_kwargs = {"api": "jwt", "enroll": ("alice",),
                  "config": "second_factor = totp\ntotp_users_file = {totp_users_file}\n"
                            "totp_window = 0\n"}

    def test_window_zero_refuses_the_previous_step(self):
        secret = self.env.secrets["alice"]
        old = lambda: totp_code(secret, offset=-30)
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         (CODE_PROMPT, old),
                                         ("2 attempts left", lambda: totp_code(secret))])
        self.assertEqual(r.status, 0, r)

    def test_totp_accepted(self):
        secret = self.env.secrets["alice"]
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         (CODE_PROMPT, lambda: totp_code(secret))])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /api/v1/auth/login"), 1)

    def test_wrong_totp_refused(self):
        secret = self.env.secrets["alice"]
        cached = self.env.cache_file("alice")
        if os.path.exists(cached):
            os.unlink(cached)
        wrong = lambda: "%06d" % ((int(totp_code(secret)) + 1) % 1000000)
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         (CODE_PROMPT, wrong),
                                         ("Invalid code, 2 attempts left", wrong),
                                         ("Invalid code, 1 attempt left", wrong)])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid code, no attempts left", r.transcript)
        # The password was right: the API session it opened is ended, and
        # nothing is cached.
        wait_for(lambda: self.env.emu.stats()["logouts"] == ["alice"], what="logout of alice")
        self.assertFalse(os.path.exists(cached))
        wait_for(lambda: "ended the API session of alice's refused login" in self.env.helper.read_log(),
                 what="log line")

    def test_replayed_code_refused(self):
        secret = self.env.secrets["alice"]
        used = {}
        # With totp_window = 0, a code from the step before is only wrong,
        # not "already used".
        wait_for_fresh_step()

        def first():
            used["code"] = totp_code(secret)
            return used["code"]
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]), (CODE_PROMPT, first)])
        self.assertEqual(r.status, 0, r)
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         (CODE_PROMPT, lambda: used["code"]),
                                         ("already used.*\r?\n.*2 attempts left", ""),
                                         ("1 attempt left", "")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid code, no attempts left", r.transcript)



class JwtTotpCachedAndOffline(FlowTestCase):
    """The jwt flow shares the password step with Freddy's: cached
    re-authentication skips the local TOTP, offline login checks it."""
    env_kwargs = {"api": "jwt", "enroll": ("alice",),
                  "config": "second_factor = totp\ntotp_users_file = {totp_users_file}\n"
                            "cached_auth_timeout = 600\noffline_login = yes\noffline_after = 2\n"}

    def full_login(self):
        secret = self.env.secrets["alice"]
        self.env.forget_replay_state()
        cached = self.env.cache_file("alice")
        if os.path.exists(cached):
            os.unlink(cached)       # else this login would itself be a cached one
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         (CODE_PROMPT, lambda: totp_code(secret))])
        self.assertEqual(r.status, 0, r)

    def test_cached_reauthentication_skips_the_code(self):
        self.full_login()
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"])])
        self.assertEqual(r.status, 0, r)
        self.assertNotIn(CODE_PROMPT, r.transcript)
        self.assertEqual(self.env.emu.requests("POST /api/v1/auth/refresh"), 1)
        self.assertEqual(self.env.emu.requests("POST /api/v1/auth/login"), 1)

    def test_revoked_account_is_refused_at_once(self):
        self.full_login()
        self.env.emu.admin("revoke", {"username": "alice"})
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"])])
        self.assertNotEqual(r.status, 0, r)

    def test_offline_login_asks_for_the_local_code(self):
        self.full_login()
        self.env.emu.admin("config", {"fault": "reset"})
        secret = self.env.secrets["alice"]
        self.env.forget_replay_state()
        # An outage that has lasted offline_after: the first attempt meets
        # it fresh and is refused.
        r = self.env.pamtester("alice", [("Password: ", "not-this-one")])
        self.assertNotEqual(r.status, 0, r)
        time.sleep(2.3)
        # Outside the cached window's reach: the refresh fails too, so the
        # helper falls back to the login request, which is unreachable.
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         ("Authenticator code \\(offline login\\): ",
                                          lambda: totp_code(secret))])
        self.assertEqual(r.status, 0, r)
        self.assertIn("offline login", r.transcript)


if __name__ == "__main__":
    main()
