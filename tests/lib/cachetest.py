"""Fixture additions for the token cache tests: local users through
nss_wrapper (so the helper maps uids to names without touching /etc),
freddyctl run as any uid with setpriv, and cache file helpers."""

import os
import re
import subprocess
import time

import cachefile
from freddytest import FreddyEnv, FreddyTestCase, TOP_BUILDDIR, wait_for  # noqa: F401

FREDDYCTL = os.path.join(TOP_BUILDDIR, "freddyctl")
UIDS = {"root": 0, "alice": 2001, "bob": 2002, "carol": 2003}


class CacheEnv(FreddyEnv):
    """A FreddyEnv whose helper knows the local users alice, bob and carol."""

    def __init__(self, config="", **kw):
        kw.setdefault("local_accounts", {n: u for n, u in UIDS.items() if n != "root"})
        super().__init__(config=config, start_helper=False, **kw)
        # freddyctl runs as other uids: they must reach the socket folder.
        os.chmod(self.tmp, 0o711)
        self.helper.start(wait_socket=self.socket)

    def helper_env_with(self, extra=None):
        env = dict(self.helper_env)
        env.update(extra or {})
        return env

    def keeps_verifiers(self):
        """Whether the helper's configuration has it keep password
        verifiers (cached re-authentication or offline login)."""
        with open(self.helper.config) as f:
            text = f.read()
        return bool(re.search(r"^\s*cached_auth_timeout\s*=\s*[1-9]", text, re.M) or
                    re.search(r"^\s*offline_login\s*=\s*yes\b", text, re.M))

    def login(self, user="alice", *args, **kw):
        """A full login.  The helper makes the password verifier on a
        thread of its own while the code is typed, and adds it to the
        cache record just after the login when the code came first (here,
        pexpect types at once); the tests that use it wait for it, as a
        person's next sudo a moment later would find it."""
        r = super().login(user, *args, **kw)
        if r.status == 0 and self.keeps_verifiers():
            wait_for(lambda: (self.cached(user) or {}).get("verifier"),
                     what="the password verifier of %s" % user)
        return r

    def restart_helper(self, extra_env=None):
        self.helper.stop()
        self.helper.env = self.helper_env_with(extra_env)
        self.helper.start(wait_socket=self.socket)

    def ctl_argv(self, *args, user="root"):
        uid = UIDS[user] if isinstance(user, str) else user
        argv = [FREDDYCTL, "--socket", self.socket, *args]
        if uid != 0:
            argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", *argv]
        return argv

    def ctl(self, *args, user="root", timeout=30):
        return subprocess.run(self.ctl_argv(*args, user=user), capture_output=True, text=True,
                              timeout=timeout)

    def ctl_start(self, *args, user="root"):
        return subprocess.Popen(self.ctl_argv(*args, user=user), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def cache_path(self, user):
        return self.cache_file(user)

    def cached(self, user):
        """The cache record of `user` as a dict, or None."""
        return cachefile.read_record(self.cache_path(user))

    def cache_bytes(self, user):
        """The raw bytes of `user`'s cache file (both slots)."""
        with open(self.cache_path(user), "rb") as f:
            return f.read()

    def rewrite_cache(self, user, layout="slots", **changes):
        """Change fields of a cache file: in the helper's layout, or in
        the older one (cachefile.rewrite)."""
        cachefile.rewrite(self.cache_path(user), layout, **changes)

    def log_lines_since(self, mark):
        return self.helper.read_log()[mark:]

    def log_mark(self):
        return len(self.helper.read_log())

    def password_login(self, user, password, service="freddy-test", **kw):
        """A login that is expected to end after the password."""
        return self.pamtester(user, [("Password: ", password)], service=service, **kw)


class CacheTestCase(FreddyTestCase):
    env_class = CacheEnv

    @classmethod
    def setUpClass(cls):
        cls.env = cls.env_class(**cls.env_kwargs)

    def setUp(self):
        super().setUp()
        for user in UIDS:
            try:
                os.unlink(self.env.cache_path(user))
            except FileNotFoundError:
                pass

    def wait_log(self, needle, mark=0, timeout=5):
        return wait_for(lambda: needle in self.env.helper.read_log()[mark:], timeout=timeout,
                        what="log line %r" % needle)


def now():
    return int(time.time())
