"""Offline login: the API cannot be reached (connection reset or refused)
and has not been for offline_after seconds, the user logged in online
recently, the password matches the cached verifier, and a local TOTP code
is checked; password alone only with offline_password_only."""

import os
import subprocess
import time

from cachetest import CacheEnv, CacheTestCase
from freddytest import PASSWORDS, main

BOB_SECRET = "3132333435363738393031323334353637383930"


def totp(secret_hex, offset=0):
    return subprocess.run(["oathtool", "--totp", "-N", "@%d" % (int(time.time()) + offset),
                           secret_hex], capture_output=True, text=True, check=True).stdout.strip()


OUTAGE_S = 2


def start_outage(env, user="carol"):
    """A login that meets the outage first (refused: one failure is no
    outage), then wait until it has lasted offline_after."""
    r = env.password_login(user, "any")
    assert r.status != 0, r
    time.sleep(OUTAGE_S + 0.3)
    return r


class Offline(CacheTestCase):
    env_kwargs = {"config": "offline_login = yes\noffline_password_only = yes\noffline_days = 2\n"
                            "offline_max_failures = 3\noffline_after = %d\n" % OUTAGE_S}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = os.path.join(cls.env.tmp, "totp-users")
        with open(users, "w") as f:
            f.write("HOTP/T30 bob - %s\n" % BOB_SECRET)
        os.chmod(users, 0o600)
        with open(cls.env.helper.config, "a") as f:
            f.write("totp_users_file = %s\n" % users)
        cls.env.restart_helper()

    def go_offline(self):
        self.env.emu.admin("config", {"fault": "reset"})
        start_outage(self.env)

    def test_password_only_when_no_totp_is_enrolled(self):
        self.assertEqual(self.env.login("carol").status, 0)
        self.go_offline()
        mark = self.env.log_mark()
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertEqual(r.status, 0, r)
        self.assertIn("Freddy is unreachable: offline login", r.transcript)
        self.assertIn("OFFLINE login for user=carol", self.env.log_lines_since(mark))

    def test_wrong_password_refused_and_rate_limited(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.go_offline()
        for _ in range(3):
            r = self.env.password_login("alice", "Not-The-Password")
            self.assertNotEqual(r.status, 0, r)
            self.assertIn("Offline login failed", r.transcript)
        r = self.env.password_login("alice", PASSWORDS["alice"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Too many failed offline logins", r.transcript)
        self.assertIn("offline login FAILED for user=alice", self.env.helper.read_log())

    def test_totp_user_needs_a_code(self):
        self.assertEqual(self.env.login("bob").status, 0)
        self.go_offline()
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"]),
                                       ("Authenticator code \\(offline login\\): ", "000000")])
        self.assertNotEqual(r.status, 0, r)
        code = totp(BOB_SECRET)
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"]),
                                       ("Authenticator code \\(offline login\\): ", code)])
        self.assertEqual(r.status, 0, r)
        # The same code again is a replay.
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"]),
                                       ("Authenticator code \\(offline login\\): ", code)])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("code already used", self.env.helper.read_log())

    def test_untrusted_totp_file_is_no_reason_to_skip_the_code(self):
        # A users file others can read is not trusted; offline login must
        # then refuse rather than treat bob as "no TOTP enrolled".
        self.assertEqual(self.env.login("bob").status, 0)
        self.go_offline()
        users = os.path.join(self.env.tmp, "totp-users")
        os.chmod(users, 0o644)
        try:
            r = self.env.password_login("bob", PASSWORDS["bob"])
        finally:
            os.chmod(users, 0o600)
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertNotIn("offline login with your password", r.transcript)

    def test_too_long_ago(self):
        self.assertEqual(self.env.login("carol").status, 0)
        self.env.rewrite_cache("carol", last_online=int(time.time()) - 3 * 86400)
        self.go_offline()
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)

    def test_server_errors_are_not_offline(self):
        # A 5xx answer, or a 4xx, comes from a server that is there.
        self.assertEqual(self.env.login("carol").status, 0)
        self.env.emu.admin("config", {"fault": "status", "fault_status": 503})
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertNotIn("offline", r.transcript)

    def test_never_logged_in_online(self):
        self.go_offline()
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)


class OfflineRefused(CacheTestCase):
    """Connection refused (the API is down), and offline_login left off."""

    def test_off_by_default(self):
        self.assertEqual(self.env.login("carol").status, 0)
        self.env.emu.stop()
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)


class OfflineApiDown(CacheTestCase):
    env_kwargs = {"config": "offline_login = yes\noffline_password_only = yes\noffline_after = %d\n"
                  % OUTAGE_S}

    def test_connection_refused(self):
        self.assertEqual(self.env.login("carol").status, 0)
        self.env.emu.stop()
        # The first login meets a fresh outage: unavailable, not offline.
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertIn("not yet for offline_after", self.env.helper.read_log())
        time.sleep(OUTAGE_S + 0.3)
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertEqual(r.status, 0, r)
        self.assertIn("offline login", r.transcript)


class OfflineNeedsASecondFactor(CacheTestCase):
    """offline_login = yes alone: a user with no local TOTP waits for Freddy."""
    env_kwargs = {"config": "offline_login = yes\noffline_after = %d\n" % OUTAGE_S}

    def test_password_alone_is_not_enough(self):
        self.assertEqual(self.env.login("carol").status, 0)
        self.env.emu.admin("config", {"fault": "reset"})
        start_outage(self.env)
        r = self.env.password_login("carol", PASSWORDS["carol"])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertNotIn("offline login with your password", r.transcript)
        self.assertIn("no TOTP secret", self.env.helper.read_log())


if __name__ == "__main__":
    main()
