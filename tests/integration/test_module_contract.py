"""The module's side of the contract, against fake helpers that misbehave.

A fake helper here is a Python socket server owned by root at a path the
module trusts: it lets a test send exactly the bytes a broken or hung
helper would, which the real helper never does.
"""

import os
import socket
import struct
import threading
import time

from freddytest import MODULE, FreddyTestCase, PASSWORDS, main

MSG_PROMPT, MSG_DONE = 64, 67
TAG_TEXT, TAG_STYLE, TAG_RESULT = 9, 10, 12


def frame(msg_type, *fields):
    payload = bytes([1, msg_type])
    for tag, value in fields:
        if isinstance(value, int):
            value = struct.pack(">I", value)
        elif isinstance(value, str):
            value = value.encode()
        payload += struct.pack(">BH", tag, len(value)) + value
    return struct.pack(">I", len(payload)) + payload


class FakeHelper:
    """Accepts connections and answers each with `script(conn)`."""

    def __init__(self, path, script):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.script = script
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.script, args=(conn,), daemon=True).start()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()
        os.unlink(self.path)


def read_frame(conn):
    head = conn.recv(4, socket.MSG_WAITALL)
    (n,) = struct.unpack(">I", head)
    return conn.recv(n, socket.MSG_WAITALL)


class ModuleAgainstFakeHelpers(FreddyTestCase):
    env_kwargs = {"start_helper": False}

    def with_fake(self, script, args="debug timeout=2"):
        path = os.path.join(self.env.tmp, "run", "fake.sock")
        fake = FakeHelper(path, script)
        self.addCleanup(fake.close)
        self.env.write_service("fake", "auth required %s socket=%s %s\n" % (MODULE, path, args))
        return self.env.pamtester("alice", [], service="fake")

    def test_silent_helper_times_out(self):
        r = self.with_fake(lambda conn: time.sleep(30))
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service cannot retrieve authentication info", r.transcript)
        self.assertLess(r.elapsed, 5, r)          # timeout=2, not the default 30

    def test_garbage_fails_closed(self):
        def garbage(conn):
            read_frame(conn)
            conn.sendall(b"\x00\x00\x00\x05\x01\x43\x00\x00\x00")
        r = self.with_fake(garbage)
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service cannot retrieve authentication info", r.transcript)

    def test_wrong_protocol_version_fails_closed(self):
        def version2(conn):
            read_frame(conn)
            conn.sendall(b"\x00\x00\x00\x09\x02\x43" + bytes([TAG_RESULT, 0, 4, 0, 0, 0, 0]))
        r = self.with_fake(version2)
        self.assertNotEqual(r.status, 0, r)

    def test_unknown_result_is_never_success(self):
        def odd_result(conn):
            read_frame(conn)
            # 99 is outside the protocol's range: the decoder refuses it.
            conn.sendall(frame(MSG_DONE, (TAG_RESULT, 99)))
        r = self.with_fake(odd_result)
        self.assertNotEqual(r.status, 0, r)

    def test_closing_mid_conversation_fails_closed(self):
        def hang_up(conn):
            read_frame(conn)
            conn.sendall(frame(MSG_PROMPT, (TAG_TEXT, "Password: "), (TAG_STYLE, 1)))
            read_frame(conn)
            conn.close()
        path = os.path.join(self.env.tmp, "run", "fake.sock")
        fake = FakeHelper(path, hang_up)
        self.addCleanup(fake.close)
        self.env.write_service("fake", "auth required %s socket=%s timeout=2\n" % (MODULE, path))
        r = self.env.pamtester("alice", [("Password: ", "x")], service="fake")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service cannot retrieve authentication info", r.transcript)

    def test_control_characters_from_the_helper_are_not_shown(self):
        def evil(conn):
            read_frame(conn)
            conn.sendall(frame(MSG_DONE, (TAG_RESULT, 1), (TAG_TEXT, "\x1b[2Jcleared\x07")))
        r = self.with_fake(evil)
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("?[2Jcleared?", r.transcript)
        self.assertNotIn("\x1b[2J", r.transcript)

    def test_unknown_argument_is_an_error(self):
        r = self.with_fake(lambda conn: None, args="nullok")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn('unknown argument "nullok"', r.transcript)


class AuthtokForStackedModules(FreddyTestCase):
    """After success PAM_AUTHTOK holds the password (pam_exec checks it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        check = os.path.join(cls.env.tmp, "check-authtok.sh")
        with open(check, "w") as f:
            # pam_exec passes the token with a trailing NUL and no newline.
            f.write("#!/bin/sh\n[ \"$(tr -d '\\000')\" = \"%s\" ]\n" % PASSWORDS["alice"])
        os.chmod(check, 0o755)
        cls.env.write_service("stacked", "auth required %s\nauth required pam_exec.so expose_authtok %s\n"
                              % (cls.env.module_line(), check))

    def test_password_is_passed_on(self):
        r = self.env.login("alice", service="stacked")
        self.assertEqual(r.status, 0, r)
        # pam_exec would have prompted again had PAM_AUTHTOK been empty.
        self.assertEqual(r.transcript.count("Password:"), 1, r)


if __name__ == "__main__":
    main()
