"""Fail closed, with the right code.  fail_mode=secure (the default): helper
down, API unreachable, TLS failure -> PAM_AUTHINFO_UNAVAIL.  fail_mode=safe:
PAM_IGNORE in exactly those cases, never PAM_SUCCESS, logged loudly.  A
config that cannot be read or that others could write keeps the helper
from starting."""

import os
import socket
import subprocess

from freddytest import FreddyEnv, FreddyTestCase, main
import security

UNAVAIL = "Authentication service cannot retrieve authentication info"
EX_CONFIG = 78


def add_stacks(env, module_args):
    line = env.module_line(module_args)
    # ignore=ignore + pam_permit: success here proves the module said IGNORE;
    # any other code from the module ends the stack with that code.
    env.write_service("ign", "auth [success=done ignore=ignore default=die] %s\n"
                      "auth required pam_permit.so\n" % line)
    env.write_service("req", "auth required %s\n" % line)


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()		# nothing listens there now
    return port


class HelperDownSecure(FreddyTestCase):
    env_kwargs = {"start_helper": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_stacks(cls.env, "debug")

    def test_authinfo_unavail(self):
        r = self.env.pamtester("alice", [], service="ign")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn(UNAVAIL, r.transcript)


class HelperDownSafe(FreddyTestCase):
    env_kwargs = {"start_helper": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_stacks(cls.env, "debug fail_mode=safe")

    def test_ignore_never_success(self):
        with security.PamDebugLevel(1):
            r = self.env.pamtester("alice", [], service="ign")
        self.assertEqual(r.status, 0, r)	# IGNORE, then pam_permit
        # loud: pam_wrapper shows pam_syslog lines on stderr
        self.assertIn("fail_mode=safe: returning PAM_IGNORE", r.transcript)
        r = self.env.pamtester("alice", [], service="req")
        self.assertNotEqual(r.status, 0, r)	# alone it admits nobody

    def test_user_name_cannot_forge_a_log_line(self):
        # The session hook logs the user when the helper is down; a newline
        # in PAM_USER must not start a line of its own in syslog.
        forged = "mallory\nfreddy-helperd: FORGED login success for root"
        with security.PamDebugLevel(1):
            r = self.env.pamtester(forged, [], ops=("open_session",))
        # pamtester echoes the name itself first; look after that.
        logged = r.transcript.split("performing operation", 1)[1]
        lines = [l for l in logged.splitlines() if "FORGED" in l]
        self.assertTrue(lines, r)
        for line in lines:
            self.assertIn("session open for mallory freddy-helperd: FORGED", line, r)


def unreachable_env(extra):
    return {"config": "api_url = https://127.0.0.1:%d/v1\ntimeout = 3\n%s" % (dead_port(), extra)}


class ApiUnreachableSecure(FreddyTestCase):
    env_kwargs = unreachable_env("")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_stacks(cls.env, "debug")

    def test_authinfo_unavail(self):
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")], service="ign")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn(UNAVAIL, r.transcript)


class ApiUnreachableSafe(FreddyTestCase):
    env_kwargs = unreachable_env("fail_mode = safe\n")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_stacks(cls.env, "debug")

    def test_ignore_logged_loudly(self):
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")], service="ign")
        self.assertEqual(r.status, 0, r)
        self.assertIn("fail_mode=safe lets the PAM stack decide without Freddy for user=alice",
                      self.env.helper.read_log())
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")], service="req")
        self.assertNotEqual(r.status, 0, r)

    def test_safe_does_not_soften_a_wrong_password(self):
        # Only "cannot decide" becomes IGNORE; a refusal stays a refusal.
        # (The API is down here, so use the caller rule's refusal instead.)
        r = self.env.pamtester("../x", [], service="ign")
        self.assertNotEqual(r.status, 0, r)


class TlsFailureSafe(FreddyTestCase):
    env_kwargs = {"cert": "untrusted", "config": "fail_mode = safe\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        security.trust_any_emulator_cert(cls.env)
        add_stacks(cls.env, "debug")

    def test_tls_failure_is_ignore_not_success(self):
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")], service="ign")
        self.assertEqual(r.status, 0, r)
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")], service="req")
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)


class SafeModeWrongPassword(FreddyTestCase):
    env_kwargs = {"config": "fail_mode = safe\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add_stacks(cls.env, "debug fail_mode=safe")

    def test_wrong_password_is_still_a_failure(self):
        r = self.env.pamtester("alice", [("Password: ", "wrong")], service="ign")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication failure", r.transcript)


class BadConfig(FreddyTestCase):
    env_kwargs = {"start_helper": False}

    def run_helper(self, config_text=None, mode=0o600, owner=None):
        h = self.env.helper
        if config_text is not None:
            with open(h.config, "w") as f:
                f.write(config_text)
        os.chmod(h.config, mode)
        if owner is not None:
            os.chown(h.config, owner, -1)
        try:
            rc, out = h.run_to_exit(timeout=10)
        finally:
            os.chown(h.config, 0, -1)
            os.chmod(h.config, 0o600)
        self.assertFalse(os.path.exists(self.env.socket), out)
        return rc, out

    def test_good_config_starts(self):
        rc, out = self.env.helper.run_to_exit(extra_args=("--check-config",))
        self.assertEqual(rc, 0, out)

    def test_unknown_key_refused(self):
        rc, out = self.run_helper(self.env.config_text + "fail_mode = safe\nopen_door = yes\n")
        self.assertEqual(rc, EX_CONFIG, out)
        self.assertIn("open_door", out)

    def test_bad_value_refused(self):
        rc, out = self.run_helper(self.env.config_text + "fail_mode = open\n")
        self.assertEqual(rc, EX_CONFIG, out)

    def test_unreadable_config_refused(self):
        h = self.env.helper
        os.rename(h.config, h.config + ".away")
        try:
            rc, out = h.run_to_exit(timeout=10)
        finally:
            os.rename(h.config + ".away", h.config)
        self.assertEqual(rc, EX_CONFIG, out)
        self.assertFalse(os.path.exists(self.env.socket))

    def test_world_writable_config_refused(self):
        rc, out = self.run_helper(self.env.config_text, mode=0o666)
        self.assertEqual(rc, EX_CONFIG, out)

    def test_group_writable_config_refused(self):
        rc, out = self.run_helper(self.env.config_text, mode=0o620)
        self.assertEqual(rc, EX_CONFIG, out)

    def test_config_owned_by_another_user_refused(self):
        rc, out = self.run_helper(self.env.config_text, owner=65534)
        self.assertEqual(rc, EX_CONFIG, out)

    def test_reload_keeps_running_config(self):
        # SIGHUP with a broken file: the running (good) settings stay.
        h = self.env.helper
        h.start(wait_socket=self.env.socket)
        try:
            with open(h.config, "a") as f:
                f.write("bogus_key = 1\n")
            h.proc.send_signal(1)
            r = self.env.login("alice")
            self.assertEqual(r.status, 0, r)
            self.assertIn("reload refused", h.read_log())
        finally:
            h.stop()
            with open(h.config, "w") as f:
                f.write(self.env.config_text)


if __name__ == "__main__":
    main()
