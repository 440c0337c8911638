#!/usr/bin/python3
"""Self-test of freddy_emulator.py and make-certs.sh (standard library only).

Generates certificates into a temporary directory, starts four emulator
instances (main, short-TTL, wrong-host certificate, untrusted certificate)
and exercises every endpoint, error branch, admin endpoint and fault mode
with urllib / http.client over TLS verified against the test CA.

Prints one line per check ("ok" or "FAIL"); exits 0 only if all pass.
Usage: python3 selftest.py [-v]
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EMULATOR = HERE / "freddy_emulator.py"
MAKE_CERTS = HERE / "make-certs.sh"
PYTHON = sys.executable or "/usr/bin/python3"

API_KEY = "devkey-123"
ESC = "\u001b"
USERS = {
    "users": [
        {"username": "alice", "email": "alice@example.com", "password": "Correct-Horse-1"},
        {"username": "bob", "email": "bob@example.com", "password": "Bob-Pass-2",
         "totp_secret_hex": "3132333435363738393031323334353637383930",
         "recovery_codes": ["rc-one-1111", "rc-two-2222"]},
        {"username": "carol", "email": "carol@example.com", "password": "Carol-Pass-3",
         "totp_secret_hex": "3132333435363738393031323334353637383930", "aius_2fa": False},
    ]
}
PASSWORDS = [u["password"] for u in USERS["users"]]
FREDDY_ERROR_KEYS = {"code", "message", "system_message", "type", "status", "details",
                     "trace_id", "timestamp"}

FAILURES: list[str] = []
SECRETS: set[str] = set()       # tokens / keys that must never appear in logs
CODES: set[str] = set()         # email codes that must never appear in logs


def check(name: str, cond: bool, detail: Any = "") -> bool:
    if cond:
        print(f"ok    {name}")
    else:
        print(f"FAIL  {name}: {detail}")
        FAILURES.append(name)
    return cond


# --------------------------------------------------------------------------
# TOTP, independently of the emulator (cross-checked against oathtool)


def totp(secret_hex: str, at: float) -> str:
    mac = hmac.new(bytes.fromhex(secret_hex), struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


# --------------------------------------------------------------------------
# emulator processes


class Emu:
    def __init__(self, tmp: Path, name: str, cert: str, extra: list[str], quiet: bool) -> None:
        self.dir = tmp / name
        self.dir.mkdir()
        self.outbox = self.dir / "outbox"
        self.port_file = self.dir / "port"
        self.stderr_path = self.dir / "stderr"
        args = [PYTHON, str(EMULATOR), "--cert", str(tmp / "certs" / f"{cert}.pem"),
                "--key", str(tmp / "certs" / f"{cert}.key"), "--users", str(tmp / "users.json"),
                "--outbox", str(self.outbox), "--port", "0", "--port-file", str(self.port_file)]
        if quiet:
            args.append("--quiet")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args + extra, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self.port = 0

    def wait_ready(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port_file.exists():
                self.port = int(self.port_file.read_text())
                return self.port
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"emulator {self.dir.name} did not start: "
                           f"{self.stderr_path.read_text(errors='replace')}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.stderr.close()
        return self.proc.returncode

    def code_for(self, email: str) -> int:
        code = (self.outbox / f"{email}.code").read_text()
        CODES.add(code.strip())
        return int(code)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    """urllib-based JSON client for one emulator, never following redirects."""

    def __init__(self, emu: Emu, ctx: ssl.SSLContext) -> None:
        self.emu = emu
        self.ctx = ctx
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx), NoRedirect())

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.emu.port}{path}"

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None, timeout: float = 5.0,
             opener: urllib.request.OpenerDirector | None = None) -> tuple[int, Any, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url(path), data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with (opener or self.opener).open(req, timeout=timeout) as resp:
                status, hdrs, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, hdrs, payload = e.code, e.headers, e.read()
        try:
            parsed: Any = json.loads(payload)
        except ValueError:
            parsed = payload
        return status, parsed, hdrs

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
        return self.call("POST", path, body, **kw)

    def admin(self, path: str, body: Any = None) -> Any:
        status, parsed, _ = self.call("POST" if body is not None else "GET", path, body)
        if status != 200:
            raise RuntimeError(f"admin {path} -> {status} {parsed}")
        return parsed

    def config(self, **kw: Any) -> Any:
        return self.admin("/_emu/config", kw)

    def stats(self) -> Any:
        return self.admin("/_emu/stats")

    def raw_conn(self, timeout: float = 5.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.emu.port, context=self.ctx,
                                           timeout=timeout)


def is_jwt_like(tok: Any) -> bool:
    return isinstance(tok, str) and re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", tok) is not None


def freddy_err(name: str, result: tuple[int, Any, Any], status: int, code: str,
               message: str | None = None) -> None:
    st, body, _ = result
    ok = (st == status and isinstance(body, dict) and body.get("success") is False
          and isinstance(body.get("error"), dict) and set(body["error"]) == FREDDY_ERROR_KEYS
          and body["error"]["code"] == code and body["error"]["status"] == status
          and (message is None or body["error"]["message"] == message))
    check(name, ok, (st, body))


def freddy_login(c: Client, ident: str, password: str, email: str) -> tuple[str, int]:
    st, body, _ = c.post("/v1/auth/login", {"email_or_username": ident, "password": password})
    if st != 200:
        raise RuntimeError(f"login failed: {st} {body}")
    SECRETS.add(body["email_key"])
    return body["email_key"], c.emu.code_for(email)


def remember(body: Any, *fields: str) -> None:
    for f in fields:
        if isinstance(body, dict) and isinstance(body.get(f), str):
            SECRETS.add(body[f])


# --------------------------------------------------------------------------
# test groups


def test_certs(certs: Path) -> None:
    names = ["ca", "server", "wronghost", "other-ca", "untrusted"]
    check("make-certs: all files created",
          all((certs / f"{n}.{e}").is_file() for n in names for e in ("pem", "key")))
    check("make-certs: keys are mode 0600",
          all((certs / f"{n}.key").stat().st_mode & 0o777 == 0o600 for n in names))
    text = subprocess.run(["openssl", "x509", "-in", str(certs / "server.pem"), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    check("make-certs: server SAN", "DNS:localhost" in text and "IP Address:127.0.0.1" in text
          and "IP Address:0:0:0:0:0:0:0:1" in text, text)
    check("make-certs: EC P-256", "prime256v1" in text or "P-256" in text)


def test_port_file(emu: Emu) -> None:
    text = emu.port_file.read_text()
    check("port-file: holds the port number", re.fullmatch(r"[1-9][0-9]*\n", text) is not None, text)
    check("port-file: no temporary files left", sorted(p.name for p in emu.dir.iterdir())
          == ["outbox", "port", "stderr"], list(emu.dir.iterdir()))


def test_tls(ctx: ssl.SSLContext, main: Emu, wrong: Emu, untrusted: Emu) -> None:
    def handshake(port: int, host: str = "127.0.0.1") -> str:
        try:
            with socket.create_connection((host, port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as tls:
                    return tls.version() or "?"
        except ssl.SSLCertVerificationError as e:
            return f"verify-error: {e.verify_message}"

    v = handshake(main.port)
    check("tls: server cert verifies against the CA (TLS 1.2+)", v in ("TLSv1.2", "TLSv1.3"), v)
    check("tls: SAN DNS:localhost verifies", handshake(main.port, "localhost").startswith("TLSv1"))
    r = handshake(wrong.port)
    check("tls: wronghost cert rejected (hostname mismatch)", "mismatch" in r.lower(), r)
    r = handshake(untrusted.port)
    check("tls: untrusted cert rejected (unknown issuer)", r.startswith("verify-error")
          and "mismatch" not in r.lower(), r)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.maximum_version = ssl.TLSVersion.TLSv1_1
            old.minimum_version = ssl.TLSVersion.TLSv1
        with socket.create_connection(("127.0.0.1", main.port), timeout=5) as raw:
            with old.wrap_socket(raw):
                res = "handshake succeeded"
    except (ssl.SSLError, OSError, ValueError) as e:
        res = f"refused ({type(e).__name__})"
    check("tls: TLS 1.1 refused", res.startswith("refused"), res)


def test_freddy(c: Client) -> None:
    emu = c.emu
    # -- login by username: documented body, code in the outbox
    st, body, _ = c.post("/v1/auth/login", {"email_or_username": "alice", "password": PASSWORDS[0]})
    check("freddy login: 200 with exactly the documented fields", st == 200 and set(body) == {
        "success", "message", "email_key", "email", "requires_verification", "next_step"}, body)
    check("freddy login: documented values", body.get("success") is True
          and body.get("message") == "Login credentials verified. Please check your email for verification code."
          and body.get("email") == "alice@example.com" and body.get("requires_verification") is True
          and body.get("next_step") == "email_verification"
          and re.fullmatch(r"uuid-[0-9a-f-]{36}", body.get("email_key", "")) is not None, body)
    key = body["email_key"]
    SECRETS.add(key)
    raw_code = (emu.outbox / "alice@example.com.code").read_text()
    check("outbox: <email>.code holds 4 digits without leading zero",
          re.fullmatch(r"[1-9][0-9]{3}\n", raw_code) is not None, raw_code)
    code = int(raw_code)
    CODES.add(str(code))
    last = (emu.outbox / "mail.log").read_text().splitlines()[-1].split(" ")
    check("outbox: mail.log line '<time> <email> <email_key> <code>'", len(last) == 4
          and abs(int(last[0]) - time.time()) < 60 and last[1:] == ["alice@example.com", key, str(code)], last)
    check("outbox: no temporary files", sorted(p.name for p in emu.outbox.iterdir())
          == ["alice@example.com.code", "mail.log"], list(emu.outbox.iterdir()))

    # -- verify branches
    wrong = 1000 + (code - 1000 + 1) % 9000
    freddy_err("freddy verify: wrong code -> 401 INVALID_VERIFICATION_CODE",
               c.post("/v1/auth/verify", {"email_key": key, "verification_code": wrong}),
               401, "INVALID_VERIFICATION_CODE", "Invalid verification code.")
    for label, payload in [("bool code", {"email_key": key, "verification_code": True}),
                           ("float code", {"email_key": key, "verification_code": float(code)}),
                           ("non-digit string code", {"email_key": key, "verification_code": "12a4"}),
                           ("missing code", {"email_key": key}),
                           ("email_key not a string", {"email_key": 5, "verification_code": code})]:
        freddy_err(f"freddy verify: {label} -> 422 VALIDATION_ERROR",
                   c.post("/v1/auth/verify", payload), 422, "VALIDATION_ERROR")
    freddy_err("freddy verify: non-JSON body -> 422 VALIDATION_ERROR",
               c.post("/v1/auth/verify", raw=b"email_key=x"), 422, "VALIDATION_ERROR")
    freddy_err("freddy verify: JSON array body -> 422 VALIDATION_ERROR",
               c.post("/v1/auth/verify", [key, code]), 422, "VALIDATION_ERROR")
    st, body, _ = c.post("/v1/auth/verify", {"email_key": key, "verification_code": code})
    remember(body, "token", "refreshToken")
    check("freddy verify: 200 documented body", st == 200 and set(body) == {
        "token", "refreshToken", "token_type", "expires_in", "user"}
        and body["token_type"] == "bearer" and body["expires_in"] == 86400
        and is_jwt_like(body["token"]) and is_jwt_like(body["refreshToken"])
        and set(body["user"]) == {"id", "email", "verified"} and body["user"]["verified"] is True
        and body["user"]["email"] == "alice@example.com"
        and re.fullmatch(r"usr_[0-9a-f]{32}", body["user"]["id"]) is not None, body)
    freddy_refresh = body["refreshToken"]
    freddy_err("freddy verify: consumed email_key -> 401 VERIFICATION_EXPIRED",
               c.post("/v1/auth/verify", {"email_key": key, "verification_code": code}),
               401, "VERIFICATION_EXPIRED", "Verification code expired. Please log in again.")
    freddy_err("freddy verify: unknown email_key -> 401 VERIFICATION_EXPIRED",
               c.post("/v1/auth/verify", {"email_key": "uuid-nope", "verification_code": 1234}),
               401, "VERIFICATION_EXPIRED")

    # -- login by email, verify with the code as a string
    key, code = freddy_login(c, "alice@example.com", PASSWORDS[0], "alice@example.com")
    st, body, _ = c.post("/v1/auth/verify", {"email_key": key, "verification_code": str(code)})
    remember(body, "token", "refreshToken")
    check("freddy login by email + verify with string code -> 200", st == 200 and "token" in body, body)

    # -- resend-email
    key, code1 = freddy_login(c, "bob", PASSWORDS[1], "bob@example.com")
    sent_before = c.stats()["codes_sent"]
    st, body, _ = c.post("/v1/auth/resend-email", {"email_key": key})
    check("freddy resend-email: 200 body", st == 200
          and body == {"success": True, "message": "Verification code sent."}, (st, body))
    code2 = emu.code_for("bob@example.com")
    last = (emu.outbox / "mail.log").read_text().splitlines()[-1].split(" ")
    check("freddy resend-email: new code in outbox and mail.log",
          c.stats()["codes_sent"] == sent_before + 1 and last[2:] == [key, str(code2)], last)
    if code1 != code2:
        freddy_err("freddy resend-email: old code no longer valid",
                   c.post("/v1/auth/verify", {"email_key": key, "verification_code": code1}),
                   401, "INVALID_VERIFICATION_CODE")
    st, body, _ = c.post("/v1/auth/verify", {"email_key": key, "verification_code": code2})
    remember(body, "token", "refreshToken")
    check("freddy resend-email: new code verifies", st == 200, body)
    freddy_err("freddy resend-email: unknown key -> 401 VERIFICATION_EXPIRED",
               c.post("/v1/auth/resend-email", {"email_key": "uuid-unknown"}), 401, "VERIFICATION_EXPIRED")
    freddy_err("freddy resend-email: missing key -> 422",
               c.post("/v1/auth/resend-email", {}), 422, "VALIDATION_ERROR")

    # -- bad credentials, no code sent
    sent_before = c.stats()["codes_sent"]
    log_before = (emu.outbox / "mail.log").read_text()
    freddy_err("freddy login: wrong password -> 401 INVALID_CREDENTIALS (full envelope)",
               c.post("/v1/auth/login", {"email_or_username": "alice", "password": "nope"}),
               401, "INVALID_CREDENTIALS", "Invalid email or password. Please try again.")
    st, body, _ = c.post("/v1/auth/login", {"email_or_username": "alice", "password": "nope"})
    e = body["error"]
    check("freddy error envelope: documented values", e["system_message"] == "Invalid credentials"
          and e["type"] == "authentication_error" and e["details"] == {}
          and isinstance(e["trace_id"], str) and re.fullmatch(
              r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["timestamp"]) is not None, e)
    # The helper's audit records carry it: one id per reply, in the
    # dev-login page's shape ("req_abc123xyz").
    st2, body2, _ = c.post("/v1/auth/login", {"email_or_username": "mallory", "password": "nope"})
    check("freddy error envelope: trace_id is a fresh plain id per reply",
          re.fullmatch(r"req_[0-9a-z]{6,32}", e["trace_id"]) is not None
          and body2["error"]["trace_id"] != e["trace_id"], (e["trace_id"], body2))
    freddy_err("freddy login: unknown user -> 401 INVALID_CREDENTIALS",
               c.post("/v1/auth/login", {"email_or_username": "mallory", "password": "x"}),
               401, "INVALID_CREDENTIALS")
    check("freddy login: failures send no code", c.stats()["codes_sent"] == sent_before
          and (emu.outbox / "mail.log").read_text() == log_before)
    freddy_err("freddy login: password not a string -> 422",
               c.post("/v1/auth/login", {"email_or_username": "alice", "password": 5}), 422, "VALIDATION_ERROR")

    # -- rate limiting (main emulator runs with --max-login-failures 3)
    results = [c.post("/v1/auth/login", {"email_or_username": "ghost", "password": "x"}) for _ in range(4)]
    check("freddy login: failures below the limit are 401", [r[0] for r in results[:3]] == [401] * 3)
    st, body, hdrs = results[3]
    check("freddy login: limit reached -> 429 documented TOO_MANY_LOGIN_ATTEMPTS", st == 429
          and body == {"success": False, "error": {
              "code": "TOO_MANY_LOGIN_ATTEMPTS",
              "message": "Too many login attempts. Please try again later",
              "system_message": "Too many login attempts", "status": 429,
              "details": {"retry_after": 300}}}, (st, body))
    check("freddy login: 429 carries Retry-After: 300", hdrs.get("Retry-After") == "300", dict(hdrs))
    for _ in range(3):
        c.post("/v1/auth/login", {"email_or_username": "carol", "password": "x"})
    st, _, _ = c.post("/v1/auth/login", {"email_or_username": "carol", "password": PASSWORDS[2]})
    check("freddy login: locked identifier refused even with the right password", st == 429, st)
    seq = []
    for pw in [PASSWORDS[0], "x", "x", PASSWORDS[0], "x", "x", PASSWORDS[0]]:
        st, body, _ = c.post("/v1/auth/login", {"email_or_username": "alice", "password": pw})
        seq.append(st)
        if st == 200:
            SECRETS.add(body["email_key"])
    check("freddy login: success resets the failure counter", seq == [200, 401, 401, 200, 401, 401, 200], seq)
    CODES.add(str(emu.code_for("alice@example.com")))

    # -- refresh
    st, body, _ = c.post("/v1/auth/refresh", {"refresh_token": freddy_refresh})
    remember(body, "token")
    check("freddy refresh: 200 exactly {token, device_id: device-123}", st == 200
          and set(body) == {"token", "device_id"} and body["device_id"] == "device-123"
          and is_jwt_like(body["token"]), body)
    freddy_err("freddy refresh: unknown token -> 401 INVALID_REFRESH_TOKEN",
               c.post("/v1/auth/refresh", {"refresh_token": "a.b.c"}), 401, "INVALID_REFRESH_TOKEN")
    freddy_err("freddy refresh: camelCase field -> 422",
               c.post("/v1/auth/refresh", {"refreshToken": freddy_refresh}), 422, "VALIDATION_ERROR")

    # -- dev-login
    creds = {"email_or_username": "carol@example.com", "password": PASSWORDS[2]}
    freddy_err("freddy dev-login: no X-API-Key -> 401 AUTHENTICATION_REQUIRED",
               c.post("/v1/auth/dev-login", creds), 401, "AUTHENTICATION_REQUIRED",
               "Authentication required. Please provide a valid API key.")
    freddy_err("freddy dev-login: wrong X-API-Key -> 401 AUTHENTICATION_REQUIRED",
               c.post("/v1/auth/dev-login", creds, headers={"X-API-Key": "nope"}),
               401, "AUTHENTICATION_REQUIRED")
    freddy_err("freddy dev-login: wrong password -> 401 INVALID_CREDENTIALS",
               c.post("/v1/auth/dev-login", {"email_or_username": "carol", "password": "x"},
                      headers={"X-API-Key": API_KEY}), 401, "INVALID_CREDENTIALS")
    sent_before = c.stats()["codes_sent"]
    st, body, _ = c.post("/v1/auth/dev-login", dict(creds, device_information={"os": "linux"}),
                         headers={"X-API-Key": API_KEY})
    remember(body, "access_token", "refresh_token")
    check("freddy dev-login: 200 documented body", st == 200 and set(body) == {
        "refresh_token", "access_token", "token_type", "expires_in", "device_id", "user"}
        and body["token_type"] == "default" and body["expires_in"] == 86400 and body["user"] == {}
        and isinstance(body["device_id"], str) and is_jwt_like(body["access_token"])
        and is_jwt_like(body["refresh_token"]), body)
    check("freddy dev-login: no email sent", c.stats()["codes_sent"] == sent_before)
    st, body, _ = c.post("/v1/auth/refresh", {"refresh_token": body["refresh_token"]})
    remember(body, "token")
    check("freddy dev-login: its refresh_token works at /v1/auth/refresh", st == 200, (st, body))


def test_short_ttl(c: Client) -> None:
    """Emulator started with --code-ttl 1 --key-ttl 2 --max-code-failures 2 --access-ttl 77, no API key."""
    emu = c.emu
    st, body, _ = c.post("/v1/auth/dev-login", {"email_or_username": "alice", "password": PASSWORDS[0]},
                         headers={"X-API-Key": API_KEY})
    check("freddy dev-login: without --api-key every call is 401", st == 401
          and body["error"]["code"] == "AUTHENTICATION_REQUIRED", (st, body))
    # max-code-failures
    key, code = freddy_login(c, "bob", PASSWORDS[1], "bob@example.com")
    wrong = 1000 + (code - 1000 + 1) % 9000
    r = [c.post("/v1/auth/verify", {"email_key": key, "verification_code": wrong})[1]["error"]["code"]
         for _ in range(2)]
    st, body, _ = c.post("/v1/auth/verify", {"email_key": key, "verification_code": code})
    check("--max-code-failures: key dropped after N wrong codes", r == ["INVALID_VERIFICATION_CODE"] * 2
          and st == 401 and body["error"]["code"] == "VERIFICATION_EXPIRED", (r, st, body))
    # expiry of code and key
    t0 = time.monotonic()
    key1, code1 = freddy_login(c, "alice", PASSWORDS[0], "alice@example.com")
    key2, _ = freddy_login(c, "carol", PASSWORDS[2], "carol@example.com")
    time.sleep(max(0.0, 1.15 - (time.monotonic() - t0)))
    freddy_err("freddy verify: expired code -> 401 VERIFICATION_EXPIRED",
               c.post("/v1/auth/verify", {"email_key": key1, "verification_code": code1}),
               401, "VERIFICATION_EXPIRED")
    st, _, _ = c.post("/v1/auth/resend-email", {"email_key": key1})
    check("freddy resend-email: works after the code expired (key still alive)", st == 200, st)
    st, body, _ = c.post("/v1/auth/verify", {"email_key": key1,
                                             "verification_code": emu.code_for("alice@example.com")})
    remember(body, "token", "refreshToken")
    check("freddy verify: resent code verifies; expires_in = --access-ttl",
          st == 200 and body.get("expires_in") == 77, (st, body))
    time.sleep(max(0.0, 2.15 - (time.monotonic() - t0)))
    freddy_err("freddy resend-email: expired key -> 401 VERIFICATION_EXPIRED",
               c.post("/v1/auth/resend-email", {"email_key": key2}), 401, "VERIFICATION_EXPIRED")


def aius_err(name: str, result: tuple[int, Any, Any], status: int, code: str,
             message: str | None = None) -> None:
    st, body, _ = result
    ok = (st == status and isinstance(body, dict) and set(body) == {"detail"}
          and isinstance(body["detail"], dict) and set(body["detail"]) == {"code", "message"}
          and body["detail"]["code"] == code
          and (message is None or body["detail"]["message"] == message))
    check(name, ok, (st, body))


def test_aius(c: Client) -> None:
    for user, email, pw in [("alice (no 2FA)", "alice@example.com", PASSWORDS[0]),
                            ("carol (TOTP but aius_2fa false)", "carol@example.com", PASSWORDS[2])]:
        st, body, _ = c.post("/api/v1/login", {"email": email, "password": pw})
        remember(body, "session_token")
        check(f"aius login {user}: 200 {{user, message, session_token}}", st == 200
              and set(body) == {"user", "message", "session_token"} and set(body["user"]) == {"id", "email"}
              and body["user"]["email"] == email and is_jwt_like(body["session_token"]), body)
    aius_err("aius login: wrong password -> 401 INVALID_CREDENTIALS",
             c.post("/api/v1/login", {"email": "alice@example.com", "password": "x"}),
             401, "INVALID_CREDENTIALS", "Invalid email or password")
    st, body, _ = c.post("/api/v1/login", {"email": "alice", "password": PASSWORDS[0]})
    check("aius login: exact documented 401 body; username is not an email", st == 401 and body == {
        "detail": {"code": "INVALID_CREDENTIALS", "message": "Invalid email or password"}}, body)
    aius_err("aius login: non-JSON -> 422", c.post("/api/v1/login", raw=b"{"), 422, "VALIDATION_ERROR")

    def challenge() -> str:
        st, body, _ = c.post("/api/v1/login", {"email": "bob@example.com", "password": PASSWORDS[1]})
        check("aius login 2FA user: 200 {requires_2fa, challenge_token, message}", st == 200
              and set(body) == {"requires_2fa", "challenge_token", "message"}
              and body["requires_2fa"] is True and isinstance(body["challenge_token"], str), body)
        SECRETS.add(body["challenge_token"])
        return body["challenge_token"]

    secret = USERS["users"][1]["totp_secret_hex"]
    now = time.time()
    window = {totp(secret, now + d) for d in (-60, -30, 0, 30, 60)}
    bad = next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in window)
    ch = challenge()
    aius_err("aius 2fa: bad code -> 401 INVALID_CODE", c.post("/api/v1/2fa/login",
             {"challenge_token": ch, "code": bad}), 401, "INVALID_CODE")
    aius_err("aius 2fa: integer code -> 422", c.post("/api/v1/2fa/login",
             {"challenge_token": ch, "code": 123456}), 422, "VALIDATION_ERROR")
    good = totp(secret, time.time())
    st, body, _ = c.post("/api/v1/2fa/login", {"challenge_token": ch, "code": good})
    remember(body, "session_token")
    check("aius 2fa: current TOTP (challenge survived a bad code) -> 200 session", st == 200
          and set(body) == {"user", "message", "session_token"}
          and body["user"]["email"] == "bob@example.com", (st, body))
    aius_err("aius 2fa: consumed challenge -> 401 INVALID_CHALLENGE", c.post("/api/v1/2fa/login",
             {"challenge_token": ch, "code": good}), 401, "INVALID_CHALLENGE")
    aius_err("aius 2fa: unknown challenge -> 401 INVALID_CHALLENGE", c.post("/api/v1/2fa/login",
             {"challenge_token": "nope", "code": good}), 401, "INVALID_CHALLENGE")
    st, _, _ = c.post("/api/v1/2fa/login", {"challenge_token": challenge(),
                                            "code": totp(secret, time.time() - 30)})
    check("aius 2fa: previous TOTP step accepted (+-1 step)", st == 200, st)
    st, _, _ = c.post("/api/v1/2fa/login", {"challenge_token": challenge(),
                                            "code": totp(secret, time.time() - 90)})
    check("aius 2fa: TOTP 3 steps old refused", st == 401, st)
    st, _, _ = c.post("/api/v1/2fa/login", {"challenge_token": challenge(), "code": "rc-one-1111"})
    check("aius 2fa: recovery code accepted", st == 200, st)
    aius_err("aius 2fa: recovery code is single-use", c.post("/api/v1/2fa/login",
             {"challenge_token": challenge(), "code": "rc-one-1111"}), 401, "INVALID_CODE")
    st, _, _ = c.post("/api/v1/2fa/login", {"challenge_token": challenge(), "code": "rc-two-2222"})
    check("aius 2fa: second recovery code accepted", st == 200, st)


COOKIE = "__Host-aius_session"


def b32_totp(secret_b32: str, at: float) -> str:
    """TOTP of a base32 secret as an authenticator app computes it."""
    import base64
    raw = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    return totp(raw.hex(), at)


def aius_session(c: Client, email: str, password: str) -> str:
    st, body, _ = c.post("/api/v1/login", {"email": email, "password": password})
    if st != 200 or "session_token" not in body:
        raise RuntimeError(f"aius login failed: {st} {body}")
    SECRETS.add(body["session_token"])
    return body["session_token"]


def aius_mint(c: Client, session: str, name: str = "selftest") -> str:
    st, body, _ = c.post("/api/v1/tokens", {"token_name": name},
                         headers={"Cookie": f"{COOKIE}={session}"})
    if st != 200:
        raise RuntimeError(f"mint failed: {st} {body}")
    SECRETS.add(body["token"])
    return body["token"]


def test_aius_tokens(c: Client) -> None:
    """4. Mint an API token (cookie) and 5. Use the bearer token."""
    c.admin("/_emu/reset", {})
    session = aius_session(c, "alice@example.com", PASSWORDS[0])
    cookie = {"Cookie": f"{COOKIE}={session}"}
    aius_err("aius tokens: no cookie -> 401", c.post("/api/v1/tokens", {"token_name": "x"}),
             401, "MISSING_SESSION", "missing session cookie")
    aius_err("aius tokens: cookie checked before the body", c.post("/api/v1/tokens", {}),
             401, "MISSING_SESSION")
    aius_err("aius tokens: unknown session in the cookie -> 401",
             c.post("/api/v1/tokens", {"token_name": "x"}, headers={"Cookie": f"{COOKIE}=a.b.c"}),
             401, "INVALID_SESSION", "invalid session")
    aius_err("aius tokens: the session as a bearer token is no cookie -> 401",
             c.post("/api/v1/tokens", {"token_name": "x"}, headers={"Authorization": f"Bearer {session}"}),
             401, "MISSING_SESSION")
    aius_err("aius tokens: a cookie of another name -> 401",
             c.post("/api/v1/tokens", {"token_name": "x"}, headers={"Cookie": f"aius_session={session}"}),
             401, "MISSING_SESSION")
    st, body, _ = c.post("/api/v1/tokens", {}, headers=cookie)
    check("aius tokens: no token_name -> exactly 400 token_name is required", (st, body) == (400, {
        "detail": {"code": "TOKEN_NAME_REQUIRED", "message": "token_name is required"}}), (st, body))
    for label, bad in [("empty", ""), ("blank", "  "), ("null", None), ("integer", 5)]:
        aius_err(f"aius tokens: {label} token_name -> 400", c.post("/api/v1/tokens", {"token_name": bad},
                 headers=cookie), 400, "TOKEN_NAME_REQUIRED", "token_name is required")
    aius_err("aius tokens: client_id not a string -> 422",
             c.post("/api/v1/tokens", {"token_name": "x", "client_id": 7}, headers=cookie),
             422, "VALIDATION_ERROR")
    aius_err("aius tokens: non-JSON body -> 422", c.post("/api/v1/tokens", raw=b"token_name=x", headers=cookie),
             422, "VALIDATION_ERROR")
    st, login, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": PASSWORDS[0]})
    remember(login, "session_token")
    st, body, _ = c.post("/api/v1/tokens", {"token_name": "pam_freddy host1"},
                         headers={"Cookie": f"theme=dark; {COOKIE}={session}; lang=en"})
    remember(body, "token")
    check("aius tokens: 200 {token: aius_…, token_name, client_id, created_at}", st == 200
          and set(body) == {"token", "token_name", "client_id", "created_at"}
          and re.fullmatch(r"aius_[A-Za-z0-9_-]{40,}", body["token"]) is not None
          and body["token_name"] == "pam_freddy host1" and body["client_id"] == login["user"]["id"]
          and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"]) is not None, (st, body))
    first = body["token"]
    st, body, _ = c.post("/api/v1/tokens", {"token_name": "second", "client_id": "cli-1"}, headers=cookie)
    remember(body, "token")
    check("aius tokens: each call mints another token; client_id kept", st == 200
          and body["token"] != first and body["client_id"] == "cli-1", body)
    check("stats: aius_tokens counts the user's tokens, aius_token_names names them",
          c.stats()["aius_tokens"] == {"alice": 2}
          and c.stats()["aius_token_names"] == {"alice": ["pam_freddy host1", "second"]}, c.stats())
    check("stats: POST /api/v1/tokens counted per endpoint",
          c.stats()["requests"].get("POST /api/v1/tokens") == 14, c.stats()["requests"])
    _, jwt_login, _ = c.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORDS[0]})
    remember(jwt_login, "token", "refreshToken")
    aius_err("aius tokens: a JWT-profile token in the cookie -> 401",
             c.post("/api/v1/tokens", {"token_name": "x"}, headers={"Cookie": f"{COOKIE}={jwt_login['token']}"}),
             401, "INVALID_SESSION")

    # 5. bearer rules, at GET /v1/2fa/status
    status = "/api/v1/2fa/status"
    st, body, _ = c.call("GET", status)
    check("aius bearer: no Authorization -> exactly 401 missing bearer token", (st, body) == (401, {
        "detail": {"code": "MISSING_BEARER_TOKEN", "message": "missing bearer token"}}), (st, body))
    for label, header in [("Basic scheme", f"Basic {first}"), ("no token", "Bearer"),
                          ("blank token", "Bearer    "), ("two words", f"Bearer {first} extra"),
                          ("token only", first)]:
        st, body, _ = c.call("GET", status, headers={"Authorization": header})
        check(f"aius bearer: {label} -> 401 invalid authorization header", (st, body) == (401, {
            "detail": {"code": "INVALID_AUTHORIZATION_HEADER", "message": "invalid authorization header"}}),
            (st, body))
    for label, tok in [("unknown aius_ token", "aius_" + "x" * 43), ("session token", session),
                       ("JWT-profile token", jwt_login["token"])]:
        st, body, _ = c.call("GET", status, headers={"Authorization": f"Bearer {tok}"})
        check(f"aius bearer: {label} -> exactly 401 invalid token", (st, body) == (401, {
            "detail": {"code": "INVALID_TOKEN", "message": "invalid token"}}), (st, body))
    st, body, _ = c.call("GET", status, headers={"Authorization": f"bearer  {first} "})
    check("aius bearer: scheme case-insensitive -> 200 {enabled: false}", (st, body) == (200, {"enabled": False}),
          (st, body))
    st, body, _ = c.call("GET", status, headers=cookie)
    check("aius 2fa status: the session cookie works too", (st, body) == (200, {"enabled": False}), (st, body))
    aius_err("aius 2fa status: a bad Authorization header is not rescued by the cookie",
             c.call("GET", status, headers={**cookie, "Authorization": "Bearer nope"}), 401, "INVALID_TOKEN")
    aius_err("aius 2fa status: an unknown session cookie -> 401",
             c.call("GET", status, headers={"Cookie": f"{COOKIE}=a.b.c"}), 401, "INVALID_SESSION")
    st, body, hdrs = c.post(status, {})
    check("aius 2fa status: POST -> 405 Allow: GET", st == 405 and hdrs.get("Allow") == "GET"
          and body["detail"]["code"] == "METHOD_NOT_ALLOWED", (st, body))
    st, body, hdrs = c.call("GET", "/api/v1/tokens")
    check("aius tokens: GET -> 405 Allow: POST", st == 405 and hdrs.get("Allow") == "POST", (st, body))
    bob = aius_mint(c, aius_session_2fa(c, "bob@example.com", PASSWORDS[1]))
    st, body, _ = c.call("GET", status, headers={"Authorization": f"Bearer {bob}"})
    check("aius 2fa status: a 2FA account -> {enabled: true}", (st, body) == (200, {"enabled": True}), (st, body))

    # revocation (admin)
    res = c.admin("/_emu/revoke-durable", {"username": "alice"})
    aius_err("admin revoke-durable: the user's aius_ tokens are invalid afterwards",
             c.call("GET", status, headers={"Authorization": f"Bearer {first}"}), 401, "INVALID_TOKEN",
             "invalid token")
    st, _, _ = c.call("GET", status, headers={"Authorization": f"Bearer {bob}"})
    check("admin revoke-durable: revoked 2; other users' tokens untouched", res == {"revoked": 2} and st == 200,
          (res, st))
    st, _, _ = c.call("GET", status, headers=cookie)
    check("admin revoke-durable: the session itself survives", st == 200, st)
    res = c.admin("/_emu/revoke", {"username": "bob"})
    st, _, _ = c.call("GET", status, headers={"Authorization": f"Bearer {bob}"})
    check("admin revoke: drops aius_ tokens too", st == 401 and res["revoked"] >= 1, (st, res))
    st, body, _ = c.call("POST", "/_emu/revoke-durable", {"username": "nobody"})
    check("admin revoke-durable: unknown user -> 404", st == 404, (st, body))


def aius_session_2fa(c: Client, email: str, password: str) -> str:
    """A session for an account with 2FA: the challenge answered by TOTP."""
    st, body, _ = c.post("/api/v1/login", {"email": email, "password": password})
    SECRETS.add(body["challenge_token"])
    st, body, _ = c.post("/api/v1/2fa/login", {"challenge_token": body["challenge_token"],
                                              "code": totp(USERS["users"][1]["totp_secret_hex"], time.time())})
    if st != 200:
        raise RuntimeError(f"2fa login failed: {st} {body}")
    SECRETS.add(body["session_token"])
    return body["session_token"]


def test_aius_2fa_management(c: Client) -> None:
    c.admin("/_emu/reset", {})
    session = aius_session(c, "alice@example.com", PASSWORDS[0])
    auth = {"Authorization": f"Bearer {aius_mint(c, session)}"}
    for path in ("/api/v1/2fa/setup", "/api/v1/2fa/enable", "/api/v1/2fa/disable"):
        aius_err(f"aius {path}: no credential -> 401", c.post(path, {"code": "123456"}),
                 401, "MISSING_BEARER_TOKEN", "missing bearer token")
        aius_err(f"aius {path}: revoked-looking token -> 401",
                 c.post(path, {"code": "123456"}, headers={"Authorization": "Bearer aius_gone"}),
                 401, "INVALID_TOKEN")
    st, body, _ = c.post("/api/v1/2fa/enable", {"code": "123456"}, headers=auth)
    check("aius 2fa enable before setup -> 400 TWO_FACTOR_NOT_SET_UP", st == 400
          and body["detail"]["code"] == "TWO_FACTOR_NOT_SET_UP", (st, body))
    st, body, _ = c.post("/api/v1/2fa/disable", {"code": "123456"}, headers=auth)
    check("aius 2fa disable while off -> 400 TWO_FACTOR_NOT_ENABLED", st == 400
          and body["detail"]["code"] == "TWO_FACTOR_NOT_ENABLED", (st, body))

    st, body, _ = c.post("/api/v1/2fa/setup", headers=auth)
    check("aius 2fa setup: 200 exactly {secret, otpauth_uri}", st == 200
          and set(body) == {"secret", "otpauth_uri"}
          and re.fullmatch(r"[A-Z2-7]{32}", body["secret"]) is not None
          and body["otpauth_uri"].startswith("otpauth://totp/AIUS:alice@example.com?")
          and f"secret={body['secret']}&" in body["otpauth_uri"] and "issuer=AIUS" in body["otpauth_uri"],
          (st, body))
    SECRETS.update({body["secret"], body["otpauth_uri"]})
    old_secret = body["secret"]
    st, body, _ = c.post("/api/v1/2fa/setup", headers={"Cookie": f"{COOKIE}={session}"})
    check("aius 2fa setup again (cookie): a new pending secret", st == 200 and body["secret"] != old_secret,
          (st, body))
    secret = body["secret"]
    SECRETS.update({secret, body["otpauth_uri"]})
    st, body, _ = c.call("GET", "/api/v1/2fa/status", headers=auth)
    check("aius 2fa setup: not yet active", body == {"enabled": False}, body)
    st, body, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": PASSWORDS[0]})
    remember(body, "session_token")
    check("aius 2fa setup: login still without a challenge", st == 200 and "session_token" in body, body)

    now = time.time()
    window = {b32_totp(secret, now + d) for d in (-60, -30, 0, 30, 60)}
    bad = next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in window)
    st, body, _ = c.post("/api/v1/2fa/enable", {"code": bad}, headers=auth)
    check("aius 2fa enable: wrong code -> exactly 400 INVALID_CODE", (st, body) == (400, {
        "detail": {"code": "INVALID_CODE", "message": "Invalid two-factor code"}}), (st, body))
    st, _, _ = c.post("/api/v1/2fa/enable", {"code": b32_totp(old_secret, time.time())}, headers=auth)
    check("aius 2fa enable: the replaced secret's code -> 400", st == 400, st)
    aius_err("aius 2fa enable: integer code -> 422",
             c.post("/api/v1/2fa/enable", {"code": 123456}, headers=auth), 422, "VALIDATION_ERROR")
    aius_err("aius 2fa enable: no code -> 422", c.post("/api/v1/2fa/enable", {}, headers=auth),
             422, "VALIDATION_ERROR")
    st, body, _ = c.post("/api/v1/2fa/enable", {"code": b32_totp(secret, time.time())}, headers=auth)
    codes = body.get("recovery_codes") if isinstance(body, dict) else None
    check("aius 2fa enable: 200 {enabled: true, recovery_codes: 8 codes}", st == 200
          and set(body) == {"enabled", "recovery_codes"} and body["enabled"] is True
          and isinstance(codes, list) and len(codes) == 8 and len(set(codes)) == 8
          and all(re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}", x) for x in codes), (st, body))
    SECRETS.update(codes or [])
    st, body, _ = c.call("GET", "/api/v1/2fa/status", headers=auth)
    check("aius 2fa enable: status enabled", body == {"enabled": True}, body)
    st, body, _ = c.post("/api/v1/2fa/setup", headers=auth)
    check("aius 2fa setup while enabled -> 409", st == 409
          and body["detail"]["code"] == "TWO_FACTOR_ALREADY_ENABLED", (st, body))
    st, body, _ = c.post("/api/v1/2fa/enable", {"code": b32_totp(secret, time.time())}, headers=auth)
    check("aius 2fa enable while enabled -> 409", st == 409, (st, body))
    st, body, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": PASSWORDS[0]})
    check("aius 2fa enable: login now asks for a code", body.get("requires_2fa") is True, body)
    SECRETS.add(body.get("challenge_token", ""))
    st, body2, _ = c.post("/api/v1/2fa/login", {"challenge_token": body["challenge_token"], "code": codes[0]})
    remember(body2, "session_token")
    check("aius 2fa enable: a new recovery code logs in", st == 200, (st, body2))

    st, body, _ = c.post("/api/v1/2fa/disable", {"code": codes[0]}, headers=auth)
    check("aius 2fa disable: a used recovery code -> 400 INVALID_CODE", st == 400
          and body["detail"]["code"] == "INVALID_CODE", (st, body))
    st, body, _ = c.post("/api/v1/2fa/disable", {"code": f" {codes[1]} "}, headers=auth)
    check("aius 2fa disable: a recovery code -> 200 exactly {enabled: false}", (st, body) == (200, {"enabled": False}),
          (st, body))
    st, body, _ = c.call("GET", "/api/v1/2fa/status", headers=auth)
    check("aius 2fa disable: status disabled", body == {"enabled": False}, body)
    st, body, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": PASSWORDS[0]})
    remember(body, "session_token")
    check("aius 2fa disable: login without a challenge again", "session_token" in body, body)

    bob = {"Authorization": f"Bearer {aius_mint(c, aius_session_2fa(c, 'bob@example.com', PASSWORDS[1]))}"}
    st, body, _ = c.post("/api/v1/2fa/disable", {"code": bad}, headers=bob)
    check("aius 2fa disable: wrong TOTP -> 400", st == 400 and body["detail"]["code"] == "INVALID_CODE", body)
    st, body, _ = c.post("/api/v1/2fa/disable", {"code": totp(USERS["users"][1]["totp_secret_hex"], time.time())},
                         headers=bob)
    check("aius 2fa disable: a current TOTP -> 200", (st, body) == (200, {"enabled": False}), (st, body))
    c.admin("/_emu/reset", {})
    st, body, _ = c.post("/api/v1/login", {"email": "bob@example.com", "password": PASSWORDS[1]})
    SECRETS.add(body.get("challenge_token", ""))
    st2, body2, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": PASSWORDS[0]})
    remember(body2, "session_token")
    check("admin reset: users' 2FA back as in users.json", body.get("requires_2fa") is True
          and "session_token" in body2, (body, body2))


def test_aius_password_reset(c: Client) -> None:
    c.admin("/_emu/reset", {})
    emu = c.emu
    req, confirm = "/api/v1/password/reset/request", "/api/v1/password/reset/confirm"
    reset_file = emu.outbox / "alice@example.com.reset"
    expected = {"message": "If the address is registered, a reset email has been sent"}
    aius_err("aius reset request: no email -> 422", c.post(req, {}), 422, "VALIDATION_ERROR")
    st, body, _ = c.post(req, {"email": "mallory@example.com"})
    check("aius reset request: unknown email -> 200, nothing mailed", (st, body) == (200, expected)
          and c.stats()["resets_sent"] == 0 and not (emu.outbox / "mallory@example.com.reset").exists(), (st, body))
    st, body, _ = c.post(req, {"email": "alice@example.com"})
    first = reset_file.read_text()
    check("aius reset request: 200 and <email>.reset holds XXXX-XXXX-XXXX",
          (st, body) == (200, expected) and re.fullmatch(r"[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){2}\n", first)
          is not None and c.stats()["resets_sent"] == 1, (st, body, first))
    first = first.strip()
    SECRETS.add(first)
    last = (emu.outbox / "mail.log").read_text().splitlines()[-1].split(" ")
    check("aius reset request: mail.log '<time> <email> password-reset <token>'",
          last[1:] == ["alice@example.com", "password-reset", first], last)
    st, body, _ = c.post(confirm, {"token": "AAAA-BBBB-CCCC", "new_password": "Brand-New-Pass-9"})
    check("aius reset confirm: unknown token -> exactly 400 INVALID_RESET_TOKEN", (st, body) == (400, {
        "detail": {"code": "INVALID_RESET_TOKEN", "message": "Invalid or expired reset token"}}), (st, body))
    c.post(req, {"email": "alice@example.com"})
    second = reset_file.read_text().strip()
    SECRETS.add(second)
    st, _, _ = c.post(confirm, {"token": first, "new_password": "Brand-New-Pass-9"})
    check("aius reset confirm: a newer request voids the older token", st == 400 and second != first, st)
    st, body, _ = c.post(confirm, {"token": second, "new_password": "short"})
    check("aius reset confirm: short password -> 400 WEAK_PASSWORD", st == 400
          and body["detail"]["code"] == "WEAK_PASSWORD", (st, body))
    aius_err("aius reset confirm: no new_password -> 422", c.post(confirm, {"token": second}),
             422, "VALIDATION_ERROR")
    session = aius_session(c, "alice@example.com", PASSWORDS[0])
    durable = aius_mint(c, session)
    st, body, _ = c.post(confirm, {"token": f"  {second.lower()} ", "new_password": "Brand-New-Pass-9"})
    check("aius reset confirm: 200 (token survived the weak password; case and blanks ignored)",
          (st, body) == (200, {"message": "Password updated"}), (st, body))
    PASSWORDS.append("Brand-New-Pass-9")
    st, _, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": PASSWORDS[0]})
    check("aius reset confirm: the old password is refused", st == 401, st)
    st, body, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": "Brand-New-Pass-9"})
    remember(body, "session_token")
    check("aius reset confirm: the new password logs in", st == 200, (st, body))
    st, _, _ = c.post(confirm, {"token": second, "new_password": "Another-Pass-10"})
    check("aius reset confirm: a token works once", st == 400, st)
    st, _, _ = c.call("GET", "/api/v1/2fa/status", headers={"Authorization": f"Bearer {durable}"})
    check("aius reset confirm: aius_ tokens stay valid", st == 200, st)
    c.admin("/_emu/reset", {})
    st, body, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": PASSWORDS[0]})
    remember(body, "session_token")
    check("admin reset: the password from users.json is back", st == 200, (st, body))


def test_reset_ttl(c: Client) -> None:
    """Emulator started with --reset-ttl 1."""
    c.post("/api/v1/password/reset/request", {"email": "carol@example.com"})
    token = (c.emu.outbox / "carol@example.com.reset").read_text().strip()
    SECRETS.add(token)
    time.sleep(1.2)
    st, body, _ = c.post("/api/v1/password/reset/confirm", {"token": token, "new_password": "Carol-New-Pass"})
    check("aius reset confirm: expired token -> 400 INVALID_RESET_TOKEN", st == 400
          and body["detail"]["code"] == "INVALID_RESET_TOKEN", (st, body))


def test_jwt_keys(c: Client) -> None:
    c.admin("/_emu/reset", {})
    keys = "/api/v1/auth/keys"

    def jwt_token(user: str, pw: str) -> str:
        _, body, _ = c.post("/api/v1/auth/login", {"username": user, "password": pw})
        remember(body, "token", "refreshToken")
        return body["token"]

    alice = {"Authorization": f"Bearer {jwt_token('alice', PASSWORDS[0])}"}
    bob = {"Authorization": f"Bearer {jwt_token('bob', PASSWORDS[1])}"}
    aius_tok = aius_mint(c, aius_session(c, "carol@example.com", PASSWORDS[2]))
    _, dev, _ = c.post("/v1/auth/dev-login", {"email_or_username": "alice", "password": PASSWORDS[0]},
                       headers={"X-API-Key": API_KEY})
    remember(dev, "access_token", "refresh_token")
    denied = (401, {"error": "Authentication required"})
    for method, path in [("POST", keys), ("GET", keys), ("DELETE", keys + "/key_abc123")]:
        for label, hdrs in [("no Authorization", {}), ("unknown token", {"Authorization": "Bearer a.b.c"}),
                            ("Basic scheme", {"Authorization": alice["Authorization"].replace("Bearer", "Basic")}),
                            ("an AIUS aius_ token", {"Authorization": f"Bearer {aius_tok}"}),
                            ("a Freddy access token", {"Authorization": f"Bearer {dev['access_token']}"})]:
            st, body, _ = c.call(method, path, {"name": "x"} if method == "POST" else None, headers=hdrs)
            check(f"jwt keys {method}: {label} -> 401 Authentication required", (st, body) == denied, (st, body))
    for label, payload in [("no name", {}), ("empty name", {"name": ""}), ("integer name", {"name": 5}),
                           ("name over 200 characters", {"name": "n" * 201})]:
        st, body, _ = c.post(keys, payload, headers=alice)
        check(f"jwt keys create: {label} -> 400 Invalid request body",
              (st, body) == (400, {"error": "Invalid request body"}), (st, body))
    st, body, _ = c.post(keys, raw=b"", headers=alice)
    check("jwt keys create: no body -> 400", st == 400, (st, body))
    st, body, _ = c.post(keys, {"name": "My Integration Key"}, headers=alice)
    remember(body, "apiKey")
    check("jwt keys create: 201 exactly {keyId, apiKey, name, createdAt}", st == 201
          and set(body) == {"keyId", "apiKey", "name", "createdAt"}
          and re.fullmatch(r"key_[0-9a-f]{6}", body["keyId"]) is not None
          and re.fullmatch(r"sk_live_[a-z0-9]{24}", body["apiKey"]) is not None
          and body["name"] == "My Integration Key"
          and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["createdAt"]) is not None, (st, body))
    first = body
    st, second, _ = c.post(keys, {"name": "Staging Key"}, headers=alice)
    remember(second, "apiKey")
    st, body, hdrs = c.call("GET", keys, headers=alice)
    check("jwt keys list: 200, oldest first, {keyId, name, createdAt, lastUsed: null}, never the key",
          st == 200 and body == [
              {"keyId": first["keyId"], "name": "My Integration Key", "createdAt": first["createdAt"],
               "lastUsed": None},
              {"keyId": second["keyId"], "name": "Staging Key", "createdAt": second["createdAt"],
               "lastUsed": None}]
          and "sk_live_" not in json.dumps(body), (st, body))
    used = c.admin("/_emu/use-api-key", {"keyId": second["keyId"]})
    _, body, _ = c.call("GET", keys, headers=alice)
    check("admin use-api-key: lastUsed shown in the list", body[1]["lastUsed"] == used["lastUsed"]
          and body[0]["lastUsed"] is None, body)
    st, body, _ = c.call("POST", "/_emu/use-api-key", {"keyId": "key_nope"})
    check("admin use-api-key: unknown key -> 404", st == 404, (st, body))
    st, body, _ = c.call("GET", keys, headers=bob)
    check("jwt keys list: another user sees none of them", (st, body) == (200, []), (st, body))
    not_found = (404, {"error": "API key not found"})
    st, body, _ = c.call("DELETE", f"{keys}/{first['keyId']}", headers=bob)
    check("jwt keys delete: another user's key -> 404 API key not found", (st, body) == not_found, (st, body))
    conn = c.raw_conn()
    conn.request("DELETE", f"{keys}/{first['keyId']}", headers=alice)
    r = conn.getresponse()
    raw_body = r.read()
    check("jwt keys delete: 204, no body, no Content-Length", r.status == 204 and raw_body == b""
          and r.getheader("Content-Length") is None, (r.status, raw_body, r.getheaders()))
    conn.request("DELETE", f"{keys}/{first['keyId']}", headers=alice)
    r = conn.getresponse()
    again = (r.status, json.loads(r.read()))
    conn.close()
    check("jwt keys delete: again on the same connection -> 404 API key not found", again == not_found, again)
    st, body, _ = c.call("DELETE", keys + "/", headers=alice)
    check("jwt keys delete: empty keyId -> 404 API key not found", (st, body) == not_found, (st, body))
    st, body, _ = c.call("DELETE", f"{keys}/a/b", headers=alice)
    check("jwt keys delete: deeper path -> 404 Not found", (st, body) == (404, {"error": "Not found"}), (st, body))
    _, body, _ = c.call("GET", keys, headers=alice)
    check("jwt keys list: the deleted key is gone", [k["keyId"] for k in body] == [second["keyId"]], body)
    st, body, hdrs = c.call("PUT", keys, {"name": "x"}, headers=alice)
    check("jwt keys: PUT -> 405 Allow: GET, POST", st == 405 and hdrs.get("Allow") == "GET, POST"
          and body == {"error": "Method not allowed"}, (st, body, dict(hdrs)))
    st, body, hdrs = c.call("GET", f"{keys}/{second['keyId']}", headers=alice)
    check("jwt keys: GET one key -> 405 Allow: DELETE", st == 405 and hdrs.get("Allow") == "DELETE", (st, body))
    c.admin("/_emu/expire-access", {"username": "alice"})
    st, body, _ = c.call("GET", keys, headers=alice)
    check("jwt keys: an expired access token -> 401", (st, body) == denied, (st, body))
    s = c.stats()
    check("stats: key requests counted per method and path; api_keys per user",
          s["requests"].get(f"DELETE {keys}/{first['keyId']}") == 3 and s["requests"].get(f"POST {keys}", 0) >= 8
          and s["api_keys"] == {"alice": 1}, s)


def test_selfservice_faults(c: Client) -> None:
    c.admin("/_emu/reset", {})
    _, body, _ = c.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORDS[0]})
    remember(body, "token", "refreshToken")
    auth = {"Authorization": f"Bearer {body['token']}"}
    c.config(fault="wrongtypes", fault_paths=["/api/v1/auth/keys"], fault_count=2)
    _, listed, _ = c.call("GET", "/api/v1/auth/keys", headers=auth)
    _, created, _ = c.post("/api/v1/auth/keys", {"name": "x"}, headers=auth)
    check("fault wrongtypes: GET /auth/keys a list of wrong types, POST an object",
          isinstance(listed, list) and listed[0].get("keyId") == [] and created.get("apiKey") == []
          and c.stats()["api_keys"] == {}, (listed, created))
    c.config(fault="status", fault_status=503, fault_paths=["/api/v1/2fa/status"], fault_count=1)
    st, body, _ = c.call("GET", "/api/v1/2fa/status")
    st2, _, _ = c.call("GET", "/api/v1/2fa/status")
    check("fault status on GET /api/v1/2fa/status, then normal again", (st, body, st2) == (503, {}, 401),
          (st, body, st2))
    c.config(fault=None)


def test_jwt(c: Client) -> None:
    st, body, _ = c.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORDS[0]})
    remember(body, "token", "refreshToken")
    check("jwt login: 200 {token, expires_in 3600, refreshToken, user}", st == 200
          and set(body) == {"token", "expires_in", "refreshToken", "user"} and body["expires_in"] == 3600
          and body["user"] == {"id": body["user"].get("id"), "username": "alice", "email": "alice@example.com"}
          and is_jwt_like(body["token"]) and is_jwt_like(body["refreshToken"]), body)
    access, refresh = body["token"], body["refreshToken"]
    st, body, _ = c.post("/api/v1/auth/login", {"username": "mallory", "password": "x"})
    check("jwt login: unknown user -> 401 User not found", (st, body) == (401, {"error": "User not found"}), body)
    st, body, _ = c.post("/api/v1/auth/login", {"username": "alice@example.com", "password": PASSWORDS[0]})
    check("jwt login: email is not a username", (st, body) == (401, {"error": "User not found"}), body)
    st, body, _ = c.post("/api/v1/auth/login", {"username": "alice", "password": "x"})
    check("jwt login: wrong password -> 401 Invalid credentials",
          (st, body) == (401, {"error": "Invalid credentials"}), body)
    st, body, _ = c.post("/api/v1/auth/login", raw=b"not json")
    check("jwt login: non-JSON -> 400 {error}", st == 400 and set(body) == {"error"}, (st, body))

    st, body, _ = c.post("/api/v1/auth/refresh", {"refreshToken": refresh})
    remember(body, "token")
    check("jwt refresh: 200 {token, expires_in 3600}", st == 200 and set(body) == {"token", "expires_in"}
          and body["expires_in"] == 3600 and is_jwt_like(body["token"]), body)
    st, body, _ = c.post("/api/v1/auth/refresh", {"refreshToken": "x.y.z"})
    check("jwt refresh: bad token -> 401 documented error",
          (st, body) == (401, {"error": "Invalid or expired refresh token"}), body)

    st, body, _ = c.post("/api/v1/auth/logout")
    check("jwt logout: no Authorization -> 401", (st, body) == (401, {"error": "Authentication required"}), body)
    st, body, _ = c.post("/api/v1/auth/logout", headers={"Authorization": "Bearer x.y.z"})
    check("jwt logout: unknown token -> 401", (st, body) == (401, {"error": "Authentication required"}), body)
    st, body, _ = c.post("/api/v1/auth/logout", headers={"Authorization": f"Basic {access}"})
    check("jwt logout: non-Bearer scheme -> 401", st == 401, body)
    st, body, _ = c.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {access}"})
    check("jwt logout: 200 Successfully logged out",
          (st, body) == (200, {"message": "Successfully logged out"}), body)
    st, _, _ = c.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {access}"})
    check("jwt logout: token invalid afterwards", st == 401, st)
    st, _, _ = c.post("/api/v1/auth/refresh", {"refreshToken": refresh})
    check("jwt logout: user's refresh tokens invalidated", st == 401, st)
    check("stats: logouts lists the user", c.stats()["logouts"] == ["alice"], c.stats())

    # tokens are per profile
    _, body, _ = c.post("/v1/auth/dev-login", {"email_or_username": "bob", "password": PASSWORDS[1]},
                        headers={"X-API-Key": API_KEY})
    remember(body, "access_token", "refresh_token")
    freddy_refresh = body["refresh_token"]
    st, _, _ = c.post("/api/v1/auth/refresh", {"refreshToken": freddy_refresh})
    check("tokens: a Freddy refresh token is refused by the JWT API", st == 401, st)

    # admin: expire-access and revoke
    _, body, _ = c.post("/api/v1/auth/login", {"username": "bob", "password": PASSWORDS[1]})
    remember(body, "token", "refreshToken")
    res = c.admin("/_emu/expire-access", {"username": "bob"})
    st, _, _ = c.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {body['token']}"})
    check("admin expire-access: access token refused afterwards", st == 401 and res["expired"] >= 1, (st, res))
    res = c.admin("/_emu/revoke", {"username": "bob"})
    st1, _, _ = c.post("/api/v1/auth/refresh", {"refreshToken": body["refreshToken"]})
    st2, _, _ = c.post("/v1/auth/refresh", {"refresh_token": freddy_refresh})
    check("admin revoke: JWT and Freddy refresh tokens refused", (st1, st2) == (401, 401)
          and res["revoked"] >= 2, (st1, st2, res))
    st, body, _ = c.call("POST", "/_emu/revoke", {"username": "nobody"})
    check("admin revoke: unknown user -> 404", st == 404, (st, body))


def test_http(c: Client) -> None:
    st, body, _ = c.post("/v1/nope", {})
    check("404: Freddy path -> Freddy envelope", st == 404 and body["error"]["code"] == "NOT_FOUND", body)
    st, body, _ = c.post("/api/v1/nope", {})
    check("404: AIUS path -> detail shape", st == 404 and body["detail"]["code"] == "NOT_FOUND", body)
    st, body, _ = c.call("GET", "/nope")
    check("404: other path -> JSON", st == 404 and isinstance(body, dict), body)
    st, body, hdrs = c.call("GET", "/v1/auth/login")
    check("405: GET on an API path, Allow: POST", st == 405 and hdrs.get("Allow") == "POST", (st, body))

    big = json.dumps({"email_or_username": "a" * 70000, "password": "x"}).encode()
    st, body, _ = c.post("/v1/auth/login", raw=big)
    check("413: body over 64 KiB", st == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE", (st, body))
    conn = c.raw_conn()
    conn.request("POST", "/api/v1/auth/login", body=big,
                 headers={"Content-Type": "application/json", "Expect": "100-continue"})
    r = conn.getresponse()
    check("413: also with Expect: 100-continue (JWT shape)", r.status == 413
          and json.loads(r.read()) == {"error": "Request body too large"}, r.status)
    conn.close()

    # keep-alive: three requests, one TCP connection
    before = c.stats()["connections"]
    conn = c.raw_conn()
    lengths = []
    for _ in range(3):
        conn.request("POST", "/api/v1/auth/login", body=b'{"username":"x","password":"y"}',
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        lengths.append((r.status, r.getheader("Content-Length"), len(r.read())))
    conn.close()
    after = c.stats()["connections"]
    check("keep-alive: 3 requests reuse 1 connection, with Content-Length",
          after - before == 2 and all(s == 401 and int(n) == m for s, n, m in lengths),
          (before, after, lengths))   # +1 for this connection, +1 for the stats call itself


def test_admin_and_latency(c: Client) -> None:
    c.admin("/_emu/reset", {})
    s = c.stats()
    check("admin reset: stats cleared", s["requests"] == {} and s["logouts"] == [] and s["codes_sent"] == 0
          and s["connections"] == 1, s)
    freddy_login(c, "alice", PASSWORDS[0], "alice@example.com")
    key, code = freddy_login(c, "alice", PASSWORDS[0], "alice@example.com")
    st, body, _ = c.post("/v1/auth/verify", {"email_key": key, "verification_code": code})
    remember(body, "token", "refreshToken")
    s = c.stats()
    check("admin stats: per-endpoint request counts and codes_sent",
          s["requests"] == {"POST /v1/auth/login": 2, "POST /v1/auth/verify": 1} and s["codes_sent"] == 2, s)
    st, body, _ = c.call("POST", "/_emu/config", {"fault": "bogus"})
    check("admin config: unknown fault -> 400", st == 400, (st, body))
    st, body, _ = c.call("POST", "/_emu/config", {"colour": 1})
    check("admin config: unknown key -> 400", st == 400, (st, body))
    st, body, _ = c.call("POST", "/_emu/nope", {})
    check("admin: unknown endpoint -> 404", st == 404, (st, body))

    c.config(latency_ms=300)
    t = time.monotonic()
    c.post("/api/v1/auth/login", {"username": "x", "password": "y"})
    single = time.monotonic() - t
    t = time.monotonic()
    c.stats()
    admin_t = time.monotonic() - t
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(
        c.post("/api/v1/auth/login", {"username": "x", "password": "y"})[0])) for _ in range(4)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    parallel = time.monotonic() - t
    c.config(latency_ms=0)
    check("latency: applied to API requests", single >= 0.3, single)
    check("latency: not applied to /_emu/", admin_t < 0.25, admin_t)
    check("latency: per request, does not block others", parallel < 0.9 and results == [401] * 4,
          (parallel, results))

    # reset clears tokens too
    _, body, _ = c.post("/api/v1/auth/login", {"username": "carol", "password": PASSWORDS[2]})
    remember(body, "token", "refreshToken")
    c.config(fault="status", fault_status=503, latency_ms=5)
    c.admin("/_emu/reset", {})
    cfg = c.admin("/_emu/config")
    st, _, _ = c.post("/api/v1/auth/refresh", {"refreshToken": body["refreshToken"]})
    check("admin reset: faults/latency cleared, tokens dropped", cfg["fault"] is None
          and cfg["latency_ms"] == 0 and st == 401, (cfg, st))


def test_faults(c: Client) -> None:
    port = c.emu.port
    login = {"email_or_username": "alice", "password": PASSWORDS[0]}

    def raw(path: str, body: Any, timeout: float = 5.0) -> tuple[http.client.HTTPSConnection,
                                                                 http.client.HTTPResponse]:
        conn = c.raw_conn(timeout)
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        return conn, conn.getresponse()

    # hang
    c.config(fault="hang", fault_count=1)
    t = time.monotonic()
    try:
        conn, r = raw("/v1/auth/login", login, timeout=1.0)
        res = f"got {r.status}"
    except TimeoutError:
        res = "timeout"
    check("fault hang: client times out", res == "timeout" and time.monotonic() - t < 3, res)
    st, body, _ = c.post("/api/v1/auth/login", {"username": "x", "password": "y"})
    check("fault_count 1: next request served normally", st == 401, st)
    c.config(fault="hang")
    t = time.monotonic()
    s = c.stats()
    check("faults never apply to /_emu/", time.monotonic() - t < 1 and "requests" in s)

    # trickle
    c.config(fault="trickle", fault_count=1)
    t = time.monotonic()
    conn, r = raw("/api/v1/auth/login", {"username": "alice", "password": PASSWORDS[0]}, timeout=0.5)
    header_t = time.monotonic() - t
    try:
        r.read()
        res = "complete"
    except TimeoutError:
        res = "timeout"
    conn.close()
    check("fault trickle: 200 header at once, body times out", r.status == 200 and header_t < 0.5
          and res == "timeout" and int(r.getheader("Content-Length")) > 10, (r.status, header_t, res))

    # html500
    c.config(fault="html500", fault_count=1)
    st, body, hdrs = c.post("/v1/auth/login", login)
    check("fault html500: 500 text/html page", st == 500 and hdrs.get("Content-Type", "").startswith("text/html")
          and isinstance(body, bytes) and body.startswith(b"<!DOCTYPE html>"), (st, hdrs.get("Content-Type")))

    # truncated
    c.config(fault="truncated", fault_count=1)
    conn, r = raw("/v1/auth/verify", {"email_key": "k", "verification_code": 1})
    try:
        r.read()
        res = "complete"
    except http.client.IncompleteRead as e:
        res = f"incomplete {len(e.partial)}/{r.getheader('Content-Length')}"
    conn.close()
    check("fault truncated: 200 JSON cut short of Content-Length", r.status == 200
          and res.startswith("incomplete"), res)

    # wrongtypes
    c.config(fault="wrongtypes", fault_count=4)
    sent = c.stats()["codes_sent"]
    _, b1, _ = c.post("/v1/auth/login", login)
    _, b2, _ = c.post("/v1/auth/verify", {"email_key": "k", "verification_code": 1})
    _, b3, _ = c.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORDS[0]})
    _, b4, _ = c.post("/api/v1/2fa/login", {"challenge_token": "c", "code": "1"})
    check("fault wrongtypes: right names, wrong types", b1.get("email_key") == 123 and b2.get("token") == []
          and b2.get("refreshToken") == {} and b2.get("expires_in") == "x" and b3.get("refreshToken") == {}
          and b4.get("session_token") == 5, (b1, b2, b3, b4))
    check("faulted requests do not reach the handler (no code sent)", c.stats()["codes_sent"] == sent)

    # hugebody
    c.config(fault="hugebody", fault_count=1)
    conn, r = raw("/v1/auth/login", login)
    first = r.read(1 << 20)
    conn.close()
    check("fault hugebody: chunked, no Content-Length, JSON prefix", r.status == 200
          and r.getheader("Transfer-Encoding") == "chunked" and r.getheader("Content-Length") is None
          and first.startswith(b'{"token": "') and len(first) == 1 << 20, (r.status, r.getheaders()))
    st, _, _ = c.post("/api/v1/auth/login", {"username": "x", "password": "y"})
    check("fault hugebody: server fine after client hung up", st == 401, st)

    # redirect
    c.config(fault="redirect", fault_paths=["/v1/auth/login"], fault_count=2)
    before = c.stats()["elsewhere"]
    st, body, hdrs = c.post("/v1/auth/login", login)
    check("fault redirect: 302 to /v1/elsewhere", st == 302
          and hdrs.get("Location") == f"https://127.0.0.1:{port}/v1/elsewhere", (st, dict(hdrs)))
    check("fault redirect: non-following client never hits /v1/elsewhere", c.stats()["elsewhere"] == before)
    follow = urllib.request.build_opener(urllib.request.HTTPSHandler(context=c.ctx))
    st, body, _ = c.post("/v1/auth/login", login, opener=follow)
    s = c.stats()
    check("fault redirect: a following client lands on a 200 and is recorded", st == 200
          and s["elsewhere"] == before + 1 and s["requests"].get("GET /v1/elsewhere") == 1, (st, s))

    # reset
    # Python's ssl module may report a reset as a ragged EOF, so look at the
    # client socket's TCP state instead: CLOSE after a RST, CLOSE_WAIT after a FIN.
    c.config(fault="reset", fault_count=1)
    payload = json.dumps(login).encode()
    request = (f"POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
    with c.ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                           server_hostname="127.0.0.1") as tls:
        tls.sendall(request)
        got = b""
        try:
            while chunk := tls.recv(4096):
                got += chunk
            res = "eof"
        except (ConnectionResetError, ssl.SSLError) as e:
            res = type(e).__name__
        tcp_state = tls.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    check("fault reset: TCP RST, no response", got == b"" and tcp_state == 7,   # 7 = TCP_CLOSE
          (res, got[:40], tcp_state))

    # status, fault_paths, fault_count
    c.config(fault="status", fault_status=503, fault_count=2)
    a = [c.post("/v1/auth/login", {"email_or_username": "alice", "password": "x"})[:2] for _ in range(3)]
    check("fault status: fault_status with {} body; fault_count 2", a[0] == (503, {}) and a[1] == (503, {})
          and a[2][0] == 401, a)
    c.config(fault="status", fault_status=502, fault_paths=["/v1/auth/verify"])
    st1, _, _ = c.post("/v1/auth/login", {"email_or_username": "alice", "password": "x"})
    st2, _, _ = c.post("/v1/auth/verify", {"email_key": "k", "verification_code": 1})
    check("fault_paths: only the listed path is faulted", (st1, st2) == (401, 502), (st1, st2))
    c.config(fault=None)

    # control_chars
    c.config(control_chars=True)
    _, b1, _ = c.post("/v1/auth/login", {"email_or_username": "alice", "password": "x"})
    _, b2, _ = c.post("/api/v1/login", {"email": "alice@example.com", "password": "x"})
    _, b3, _ = c.post("/api/v1/auth/login", {"username": "alice", "password": "x"})
    c.config(control_chars=False)
    _, b4, _ = c.post("/api/v1/auth/login", {"username": "alice", "password": "x"})
    check("control_chars: escapes in every profile's error message", ESC in b1["error"]["message"]
          and "\r\n" in b1["error"]["message"] and ESC in b2["detail"]["message"] and ESC in b3["error"]
          and b4 == {"error": "Invalid credentials"}, (b1, b2, b3, b4))


def test_logs(main: Emu, short: Emu, wrong: Emu, untrusted: Emu) -> None:
    text = main.stderr_path.read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if re.match(r"emu: (GET|POST|PUT|DELETE) ", ln)]
    check("log: one line per request (method path status ms)", len(lines) > 50 and all(
        re.fullmatch(r"emu: [A-Z]+ \S+ (\d{3}|-) \d+\.\dms", ln) for ln in lines)
        and any(ln.startswith("emu: DELETE /api/v1/auth/keys/key_") for ln in lines), lines[:3])
    leaked = [s for s in SECRETS | set(PASSWORDS) if s in text]
    leaked += [c for c in CODES if re.search(rf"(?<![\d.]){c}(?![\d.])", text)]
    check("log: no passwords, codes, tokens or keys", not leaked and len(SECRETS) > 20, leaked)
    check("log: --quiet prints nothing", all(e.stderr_path.read_text() == "" for e in (short, wrong, untrusted)),
          [e.stderr_path.read_text()[:200] for e in (short, wrong, untrusted)])


def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="emu-selftest-"))
    emus: list[Emu] = []
    try:
        certs = tmp / "certs"
        subprocess.run(["sh", str(MAKE_CERTS), str(certs)], check=True)
        test_certs(certs)
        (tmp / "users.json").write_text(json.dumps(USERS))

        if shutil.which("oathtool"):
            out = subprocess.run(["oathtool", "--totp", "-N", "@59", USERS["users"][1]["totp_secret_hex"]],
                                 capture_output=True, text=True).stdout.strip()
            check("totp helper agrees with oathtool", out == totp(USERS["users"][1]["totp_secret_hex"], 59)
                  == "287082", out)

        main_emu = Emu(tmp, "main", "server", ["--api-key", API_KEY, "--max-login-failures", "3"], False)
        short = Emu(tmp, "short", "server", ["--code-ttl", "1", "--key-ttl", "2", "--max-code-failures", "2",
                                              "--access-ttl", "77", "--reset-ttl", "1"], True)
        wrong = Emu(tmp, "wrong", "wronghost", [], True)
        untrusted = Emu(tmp, "untrusted", "untrusted", [], True)
        emus = [main_emu, short, wrong, untrusted]
        for e in emus:
            e.wait_ready()
        test_port_file(main_emu)

        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        c = Client(main_emu, ctx)
        test_tls(ctx, main_emu, wrong, untrusted)
        test_freddy(c)
        test_short_ttl(Client(short, ctx))
        test_aius(c)
        test_jwt(c)
        test_aius_tokens(c)
        test_aius_2fa_management(c)
        test_aius_password_reset(c)
        test_reset_ttl(Client(short, ctx))
        test_jwt_keys(c)
        test_selfservice_faults(c)
        test_http(c)
        test_admin_and_latency(c)
        test_faults(c)

        rcs = [e.stop() for e in emus]
        check("SIGTERM: every instance exits 0", rcs == [0, 0, 0, 0], rcs)
        test_logs(main_emu, short, wrong, untrusted)
    except Exception as e:  # noqa: BLE001 -- report and fail
        import traceback
        traceback.print_exc()
        check("selftest ran to completion", False, repr(e))
    finally:
        for e in emus:
            e.stop()
        if "-k" not in sys.argv:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    elapsed = time.monotonic() - started
    if FAILURES:
        print(f"selftest: {len(FAILURES)} FAILED ({elapsed:.1f}s): {', '.join(FAILURES)}")
        return 1
    print(f"selftest: all checks passed ({elapsed:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
