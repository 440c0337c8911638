"""freddyctl 2fa and apikey, the client's side of the contract: against a
scripted helper (fakehelper.py), each command must send exactly its
request, read codes from the terminal with echo off or from standard
input (never argv), print what the issue asks for, refuse server text a
terminal would interpret, and exit as freddyctl(1) says.  The helper's
side is tested against the real helper in test_selfservice_*.py."""

import os
import signal
import shutil
import subprocess
import tempfile
import unittest

import pexpect

import fakehelper as fh
from freddytest import FREDDYCTL, main

NOT_CACHED = "No cached Freddy login; log in first"
LOCALE = 38  # FR_TAG_LOCALE: freddyctl says in which language the helper is to answer


class CtlContract(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ctlcontract-")
        os.chmod(self.tmp, 0o755)     # the socket's folder: not group/other-writable
        self.path = os.path.join(self.tmp, "helperd.sock")
        self.fake = None
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def serve(self, *replies, read_answer=False):
        """Answer each request with `replies` (frames)."""
        def script(fake, conn):
            fake.request(conn)
            for reply in replies:
                conn.sendall(reply)
        self.fake = fh.FakeHelper(self.path, script)
        self.addCleanup(self.fake.close)
        return self.fake

    def ctl(self, *args, stdin=""):
        env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
        return subprocess.run([FREDDYCTL, "--socket", self.path, *args], input=stdin,
                              capture_output=True, text=True, timeout=20, env=dict(env, LANG="C.UTF-8"))

    def only_request(self):
        """The one request, without its locale (checked here: freddyctl's)."""
        self.assertEqual(len(self.fake.requests), 1, self.fake.requests)
        req = self.fake.requests[0]
        self.assertEqual(req.fields.pop(LOCALE, None), b"C.UTF-8")
        return req


class TwoFactor(CtlContract):

    def test_status(self):
        for enabled, word in ((1, "enabled"), (0, "disabled")):
            self.setUp()
            self.serve(fh.frame(fh.TWOFA_STATE, (fh.TWOFA_ENABLED, enabled)), fh.done(fh.SUCCESS))
            r = self.ctl("2fa", "status")
            self.assertEqual((r.returncode, r.stdout), (0, "2fa: %s\n" % word), r)
            req = self.only_request()
            # No user in the request: the helper takes the caller's own account.
            self.assertEqual((req.type, req.fields), (fh.TWOFA_STATUS_GET, {}))

    def test_refusals_and_exit_codes(self):
        for result, text, code in ((fh.NOT_FOUND, NOT_CACHED, 1),
                                   (fh.IGNORE, "freddyctl 2fa needs api = aius", 1),
                                   (fh.AUTH_ERR, "The cached Freddy login is no longer valid", 1),
                                   (fh.AUTHINFO_UNAVAIL, "The AIUS API cannot be reached", 3),
                                   (fh.PERM_DENIED, "no", 4)):
            self.setUp()
            self.serve(fh.done(result, text))
            r = self.ctl("2fa", "status")
            self.assertEqual((r.returncode, r.stdout), (code, ""), (result, r))
            self.assertIn("freddyctl: " + text, r.stderr)

    def test_done_without_a_state_is_no_answer(self):
        self.serve(fh.done(fh.SUCCESS))
        r = self.ctl("2fa", "status")
        self.assertEqual((r.returncode, r.stdout), (3, ""), r)

    def test_helper_unreachable(self):
        r = self.ctl("2fa", "status")
        self.assertEqual(r.returncode, 3, r)

    def test_usage(self):
        for args in (("2fa",), ("2fa", "on"), ("2fa", "status", "alice"), ("2fa", "enable", "123456")):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r))
        self.assertFalse(os.path.exists(self.path))

    def test_setup_shows_qr_uri_and_secret(self):
        uri = "otpauth://totp/AIUS:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=AIUS"
        self.serve(fh.frame(fh.TWOFA_SECRET, (fh.OTPAUTH_URI, uri), (fh.TOTP_SECRET, "JBSWY3DPEHPK3PXP")),
                   fh.done(fh.SUCCESS))
        r = self.ctl("2fa", "setup")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.only_request().type, fh.TWOFA_SETUP)
        self.assertIn("\u2588", r.stdout)       # the QR code's blocks
        self.assertIn(uri + "\n", r.stdout)
        self.assertIn("JBSWY3DPEHPK3PXP", r.stdout)
        self.assertIn("freddyctl 2fa enable", r.stdout)

    def test_setup_refuses_hostile_text(self):
        for uri, secret in (("otpauth://totp/x?secret=A\x1b]0;pwned\x07", "A"),
                            ("https://evil.example/", "A"),
                            ("otpauth://totp/x?secret=A", "A B")):
            self.setUp()
            self.serve(fh.frame(fh.TWOFA_SECRET, (fh.OTPAUTH_URI, uri), (fh.TOTP_SECRET, secret)),
                       fh.done(fh.SUCCESS))
            r = self.ctl("2fa", "setup")
            self.assertEqual((r.returncode, r.stdout), (1, ""), r)
            self.assertNotIn("\x1b", r.stderr)

    def enable_replies(self, codes):
        return [fh.frame(fh.TWOFA_STATE, (fh.TWOFA_ENABLED, 1)),
                *[fh.frame(fh.RECOVERY_CODE, (fh.CODE, c)) for c in codes], fh.done(fh.SUCCESS)]

    def test_enable_reads_the_code_from_stdin(self):
        self.serve(*self.enable_replies(["aaaa-bbbb-cccc", "dddd-eeee-ffff"]))
        r = self.ctl("2fa", "enable", stdin="492039\r\n")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Authenticator code: ", r.stderr)
        req = self.only_request()
        self.assertEqual((req.type, req.fields), (fh.TWOFA_ENABLE, {fh.CODE: b"492039"}))
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "2fa: enabled")
        self.assertEqual(lines[-2:], ["aaaa-bbbb-cccc", "dddd-eeee-ffff"])
        self.assertIn("not shown again", r.stdout)

    def test_enable_wrong_code(self):
        self.serve(fh.done(fh.AUTH_ERR, "Invalid two-factor code"))
        r = self.ctl("2fa", "enable", stdin="000000\n")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("freddyctl: Invalid two-factor code", r.stderr)

    def test_no_code_no_request(self):
        self.serve(*self.enable_replies([]))
        for stdin in ("", "\n"):
            r = self.ctl("2fa", "enable", stdin=stdin)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("no answer given", r.stderr)
        r = self.ctl("2fa", "enable", stdin="1" * 200 + "\n")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("too long", r.stderr)
        self.assertEqual(self.fake.requests, [])

    def test_hostile_recovery_code_not_printed(self):
        self.serve(*self.enable_replies(["good-code-1111", "\x1b[2Jbad"]))
        r = self.ctl("2fa", "enable", stdin="492039\n")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("good-code-1111", r.stdout)
        self.assertNotIn("\x1b", r.stdout + r.stderr)

    def test_disable(self):
        self.serve(fh.frame(fh.TWOFA_STATE, (fh.TWOFA_ENABLED, 0)), fh.done(fh.SUCCESS))
        r = self.ctl("2fa", "disable", stdin="abcd-efgh-ijkl\n")
        self.assertEqual((r.returncode, r.stdout), (0, "2fa: disabled\n"), r)
        self.assertIn("Authenticator or recovery code: ", r.stderr)
        req = self.only_request()
        self.assertEqual((req.type, req.fields), (fh.TWOFA_DISABLE, {fh.CODE: b"abcd-efgh-ijkl"}))

    def terminal(self, command):
        """freddyctl in a pseudo-terminal, then `stty -a` in the same one."""
        script = "trap : INT; %s; echo rc=$?; stty -a" % command
        # A test run started in the background (`make check &`) inherits
        # SIGINT ignored, and a shell cannot trap or reset what it was
        # given ignored: the terminal gets the default back first.
        return pexpect.spawn("sh", ["-c", script], encoding="utf-8", timeout=20,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def test_terminal_echo_off_and_restored(self):
        self.serve(*self.enable_replies(["aaaa-bbbb-cccc"]))
        child = self.terminal("%s --socket %s 2fa enable" % (FREDDYCTL, self.path))
        child.expect("Authenticator code: ")
        child.sendline("492039")
        child.expect("rc=0")
        shown = child.before
        child.expect(pexpect.EOF)
        stty = child.before
        self.assertNotIn("492039", shown)           # not echoed
        self.assertIn("2fa: enabled", shown)
        self.assertRegex(stty, r"(^|\s)echo(\s|$)")  # echo is back on
        self.assertEqual(self.only_request().fields, {fh.CODE: b"492039"})

    def test_interrupt_restores_echo(self):
        self.serve(*self.enable_replies([]))
        child = self.terminal("%s --socket %s 2fa enable" % (FREDDYCTL, self.path))
        child.expect("Authenticator code: ")
        child.sendintr()
        child.expect(r"rc=(\d+)")
        rc = int(child.match.group(1))
        child.expect(pexpect.EOF)
        self.assertEqual(rc, 130)                   # died of SIGINT, as before the prompt
        self.assertRegex(child.before, r"(^|\s)echo(\s|$)")
        self.assertEqual(self.fake.requests, [])


class ApiKeys(CtlContract):

    def test_create_prints_the_key_once(self):
        self.serve(fh.frame(fh.APIKEY_NEW, (fh.KEY_ID, "key_abc123"), (fh.API_KEY, "sk_live_" + "x" * 24),
                            (fh.KEY_NAME, "CI deploys"), (fh.CREATED_AT, "2023-10-27T10:00:00Z")),
                   fh.done(fh.SUCCESS))
        r = self.ctl("apikey", "create", "CI deploys")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, "keyId: key_abc123\nname: CI deploys\ncreatedAt: 2023-10-27T10:00:00Z\n"
                                   "apiKey: sk_live_%s\n" % ("x" * 24))
        req = self.only_request()
        self.assertEqual((req.type, req.fields), (fh.APIKEY_CREATE, {fh.KEY_NAME: b"CI deploys"}))

    def test_create_refuses_a_hostile_key(self):
        self.serve(fh.frame(fh.APIKEY_NEW, (fh.KEY_ID, "key_abc123"), (fh.API_KEY, "sk_\x1b[2J")),
                   fh.done(fh.SUCCESS))
        r = self.ctl("apikey", "create", "x")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)

    def test_create_refused(self):
        self.serve(fh.done(fh.NOT_FOUND, NOT_CACHED))
        r = self.ctl("apikey", "create", "x")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn(NOT_CACHED, r.stderr)

    def test_list_never_shows_a_key(self):
        self.serve(fh.frame(fh.APIKEY_ENTRY, (fh.KEY_ID, "key_abc123"), (fh.KEY_NAME, "My Integration Key"),
                            (fh.CREATED_AT, "2023-10-27T10:00:00Z"), (fh.LAST_USED, "2023-10-27T11:30:00Z")),
                   fh.frame(fh.APIKEY_ENTRY, (fh.KEY_ID, "key_def456"), (fh.KEY_NAME, "Staging\x1b[31m Key"),
                            (fh.CREATED_AT, "2023-10-25T09:00:00Z")),
                   fh.done(fh.SUCCESS))
        r = self.ctl("apikey", "list")
        self.assertEqual(r.returncode, 0, r)
        rows = [line.split() for line in r.stdout.splitlines()]
        self.assertEqual(rows[0], ["KEY", "ID", "NAME", "CREATED", "LAST", "USED"])
        self.assertEqual(rows[1], ["key_abc123", "My", "Integration", "Key", "2023-10-27T10:00:00Z",
                                   "2023-10-27T11:30:00Z"])
        self.assertEqual(rows[2][0], "key_def456")
        self.assertEqual(rows[2][-1], "never")       # lastUsed null
        self.assertNotIn("\x1b", r.stdout)
        self.assertEqual(self.only_request().type, fh.APIKEY_LIST)

    def test_list_empty(self):
        self.serve(fh.done(fh.SUCCESS))
        r = self.ctl("apikey", "list")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r)

    def test_a_key_inside_a_listing_is_refused(self):
        # APIKEY_ENTRY cannot carry API_KEY (the decoder refuses it), and
        # an APIKEY_NEW is no listing.
        for bad in (fh.frame(fh.APIKEY_ENTRY, (fh.KEY_ID, "key_a"), (fh.API_KEY, "sk_live_leak")),
                    fh.frame(fh.APIKEY_NEW, (fh.KEY_ID, "key_a"), (fh.API_KEY, "sk_live_leak"))):
            self.setUp()
            self.serve(bad, fh.done(fh.SUCCESS))
            r = self.ctl("apikey", "list")
            self.assertEqual(r.returncode, 3, r)
            self.assertNotIn("sk_live_leak", r.stdout + r.stderr)

    def test_delete(self):
        self.serve(fh.done(fh.SUCCESS))
        r = self.ctl("apikey", "delete", "key_abc123")
        self.assertEqual((r.returncode, r.stdout), (0, "apikey: key_abc123 deleted\n"), r)
        req = self.only_request()
        self.assertEqual((req.type, req.fields), (fh.APIKEY_DELETE, {fh.KEY_ID: b"key_abc123"}))

    def test_delete_unknown_key(self):
        self.serve(fh.done(fh.NOT_FOUND, "API key not found"))
        r = self.ctl("apikey", "delete", "key_nope")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("freddyctl: API key not found", r.stderr)

    def test_usage(self):
        for args in (("apikey",), ("apikey", "create"), ("apikey", "create", ""), ("apikey", "create", "a", "b"),
                     ("apikey", "list", "x"), ("apikey", "delete"), ("apikey", "remove", "k")):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r))


if __name__ == "__main__":
    main()
