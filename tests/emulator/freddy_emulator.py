#!/usr/bin/python3
"""HTTPS emulator of the Freddy, AIUS and JWT authentication APIs, for tests.

Python 3.11 standard library only.  One process serves all three API
profiles on one HTTPS port, plus test-only admin endpoints under /_emu/:

  Freddy (api_url https://127.0.0.1:PORT/v1)
    POST /v1/auth/login  /v1/auth/verify  /v1/auth/resend-email
    POST /v1/auth/refresh  /v1/auth/dev-login
  AIUS (api_url https://127.0.0.1:PORT/api)
    POST /api/v1/login  /api/v1/2fa/login
  JWT (api_url https://127.0.0.1:PORT/api/v1)
    POST /api/v1/auth/login  /api/v1/auth/refresh  /api/v1/auth/logout
  Admin
    GET /_emu/stats  GET|POST /_emu/config  POST /_emu/revoke
    POST /_emu/reset  POST /_emu/expire-access
  Redirect target (for the "redirect" fault; any method)
    /v1/elsewhere

The behaviour follows /work/shared/api/*.txt.  Where those documents are
silent the choice made is marked in the code with "# DOCS SILENT:" and
listed here:

 1. Freddy verification codes are 1000-9999 (no leading zero): the docs send
    the code as a JSON integer, which cannot carry one.
 2. Freddy /auth/verify accepts verification_code as a JSON integer (as
    documented) or as a string of ASCII digits; anything else (bool, float,
    other strings, missing) is 422 VALIDATION_ERROR.
 3. Freddy wrong code: 401 INVALID_VERIFICATION_CODE "Invalid verification
    code."; the email_key stays usable (unless --max-code-failures is hit).
 4. Freddy unknown / consumed / expired email_key, or expired code: 401
    VERIFICATION_EXPIRED "Verification code expired. Please log in again."
 5. Freddy email_key lifetime: the guide gives 5 minutes for both the key and
    the code, yet tells clients to call resend-email with the key once the
    code has expired.  The key therefore lives --key-ttl (default
    2 x --code-ttl) from login; the code lives --code-ttl from its sending.
    resend-email does not extend the key.
 6. Freddy /auth/resend-email success body: {"success": true, "message":
    "Verification code sent."}; unknown key: 401 VERIFICATION_EXPIRED.
    Not rate limited.
 7. Freddy /auth/refresh takes {"refresh_token": ...} (snake_case, like the
    guide's examples) and answers exactly the guide's body {"token",
    "device_id": "device-123"} (no expires_in).  Refresh tokens are not
    rotated.  Bad token: 401 INVALID_REFRESH_TOKEN.
 8. Freddy /auth/dev-login with wrong credentials: 401 INVALID_CREDENTIALS.
    expires_in is --access-ttl (the example's 1 is a placeholder); device_id
    is a random 12-hex string; user is {} as in the example.  Dev-login
    failures are not counted towards the login rate limit.
 9. Freddy TOO_MANY_LOGIN_ATTEMPTS is sent exactly as documented, i.e.
    without "type", "trace_id" and "timestamp"; Retry-After: 300 header.
    Failures are counted per identifier string as sent; after
    --max-login-failures failures in 10 minutes every attempt (even with the
    right password) is 429 until they age out; 429s are not counted.
10. Login identifiers match exactly (case-sensitive) for all profiles.
11. Request body errors: Freddy 422 VALIDATION_ERROR envelope (also for
    non-JSON bodies, as FastAPI does); AIUS 422 {"detail": {"code":
    "VALIDATION_ERROR", ...}}; JWT 400 {"error": "Invalid request body"}.
    Bodies over 64 KiB: 413 in the profile's shape (PAYLOAD_TOO_LARGE).
12. Unknown paths: 404 in the shape of the profile the prefix belongs to
    (/v1/ Freddy, /api/v1/auth/ JWT, other /api/ AIUS, else JWT-like);
    non-POST methods on API paths: 405 with Allow: POST.
13. AIUS 2FA login body: {"requires_2fa": true, "challenge_token",
    "message": "Two-factor authentication required"} (the doc's example body
    is missing; field names come from its prose).  Challenges live 300 s and
    survive a wrong code.  Success message is "Logged in".
14. AIUS 2FA code must be a JSON string (a TOTP code may have a leading
    zero).  TOTP is RFC 6238 SHA1/6 digits/30 s, +-1 step, and a code may be
    reused within its window (the emulator keeps no replay state).  Recovery
    codes match exactly after stripping surrounding whitespace and are
    single-use.  Unknown/expired challenge: INVALID_CHALLENGE "Invalid or
    expired challenge"; bad code: INVALID_CODE "Invalid two-factor code".
15. AIUS session_token lifetime: 3600 s (the doc only says "short-lived").
16. JWT /auth/login also returns "refreshToken" (the doc's example does not
    show one, but its refresh endpoint requires one).  Access tokens live
    3600 s (the documented expires_in); refresh tokens 30 days.
17. JWT /auth/logout invalidates the presented access token and every JWT
    refresh token of that user; the Bearer scheme name is case-insensitive.
18. Tokens are HS256 JWTs signed with a per-process random key (content:
    sub, iat, exp, jti, typ); the server's own state, not the signature,
    decides validity.  Tokens of one profile are not accepted by another.
19. Requests hit by a fault never reach the real handler (no state change,
    no code sent); they are still counted in the stats.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import os
import secrets
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024
LOGIN_FAILURE_WINDOW = 600       # seconds over which Freddy login failures count
RETRY_AFTER = 300                # documented details.retry_after
CHALLENGE_TTL = 300              # AIUS 2FA challenge lifetime
AIUS_SESSION_TTL = 3600          # DOCS SILENT: doc says only "short-lived"; 1 h (item 15)
JWT_ACCESS_TTL = 3600            # documented expires_in of the JWT API
REFRESH_TTL = 30 * 86400         # Freddy guide: refresh token 30 days
FREDDY_DEVICE_ID = "device-123"  # exactly the guide's refresh response
TOTP_STEP = 30
TOTP_DIGITS = 6
HANG_MAX = 120.0
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0              # keep-alive idle timeout per connection
LINGER_MAX = 2.0                 # drain time after our FIN before close
HUGE_BODY_SIZE = 50 * 1024 * 1024
ELSEWHERE = "/v1/elsewhere"
FAULTS = ("hang", "trickle", "html500", "truncated", "wrongtypes",
          "hugebody", "redirect", "reset", "status")
# Terminal escapes, C1 controls, and the invisible characters that make
# text read otherwise: a bidi override and isolates, a line separator, a
# zero-width space and a BOM.
EVIL = ("\u001b[31mEVIL\u001b[0m\r\nInjected\u0007\u009b2J\u001b]0;pwned\u0007"
        "\u202etxt.exe\u2066x\u2069\u2028next\u200b\ufeff")


# --------------------------------------------------------------------------
# helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def utc_timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def totp(secret: bytes, at: float, step: int = TOTP_STEP, digits: int = TOTP_DIGITS) -> str:
    """RFC 6238 TOTP with HMAC-SHA1."""
    counter = int(at // step)
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10 ** digits:0{digits}d}"


def safe_for_log(text: str, limit: int = 200) -> str:
    text = text[:limit]
    return text if text.isprintable() else repr(text)


@dataclasses.dataclass
class User:
    username: str
    email: str
    password: str
    totp_secret: bytes | None = None
    recovery_codes: tuple[str, ...] = ()
    aius_2fa: bool = False

    def _digest(self, salt: str) -> bytes:
        return hashlib.sha256(f"{salt}:{self.username}".encode()).digest()

    @property
    def freddy_id(self) -> str:
        return "usr_" + self._digest("freddy").hex()[:32]

    @property
    def aius_id(self) -> str:
        return str(uuid.UUID(bytes=self._digest("aius")[:16]))

    @property
    def jwt_id(self) -> str:
        return "user_" + self._digest("jwt").hex()[:8]

    def password_ok(self, password: str) -> bool:
        return hmac.compare_digest(self.password.encode(), password.encode())


def load_users(path: str) -> list[User]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    users: list[User] = []
    seen: set[str] = set()
    for entry in doc["users"]:
        secret_hex = entry.get("totp_secret_hex")
        secret = bytes.fromhex(secret_hex) if secret_hex else None
        user = User(
            username=str(entry["username"]),
            email=str(entry["email"]),
            password=str(entry["password"]),
            totp_secret=secret,
            recovery_codes=tuple(str(c) for c in entry.get("recovery_codes", [])),
            aius_2fa=bool(entry.get("aius_2fa", secret is not None)),
        )
        if "/" in user.email or user.email.startswith(".") or not user.email:
            raise ValueError(f"unusable email for the outbox: {user.email!r}")
        for ident in (user.username, user.email):
            if ident in seen:
                raise ValueError(f"duplicate user identifier {ident!r}")
            seen.add(ident)
        users.append(user)
    return users


# --------------------------------------------------------------------------
# shared state


@dataclasses.dataclass
class Token:
    username: str
    profile: str        # "freddy", "aius" or "jwt"
    expires: float


@dataclasses.dataclass
class EmailKey:
    username: str
    expires: float
    code: int
    code_expires: float
    failures: int = 0


@dataclasses.dataclass
class Challenge:
    username: str
    expires: float
    failures: int = 0


@dataclasses.dataclass
class Config:
    latency_ms: int = 0
    fault: str | None = None
    fault_status: int = 500
    fault_paths: list[str] = dataclasses.field(default_factory=list)
    fault_count: int = -1
    control_chars: bool = False


@dataclasses.dataclass
class Options:
    api_key: str | None
    code_ttl: int
    key_ttl: int
    max_login_failures: int
    max_code_failures: int
    access_ttl: int
    latency_ms: int
    outbox: str
    fixed_code: int | None = None   # benchmarks only: every code is this one


class State:
    """All mutable server state, guarded by one lock."""

    def __init__(self, users: list[User], opts: Options) -> None:
        self.lock = threading.Lock()
        self.users = users
        self.opts = opts
        self.signing_key = secrets.token_bytes(32)
        self.connections = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.access: dict[str, Token] = {}
            self.refresh: dict[str, Token] = {}
            self.email_keys: dict[str, EmailKey] = {}
            self.challenges: dict[str, Challenge] = {}
            self.login_failures: dict[str, list[float]] = {}
            self.used_recovery: set[tuple[str, str]] = set()
            self.requests: dict[str, int] = {}
            self.logouts: list[str] = []
            self.codes_sent = 0
            self.connections = 0
            self.config = Config(latency_ms=self.opts.latency_ms)

    # -- lookups (caller holds the lock or only reads immutable user data)

    def user_by_name(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users if u.email == email), None)

    def user_by_either(self, ident: str) -> User | None:
        return self.user_by_name(ident) or self.user_by_email(ident)

    # -- tokens (caller holds the lock)

    def make_jwt(self, user: User, kind: str, ttl: int) -> str:
        # DOCS SILENT: token format unspecified; real HS256 JWTs so they look right,
        # but server state, not the signature, decides validity (item 18).
        now = int(time.time())
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps({
            "sub": user.username, "iat": now, "exp": now + ttl,
            "jti": secrets.token_hex(16), "typ": kind,
        }).encode())
        signing_input = f"{header}.{payload}".encode()
        sig = hmac.new(self.signing_key, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{b64url(sig)}"

    def issue_access(self, user: User, profile: str, ttl: int) -> str:
        token = self.make_jwt(user, "access", ttl)
        self.access[token] = Token(user.username, profile, time.time() + ttl)
        return token

    def issue_refresh(self, user: User, profile: str) -> str:
        token = self.make_jwt(user, "refresh", REFRESH_TTL)
        self.refresh[token] = Token(user.username, profile, time.time() + REFRESH_TTL)
        return token

    @staticmethod
    def valid_token(table: dict[str, Token], token: str, profile: str) -> Token | None:
        rec = table.get(token)
        if rec is None or rec.profile != profile or time.time() >= rec.expires:
            return None
        return rec

    # -- email codes (caller holds the lock)

    def send_code(self, user: User, email_key: str, rec: EmailKey) -> None:
        # DOCS SILENT: code range; 1000-9999 because the docs send the code as a JSON
        # integer, which cannot keep a leading zero (item 1).
        rec.code = self.opts.fixed_code or secrets.randbelow(9000) + 1000
        rec.code_expires = time.time() + self.opts.code_ttl
        rec.failures = 0
        outbox = self.opts.outbox
        path = os.path.join(outbox, f"{user.email}.code")
        tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{rec.code}\n")
        os.replace(tmp, path)
        with open(os.path.join(outbox, "mail.log"), "a", encoding="utf-8") as f:
            f.write(f"{int(time.time())} {user.email} {email_key} {rec.code}\n")
        self.codes_sent += 1

    # -- faults and stats

    def count_request(self, method: str, path: str) -> None:
        with self.lock:
            key = f"{method} {path}"
            self.requests[key] = self.requests.get(key, 0) + 1

    def count_connection(self) -> None:
        with self.lock:
            self.connections += 1

    def take_fault(self, path: str) -> Config | None:
        """Return a snapshot of the config if this request is to be faulted."""
        with self.lock:
            cfg = self.config
            if cfg.fault is None or cfg.fault_count == 0:
                return None
            if cfg.fault_paths and path not in cfg.fault_paths:
                return None
            if cfg.fault_count > 0:
                cfg.fault_count -= 1
            return dataclasses.replace(cfg, fault_paths=list(cfg.fault_paths))

    def decorate(self, message: str) -> str:
        """Error messages get terminal escapes when control_chars is on."""
        return f"{message} {EVIL}" if self.config.control_chars else message


# --------------------------------------------------------------------------
# API profiles


@dataclasses.dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


class ReplyError(Exception):
    """Raised by handlers to answer early with an error reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclasses.dataclass
