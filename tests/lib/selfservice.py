"""Fixture for the account self-service tests (issue 14): a helper for one
API profile whose local users come from nss_wrapper (cachetest.CacheEnv),
freddyctl and pamtester run as those users' real uids with setpriv, the
AIUS reset codes read from the emulator's outbox, and TOTP codes from
oathtool (never from the code under test)."""

import os
import socket
import subprocess
import time

import fakehelper as fh
from cachetest import UIDS, CacheEnv, CacheTestCase
from flowtest import API_PATHS, EMULATOR_SECRETS, OATHTOOL, totp_code
from freddytest import PASSWORDS, read_text, wait_for

# The prompts and texts of the issue (a contract: keep them exact).
CURRENT = "Current Freddy password: "
RESET_CODE = "Reset code from the email: "
NEW = "New password: "
RETYPE = "Retype new password: "
CODE_PROMPT = "Authenticator or recovery code: "
NOT_CACHED = "No cached Freddy login"
# pam_get_items puts PAM items into the PAM environment; pam_exec passes
# that to its program (pam_exec cannot expose_authtok to password stacks).
PAM_GET_ITEMS = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_get_items.so"


def setpriv(uid):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", "--"]


def totp_from_base32(secret_b32, offset=0):
    at = int(time.time()) + offset
    return subprocess.run([OATHTOOL, "--totp", "-b", "-N", "@%d" % at, secret_b32], check=True,
                          capture_output=True, text=True).stdout.strip()


class SelfServiceEnv(CacheEnv):
    """A CacheEnv (alice 2001, bob 2002, carol 2003) for `api`."""

    def __init__(self, api="aius", config="", **kw):
        self.api = api
        if api == "aius":
            config = "user_template = %u@example.com\n" + config
        super().__init__(config=config, **kw)
        # pam_exec runs the recorder as the user changing the password: it
        # writes into a folder anyone may write to (tmp itself is 0711).
        seen_dir = os.path.join(self.tmp, "authtok")
        os.mkdir(seen_dir)
        os.chmod(seen_dir, 0o1777)
        self.authtok_seen = os.path.join(seen_dir, "seen")
        record = os.path.join(self.tmp, "record-authtok.sh")
        with open(record, "w") as f:
            f.write("#!/bin/sh\nprintf %%s \"${PAM_AUTHTOK-unset}\" > %s\n" % self.authtok_seen)
        os.chmod(record, 0o755)
        line = self.module_line()
        # passwd as /etc/pam.d/passwd of the examples would run it, with
        # pam_permit standing for common-password.
        self.write_service("passwd-test", "password [success=done ignore=ignore default=die] %s\n"
                           "password required pam_permit.so\n" % line)
        self.write_service("passwd-stacked", "password required %s\npassword required %s\n"
                           "password required pam_exec.so %s\n" % (line, PAM_GET_ITEMS, record))
        for name in os.listdir(self.pam_dir):
            os.chmod(os.path.join(self.pam_dir, name), 0o644)

    def make_config(self, extra):
        self.api_url = self.emu.base + API_PATHS[self.api]
        return super().make_config(("api = %s\n" % self.api) + extra)

    # -- logins through the real module

    def aius_login(self, user, password=None, as_uid=None, service="freddy-test", code=True):
        """Password, then (for an account with 2FA) the TOTP from oathtool."""
        script = [("Password: ", PASSWORDS[user] if password is None else password)]
        if code and user in EMULATOR_SECRETS:
            script.append((CODE_PROMPT, lambda: totp_code(EMULATOR_SECRETS[user])))
        prefix = setpriv(as_uid) if as_uid is not None else ()
        r = self.pamtester(user, script, service=service, prefix=prefix)
        # The verifier is made on the helper's verifier thread and may
        # reach the cache just after the login (cachetest.CacheEnv.login).
        if r.status == 0 and self.keeps_verifiers():
            wait_for(lambda: (self.cached(user) or {}).get("verifier"),
                     what="the password verifier of %s" % user)
        return r

    def jwt_login(self, user):
        return self.pamtester(user, [("Password: ", PASSWORDS[user])])

    def chauthtok(self, user, script, as_user=None, service="passwd-test", op="chauthtok", locale=None):
        """pamtester chauthtok for `user`, run by `as_user` (None: root),
        in `locale` (a dict of locale variables, None: none)."""
        prefix = setpriv(UIDS[as_user]) if as_user not in (None, "root") else ()
        return self.pamtester(user, script, service=service, ops=(op,), prefix=prefix, locale=locale)

    def reset_code(self, user, after):
        """The newest reset token mailed to `user` after time `after`."""
        path = os.path.join(self.emu.outbox, "%s@example.com.reset" % user)

        def fresh():
            try:
                if os.stat(path).st_mtime >= after:
                    return read_text(path)
            except FileNotFoundError:
                return None
            return None
        return wait_for(fresh, what="reset code for " + user)

    def reset_file(self, user):
        return os.path.join(self.emu.outbox, "%s@example.com.reset" % user)

    # -- freddyctl as a user, codes on standard input

    def ctl_as(self, user, *args, stdin=None, timeout=30):
        return subprocess.run(self.ctl_argv(*args, user=user), input=stdin, capture_output=True,
                              text=True, timeout=timeout)

    # -- the emulator from the test's side

    def api_requests(self):
        """Requests to the API paths (not /_emu/), by "METHOD /path"."""
        return {k: n for k, n in self.emu.stats()["requests"].items()}

    def aius_api_login(self, email, password):
        """The API's own verdict on a password (not through the helper)."""
        import json
        import urllib.error
        import urllib.request
        req = urllib.request.Request(self.emu.base + "/api/v1/login",
                                     data=json.dumps({"email": email, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, context=self.emu.ssl, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def secrets_in_log(self, secrets):
        log = self.helper.read_log()
        return [s for s in secrets if s and s in log]


class SelfServiceTestCase(CacheTestCase):
    env_class = SelfServiceEnv

    def setUp(self):
        super().setUp()
        if os.path.exists(self.env.authtok_seen):
            os.unlink(self.env.authtok_seen)
        # The emulator's reset keeps its outbox: each test starts with no
        # reset mail, so that "nothing was mailed" can be seen.
        for user in UIDS:
            try:
                os.unlink(self.env.reset_file(user))
            except FileNotFoundError:
                pass

    def assertNoApiRequest(self):
        self.assertEqual(self.env.api_requests(), {})


def raw_passwd_begin(path, user, caller_uid, phase=fh.CHAUTHTOK_UPDATE, service="passwd"):
    """Open a connection, send PASSWD_BEGIN, return (socket, first reply)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(fh.frame(fh.PASSWD_BEGIN, (fh.USER, user), (fh.SERVICE, service),
                       (fh.CALLER_UID, caller_uid), (fh.CHAUTHTOK_FLAGS, phase)))
    return s, fh.read_message(s)
