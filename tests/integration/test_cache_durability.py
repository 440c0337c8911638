"""Cache files survive a restart and a kill -9 in the middle of a write
(a new file renamed into place, or a store overwriting its file in
place), and a corrupt, foreign-owned or symlinked file is ignored, never
trusted."""

import json
import os
import signal
import subprocess
import time

import cachefile
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

    def crash_during_refresh(self, phase, layout):
        """Kill the helper inside the store of a refresh: `layout` is the
        file's before ("json", the older layout, which the store replaces
        with a new file; "slots", which it overwrites in place)."""
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.rewrite_cache("alice", layout=layout, access_expires=int(time.time()) + 10)
        before = self.env.cache_bytes("alice")
        mark = os.path.join(self.env.tmp, "rename-mark")
        for p in ("before", "after", "inplace"):
            if os.path.exists(mark + "." + p):
                os.unlink(mark + "." + p)
        self.env.restart_helper({"LD_PRELOAD": nss_wrapper_preload(self.env.tmp) + " " + self.shim,
                                 "SLOW_RENAME_PHASE": phase, "SLOW_RENAME_MARK": mark,
                                 "SLOW_FSYNC_NAME": "alice", "SLOW_RENAME_SECONDS": "30"})
        ctl = self.env.ctl_start("token", user="alice")
        wait_for(lambda: os.path.exists(mark + "." + phase), what="helper inside the store")
        self.env.helper.stop(signal.SIGKILL)
        ctl.communicate(timeout=10)
        # The killed helper left its socket behind; the next start must be
        # waited for, not mistaken for this one.
        os.unlink(self.env.socket)
        # Read the disk directly: the helper is dead, the file is the truth.
        with open(os.path.join(self.env.cache_dir, "alice"), "rb") as f:
            after = f.read()
        rec = cachefile.read_record(os.path.join(self.env.cache_dir, "alice"))  # a whole record
        self.assertEqual(rec["user"], "alice")
        return before, after

    @staticmethod
    def access_token(data):
        return json.loads(cachefile.record_bytes(data))["access_token"]

    def test_kill_before_rename_keeps_the_old_file(self):
        before, after = self.crash_during_refresh("before", "json")
        self.assertEqual(after, before)
        # The half-done temporary file never counts as a user; a restarted
        # helper serves the old record.
        self.env.restart_helper()
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 0)
        self.assertIn("1", self.env.ctl("status").stdout.split("cached users: ")[1][:2])

    def test_kill_after_rename_has_the_new_file(self):
        before, after = self.crash_during_refresh("after", "json")
        self.assertNotEqual(after, before)
        # The older layout was replaced by the slots.
        self.assertEqual(before[:1], b"{")
        self.assertEqual([s[1] for s in cachefile.slots(after)], [1])
        self.assertNotEqual(self.access_token(after), self.access_token(before))
        self.env.restart_helper()
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.stdout.strip(), self.access_token(after))

    def test_kill_inside_an_in_place_store_leaves_both_records(self):
        before, after = self.crash_during_refresh("inplace", "slots")
        # Killed before the new record's fsync returned: it is written
        # into the other slot, and the old one is still whole beside it,
        # which is what a write torn by a power cut falls back on.
        self.assertEqual(len(after), len(before))
        old = cachefile.newest(before)
        self.assertEqual(old[:2], (0, 1))
        whole = cachefile.slots(after)
        self.assertEqual([(s[0], s[1]) for s in whole], [(0, 1), (1, 2)])
        self.assertEqual(whole[0][2], old[2])
        self.assertNotEqual(self.access_token(after), self.access_token(before))
        # The restarted helper serves the newer record, and its next store
        # of alice writes the same file again.
        self.env.restart_helper()
        r = self.env.ctl("token", user="alice")
        self.assertEqual(r.stdout.strip(), self.access_token(after))
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        ino = os.stat(self.env.cache_path("alice")).st_ino
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 0)
        self.env.flush_cache()
        self.assertEqual(os.stat(self.env.cache_path("alice")).st_ino, ino)
        final = cachefile.slots(self.env.cache_bytes("alice"))
        # One record: the one it replaced was cleared.
        self.assertEqual([(s[0], s[1]) for s in final], [(1, 2)])

    def hold_the_writer_in_alices_store(self, name):
        """Restart the helper with the shim, and return once its cache
        writer is inside the in-place store of alice's refreshed record,
        where it stays 5 s."""
        self.assertEqual(self.env.login("alice").status, 0)
        self.env.rewrite_cache("alice", access_expires=int(time.time()) + 10)
        mark = os.path.join(self.env.tmp, name + "-mark")
        if os.path.exists(mark + ".inplace"):
            os.unlink(mark + ".inplace")
        self.env.restart_helper({"LD_PRELOAD": nss_wrapper_preload(self.env.tmp) + " " + self.shim,
                                 "SLOW_RENAME_PHASE": "inplace", "SLOW_RENAME_MARK": mark,
                                 "SLOW_FSYNC_NAME": "alice", "SLOW_RENAME_SECONDS": "5"})
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 0)
        wait_for(lambda: os.path.exists(mark + ".inplace"), what="the writer inside alice's store")

    def test_a_forget_does_not_wait_for_a_write_in_progress(self):
        # The writer is held 5 s inside the store of alice's refreshed
        # record; forgetting her then used to wait on the loop for that
        # write (every other client with it), so that the write could not
        # bring the file back.  Now the writer removes the file after it.
        self.hold_the_writer_in_alices_store("forget")
        started = time.monotonic()
        r = self.env.ctl("cache", "forget", "alice")
        took = time.monotonic() - started
        self.assertEqual(r.returncode, 0, r)
        self.assertLess(took, 2.0, "the forget waited for the write in progress")
        # Forgotten at once for every reader, though the file is still there
        # (cache_path would wait for the writer).
        path = os.path.join(self.env.cache_dir, "alice")
        self.assertTrue(os.path.exists(path))
        self.assertNotEqual(self.env.ctl("token", user="alice").returncode, 0)
        self.assertEqual(self.env.ctl("cache", "forget", "alice").returncode, 1)
        # Once the write is done, the file is gone and stays gone.
        self.env.flush_cache()
        self.assertFalse(os.path.exists(path))
        self.env.restart_helper()
        self.assertNotEqual(self.env.ctl("token", user="alice").returncode, 0)

    def test_a_listing_waits_for_the_writer_off_the_loop(self):
        # The listing shows what is on disk, so it waits for the writer's
        # queue to drain; it used to wait on the loop, and every other
        # request waited with it.  The writer is held 5 s in alice's store.
        self.hold_the_writer_in_alices_store("list")
        started = time.monotonic()
        listing = self.env.ctl_start("cache", "list")
        try:
            time.sleep(0.3)  # the listing is waiting for the writer
            self.assertIsNone(listing.poll(), "the listing did not wait for the write")
            r = self.env.ctl("status")
            self.assertEqual(r.returncode, 0, r)
            self.assertLess(time.monotonic() - started, 2.0, "status waited for the listing")
            self.assertEqual(self.env.ctl("token", user="bob").returncode, 1)
            self.assertLess(time.monotonic() - started, 2.0, "a token request waited for the listing")
            out, err = listing.communicate(timeout=30)
        finally:
            if listing.poll() is None:
                listing.kill()
                listing.wait()
        self.assertEqual(listing.returncode, 0, err)
        self.assertGreater(time.monotonic() - started, 3.0, "the listing did not wait for the write")
        self.assertEqual([line.split()[0] for line in out.splitlines()[1:]], ["alice"])

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

    def test_the_writer_yields_the_cpu_to_logins(self):
        """The cache writer runs at nice 10; the event loop and the state
        writer, whose fsynced writes a login waits for, keep nice 0."""
        self.assertEqual(self.env.login("alice").status, 0)
        pid = self.env.helper.proc.pid
        nice = {}
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                head, tail = f.read().rsplit(")", 1)
            # Fields after the name: state is field 3, nice field 19.
            nice.setdefault(head.split("(", 1)[1], set()).add(int(tail.split()[16]))
        self.assertEqual(nice.get("freddy-cachewr"), {10}, nice)
        self.assertEqual(nice.get("freddy-helperd"), {0}, nice)
        self.assertEqual(nice.get("freddy-statewr"), {0}, nice)
        self.assertEqual(self.env.ctl("token", user="alice").returncode, 0)


if __name__ == "__main__":
    main()
