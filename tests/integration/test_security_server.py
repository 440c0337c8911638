"""Hostile or broken servers: every emulator fault mode, a wrong-host and
an untrusted certificate, public-key pinning, a proxy in the environment,
and escape sequences in server text.  Each ends in PAM_AUTHINFO_UNAVAIL
within the configured timeout (or a plain failure), never a success, and
the helper stays up with bounded memory."""

import base64
import hashlib
import os
import subprocess

from freddytest import FreddyEnv, FreddyTestCase, main
import security

UNAVAIL = "Authentication service cannot retrieve authentication info"
TIMEOUT = 5		# the fixture's default; tighter flakes on a loaded ASan run


class Faults(FreddyTestCase):
    env_kwargs = {"config": "timeout = %d\n" % TIMEOUT}

    def fault(self, name, **extra):
        self.env.emu.admin("config", dict(fault=name, **extra))
        pid = security.helper_pid(self.env)
        rss0 = security.rss_kib(pid)
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")], timeout=30)
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("successfully authenticated", r.transcript)
        self.assertIn(UNAVAIL, r.transcript)
        self.assertIn("Authentication service unavailable", r.transcript)
        # The per-request timeout bounds every wait (plus process start-up).
        self.assertLess(r.elapsed, TIMEOUT + 4, r)
        self.assertIsNone(self.env.helper.proc.poll())
        self.assertLess(security.rss_kib(pid) - rss0, 8 * 1024, "helper memory grew")
        self.assertEqual(self.env.emu.codes_sent(), 0)
        # The helper keeps serving once the server behaves.
        self.env.emu.admin("config", {"fault": None})
        ok = self.env.login("alice")
        self.assertEqual(ok.status, 0, "%r\nhelper log:\n%s\nemulator log:\n%s" % (
            ok, self.env.helper.read_log()[-3000:], open(self.env.emu.log.name).read()[-1500:]))
        return r

    def test_hang(self):
        self.fault("hang")

    def test_trickle(self):
        self.fault("trickle")

    def test_html500(self):
        self.fault("html500")

    def test_truncated(self):
        self.fault("truncated")

    def test_wrongtypes(self):
        self.fault("wrongtypes")

    def test_hugebody(self):
        r = self.fault("hugebody")
        self.assertLess(r.elapsed, TIMEOUT, r)	# cut at 64 KiB, not by the timeout

    def test_redirect_not_followed(self):
        self.fault("redirect")
        self.assertEqual(self.env.emu.stats()["elsewhere"], 0)

    def test_reset(self):
        self.fault("reset")

    def test_status_502(self):
        self.fault("status", fault_status=502)

    def test_fault_on_verify_only(self):
        # The code step fails after the password step worked.
        self.env.emu.admin("config", {"fault": "wrongtypes", "fault_paths": ["/v1/auth/verify"]})
        r = self.env.login("alice")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn(UNAVAIL, r.transcript)
        self.assertFalse(os.path.exists(os.path.join(self.env.cache_dir, "alice")))

    def test_control_chars_never_reach_the_terminal_or_log(self):
        self.env.emu.admin("config", {"control_chars": True})
        r = self.env.pamtester("alice", [("Password: ", "wrong")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Invalid email or password", r.transcript)
        self.assertNotIn("\x1b", r.transcript)
        self.assertNotIn("\x07", r.transcript)
        # The only CRs are the pty's own line endings.
        self.assertNotIn("\r", r.transcript.replace("\r\n", ""))
        self.assertNotIn("\x1b", self.env.helper.read_log())
        for invisible in ("\u202e", "\u2066", "\u2069", "\u2028", "\u200b", "\ufeff"):
            self.assertNotIn(invisible, r.transcript)
            self.assertNotIn(invisible, self.env.helper.read_log())


class BadCertificate:
    cert = None

    @classmethod
    def setUpClass(cls):
        cls.env = FreddyEnv(cert=cls.cert)
        security.trust_any_emulator_cert(cls.env)

    def test_refused_before_any_request(self):
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn(UNAVAIL, r.transcript)
        # The handshake failed: the password never reached an HTTP handler.
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.assertIn("API unavailable", self.env.helper.read_log())


class WrongHostCertificate(BadCertificate, FreddyTestCase):
    cert = "wronghost"


class UntrustedCa(BadCertificate, FreddyTestCase):
    cert = "untrusted"


def spki_pin(pem_path):
    pub = subprocess.run(["openssl", "x509", "-in", pem_path, "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


class PinnedKey(FreddyTestCase):

    def restart_with(self, extra):
        h = self.env.helper
        h.stop()
        with open(h.config, "w") as f:
            f.write(self.env.make_config(extra))
        h.start(wait_socket=self.env.socket)

    def test_pin_mismatch_refused_and_match_accepted(self):
        self.restart_with("pinned_pubkey = sha256//" + base64.b64encode(b"\0" * 32).decode() + "\n")
        r = self.env.pamtester("alice", [("Password: ", "Correct-Horse-1")])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn(UNAVAIL, r.transcript)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 0)
        self.restart_with("pinned_pubkey = %s\n" % spki_pin(os.path.join(self.env.certs, "server.pem")))
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)


class EnvironmentProxyIgnored(FreddyTestCase):
    env_kwargs = {"start_helper": False}

    def test_proxy_variables_do_not_divert_requests(self):
        env = dict(self.env.helper_env)
        # A dead proxy: if libcurl used it, every request would fail.
        for k in ("https_proxy", "HTTPS_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            env[k] = "http://127.0.0.1:9"
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        self.env.helper.env = env
        self.env.helper.start(wait_socket=self.env.socket)
        r = self.env.login("alice")
        self.assertEqual(r.status, 0, r)


if __name__ == "__main__":
    main()