class Request:
    method: str
    path: str
    headers: Any          # http.client.HTTPMessage
    body: bytes


class Profile:
    """Common parts: body parsing and the generic errors, in the profile's shape."""

    def __init__(self, state: State) -> None:
        self.state = state

    # subclasses implement these four
    def validation_error(self, field: str, problem: str) -> Reply:
        raise NotImplementedError

    def not_found(self) -> Reply:
        raise NotImplementedError

    def method_not_allowed(self) -> Reply:
        raise NotImplementedError

    def too_large(self) -> Reply:
        raise NotImplementedError

    def invalid_json(self) -> Reply:
        return self.validation_error("body", "must be a JSON object")

    def parse(self, raw: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ReplyError(self.invalid_json()) from None
        if not isinstance(doc, dict):
            raise ReplyError(self.invalid_json())
        return doc

    def require_str(self, body: dict[str, Any], field: str) -> str:
        value = body.get(field)
        if not isinstance(value, str):
            raise ReplyError(self.validation_error(
                field, "field required" if value is None else "must be a string"))
        return value


class FreddyProfile(Profile):
    name = "freddy"

    # code -> (status, message, system_message, type)
    ERRORS: dict[str, tuple[int, str, str, str]] = {
        "INVALID_CREDENTIALS": (401, "Invalid email or password. Please try again.",
                                "Invalid credentials", "authentication_error"),
        "AUTHENTICATION_REQUIRED": (401, "Authentication required. Please provide a valid API key.",
                                    "Missing or invalid authorization header",
                                    "authentication_error"),
        # DOCS SILENT: the guide documents only INVALID_CREDENTIALS and (dev-login)
        # AUTHENTICATION_REQUIRED; the codes below follow the same envelope and
        # style so clients can be tested against them (items 3, 4, 7, 11, 12).
        "INVALID_VERIFICATION_CODE": (401, "Invalid verification code.",
                                      "Invalid verification code", "authentication_error"),
        "VERIFICATION_EXPIRED": (401, "Verification code expired. Please log in again.",
                                 "Verification session expired or unknown",
                                 "authentication_error"),
        "INVALID_REFRESH_TOKEN": (401, "Invalid or expired refresh token.",
                                  "Invalid refresh token", "authentication_error"),
        "VALIDATION_ERROR": (422, "Invalid request. Please check your input.",
                             "Request validation failed", "validation_error"),
        "PAYLOAD_TOO_LARGE": (413, "Request body too large.",
                              "Request entity too large", "invalid_request_error"),
        "NOT_FOUND": (404, "The requested resource was not found.",
                      "Not found", "not_found_error"),
        "METHOD_NOT_ALLOWED": (405, "Method not allowed.",
                               "Method not allowed", "invalid_request_error"),
    }

    def error(self, code: str, details: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> Reply:
        status, message, system_message, err_type = self.ERRORS[code]
        return Reply(status, {
            "success": False,
            "error": {
                "code": code,
                "message": self.state.decorate(message),
                "system_message": self.state.decorate(system_message),
                "type": err_type,
                "status": status,
                "details": details or {},
                "trace_id": "req_" + secrets.token_hex(8),
                "timestamp": utc_timestamp(),
            },
        }, headers or {})

    def too_many_attempts(self) -> Reply:
        # Exactly the documented envelope (no type/trace_id/timestamp), so clients
        # must cope with missing fields.  DOCS SILENT: counting rules (item 9).
        return Reply(429, {
            "success": False,
            "error": {
                "code": "TOO_MANY_LOGIN_ATTEMPTS",
                "message": self.state.decorate("Too many login attempts. Please try again later"),
                "system_message": self.state.decorate("Too many login attempts"),
                "status": 429,
                "details": {"retry_after": RETRY_AFTER},
            },
        }, {"Retry-After": str(RETRY_AFTER)})

    def validation_error(self, field: str, problem: str) -> Reply:
        return self.error("VALIDATION_ERROR", {"field": field, "problem": problem})

    def not_found(self) -> Reply:
        return self.error("NOT_FOUND")

    def method_not_allowed(self) -> Reply:
        return self.error("METHOD_NOT_ALLOWED", headers={"Allow": "POST"})

    def too_large(self) -> Reply:
        return self.error("PAYLOAD_TOO_LARGE", {"max_bytes": MAX_BODY})

    # -- endpoints

    def login(self, req: Request) -> Reply:
        body = self.parse(req.body)
        ident = self.require_str(body, "email_or_username")
        password = self.require_str(body, "password")
        st = self.state
        now = time.time()
        with st.lock:
            limit = st.opts.max_login_failures
            failures = [t for t in st.login_failures.get(ident, []) if now - t < LOGIN_FAILURE_WINDOW]
            st.login_failures[ident] = failures
            if limit > 0 and len(failures) >= limit:
                return self.too_many_attempts()
            # DOCS SILENT: case sensitivity; exact match, the strictest reading (item 10).
            user = st.user_by_either(ident)
            if user is None or not user.password_ok(password):
                failures.append(now)
                return self.error("INVALID_CREDENTIALS")
            st.login_failures.pop(ident, None)
            email_key = "uuid-" + str(uuid.uuid4())
            # DOCS SILENT: key lifetime; --key-ttl (2 x code TTL) so that resend-email,
            # which the guide recommends once the code expired, can still work (item 5).
            rec = EmailKey(user.username, now + st.opts.key_ttl, 0, 0.0)
            st.email_keys[email_key] = rec
            st.send_code(user, email_key, rec)
        return Reply(200, {
            "success": True,
            "message": "Login credentials verified. Please check your email for verification code.",
            "email_key": email_key,
            "email": user.email,
            "requires_verification": True,
            "next_step": "email_verification",
        })

    def _verification_code(self, body: dict[str, Any]) -> int:
        # DOCS SILENT: a string of digits is accepted besides the documented JSON
        # integer, being lenient with clients; anything else is 422 (item 2).
        value = body.get("verification_code")
        if isinstance(value, bool):
            raise ReplyError(self.validation_error("verification_code", "must be an integer"))
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
            return int(value)
        raise ReplyError(self.validation_error(
            "verification_code", "field required" if value is None else "must be an integer"))

    def verify(self, req: Request) -> Reply:
        body = self.parse(req.body)
        email_key = self.require_str(body, "email_key")
        code = self._verification_code(body)
        st = self.state
        now = time.time()
        with st.lock:
            rec = st.email_keys.get(email_key)
            if rec is not None and now >= rec.expires:
                del st.email_keys[email_key]
                rec = None
            if rec is None or now >= rec.code_expires:
                return self.error("VERIFICATION_EXPIRED")
            if code != rec.code:
                rec.failures += 1
                if 0 < st.opts.max_code_failures <= rec.failures:
                    del st.email_keys[email_key]
                return self.error("INVALID_VERIFICATION_CODE")
            del st.email_keys[email_key]
            user = st.user_by_name(rec.username)
            assert user is not None
            access = st.issue_access(user, self.name, st.opts.access_ttl)
            refresh = st.issue_refresh(user, self.name)
        return Reply(200, {
            "token": access,
            "refreshToken": refresh,
            "token_type": "bearer",
            "expires_in": st.opts.access_ttl,
            "user": {"id": user.freddy_id, "email": user.email, "verified": True},
        })

    def resend_email(self, req: Request) -> Reply:
        body = self.parse(req.body)
        email_key = self.require_str(body, "email_key")
        st = self.state
        with st.lock:
            rec = st.email_keys.get(email_key)
            if rec is None or time.time() >= rec.expires:
                st.email_keys.pop(email_key, None)
                # DOCS SILENT: unknown key on resend; same error as verify (item 6).
                return self.error("VERIFICATION_EXPIRED")
            user = st.user_by_name(rec.username)
            assert user is not None
            st.send_code(user, email_key, rec)
        # DOCS SILENT: the guide shows no response body; a minimal success (item 6).
        return Reply(200, {"success": True, "message": "Verification code sent."})

    def refresh(self, req: Request) -> Reply:
        body = self.parse(req.body)
        token = self.require_str(body, "refresh_token")
        st = self.state
        with st.lock:
            rec = st.valid_token(st.refresh, token, self.name)
            user = st.user_by_name(rec.username) if rec else None
            if user is None:
                return self.error("INVALID_REFRESH_TOKEN")
            access = st.issue_access(user, self.name, st.opts.access_ttl)
        # Exactly the guide's body.  DOCS SILENT: no rotation of the refresh token,
        # since the response carries no new one (item 7).
        return Reply(200, {"token": access, "device_id": FREDDY_DEVICE_ID})

    def dev_login(self, req: Request) -> Reply:
        st = self.state
        given = req.headers.get("X-API-Key")
        expected = st.opts.api_key
        if not expected or given is None or not hmac.compare_digest(
                given.encode("utf-8", "surrogateescape"), expected.encode()):
            return self.error("AUTHENTICATION_REQUIRED")
        body = self.parse(req.body)
        ident = self.require_str(body, "email_or_username")
        password = self.require_str(body, "password")
        # device_information is optional and ignored.
        with st.lock:
            user = st.user_by_either(ident)
            if user is None or not user.password_ok(password):
                # DOCS SILENT: the page documents no credential error; reuse the
                # guide's INVALID_CREDENTIALS (item 8).
                return self.error("INVALID_CREDENTIALS")
            access = st.issue_access(user, self.name, st.opts.access_ttl)
            refresh = st.issue_refresh(user, self.name)
        return Reply(200, {
            "refresh_token": refresh,
            "access_token": access,
            "token_type": "default",
            # DOCS SILENT: the example's expires_in 1 is a placeholder; --access-ttl (item 8).
            "expires_in": st.opts.access_ttl,
            "device_id": secrets.token_hex(6),
            "user": {},
        })


class AiusProfile(Profile):
    name = "aius"

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, {"detail": {"code": code, "message": self.state.decorate(message)}})

    # DOCS SILENT: validation/404/405/413 errors are undocumented; FastAPI-like
    # status codes in the doc's {"detail": {code, message}} shape (items 11, 12).
    def validation_error(self, field: str, problem: str) -> Reply:
        return self.error(422, "VALIDATION_ERROR", f"{field}: {problem}")

    def not_found(self) -> Reply:
        return self.error(404, "NOT_FOUND", "Not Found")

    def method_not_allowed(self) -> Reply:
        reply = self.error(405, "METHOD_NOT_ALLOWED", "Method Not Allowed")
        reply.headers["Allow"] = "POST"
        return reply

    def too_large(self) -> Reply:
        return self.error(413, "PAYLOAD_TOO_LARGE", "Request body too large")

    def _session(self, user: User) -> Reply:
        with self.state.lock:
            token = self.state.issue_access(user, self.name, AIUS_SESSION_TTL)
        return Reply(200, {
            "user": {"id": user.aius_id, "email": user.email},
            "message": "Logged in",          # DOCS SILENT: message text undocumented (item 13)
            "session_token": token,
        })

    def login(self, req: Request) -> Reply:
        body = self.parse(req.body)
        email = self.require_str(body, "email")
        password = self.require_str(body, "password")
        st = self.state
        user = st.user_by_email(email)     # DOCS SILENT: exact, case-sensitive match (item 10)
        if user is None or not user.password_ok(password):
            return self.error(401, "INVALID_CREDENTIALS", "Invalid email or password")
        if not user.aius_2fa:
            return self._session(user)
        challenge = secrets.token_urlsafe(32)
        with st.lock:
            st.challenges[challenge] = Challenge(user.username, time.time() + CHALLENGE_TTL)
        # DOCS SILENT: the doc's example body is missing; field names from its prose
        # (requires_2fa, challenge_token) plus a message (item 13).
        return Reply(200, {
            "requires_2fa": True,
            "challenge_token": challenge,
            "message": "Two-factor authentication required",
        })

    def _code_ok(self, user: User, code: str) -> bool:
        """Caller holds the lock.  Consumes a recovery code when it matches."""
        code = code.strip()
        if user.totp_secret is not None and len(code) == TOTP_DIGITS and code.isdigit():
            now = time.time()
            for drift in (-1, 0, 1):
                if hmac.compare_digest(totp(user.totp_secret, now + drift * TOTP_STEP), code):
                    # DOCS SILENT: replays within the window are accepted; the
                    # emulator keeps no TOTP replay state (item 14).
                    return True
        for rc in user.recovery_codes:
            used = (user.username, rc)
            if used not in self.state.used_recovery and hmac.compare_digest(rc.encode(), code.encode()):
                self.state.used_recovery.add(used)
                return True
        return False

    def twofa_login(self, req: Request) -> Reply:
        body = self.parse(req.body)
        challenge = self.require_str(body, "challenge_token")
        # DOCS SILENT: code must be a JSON string, as a TOTP may start with 0 (item 14).
        code = self.require_str(body, "code")
        st = self.state
        with st.lock:
            rec = st.challenges.get(challenge)
            if rec is not None and time.time() >= rec.expires:
                del st.challenges[challenge]
                rec = None
            if rec is None:
                return self.error(401, "INVALID_CHALLENGE", "Invalid or expired challenge")
            user = st.user_by_name(rec.username)
            assert user is not None
            if not self._code_ok(user, code):
                # DOCS SILENT: the challenge survives a wrong code, so a user can
                # retype it (item 13).
                rec.failures += 1
                if 0 < st.opts.max_code_failures <= rec.failures:
                    del st.challenges[challenge]
                return self.error(401, "INVALID_CODE", "Invalid two-factor code")
            del st.challenges[challenge]
        return self._session(user)


class JwtProfile(Profile):
    name = "jwt"

    def error(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": self.state.decorate(message)})

    # DOCS SILENT: validation/404/405/413 errors are undocumented; the doc's
    # {"error": message} shape, 400 for bad bodies (items 11, 12).
    def validation_error(self, field: str, problem: str) -> Reply:
        return self.error(400, "Invalid request body")

    def not_found(self) -> Reply:
        return self.error(404, "Not found")

    def method_not_allowed(self) -> Reply:
        reply = self.error(405, "Method not allowed")
        reply.headers["Allow"] = "POST"
        return reply

    def too_large(self) -> Reply:
        return self.error(413, "Request body too large")

    def login(self, req: Request) -> Reply:
        body = self.parse(req.body)
        username = self.require_str(body, "username")
        password = self.require_str(body, "password")
        st = self.state
        user = st.user_by_name(username)   # DOCS SILENT: exact, case-sensitive match (item 10)
        if user is None:
            return self.error(401, "User not found")
        if not user.password_ok(password):
            return self.error(401, "Invalid credentials")
        with st.lock:
            access = st.issue_access(user, self.name, JWT_ACCESS_TTL)
            refresh = st.issue_refresh(user, self.name)
        return Reply(200, {
            "token": access,
            "expires_in": JWT_ACCESS_TTL,
            # DOCS SILENT: the login example shows no refreshToken, but the refresh
            # endpoint needs one, so it is returned (item 16).
            "refreshToken": refresh,
            "user": {"id": user.jwt_id, "username": user.username, "email": user.email},
        })

    def refresh(self, req: Request) -> Reply:
        body = self.parse(req.body)
        token = self.require_str(body, "refreshToken")
        st = self.state
        with st.lock:
            rec = st.valid_token(st.refresh, token, self.name)
            user = st.user_by_name(rec.username) if rec else None
            if user is None:
                return self.error(401, "Invalid or expired refresh token")
            access = st.issue_access(user, self.name, JWT_ACCESS_TTL)
        return Reply(200, {"token": access, "expires_in": JWT_ACCESS_TTL})

    def logout(self, req: Request) -> Reply:
        auth = req.headers.get("Authorization", "")
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        st = self.state
        with st.lock:
            rec = st.valid_token(st.access, token, self.name) if scheme.lower() == "bearer" else None
            if rec is None:
                return self.error(401, "Authentication required")
            del st.access[token]
            # DOCS SILENT: "associated tokens" is vague; all of the user's JWT refresh
            # tokens are invalidated (item 17).
            for t in [t for t, r in st.refresh.items()
                      if r.username == rec.username and r.profile == self.name]:
                del st.refresh[t]
            st.logouts.append(rec.username)
        return Reply(200, {"message": "Successfully logged out"})


# --------------------------------------------------------------------------
# fault bodies


def fake_token() -> str:
    return ".".join(b64url(secrets.token_bytes(n)) for n in (20, 60, 32))


def fake_success(path: str) -> dict[str, Any]:
    """A success-shaped body for a path (trickle, truncated, /v1/elsewhere)."""
    tok = fake_token()
    bodies: dict[str, dict[str, Any]] = {
        "/v1/auth/login": {
            "success": True, "message": "Login credentials verified.",
            "email_key": "uuid-" + str(uuid.uuid4()), "email": "elsewhere@example.com",
            "requires_verification": True, "next_step": "email_verification"},
        "/v1/auth/verify": {
            "token": tok, "refreshToken": tok, "token_type": "bearer", "expires_in": 86400,
            "user": {"id": "usr_0", "email": "elsewhere@example.com", "verified": True}},
        "/v1/auth/resend-email": {"success": True, "message": "Verification code sent."},
        "/v1/auth/refresh": {"token": tok, "device_id": FREDDY_DEVICE_ID},
        "/v1/auth/dev-login": {
            "refresh_token": tok, "access_token": tok, "token_type": "default",
            "expires_in": 86400, "device_id": "0", "user": {}},
        "/api/v1/login": {
            "user": {"id": "0", "email": "elsewhere@example.com"},
            "message": "Logged in", "session_token": tok},
        "/api/v1/2fa/login": {
            "user": {"id": "0", "email": "elsewhere@example.com"},
            "message": "Logged in", "session_token": tok},
        "/api/v1/auth/login": {
            "token": tok, "expires_in": 3600, "refreshToken": tok,
            "user": {"id": "user_0", "username": "elsewhere", "email": "elsewhere@example.com"}},
        "/api/v1/auth/refresh": {"token": tok, "expires_in": 3600},
        "/api/v1/auth/logout": {"message": "Successfully logged out"},
    }
    if path in bodies:
        return bodies[path]
    union: dict[str, Any] = {}
    for body in bodies.values():
        union.update(body)
    return union


WRONG_TYPES: dict[str, dict[str, Any]] = {
    "/v1/auth/login": {
        "success": "true", "message": 5, "email_key": 123, "email": [],
        "requires_verification": "yes", "next_step": {}},
    "/v1/auth/verify": {
        "token": [], "refreshToken": {}, "token_type": 1, "expires_in": "x", "user": "alice"},
    "/v1/auth/resend-email": {"success": "true", "message": []},
    "/v1/auth/refresh": {"token": [], "device_id": 5},
    "/v1/auth/dev-login": {
        "refresh_token": {}, "access_token": [], "token_type": 0, "expires_in": "x",
        "device_id": 5, "user": []},
    "/api/v1/login": {
        "requires_2fa": "true", "challenge_token": 7, "message": 1,
        "user": [], "session_token": 5},
    "/api/v1/2fa/login": {"user": "alice", "message": 1, "session_token": 5},
    "/api/v1/auth/login": {"token": [], "expires_in": "x", "refreshToken": {}, "user": 5},
    "/api/v1/auth/refresh": {"token": [], "expires_in": "x"},
    "/api/v1/auth/logout": {"message": 5},
}


# --------------------------------------------------------------------------
# HTTP plumbing

Route = Callable[[Request], Reply]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body
    # waits for the client's delayed ACK (~40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "freddy-emulator/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: EmulatorServer

    def version_string(self) -> str:
        return self.server_version

    # ---- entry points

    def do_POST(self) -> None:
        self._handle()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_POST

    def handle_expect_100(self) -> bool:
        if self._declared_length() > MAX_BODY:
            return True     # no "100 Continue": _handle answers 413 straight away
        return super().handle_expect_100()

    # ---- logging: one line per request, never bodies, codes or tokens

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def _log_line(self, path: str, started: float) -> None:
        if self.server.quiet:
            return
        ms = (time.monotonic() - started) * 1000
        status = getattr(self, "_status", None) or "-"
        sys.stderr.write(f"emu: {self.command} {safe_for_log(path)} {status} {ms:.1f}ms\n")
        sys.stderr.flush()

    # ---- dispatch

    def _declared_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length", "0")))
        except ValueError:
            return -1

    def _handle(self) -> None:
        started = time.monotonic()
        self._status = None
        path = self.path.split("?", 1)[0]
        try:
            self._dispatch(path)
        except OSError:     # client went away, timed out, TLS error
            self.close_connection = True
        finally:
            self._log_line(path, started)

    def _dispatch(self, path: str) -> None:
        srv = self.server
        st = srv.state
        admin = path.startswith("/_emu/")
        profile = srv.profile_for(path)

        if self.headers.get("Transfer-Encoding"):
            # Clients of these APIs send Content-Length; keep the parser simple.
            self.close_connection = True
            self._send_json(411, {"error": "Content-Length required"})
            return
        length = self._declared_length()
        if length < 0:
            self.close_connection = True
            self._send_json(400, {"error": "Invalid Content-Length"})
            return
        if length > MAX_BODY:
            self.close_connection = True
            self._send_reply(profile.too_large() if not admin else
                             Reply(413, {"error": "Request body too large"}))
            return
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            self.close_connection = True
            return

        if admin:
            self._send_reply(srv.admin(self.command, path, body))
            return

        st.count_request(self.command, path)
        with st.lock:
            latency = st.config.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)

        route = srv.routes.get(path)
        if route is not None:
            # DOCS SILENT (test design): a faulted request never reaches its handler,
            # so no state changes and no code is sent (item 19).
            fault = st.take_fault(path)
            if fault is not None:
                self._run_fault(fault, path)
                return
        if path == ELSEWHERE:
            self._send_reply(Reply(200, fake_success(path)))
            return
        if route is None:
            reply = profile.not_found()
        elif self.command != "POST":
            reply = profile.method_not_allowed()
        else:
            try:
                reply = route(Request(self.command, path, self.headers, body))
            except ReplyError as e:
                reply = e.reply
        self._send_reply(reply)

    # ---- responses

    def _send_bytes(self, status: int, data: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body).encode(), "application/json", headers)

    def _send_reply(self, reply: Reply) -> None:
        self._send_json(reply.status, reply.body, reply.headers)

    # ---- faults

    def _run_fault(self, cfg: Config, path: str) -> None:
        kind = cfg.fault
        if kind == "hang":
            self._fault_hang()
        elif kind == "trickle":
            self._fault_trickle(json.dumps(fake_success(path)).encode())
        elif kind == "html500":
            extra = EVIL if cfg.control_chars else ""
            page = ("<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
                    f"<body><h1>Internal Server Error</h1><p>upstream failed{extra}</p></body></html>\n")
            self._send_bytes(500, page.encode(), "text/html; charset=utf-8")
        elif kind == "truncated":
            self._fault_truncated(json.dumps(fake_success(path)).encode())
        elif kind == "wrongtypes":
            self._send_json(200, WRONG_TYPES.get(path, {}))
        elif kind == "hugebody":
            self._fault_hugebody()
        elif kind == "redirect":
            self._send_json(302, {}, {"Location": f"https://{self.server.url_host}:"
                                                  f"{self.server.port}{ELSEWHERE}"})
        elif kind == "reset":
            self._fault_reset()
        elif kind == "status":
            self._send_json(cfg.fault_status, {})

    def _fault_hang(self) -> None:
        """Say nothing; return when the client goes away (or after HANG_MAX)."""
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + HANG_MAX
        try:
            while (left := deadline - time.monotonic()) > 0:
                if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    ready, _, _ = select.select([sock], [], [], min(left, 1.0))
                    if not ready:
                        continue
                try:
                    if not sock.recv(4096):
                        return
                except ssl.SSLWantReadError:
                    continue
        except (OSError, ValueError):
            return

    def _fault_trickle(self, body: bytes) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        for i in range(len(body)):
            time.sleep(1.0)
            self.wfile.write(body[i:i + 1])

    def _fault_truncated(self, body: bytes) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])

    def _fault_hugebody(self) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

        def chunk(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        prefix = b'{"token": "'
        chunk(prefix)
        sent = len(prefix)
        block = b"A" * 65536
        while sent < HUGE_BODY_SIZE:
            chunk(block)
            sent += len(block)
        chunk(b'"}')
        self.wfile.write(b"0\r\n\r\n")

    def _fault_reset(self) -> None:
        """Abort with a TCP RST: SO_LINGER 0, then a real close."""
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()      # drop the makefile() reference so close() is real
        sock.close()


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ssl_context: ssl.SSLContext,
                 state: State, quiet: bool) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.ssl_context = ssl_context
        self.state = state
        self.quiet = quiet
        self.freddy = FreddyProfile(state)
        self.aius = AiusProfile(state)
        self.jwt = JwtProfile(state)
        self.routes: dict[str, Route] = {
            "/v1/auth/login": self.freddy.login,
            "/v1/auth/verify": self.freddy.verify,
            "/v1/auth/resend-email": self.freddy.resend_email,
            "/v1/auth/refresh": self.freddy.refresh,
            "/v1/auth/dev-login": self.freddy.dev_login,
            "/api/v1/login": self.aius.login,
            "/api/v1/2fa/login": self.aius.twofa_login,
            "/api/v1/auth/login": self.jwt.login,
            "/api/v1/auth/refresh": self.jwt.refresh,
            "/api/v1/auth/logout": self.jwt.logout,
        }
        super().__init__(address, Handler)
        self.port: int = self.server_address[1]
        host = address[0]
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        self.url_host = f"[{host}]" if ":" in host else host

    def profile_for(self, path: str) -> Profile:
        # DOCS SILENT: unknown paths answer in the shape of the API their prefix
        # belongs to (item 12).
        if path.startswith("/v1/"):
            return self.freddy
        if path.startswith("/api/v1/auth/") or not path.startswith("/api/"):
            return self.jwt
        return self.aius

    # ---- connections: TLS handshake in the worker thread, not the accept loop

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.state.count_connection()
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError as e:
            if not self.quiet:
                reason = getattr(e, "reason", None) or type(e).__name__
                sys.stderr.write(f"emu: TLS handshake failed: {reason}\n")
            request.close()
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            self._lingering_close(tls)

    @staticmethod
    def _lingering_close(tls: ssl.SSLSocket) -> None:
        """FIN first, then drain briefly so unread input does not turn into a RST."""
        try:
            tls.shutdown(socket.SHUT_WR)   # also drops the TLS layer
            deadline = time.monotonic() + LINGER_MAX
            while (left := deadline - time.monotonic()) > 0:
                tls.settimeout(left)
                if not tls.recv(65536):
                    break
        except OSError:
            pass
        finally:
            tls.close()

    def shutdown_request(self, request: Any) -> None:
        request.close()     # finish_request already closed the TLS socket

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)

    # ---- admin endpoints (/_emu/): never faulted, never delayed

    def admin(self, method: str, path: str, raw: bytes) -> Reply:
        handlers: dict[tuple[str, str], Callable[[dict[str, Any]], Reply]] = {
            ("GET", "/_emu/stats"): self._admin_stats,
            ("GET", "/_emu/config"): self._admin_get_config,
            ("POST", "/_emu/config"): self._admin_set_config,
            ("POST", "/_emu/revoke"): self._admin_revoke,
            ("POST", "/_emu/reset"): self._admin_reset,
            ("POST", "/_emu/expire-access"): self._admin_expire_access,
        }
        handler = handlers.get((method, path))
        if handler is None:
            known = any(p == path for _, p in handlers)
            return Reply(405 if known else 404,
                         {"error": "method not allowed" if known else "not found"})
        body: Any = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                return Reply(400, {"error": "body is not JSON"})
        if not isinstance(body, dict):
            return Reply(400, {"error": "body must be a JSON object"})
        return handler(body)

    def _admin_stats(self, _: dict[str, Any]) -> Reply:
        st = self.state
        with st.lock:
            return Reply(200, {
                "requests": dict(st.requests),
                "connections": st.connections,
                "logouts": list(st.logouts),
                "codes_sent": st.codes_sent,
                "elsewhere": sum(n for k, n in st.requests.items() if k.endswith(" " + ELSEWHERE)),
            })

    def _config_body(self) -> dict[str, Any]:
        return dataclasses.asdict(self.state.config)

    def _admin_get_config(self, _: dict[str, Any]) -> Reply:
        with self.state.lock:
            return Reply(200, self._config_body())

    def _admin_set_config(self, body: dict[str, Any]) -> Reply:
        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        checks: dict[str, Callable[[Any], bool]] = {
            "latency_ms": lambda v: is_int(v) and v >= 0,
            "fault": lambda v: v is None or v in FAULTS,
            "fault_status": lambda v: is_int(v) and 200 <= v <= 599,
            "fault_paths": lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v),
            "fault_count": lambda v: is_int(v) and v >= -1,
            "control_chars": lambda v: isinstance(v, bool),
        }
        for key, value in body.items():
            if key not in checks:
                return Reply(400, {"error": f"unknown config key {key!r}"})
            if not checks[key](value):
                return Reply(400, {"error": f"bad value for {key!r}"})
        with self.state.lock:
            cfg = self.state.config
            if "fault" in body:
                # Setting a fault starts a fresh fault spec; unspecified parts default.
                cfg.fault = body["fault"]
                cfg.fault_status, cfg.fault_paths, cfg.fault_count = 500, [], -1
            for key in ("latency_ms", "fault_status", "fault_paths", "fault_count", "control_chars"):
                if key in body:
                    setattr(cfg, key, list(body[key]) if key == "fault_paths" else body[key])
            return Reply(200, self._config_body())

    def _username(self, body: dict[str, Any]) -> str | Reply:
        name = body.get("username")
        if not isinstance(name, str):
            return Reply(400, {"error": "username required"})
        if self.state.user_by_name(name) is None:
            return Reply(404, {"error": "unknown user"})
        return name

    def _admin_revoke(self, body: dict[str, Any]) -> Reply:
        name = self._username(body)
        if isinstance(name, Reply):
            return name
        st = self.state
        with st.lock:
            count = 0
            for table in (st.access, st.refresh):
                for token in [t for t, r in table.items() if r.username == name]:
                    del table[token]
                    count += 1
        return Reply(200, {"revoked": count})

    def _admin_expire_access(self, body: dict[str, Any]) -> Reply:
        name = self._username(body)
        if isinstance(name, Reply):
            return name
        st = self.state
        with st.lock:
            past = time.time() - 1
            count = 0
            for rec in st.access.values():
                if rec.username == name:
                    rec.expires = past
                    count += 1
        return Reply(200, {"expired": count})

    def _admin_reset(self, _: dict[str, Any]) -> Reply:
        self.state.reset()
        return Reply(200, {"reset": True})


