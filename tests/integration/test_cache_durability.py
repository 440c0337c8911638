"""Cache files survive a restart and a kill -9 in the middle of a write,
and a corrupt, foreign-owned or symlinked file is ignored, never trusted."""

import json
import os
import signal
import subprocess
import time

from cachetest import CacheTestCase
from freddytest import nss_wrapper_preload
from freddytest import TOP_SRCDIR, main, wait_for

SHIM_SRC = os.path.join(TOP_SRCDIR, "tests", "lib", "slow_rename.c")


class Durability(CacheTestCase):
    env_kwargs = {"config": "refresh_margin = 300\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shim = os.path.join(cls.env.tmp, "slow_rename.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", cls.shim, SHIM_SRC, "-ldl"], check=True)

    def tearDown(self):
        if self.env.helper.proc is None or "LD_PRELOAD" in (self.env.helper.env or {}) and \
                self.shim in self.env.helper.env.get("LD_PRELOAD", ""):
            self.env.restart_helper()

    def test_survives_restart(self):
        self.assertEqual(self.env.login("alice").status, 0)
        token = self.env.ctl("token", user="alice").stdout
        self.env.restart_helper()
        r = self.env.ctl("token", user="alice")
        self.assertEqual((r.returncode, r.stdout), (0, token), r)

    def crash_during_refresh(self, phase):
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        with open(self.env.cache_path("alice")) as f:
            before = f.read()
        mark = os.path.join(self.env.tmp, "rename-mark")
        for p in ("before", "after"):
            if os.path.exists(mark + "." + p):
                os.unlink(mark + "." + p)
        self.env.restart_helper({"LD_PRELOAD": nss_wrapper_preload(self.env.tmp) + " " + self.shim,
                                 "SLOW_RENAME_PHASE": phase, "SLOW_RENAME_MARK": mark,
                                 "SLOW_RENAME_SECONDS": "30"})
        ctl = self.env.ctl_start("token", user="alice")
        wait_for(lambda: os.path.exists(mark + "." + phase), what="helper inside the rename")
        self.env.helper.stop(signal.SIGKILL)
        ctl.communicate(timeout=10)
        # The killed helper left its socket behind; the next start must be
        # waited for, not mistaken for this one.
        os.unlink(self.env.socket)
        # Read the disk directly: the helper is dead, the file is the truth.
        with open(os.path.join(self.env.cache_dir, "alice")) as f:
            after = f.read()
        rec = json.loads(after)     # complete JSON, whichever version
        self.assertEqual(rec["user"], "alice")
        return before, after

    def test_kill_before_rename_keeps_the_old_file(self):
        before, after = self.crash_during_refresh("before")
        self.assertEqual(after, before)
        # The half-done temporary file never counts as a user; a restarted
        # helper serves the old record.
        self.env.restart_helper()
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 0)
        self.assertIn("1", self.env.ctl("status").stdout.split("cached users: ")[1][:2])

    def test_kill_after_rename_has_the_new_file(self):
        before, after = self.crash_during_refresh("after")
        self.assertNotEqual(after, before)
        self.assertNotEqual(json.loads(after)["access_token"], json.loads(before)["access_token"])
        self.env.restart_helper()
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.stdout.strip(), json.loads(after)["access_token"])

    def test_corrupt_file_is_ignored(self):
        for junk in ("{", "", '{"version":1,"user":"bob","refresh_token":"r","access_expires":0,'
                     '"last_login":0}', "\x00" * 10):
            fd = os.open(self.env.cache_path("alice"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, junk.encode())
            os.close(fd)
            mark = self.env.log_mark()
            r = self.env.ctl("token", user="alice")
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("ignoring corrupt cache file of alice", self.env.log_lines_since(mark))
            r = self.env.ctl("cache", "list")
            self.assertEqual(r.returncode, 0, r)
            self.assertNotIn("alice", r.stdout)
        self.assertIsNone(self.env.helper.proc.poll())

    def test_foreign_owned_and_symlinked_files_are_ignored(self):
        self.assertEqual(self.env.login("alice").status, 0)
        os.chown(self.env.cache_path("alice"), 2001, 2001)
        mark = self.env.log_mark()
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("ignoring cache file of alice", self.env.log_lines_since(mark))
        os.chown(self.env.cache_path("alice"), 0, 0)
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 0)
        # A symlink planted in the cache folder is not followed.
        os.rename(self.env.cache_path("alice"), os.path.join(self.env.tmp, "elsewhere"))
        os.symlink(os.path.join(self.env.tmp, "elsewhere"), self.env.cache_path("alice"))
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.returncode, 1, r)
        self.assertIsNone(self.env.helper.proc.poll())


if __name__ == "__main__":
    main()
