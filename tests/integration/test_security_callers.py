"""Who may ask the helper what: root callers may authenticate anyone, a
non-root caller (screen locker, polkit agent) only its own account; users
outside allowed_groups are "not mine" (PAM_IGNORE); failures are throttled
per target user and per non-root caller, across restarts.

The helper runs as root with nss_wrapper, so "alice" is a local account
with nobody's uid; pamtester runs as nobody through setpriv."""

import os
import stat
import time

from freddytest import MODULE, FreddyEnv, FreddyTestCase, main, read_text, wait_for
import security


def make_env(config="", services=None):
    env = FreddyEnv(config=config, start_helper=False, services=services)
    env.helper.env = security.write_nss_files(env.tmp)
    security.open_for_nobody(env)
    env.helper.start(wait_socket=env.socket)
    return env


class NssTestCase(FreddyTestCase):
    config = ""
    services = None

    @classmethod
    def setUpClass(cls):
        cls.env = make_env(cls.config, cls.services)

    def login_as_nobody(self, user, **kw):
        return self.env.login(user, prefix=security.as_nobody(), **kw)


class NonRootCaller(NssTestCase):

    def test_own_account_is_allowed(self):
        r = self.login_as_nobody("alice")
        self.assertEqual(r.status, 0, r)
        self.assertIn("caller_uid=%d" % security.NOBODY_UID, self.env.helper.read_log())

    def test_other_account_is_refused_before_any_network_call(self):
        r = self.env.pamtester("bob", [], prefix=security.as_nobody())
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("Password", r.transcript)
        self.assertIn("Permission denied", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.assertIn("refusing a login for bob from uid %d: a non-root caller may authenticate "
                      "only its own account" % security.NOBODY_UID, self.env.helper.read_log())

    def test_user_without_local_account_is_refused(self):
        # carol exists at the API but not locally: no uid the caller could own.
        r = self.env.pamtester("carol", [], prefix=security.as_nobody())
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Permission denied", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)

    def test_root_caller_may_authenticate_any_local_account(self):
        r = self.env.login("bob")
        self.assertEqual(r.status, 0, r)

    def test_root_caller_naming_no_local_account_reaches_no_api(self):
        # carol has an API account but none here: an ssh stranger's guess
        # at her name must not spend her budget at the API.  The password
        # prompt still shows, so the stranger cannot tell either way.
        r = self.env.pamtester("carol", [("Password: ", "Carol-Pass-3")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid user name or password", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.assertIn("refusing a login for carol (rhost -): no local account; nothing sent to the API",
                      self.env.helper.read_log())


class CallerRateLimit(NssTestCase):
    config = "rate_limit_failures = 3\nrate_limit_delay = 60\n"

    def test_caller_is_throttled_separately_from_users(self):
        for _ in range(3):
            r = self.env.pamtester("bob", [], prefix=security.as_nobody())
            self.assertIn("Permission denied", r.transcript)
        # alice never failed, but her caller did: refused without a request.
        r = self.env.pamtester("alice", [], prefix=security.as_nobody())
        self.assertNotEqual(r.status, 0, r)
        self.assertRegex(r.transcript, r"Too many failed attempts; try again in (59|60) s")
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.assertIn("that caller is rate-limited", self.env.helper.read_log())
        # The user herself is not throttled: root (sshd) may still log her in.
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)


class UserRateLimit(NssTestCase):
    config = "rate_limit_failures = 2\nrate_limit_delay = 3\n"

    def fail(self, user="alice"):
        r = self.env.pamtester(user, [("Password: ", "wrong")])
        self.assertIn("Invalid email or password", r.transcript)

    def test_growing_delay_survives_a_restart(self):
        self.fail()
        self.fail()
        r = self.env.pamtester("alice", [])
        self.assertNotEqual(r.status, 0, r)
        self.assertRegex(r.transcript, r"Too many failed attempts; try again in [23] s")
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 2)
        # Another user is not affected.
        self.fail("bob")

        # The state is a private dot-file in cache_dir and outlives the helper.
        path = os.path.join(self.env.cache_dir, ".ratelimit")
        # Written behind, within about a second, never on the event loop.
        wait_for(lambda: "user:alice 2 " in (read_text(path) or ""), what="the rate-limit file")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.env.helper.stop()
        self.env.helper.start(wait_socket=self.env.socket)
        r = self.env.pamtester("alice", [])
        self.assertRegex(r.transcript, r"Too many failed attempts; try again in [123] s")

        # After the delay one more failure doubles it.
        time.sleep(3.2)
        self.fail()
        r = self.env.pamtester("alice", [])
        self.assertRegex(r.transcript, r"Too many failed attempts; try again in [56] s")
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 4)

    def test_zz_success_clears_the_counter(self):
        time.sleep(6.2)		# after the test above, whatever it left
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)
        self.fail()
        r = self.env.login("alice")	# one failure since the success: no wait
        self.assertEqual(r.status, 0, r)


class AllowedGroups(NssTestCase):
    config = "allowed_groups = freddy\n"

    @classmethod
    def setUpClass(cls):
        cls.env = make_env(cls.config)
        line = cls.env.module_line()
        # sufficient + pam_deny: IGNORE must fall through to the deny.
        cls.env.write_service("suff", "auth sufficient %s\nauth required pam_deny.so\n" % line)
        # ignore=ignore + pam_permit: shows the result really is PAM_IGNORE.
        cls.env.write_service("ign", "auth [success=done ignore=ignore default=die] %s\n"
                              "auth required pam_permit.so\n" % line)

    def test_member_is_asked(self):
        r = self.env.login("alice", service="suff")
        self.assertEqual(r.status, 0, r)

    def test_outsider_is_ignored_so_sufficient_stays_safe(self):
        r = self.env.pamtester("bob", [], service="suff")
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("Password", r.transcript)
        self.assertIn("Authentication failure", r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.assertIn("bob is not in allowed_groups", self.env.helper.read_log())

    def test_outsider_gets_pam_ignore(self):
        r = self.env.pamtester("bob", [], service="ign")
        self.assertEqual(r.status, 0, r)	# only pam_permit decided
        r = self.env.pamtester("carol", [], service="ign")	# no local account at all
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


if __name__ == "__main__":
    main()
