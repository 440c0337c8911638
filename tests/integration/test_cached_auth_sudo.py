"""Cached re-authentication through the real setuid sudo: a full login,
then `sudo -S -k` as that user with the password only.  sudo ignores
LD_PRELOAD, so the test users, the PAM service and the sudo policy are
bound over /etc inside a private mount namespace (tests/lib/sudo_ns.sh);
the host's /etc is never changed."""

import os
import shutil
import subprocess
import time
import unittest

from cachetest import CacheTestCase, UIDS
from freddytest import PASSWORDS, TOP_SRCDIR, main

SUDO_NS = os.path.join(TOP_SRCDIR, "tests", "lib", "sudo_ns.sh")


def sudo_usable():
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/sudo"):
        return False
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return r.returncode == 0


@unittest.skipUnless(sudo_usable(), "needs root, sudo and mount namespaces")
class SudoCachedAuth(CacheTestCase):
    env_kwargs = {"config": "cached_auth_timeout = 600\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.overlay = os.path.join(env.tmp, "etc")
        os.mkdir(cls.overlay)
        with open("/etc/passwd") as f:
            passwd = f.read()
        with open("/etc/group") as f:
            group = f.read()
        with open(os.path.join(cls.overlay, "passwd"), "w") as f:
            f.write(passwd)
            for name, uid in UIDS.items():
                if name != "root":
                    f.write("%s:x:%d:%d:%s:/nonexistent:/bin/sh\n" % (name, uid, uid, name))
        with open(os.path.join(cls.overlay, "group"), "w") as f:
            f.write(group)
            for name, uid in UIDS.items():
                if name != "root":
                    f.write("%s:x:%d:\n" % (name, uid))
        for name in ("passwd", "group"):
            os.chmod(os.path.join(cls.overlay, name), 0o644)
        pam_d = os.path.join(cls.overlay, "pam.d")
        shutil.copytree("/etc/pam.d", pam_d, symlinks=True)
        with open(os.path.join(pam_d, "sudo-freddytest"), "w") as f:
            f.write("auth required %s\naccount required pam_permit.so\n"
                    "session required pam_permit.so\n" % env.module_line())
        sudoers = os.path.join(cls.overlay, "sudoers.d")
        os.mkdir(sudoers, 0o755)
        path = os.path.join(sudoers, "freddytest")
        with open(path, "w") as f:
            f.write("Defaults:alice pam_service=sudo-freddytest, timestamp_timeout=0, !lecture\n"
                    "alice ALL=(root) ALL\n")
        os.chmod(path, 0o440)
        os.chmod(cls.overlay, 0o755)

    def sudo(self, stdin_text):
        uid = UIDS["alice"]
        argv = ["sh", SUDO_NS, self.overlay, "--", "setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                "--clear-groups", "/usr/bin/sudo", "-S", "-k", "/usr/bin/id", "-u"]
        return subprocess.run(argv, input=stdin_text, capture_output=True, text=True, timeout=60)

    def test_password_only_within_the_window(self):
        self.assertEqual(self.env.login("alice").status, 0)
        r = self.sudo(PASSWORDS["alice"] + "\n")
        self.assertEqual((r.returncode, r.stdout), (0, "0\n"), r)
        self.assertNotIn("code", r.stderr)
        self.assertEqual(self.env.emu.requests("POST /v1/auth/refresh"), 1)
        self.assertIn("cached re-authentication of alice for service sudo-freddytest",
                      self.env.helper.read_log())

    def test_revoked_account_refused(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.emu.admin("revoke", {"username": "alice"})
        r = self.sudo(PASSWORDS["alice"] + "\n")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, "")
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login"), 1)

    def test_after_the_window_the_code_is_asked(self):
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.rewrite_cache("alice", last_login=int(time.time()) - 601)
        r = self.sudo(PASSWORDS["alice"] + "\n")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("4-digit code", r.stderr)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    main()
