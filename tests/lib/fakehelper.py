"""A scripted stand-in for freddy-helperd, for the client side's contract
tests (the module, freddyctl): a Python socket server at a path owned by
root, as the clients require, that answers each connection with a
script.  It lets a test check the exact request a client sends and send
exactly the bytes a broken or hostile helper would, which the real helper
never does.  The real helper's side is tested against the real helper."""

import os
import socket
import struct
import threading

VERSION = 1
# doc/protocol.md, "Messages"
AUTH_BEGIN, ANSWER, TOKEN_GET = 1, 2, 5
TWOFA_STATUS_GET, TWOFA_SETUP, TWOFA_ENABLE, TWOFA_DISABLE = 9, 10, 11, 12
APIKEY_CREATE, APIKEY_LIST, APIKEY_DELETE, PASSWD_BEGIN = 13, 14, 15, 16
PROMPT, INFO, ERROR, DONE = 64, 65, 66, 67
TWOFA_STATE, TWOFA_SECRET, RECOVERY_CODE, APIKEY_NEW, APIKEY_ENTRY = 71, 72, 73, 74, 75
# doc/protocol.md, "Tags"
USER, SERVICE, RHOST, TTY, RUSER = 1, 2, 3, 4, 5
PAM_FLAGS, TEXT, STYLE, PROMPT_FLAGS, RESULT = 8, 9, 10, 11, 12
CODE, TWOFA_ENABLED, OTPAUTH_URI, TOTP_SECRET = 27, 28, 29, 30
KEY_NAME, KEY_ID, API_KEY, CREATED_AT, LAST_USED = 31, 32, 33, 34, 35
CALLER_UID, CHAUTHTOK_FLAGS = 36, 37
ECHO_OFF, ECHO_ON, IS_PASSWORD = 1, 2, 1
CHAUTHTOK_PRELIM, CHAUTHTOK_UPDATE, CHAUTHTOK_EXPIRED_ONLY = 1, 2, 4
# doc/protocol.md, "Results"
SUCCESS, AUTH_ERR, MAXTRIES, AUTHINFO_UNAVAIL, USER_UNKNOWN, IGNORE = 0, 1, 2, 3, 4, 5
CONV_ERR, PERM_DENIED, SYSTEM_ERR, NOT_FOUND, BUSY = 6, 7, 8, 9, 10
U32_TAGS = {PAM_FLAGS, STYLE, PROMPT_FLAGS, RESULT, TWOFA_ENABLED, CALLER_UID, CHAUTHTOK_FLAGS}


def frame(msg_type, *fields):
    """A frame of (tag, value) fields: ints are u32, strings UTF-8."""
    payload = bytes([VERSION, msg_type])
    for tag, value in fields:
        if isinstance(value, int):
            value = struct.pack(">I", value)
        elif isinstance(value, str):
            value = value.encode()
        payload += struct.pack(">BH", tag, len(value)) + value
    return struct.pack(">I", len(payload)) + payload


def done(result, text=None):
    return frame(DONE, (RESULT, result), *([(TEXT, text)] if text is not None else []))


def prompt(text, style=ECHO_OFF, flags=0):
    return frame(PROMPT, (TEXT, text), (STYLE, style), *([(PROMPT_FLAGS, flags)] if flags else []))


class Message:
    def __init__(self, msg_type, fields):
        self.type = msg_type
        self.fields = fields        # tag -> bytes

    def str(self, tag):
        return self.fields[tag].decode() if tag in self.fields else None

    def num(self, tag):
        return struct.unpack(">I", self.fields[tag])[0] if tag in self.fields else None

    def __repr__(self):
        return "Message(%d, %r)" % (self.type, self.fields)


def read_message(conn):
    """The next message from the client, or None when it closed."""
    head = conn.recv(4, socket.MSG_WAITALL)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    body = conn.recv(n, socket.MSG_WAITALL)
    if len(body) < n or body[0] != VERSION:
        return None
    fields, pos = {}, 2
    while pos + 3 <= n:
        tag, flen = struct.unpack(">BH", body[pos:pos + 3])
        fields[tag] = body[pos + 3:pos + 3 + flen]
        pos += 3 + flen
    return Message(body[1], fields)


class FakeHelper:
    """Accepts connections and answers each with `script(conn)`; every
    first message (the request) is kept in `requests` when the script
    reads it with `request(conn)`."""

    def __init__(self, path, script):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(8)
        self.script = script
        self.conns = []
        self.requests = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.run, args=(conn,), daemon=True).start()

    def run(self, conn):
        try:
            self.script(self, conn)
        except OSError:
            pass

    def request(self, conn):
        msg = read_message(conn)
        with self.lock:
            self.requests.append(msg)
        return msg

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()
        os.unlink(self.path)
