"""State that cannot be written is kept, not lost: with cache_dir full
(ENOSPC), failures still count and a used TOTP code stays used, the
helper logs an error and retries, and the state reaches the disk once
there is room again.

The helper runs in a mount namespace of its own whose cache_dir is a
small tmpfs, filled by the test through nsenter."""

import os
import subprocess

from flowtest import FlowEnv, FlowTestCase, totp_code
from freddytest import PASSWORDS, FreddyTestCase, main, wait_for

TOTP_CONFIG = ("second_factor = totp\napi_key_file = {api_key_file}\n"
               "totp_users_file = {totp_users_file}\n")
SMALL_CACHE = ('mount -t tmpfs -o size=256k,mode=0700 freddy-full "$FREDDY_CACHE" && exec "$@"')


def start_on_small_disk(env):
    env.helper.stop()
    os.makedirs(env.cache_dir, mode=0o700, exist_ok=True)
    env.helper.env = dict(env.helper.env or os.environ, FREDDY_CACHE=env.cache_dir)
    env.helper.start(wait_socket=env.socket,
                     prefix=["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                             SMALL_CACHE, "sh"])


def in_helper_ns(env, *argv):
    return subprocess.run(["nsenter", "-t", str(env.helper.proc.pid), "-m", "--", *argv],
                          capture_output=True, text=True, timeout=30)


def fill(env):
    in_helper_ns(env, "dd", "if=/dev/zero", "of=%s/fill" % env.cache_dir, "bs=4k")
    r = in_helper_ns(env, "df", "--output=avail", env.cache_dir)
    assert r.stdout.split()[-1] == "0", r.stdout


def make_room(env):
    in_helper_ns(env, "rm", "-f", "%s/fill" % env.cache_dir)


def helper_file(env, name):
    r = in_helper_ns(env, "cat", os.path.join(env.cache_dir, name))
    return r.stdout if r.returncode == 0 else None


class FullDiskRateLimit(FreddyTestCase):
    env_kwargs = {"config": "rate_limit_failures = 2\nrate_limit_delay = 60\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_on_small_disk(cls.env)

    def test_failures_count_while_the_disk_is_full(self):
        fill(self.env)
        for _ in range(2):
            r = self.env.pamtester("alice", [("Password: ", "wrong")])
            self.assertIn("Invalid email or password", r.transcript)
        # Counted in memory: the next attempt waits.
        r = self.env.pamtester("alice", [])
        self.assertRegex(r.transcript, r"Too many failed attempts; try again in \d+ s")
        wait_for(lambda: "cannot write %s/.ratelimit: No space left on device; the state is kept in "
                 "memory" % self.env.cache_dir in self.env.helper.read_log(), what="the error line")
        self.assertIsNone(helper_file(self.env, ".ratelimit"))
        make_room(self.env)
        wait_for(lambda: "user:alice 2 " in (helper_file(self.env, ".ratelimit") or ""), timeout=15,
                 what="the state written once there is room")
        self.assertIn(".ratelimit written after", self.env.helper.read_log())


class FullDiskReplay(FlowTestCase):
    env_kwargs = {"api": "freddy", "config": TOTP_CONFIG, "enroll": ("bob",)}

    @classmethod
    def setUpClass(cls):
        cls.env = FlowEnv(**cls.env_kwargs)
        start_on_small_disk(cls.env)

    def setUp(self):
        FreddyTestCase.setUp(self)	# not FlowTestCase's: it restarts the helper on the big disk

    def test_a_used_code_stays_used(self):
        secret = self.env.secrets["bob"]
        used = {}

        def code():
            used["code"] = totp_code(secret)
            return used["code"]
        fill(self.env)
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"]), ("Authenticator code: ", code)])
        self.assertEqual(r.status, 0, r)
        wait_for(lambda: "cannot write %s/.totp=bob" % self.env.cache_dir in self.env.helper.read_log(),
                 what="the error line")
        # The same code again is refused each time (three attempts).
        r = self.env.pamtester("bob", [("Password: ", PASSWORDS["bob"])] +
                               [("Authenticator code: ", lambda: used["code"])] * 3)
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual(r.transcript.count("This code was already used"), 3, r)
        make_room(self.env)
        wait_for(lambda: helper_file(self.env, ".totp=bob") is not None, timeout=15,
                 what="the step written once there is room")


if __name__ == "__main__":
    main()
