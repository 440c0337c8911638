"""freddyctl 2fa status|setup|enable|disable through the real helper and
the emulator's AIUS API, as real unprivileged users (issue 14).  Each
request is for the caller's own account, uses the durable aius_ token the
helper holds for it (Authorization: Bearer), and never reaches the API
for a caller without a cached login."""

import re

import pexpect

from flowtest import EMULATOR_SECRETS, totp_code
from freddytest import PASSWORDS, main
from selfservice import (CODE_PROMPT, NOT_CACHED, SelfServiceTestCase, totp_from_base32)

STATUS = "GET /api/v1/2fa/status"


class TwoFactor(SelfServiceTestCase):
    env_kwargs = {"api": "aius"}

    def logged_in(self, user):
        r = self.env.aius_login(user)
        self.assertEqual(r.status, 0, r)

    def setup_secret(self, user):
        r = self.env.ctl_as(user, "2fa", "setup")
        self.assertEqual(r.returncode, 0, r)
        uri = re.search(r"^otpauth://\S+$", r.stdout, re.M).group(0)
        secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
        self.assertIn(secret, r.stdout)
        self.assertIn("\u2588", r.stdout)          # drawn as totp enroll draws it
        return secret, r

    def test_status(self):
        self.logged_in("alice")
        self.logged_in("bob")
        r = self.env.ctl_as("alice", "2fa", "status")
        self.assertEqual((r.returncode, r.stdout), (0, "2fa: disabled\n"), r)
        r = self.env.ctl_as("bob", "2fa", "status")
        self.assertEqual((r.returncode, r.stdout), (0, "2fa: enabled\n"), r)
        self.assertEqual(self.env.api_requests().get(STATUS), 2)

    def test_caller_without_a_cached_login_makes_no_request(self):
        self.logged_in("alice")
        self.env.emu.admin("reset", {})           # counters from here on
        for user in ("carol", "root", 3999):      # no login, root without one, a uid without a name
            for args, stdin in ((("2fa", "status"), None), (("2fa", "setup"), None),
                                (("2fa", "enable"), "123456\n"), (("2fa", "disable"), "123456\n")):
                r = self.env.ctl_as(user, *args, stdin=stdin)
                self.assertEqual((r.returncode, r.stdout), (1, ""), (user, args, r))
        self.assertIn(NOT_CACHED, self.env.ctl_as("carol", "2fa", "status").stderr)
        self.assertNoApiRequest()

    def test_setup_enable_disable(self):
        self.logged_in("alice")
        secret, _ = self.setup_secret("alice")
        self.assertEqual(self.env.ctl_as("alice", "2fa", "status").stdout, "2fa: disabled\n")

        r = self.env.ctl_as("alice", "2fa", "enable", stdin="000000\n")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("Invalid two-factor code", r.stderr)
        self.assertEqual(self.env.ctl_as("alice", "2fa", "status").stdout, "2fa: disabled\n")

        r = self.env.ctl_as("alice", "2fa", "enable", stdin=totp_from_base32(secret) + "\n")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Authenticator code: ", r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "2fa: enabled")
        codes = [ln for ln in lines if re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}", ln)]
        self.assertEqual(len(codes), 8, r.stdout)
        # Printed once, kept nowhere.
        cache = self.env.cache_bytes("alice")
        for s in codes + [secret]:
            self.assertNotIn(s.encode(), cache)
        self.assertEqual(self.env.secrets_in_log(codes + [secret]), [])

        # The next login asks for the authenticator's code.
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"]),
                                         (CODE_PROMPT, lambda: totp_from_base32(secret))])
        self.assertEqual(r.status, 0, r)

        r = self.env.ctl_as("alice", "2fa", "disable", stdin=codes[0] + "\n")
        self.assertEqual((r.returncode, r.stdout), (0, "2fa: disabled\n"), r)
        self.assertIn("Authenticator or recovery code: ", r.stderr)
        r = self.env.pamtester("alice", [("Password: ", PASSWORDS["alice"])])
        self.assertEqual(r.status, 0, r)
        self.assertNotIn(CODE_PROMPT, r.transcript)

    def test_disable_with_a_totp_code(self):
        self.logged_in("bob")
        r = self.env.ctl_as("bob", "2fa", "disable", stdin=totp_code(EMULATOR_SECRETS["bob"]) + "\n")
        self.assertEqual((r.returncode, r.stdout), (0, "2fa: disabled\n"), r)

    def test_setup_while_enabled_is_refused(self):
        self.logged_in("bob")
        r = self.env.ctl_as("bob", "2fa", "setup")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("already enabled", r.stderr)

    def test_code_from_the_terminal_with_echo_off(self):
        self.logged_in("alice")
        secret, _ = self.setup_secret("alice")
        argv = self.env.ctl_argv("2fa", "enable", user="alice")
        child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=20)
        child.expect("Authenticator code: ")
        code = totp_from_base32(secret)
        child.sendline(code)
        child.expect(pexpect.EOF)
        child.close()
        self.assertEqual(child.exitstatus, 0, child.before)
        self.assertIn("2fa: enabled", child.before)
        self.assertNotIn(code, child.before)

    def test_revoked_token_is_dropped(self):
        self.logged_in("alice")
        self.env.emu.admin("revoke-durable", {"username": "alice"})
        r = self.env.ctl_as("alice", "2fa", "status")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("no longer valid", r.stderr)
        self.assertIsNone(self.env.cached("alice"))
        r = self.env.ctl_as("alice", "2fa", "status")          # now: nothing cached, no request
        self.assertIn(NOT_CACHED, r.stderr)
        self.assertEqual(self.env.api_requests().get(STATUS), 1)

    def test_api_unreachable(self):
        self.logged_in("alice")
        self.env.emu.admin("config", {"fault": "reset"})
        r = self.env.ctl_as("alice", "2fa", "status")
        self.assertEqual(r.returncode, 3, r)
        self.assertIsNotNone(self.env.cached("alice"))         # kept for later

    def test_server_text_is_sanitised(self):
        self.logged_in("alice")
        self.env.emu.admin("config", {"control_chars": True})
        r = self.env.ctl_as("alice", "2fa", "disable", stdin="000000\n")
        self.assertEqual(r.returncode, 1, r)
        self.assertNotIn("\x1b", r.stdout + r.stderr)

    def test_apikey_is_not_for_aius(self):
        self.logged_in("alice")
        before = self.env.api_requests()
        r = self.env.ctl_as("alice", "apikey", "list")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertEqual(self.env.api_requests(), before)


class NotForOtherProfiles(SelfServiceTestCase):
    env_kwargs = {"api": "jwt"}

    def test_2fa_needs_aius(self):
        r = self.env.jwt_login("alice")
        self.assertEqual(r.status, 0, r)
        self.env.emu.admin("reset", {})
        r = self.env.ctl_as("alice", "2fa", "status")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("aius", r.stderr)
        self.assertNoApiRequest()



class OutsideAllowedGroups(SelfServiceTestCase):
    """allowed_groups, looked up with the caller's account off the event
    loop, applies to self-service as to logins: a user outside is told
    Freddy does not handle the account, before any network call."""
    env_kwargs = {"api": "aius", "config": "allowed_groups = bob\n"}

    def test_outside_is_refused_inside_is_served(self):
        r = self.env.aius_login("bob")
        self.assertEqual(r.status, 0, r)
        before = self.env.api_requests()
        r = self.env.ctl_as("alice", "2fa", "status")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("Freddy does not handle this account", r.stderr)
        self.assertEqual(self.env.api_requests(), before)
        r = self.env.ctl_as("bob", "2fa", "status")
        self.assertEqual((r.returncode, r.stdout), (0, "2fa: enabled\n"), r)


if __name__ == "__main__":
    main()