# --------------------------------------------------------------------------
# main


def write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="HTTPS emulator of the Freddy, AIUS and JWT auth APIs")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--users", required=True, help="users.json")
    p.add_argument("--outbox", required=True, help="directory receiving <email>.code and mail.log")
    p.add_argument("--port", type=int, default=0, help="TCP port, 0 = ephemeral (default)")
    p.add_argument("--port-file", help="write the actual port here once listening")
    p.add_argument("--bind", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--api-key", help="X-API-Key accepted by /v1/auth/dev-login (none: always 401)")
    p.add_argument("--latency-ms", type=int, default=0, help="initial per-request latency")
    p.add_argument("--code-ttl", type=int, default=300, help="Freddy email code lifetime (s)")
    p.add_argument("--key-ttl", type=int, default=None,
                   help="Freddy email_key lifetime (s), default 2 x --code-ttl")
    p.add_argument("--max-login-failures", type=int, default=5,
                   help="Freddy login failures per identifier in 10 min before 429 (0 = no limit)")
    p.add_argument("--max-code-failures", type=int, default=0,
                   help="wrong codes that kill an email_key / AIUS challenge (0 = no limit)")
    p.add_argument("--access-ttl", type=int, default=86400,
                   help="Freddy access token lifetime and expires_in (s)")
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    p.add_argument("--fixed-code", type=int, default=None,
                   help="benchmarks only: send this code (1000-9999) instead of a random one")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.fixed_code is not None and not 1000 <= args.fixed_code <= 9999:
        sys.exit("--fixed-code must be a 4-digit number from 1000 to 9999")
    users = load_users(args.users)
    os.makedirs(args.outbox, exist_ok=True)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)

    opts = Options(
        api_key=args.api_key,
        code_ttl=args.code_ttl,
        key_ttl=args.key_ttl if args.key_ttl is not None else 2 * args.code_ttl,
        max_login_failures=args.max_login_failures,
        max_code_failures=args.max_code_failures,
        access_ttl=args.access_ttl,
        latency_ms=args.latency_ms,
        outbox=args.outbox,
        fixed_code=args.fixed_code,
    )
    state = State(users, opts)
    server = EmulatorServer((args.bind, args.port), ctx, state, args.quiet)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        write_port_file(args.port_file, server.port)
    if not args.quiet:
        sys.stderr.write(f"emu: listening on https://{server.url_host}:{server.port}\n")
        sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
