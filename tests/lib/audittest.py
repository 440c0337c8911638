"""Fixture additions for the audit records (audit_log): switch any test
environment's helper to writing them, read them back as parsed JSON,
and scan the file for every secret the test has seen."""

import glob
import json
import os
import re
import time

import cachefile
from freddytest import API_KEY, DEFAULT_USERS, PASSWORDS, wait_for

MEMBERS = ("time", "event", "user", "service", "rhost", "tty", "caller_uid", "factor", "result",
           "trace_id", "login_id")
LOGIN_ID = re.compile(r"[0-9a-f]{12}-[0-9]+")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class AuditLog:
    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                return f.read().decode("utf-8").splitlines(True)
        except FileNotFoundError:
            return []

    def records(self):
        """Every record so far; each line must be one JSON object of the
        documented members, in order."""
        out = []
        for line in self.lines():
            if not line.endswith("\n"):
                raise AssertionError("torn audit line: %r" % line)
            rec = json.loads(line)
            if not isinstance(rec, dict) or list(rec) != [m for m in MEMBERS if m in rec]:
                raise AssertionError("audit line with odd members: %r" % line)
            out.append(rec)
        return out

    def mark(self):
        return len(self.lines())

    def since(self, mark):
        return self.records()[mark:]

    def wait(self, mark=0, timeout=10, **match):
        """The first record after `mark` whose members equal `match`."""
        def find():
            for rec in self.since(mark):
                if all(rec.get(k) == v for k, v in match.items()):
                    return rec
            return None
        return wait_for(find, timeout=timeout, what="audit record %r" % (match,))

    def settle(self, seconds=0.3):
        """Give the writer thread a moment, for "no such record" checks."""
        time.sleep(seconds)


def enable_audit(env, name="audit.log"):
    """Restart `env`'s helper with audit_log in its folder; returns the
    AuditLog."""
    path = os.path.join(env.tmp, name)
    env.helper.stop()
    with open(env.helper.config, "a") as f:
        f.write("audit_log = %s\n" % path)
    env.helper.start(wait_socket=env.socket)
    wait_for(lambda: os.path.exists(path), what="the audit log to be created")
    return AuditLog(path)


def known_secrets(env, extra=()):
    """Long secrets: passwords, the API key, recovery codes, TOTP secrets,
    every token in the cache, and what the test adds."""
    found = set(PASSWORDS.values()) | {API_KEY} | set(extra)
    for user in DEFAULT_USERS:
        found.update(user.get("recovery_codes", []))
        if "totp_secret_hex" in user:
            found.add(user["totp_secret_hex"])
    for path in glob.glob(os.path.join(env.cache_dir, "*")):
        # Every user's file must hold a whole record: one skipped would
        # drop its tokens from the secrets the audit looks for.
        try:
            rec = cachefile.read_record(path)
        except IsADirectoryError:
            continue
        if rec is None:
            continue
        for key in ("access_token", "refresh_token", "verifier"):
            if isinstance(rec.get(key), str):
                found.add(rec[key])
    return {s for s in found if s and len(s) >= 6}


def mailed_codes(env):
    """Every code the emulator mailed: mail.log lines are
    "<time> <email> <email_key> <code>"."""
    codes, keys = set(), set()
    try:
        with open(os.path.join(env.emu.outbox, "mail.log")) as f:
            for line in f:
                fields = line.split()
                if len(fields) == 4:
                    keys.add(fields[2])
                    codes.add(fields[3])
    except FileNotFoundError:
        pass
    return codes, keys


def assert_no_secret(testcase, audit, env, extra=()):
    """No secret in the audit file: long ones nowhere in its bytes; the
    short mailed codes in no member but the random ids."""
    with open(audit.path, "rb") as f:
        raw = f.read().decode("utf-8")
    codes, email_keys = mailed_codes(env)
    for secret in known_secrets(env, extra) | email_keys:
        testcase.assertNotIn(secret, raw, "a secret is in the audit log")
    for rec in audit.records():
        for member in ("user", "service", "rhost", "tty", "factor", "result"):
            value = str(rec.get(member, ""))
            for code in codes | set(extra):
                testcase.assertNotIn(code, value, "a code is in the audit record %r" % rec)
