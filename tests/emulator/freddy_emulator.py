#!/usr/bin/python3
"""HTTPS emulator of the Freddy, AIUS and JWT authentication APIs, for tests.

Python 3.11 standard library only.  One process serves all three API
profiles on one HTTPS port, plus test-only admin endpoints under /_emu/:

  Freddy (api_url https://127.0.0.1:PORT/v1)
    POST /v1/auth/login  /v1/auth/verify  /v1/auth/resend-email
    POST /v1/auth/refresh  /v1/auth/dev-login
  AIUS (api_url https://127.0.0.1:PORT/api)
    POST /api/v1/login  /api/v1/2fa/login  /api/v1/tokens (session cookie)
    GET  /api/v1/2fa/status   POST /api/v1/2fa/setup  /api/v1/2fa/enable
    POST /api/v1/2fa/disable  (session cookie or Bearer aius_…)
    POST /api/v1/password/reset/request  /api/v1/password/reset/confirm
  JWT (api_url https://127.0.0.1:PORT/api/v1)
    POST /api/v1/auth/login  /api/v1/auth/refresh  /api/v1/auth/logout
    POST|GET /api/v1/auth/keys  DELETE /api/v1/auth/keys/{keyId}  (Bearer JWT)
  Admin
    GET /_emu/stats  GET|POST /_emu/config  POST /_emu/revoke
    POST /_emu/reset  POST /_emu/expire-access  POST /_emu/revoke-durable
    POST /_emu/use-api-key
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
    other methods on API paths: 405 with Allow naming the path's methods.
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
20. AIUS self-service 401s carry the documented texts in the {"detail":
    {code, message}} shape: MISSING_BEARER_TOKEN "missing bearer token",
    INVALID_AUTHORIZATION_HEADER "invalid authorization header",
    INVALID_TOKEN "invalid token"; for the session cookie (no text
    documented) MISSING_SESSION "missing session cookie" and
    INVALID_SESSION "invalid session".
21. AIUS bearer: the scheme name is case-insensitive; a token with blanks
    inside is a malformed header.  Only aius_ tokens are bearer
    credentials (a session token there is "invalid token").  On the 2FA
    endpoints an Authorization header, when present, decides alone;
    otherwise the cookie; with neither, "missing bearer token".
22. AIUS POST /v1/tokens checks the cookie before the body.  token_name
    missing, null, blank or not a string: 400 TOKEN_NAME_REQUIRED
    "token_name is required"; client_id, when sent, must be a string (422).
    The reply example is missing: {"token": "aius_…", "token_name",
    "client_id", "created_at"}.  Each call mints a new token; tokens never
    expire (only revocation, /_emu/revoke-durable, ends them).
23. AIUS /v1/2fa/setup reads no body and answers exactly {secret (base32,
    no padding), otpauth_uri (label AIUS:<email>, issuer AIUS)}; a second
    setup replaces the pending secret.  Setup or enable while 2FA is on:
    409 TWO_FACTOR_ALREADY_ENABLED.
24. AIUS enable and disable take {"code": string} (422 otherwise).  A wrong
    code is 400 INVALID_CODE "Invalid two-factor code" (not 401: these
    requests carry a credential, and 401 would mean it was refused).
    Enable without setup: 400 TWO_FACTOR_NOT_SET_UP; disable while off: 400
    TWO_FACTOR_NOT_ENABLED.  Enable returns 8 new recovery codes
    ("xxxx-xxxx-xxxx", hex) in place of any old ones; disable takes a TOTP
    code or an unused recovery code and forgets the secret and the codes.
25. AIUS password reset request answers {"message": "If the address is
    registered, a reset email has been sent"}; emails match exactly; an
    unknown one mails nothing.
26. AIUS reset tokens are typed from an email: 12 characters of
    ABCDEFGHJKLMNPQRSTUVWXYZ23456789 as XXXX-XXXX-XXXX, mailed to
    DIR/<email>.reset (atomically) and logged in mail.log as "<time>
    <email> password-reset <token>".  They live 15 minutes, work once, and
    a new request voids the older ones of that user.  Matching ignores case
    and surrounding blanks.  Unknown, used or expired: 400
    INVALID_RESET_TOKEN "Invalid or expired reset token".
27. AIUS reset/confirm: new_password needs at least 8 characters (400
    WEAK_PASSWORD, and the token survives); success is {"message":
    "Password updated"}.  Sessions and aius_ tokens stay valid.  The
    password is the user's in every profile (one users.json).
28. JWT API keys: a missing, malformed or unknown bearer JWT is 401
    {"error": "Authentication required"} (the logout endpoint's).  The
    create body is {"name"}: a non-blank string of at most 200 characters,
    else 400 "Invalid request body".  keyId is key_ + 6 hex digits, apiKey
    sk_live_ + 24 characters.  The list is oldest first; lastUsed is null
    until /_emu/use-api-key.  Deleting an unknown key or another user's is
    404 {"error": "API key not found"}; the 204 has no body and no
    Content-Length.
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
import urllib.parse
import uuid
from http.cookies import CookieError, SimpleCookie
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024
LOGIN_FAILURE_WINDOW = 600       # seconds over which Freddy login failures count
RETRY_AFTER = 300                # documented details.retry_after
CHALLENGE_TTL = 300              # AIUS 2FA challenge lifetime
AIUS_SESSION_TTL = 3600          # DOCS SILENT: doc says only "short-lived"; 1 h (item 15)
AIUS_SESSION_COOKIE = "__Host-aius_session"
AIUS_RECOVERY_CODES = 8          # DOCS SILENT: how many recovery codes enable returns (item 24)
MIN_PASSWORD = 8                 # DOCS SILENT: the only password rule (item 27)
RESET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I: typed from an email
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
KEYS_PREFIX = "/api/v1/auth/keys/"      # DELETE /auth/keys/{keyId}
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


def totp_matches(secret: bytes, code: str) -> bool:
    """A 6-digit code of this step or the next or previous one."""
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return False
    now = time.time()
    # DOCS SILENT: replays within the window are accepted; the emulator keeps
    # no TOTP replay state (item 14).
    return any(hmac.compare_digest(totp(secret, now + drift * TOTP_STEP), code)
               for drift in (-1, 0, 1))


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
class DurableToken:
    """An AIUS aius_… API token minted from a session."""
    username: str
    token_name: str
    client_id: str
    created: str


@dataclasses.dataclass
class ResetToken:
    username: str
    expires: float


@dataclasses.dataclass
class ApiKey:
    """A JWT API key; the key itself is only in the create reply."""
    username: str
    key_id: str
    name: str
    created: str
    last_used: str | None = None


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
    reset_ttl: int = 900            # DOCS SILENT: reset token lifetime, 15 min (item 26)


class State:
    """All mutable server state, guarded by one lock."""

    def __init__(self, users: list[User], opts: Options) -> None:
        self.lock = threading.Lock()
        self.users = users
        self.opts = opts
        self.signing_key = secrets.token_bytes(32)
        self.connections = 0
        # 2FA self-service and password resets change users; reset() puts
        # back what users.json said.
        self.pristine = [dataclasses.replace(u) for u in users]
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
            self.durable: dict[str, DurableToken] = {}
            self.pending_totp: dict[str, bytes] = {}     # username -> secret from /2fa/setup
            self.reset_tokens: dict[str, ResetToken] = {}
            self.resets_sent = 0
            self.api_keys: dict[str, ApiKey] = {}        # keyId -> key
            for user, orig in zip(self.users, self.pristine):
                for f in ("password", "totp_secret", "recovery_codes", "aius_2fa"):
                    setattr(user, f, getattr(orig, f))

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
        self._mail(user, "code", str(rec.code), email_key)
        self.codes_sent += 1

    def send_reset(self, user: User) -> None:
        """A new password reset token; earlier ones of the user stop working."""
        # DOCS SILENT: the token's form; a person types it from the email, so
        # 12 unambiguous characters in three groups (item 26).
        raw = "".join(secrets.choice(RESET_ALPHABET) for _ in range(12))
        token = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        for t in [t for t, r in self.reset_tokens.items() if r.username == user.username]:
            del self.reset_tokens[t]
        self.reset_tokens[token] = ResetToken(user.username, time.time() + self.opts.reset_ttl)
        self._mail(user, "reset", token, "password-reset")
        self.resets_sent += 1

    def _mail(self, user: User, kind: str, secret: str, label: str) -> None:
        """The outbox: DIR/<email>.<kind> (atomically) and a mail.log line."""
        outbox = self.opts.outbox
        path = os.path.join(outbox, f"{user.email}.{kind}")
        tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{secret}\n")
        os.replace(tmp, path)
        with open(os.path.join(outbox, "mail.log"), "a", encoding="utf-8") as f:
            f.write(f"{int(time.time())} {user.email} {label} {secret}\n")

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
    param: str | None = None   # the {keyId} of /auth/keys/{keyId}


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
        if user.totp_secret is not None and totp_matches(user.totp_secret, code):
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

    # -- credentials of the self-service endpoints

    def _unauthorized(self, code: str, message: str) -> ReplyError:
        # DOCS SILENT: the documents give the 401 messages only; they are sent
        # in the AIUS {"detail": {code, message}} shape (item 20).
        return ReplyError(self.error(401, code, message))

    def _cookie_user(self, req: Request) -> User:
        """The session of the __Host-aius_session cookie (POST /v1/tokens)."""
        jar = SimpleCookie()
        for header in req.headers.get_all("Cookie") or []:
            try:
                jar.load(header)
            except CookieError:
                raise self._unauthorized("INVALID_SESSION", "invalid session") from None
        morsel = jar.get(AIUS_SESSION_COOKIE)
        if morsel is None:
            raise self._unauthorized("MISSING_SESSION", "missing session cookie")
        st = self.state
        with st.lock:
            rec = st.valid_token(st.access, morsel.value, self.name)
        user = st.user_by_name(rec.username) if rec else None
        if user is None:
            raise self._unauthorized("INVALID_SESSION", "invalid session")
        return user

    def _bearer_user(self, req: Request) -> User:
        """Authorization: Bearer aius_…, with the three documented 401s."""
        header = req.headers.get("Authorization")
        if header is None:
            raise self._unauthorized("MISSING_BEARER_TOKEN", "missing bearer token")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        # DOCS SILENT: the scheme name is case-insensitive (RFC 9110); a token
        # with blanks inside is a malformed header (item 21).
        if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
            raise self._unauthorized("INVALID_AUTHORIZATION_HEADER", "invalid authorization header")
        st = self.state
        with st.lock:
            rec = st.durable.get(token)
        user = st.user_by_name(rec.username) if rec else None
        if user is None:
            raise self._unauthorized("INVALID_TOKEN", "invalid token")
        return user

    def _account_user(self, req: Request) -> User:
        """The 2FA endpoints take the session cookie or a bearer token.
        DOCS SILENT: an Authorization header, when present, decides alone;
        without one the cookie is used; with neither the answer is the
        bearer's "missing bearer token".  A session token is no bearer
        token: only aius_… tokens are (item 21)."""
        if req.headers.get("Authorization") is not None:
            return self._bearer_user(req)
        if any(AIUS_SESSION_COOKIE in h for h in req.headers.get_all("Cookie") or []):
            return self._cookie_user(req)
        raise self._unauthorized("MISSING_BEARER_TOKEN", "missing bearer token")

    # -- 4. Mint an API token

    def mint_token(self, req: Request) -> Reply:
        # DOCS SILENT: the session cookie is checked before the body (item 22).
        user = self._cookie_user(req)
        body = self.parse(req.body)
        name = body.get("token_name")
        if not isinstance(name, str) or not name.strip():
            # DOCS SILENT: missing, null, empty or not a string are all
            # "token_name is required" (item 22).
            return self.error(400, "TOKEN_NAME_REQUIRED", "token_name is required")
        client_id = body.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            return self.validation_error("client_id", "must be a string")
        token = "aius_" + secrets.token_urlsafe(32)
        rec = DurableToken(user.username, name, client_id or user.aius_id, utc_timestamp())
        with self.state.lock:
            self.state.durable[token] = rec
        # DOCS SILENT: the 200 example is missing; the token is in "token",
        # with the name, client and creation time beside it (item 22).
        return Reply(200, {"token": token, "token_name": rec.token_name,
                           "client_id": rec.client_id, "created_at": rec.created})

    # -- Enrolling and managing 2FA

    def twofa_status(self, req: Request) -> Reply:
        user = self._account_user(req)
        with self.state.lock:
            return Reply(200, {"enabled": user.aius_2fa})

    def _already_enabled(self) -> Reply:
        # DOCS SILENT: setup or enable while 2FA is on is a 409 (item 23).
        return self.error(409, "TWO_FACTOR_ALREADY_ENABLED", "Two-factor authentication is already enabled")

    def twofa_setup(self, req: Request) -> Reply:
        user = self._account_user(req)
        secret = secrets.token_bytes(20)
        b32 = base64.b32encode(secret).decode("ascii").rstrip("=")
        label = urllib.parse.quote(f"AIUS:{user.email}", safe=":@")
        uri = f"otpauth://totp/{label}?secret={b32}&issuer=AIUS&algorithm=SHA1&digits=6&period=30"
        with self.state.lock:
            if user.aius_2fa:
                return self._already_enabled()
            # DOCS SILENT: a second setup replaces the pending secret (item 23).
            self.state.pending_totp[user.username] = secret
        return Reply(200, {"secret": b32, "otpauth_uri": uri})

    def _body_code(self, req: Request) -> str:
        # DOCS SILENT: the bodies of enable and disable are not shown;
        # {"code": "…"}, a JSON string as at /v1/2fa/login (item 24).
        return self.require_str(self.parse(req.body), "code")

    def _invalid_code(self) -> Reply:
        # DOCS SILENT: a wrong code at enable or disable is 400 INVALID_CODE,
        # not the 401 of /v1/2fa/login: these requests carry a credential,
        # and a 401 would say that the credential was refused (item 24).
        return self.error(400, "INVALID_CODE", "Invalid two-factor code")

    def twofa_enable(self, req: Request) -> Reply:
        user = self._account_user(req)
        code = self._body_code(req).strip()
        st = self.state
        with st.lock:
            if user.aius_2fa:
                return self._already_enabled()
            secret = st.pending_totp.get(user.username)
            if secret is None:
                # DOCS SILENT (item 24).
                return self.error(400, "TWO_FACTOR_NOT_SET_UP", "Call /v1/2fa/setup first")
            if not totp_matches(secret, code):
                return self._invalid_code()
            del st.pending_totp[user.username]
            codes = tuple("-".join(secrets.token_hex(2) for _ in range(3))
                          for _ in range(AIUS_RECOVERY_CODES))
            user.totp_secret, user.recovery_codes, user.aius_2fa = secret, codes, True
        return Reply(200, {"enabled": True, "recovery_codes": list(codes)})

    def twofa_disable(self, req: Request) -> Reply:
        user = self._account_user(req)
        code = self._body_code(req)
        st = self.state
        with st.lock:
            if not user.aius_2fa:
                # DOCS SILENT (item 24).
                return self.error(400, "TWO_FACTOR_NOT_ENABLED", "Two-factor authentication is not enabled")
            if not self._code_ok(user, code):
                return self._invalid_code()
            user.totp_secret, user.recovery_codes, user.aius_2fa = None, (), False
            st.pending_totp.pop(user.username, None)
        return Reply(200, {"enabled": False})

    # -- Password reset (no credential: the emailed token is one)

    def reset_request(self, req: Request) -> Reply:
        email = self.require_str(self.parse(req.body), "email")
        st = self.state
        user = st.user_by_email(email)     # DOCS SILENT: exact match (items 10, 25)
        if user is not None:
            with st.lock:
                st.send_reset(user)
        # Always 200, as documented.  DOCS SILENT: the body (item 25).
        return Reply(200, {"message": "If the address is registered, a reset email has been sent"})

    def reset_confirm(self, req: Request) -> Reply:
        body = self.parse(req.body)
        # DOCS SILENT: case and surrounding blanks do not matter (item 26).
        token = self.require_str(body, "token").strip().upper()
        new_password = self.require_str(body, "new_password")
        st = self.state
        with st.lock:
            rec = st.reset_tokens.get(token)
            if rec is not None and time.time() >= rec.expires:
                del st.reset_tokens[token]
                rec = None
            if rec is None:
                # DOCS SILENT: unknown, used or expired token (item 26).
                return self.error(400, "INVALID_RESET_TOKEN", "Invalid or expired reset token")
            if len(new_password) < MIN_PASSWORD:
                # DOCS SILENT: the token survives a refused password (item 27).
                return self.error(400, "WEAK_PASSWORD",
                                  f"Password must be at least {MIN_PASSWORD} characters")
            del st.reset_tokens[token]
            user = st.user_by_name(rec.username)
            assert user is not None
            user.password = new_password
        # DOCS SILENT: the body; sessions and aius_ tokens stay valid (item 27).
        return Reply(200, {"message": "Password updated"})


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

    # -- API Key Management: "Requires authentication"

    def _bearer_user(self, req: Request) -> User:
        auth = req.headers.get("Authorization", "")
        scheme, _, token = auth.strip().partition(" ")
        st = self.state
        with st.lock:
            rec = (st.valid_token(st.access, token.strip(), self.name)
                   if scheme.lower() == "bearer" else None)
        user = st.user_by_name(rec.username) if rec else None
        if user is None:
            # DOCS SILENT: the key endpoints document no 401; the logout
            # endpoint's "Authentication required" is used (item 28).
            raise ReplyError(self.error(401, "Authentication required"))
        return user

    def create_key(self, req: Request) -> Reply:
        user = self._bearer_user(req)
        name = self.parse(req.body).get("name")
        # DOCS SILENT: the create body is not shown; {"name"}, a non-empty
        # string of at most 200 characters (item 28).
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            return self.validation_error("name", "must be a non-empty string")
        api_key = "sk_live_" + "".join(secrets.choice(RESET_ALPHABET.lower() + "0123456789")
                                       for _ in range(24))
        st = self.state
        with st.lock:
            key_id = "key_" + secrets.token_hex(3)
            while key_id in st.api_keys:
                key_id = "key_" + secrets.token_hex(3)
            key = ApiKey(user.username, key_id, name, utc_timestamp())
            st.api_keys[key_id] = key
        return Reply(201, {"keyId": key.key_id, "apiKey": api_key, "name": key.name,
                           "createdAt": key.created})

    def list_keys(self, req: Request) -> Reply:
        user = self._bearer_user(req)
        with self.state.lock:
            # DOCS SILENT: the order; oldest first (item 28).
            keys = [k for k in self.state.api_keys.values() if k.username == user.username]
            return Reply(200, [{"keyId": k.key_id, "name": k.name, "createdAt": k.created,
                                "lastUsed": k.last_used} for k in keys])

    def delete_key(self, req: Request) -> Reply:
        user = self._bearer_user(req)
        st = self.state
        with st.lock:
            key = st.api_keys.get(req.param or "")
            # DOCS SILENT: another user's key is "not found" too (item 28).
            if key is None or key.username != user.username:
                return self.error(404, "API key not found")
            del st.api_keys[key.key_id]
        return Reply(204, None)


# --------------------------------------------------------------------------
# fault bodies


def fake_token() -> str:
    return ".".join(b64url(secrets.token_bytes(n)) for n in (20, 60, 32))


def fake_success(path: str, method: str = "POST") -> Any:
    """A success-shaped body for a path (trickle, truncated, /v1/elsewhere)."""
    tok = fake_token()
    if method == "GET" and path == "/api/v1/auth/keys":
        return [{"keyId": "key_000000", "name": "elsewhere", "createdAt": "2023-10-27T10:00:00Z",
                 "lastUsed": None}]
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
    # Self-service bodies stay out of the union below, which is what
    # /v1/elsewhere has always answered.
    selfservice: dict[str, dict[str, Any]] = {
        "/api/v1/tokens": {"token": "aius_" + b64url(secrets.token_bytes(32)), "token_name": "elsewhere",
                           "client_id": "0", "created_at": "2023-10-27T10:00:00Z"},
        "/api/v1/2fa/status": {"enabled": False},
        "/api/v1/2fa/setup": {"secret": "JBSWY3DPEHPK3PXP",
                              "otpauth_uri": "otpauth://totp/AIUS:elsewhere?secret=JBSWY3DPEHPK3PXP"},
        "/api/v1/2fa/enable": {"enabled": True, "recovery_codes": ["0000-0000-0000"]},
        "/api/v1/2fa/disable": {"enabled": False},
        "/api/v1/password/reset/request": {"message": "If the address is registered, a reset email "
                                                      "has been sent"},
        "/api/v1/password/reset/confirm": {"message": "Password updated"},
        "/api/v1/auth/keys": {"keyId": "key_000000", "apiKey": "sk_live_" + "0" * 24,
                              "name": "elsewhere", "createdAt": "2023-10-27T10:00:00Z"},
    }
    if path in bodies:
        return bodies[path]
    if path in selfservice:
        return selfservice[path]
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
    "/api/v1/tokens": {"token": 5, "token_name": [], "client_id": {}, "created_at": 1},
    "/api/v1/2fa/status": {"enabled": "false"},
    "/api/v1/2fa/setup": {"secret": 5, "otpauth_uri": []},
    "/api/v1/2fa/enable": {"enabled": "true", "recovery_codes": "0000-0000-0000"},
    "/api/v1/2fa/disable": {"enabled": 0},
    "/api/v1/password/reset/request": {"message": []},
    "/api/v1/password/reset/confirm": {"message": {}},
    "/api/v1/auth/keys": {"keyId": 5, "apiKey": [], "name": {}, "createdAt": 1},
}
WRONG_TYPES_GET_KEYS = {"keyId": [], "name": 5, "createdAt": {}, "lastUsed": 7}


def wrong_types(path: str, method: str) -> Any:
    """The right field names with the wrong JSON types (the wrongtypes fault)."""
    if method == "GET" and path == "/api/v1/auth/keys":
        return [WRONG_TYPES_GET_KEYS]
    return WRONG_TYPES.get(path, {})


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

        route, param = srv.route_for(path)
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
        elif self.command not in route:
            reply = profile.method_not_allowed()
            reply.headers["Allow"] = ", ".join(sorted(route))
        else:
            try:
                reply = route[self.command](Request(self.command, path, self.headers, body, param))
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
        if reply.body is None:      # 204: no body, and so no Content-Length
            self.send_response(reply.status)
            self.send_header("Cache-Control", "no-store")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            return
        self._send_json(reply.status, reply.body, reply.headers)

    # ---- faults

    def _run_fault(self, cfg: Config, path: str) -> None:
        kind = cfg.fault
        if kind == "hang":
            self._fault_hang()
        elif kind == "trickle":
            self._fault_trickle(json.dumps(fake_success(path, self.command)).encode())
        elif kind == "html500":
            extra = EVIL if cfg.control_chars else ""
            page = ("<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
                    f"<body><h1>Internal Server Error</h1><p>upstream failed{extra}</p></body></html>\n")
            self._send_bytes(500, page.encode(), "text/html; charset=utf-8")
        elif kind == "truncated":
            self._fault_truncated(json.dumps(fake_success(path, self.command)).encode())
        elif kind == "wrongtypes":
            self._send_json(200, wrong_types(path, self.command))
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
        # path -> {method: handler}
        self.routes: dict[str, dict[str, Route]] = {
            "/v1/auth/login": {"POST": self.freddy.login},
            "/v1/auth/verify": {"POST": self.freddy.verify},
            "/v1/auth/resend-email": {"POST": self.freddy.resend_email},
            "/v1/auth/refresh": {"POST": self.freddy.refresh},
            "/v1/auth/dev-login": {"POST": self.freddy.dev_login},
            "/api/v1/login": {"POST": self.aius.login},
            "/api/v1/2fa/login": {"POST": self.aius.twofa_login},
            "/api/v1/tokens": {"POST": self.aius.mint_token},
            "/api/v1/2fa/status": {"GET": self.aius.twofa_status},
            "/api/v1/2fa/setup": {"POST": self.aius.twofa_setup},
            "/api/v1/2fa/enable": {"POST": self.aius.twofa_enable},
            "/api/v1/2fa/disable": {"POST": self.aius.twofa_disable},
            "/api/v1/password/reset/request": {"POST": self.aius.reset_request},
            "/api/v1/password/reset/confirm": {"POST": self.aius.reset_confirm},
            "/api/v1/auth/login": {"POST": self.jwt.login},
            "/api/v1/auth/refresh": {"POST": self.jwt.refresh},
            "/api/v1/auth/logout": {"POST": self.jwt.logout},
            "/api/v1/auth/keys": {"GET": self.jwt.list_keys, "POST": self.jwt.create_key},
        }
        # paths ending in one parameter segment: prefix -> {method: handler}
        self.param_routes: dict[str, dict[str, Route]] = {
            KEYS_PREFIX: {"DELETE": self.jwt.delete_key},
        }
        super().__init__(address, Handler)
        self.port: int = self.server_address[1]
        host = address[0]
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        self.url_host = f"[{host}]" if ":" in host else host

    def route_for(self, path: str) -> tuple[dict[str, Route] | None, str | None]:
        """The handlers of a path, and the {keyId} segment of a parameter path."""
        if path in self.routes:
            return self.routes[path], None
        for prefix, handlers in self.param_routes.items():
            rest = path[len(prefix):]
            if path.startswith(prefix) and "/" not in rest:
                return handlers, urllib.parse.unquote(rest)
        return None, None

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
            ("POST", "/_emu/revoke-durable"): self._admin_revoke_durable,
            ("POST", "/_emu/use-api-key"): self._admin_use_api_key,
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
                "resets_sent": st.resets_sent,
                "aius_tokens": self._count_by_user(st.durable.values()),
                "aius_token_names": {u: [r.token_name for r in st.durable.values() if r.username == u]
                                     for u in {r.username for r in st.durable.values()}},
                "api_keys": self._count_by_user(st.api_keys.values()),
            })

    @staticmethod
    def _count_by_user(records: Any) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rec in records:
            counts[rec.username] = counts.get(rec.username, 0) + 1
        return counts

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
            for table in (st.access, st.refresh, st.durable):
                for token in [t for t, r in table.items() if r.username == name]:
                    del table[token]
                    count += 1
        return Reply(200, {"revoked": count})

    def _admin_revoke_durable(self, body: dict[str, Any]) -> Reply:
        """Only the user's aius_ tokens, as when the person revokes one in
        the AIUS web console."""
        name = self._username(body)
        if isinstance(name, Reply):
            return name
        st = self.state
        with st.lock:
            tokens = [t for t, r in st.durable.items() if r.username == name]
            for token in tokens:
                del st.durable[token]
        return Reply(200, {"revoked": len(tokens)})

    def _admin_use_api_key(self, body: dict[str, Any]) -> Reply:
        """Mark a JWT API key used now (no documented endpoint takes one)."""
        key_id = body.get("keyId")
        st = self.state
        with st.lock:
            key = st.api_keys.get(key_id) if isinstance(key_id, str) else None
            if key is None:
                return Reply(404, {"error": "unknown key"})
            key.last_used = utc_timestamp()
            return Reply(200, {"lastUsed": key.last_used})

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
    p.add_argument("--reset-ttl", type=int, default=900,
                   help="AIUS password reset token lifetime (s)")
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
        reset_ttl=args.reset_ttl,
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
