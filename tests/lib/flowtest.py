"""Fixture additions for the API profiles and local TOTP: an environment
whose helper talks to the emulator's Freddy dev-login, AIUS or JWT API,
with an API key file and a TOTP users file in its temporary folder.

TOTP codes always come from oathtool (Debian's oath-toolkit), never from
the code under test.
"""

import glob
import os
import subprocess
import time

from freddytest import API_KEY, DEFAULT_USERS, TOP_BUILDDIR, FreddyEnv, FreddyTestCase, Helper

FREDDYCTL = os.path.join(TOP_BUILDDIR, "freddyctl")
OATHTOOL = "/usr/bin/oathtool"
EMULATOR_SECRETS = {u["username"]: u["totp_secret_hex"] for u in DEFAULT_USERS
                    if "totp_secret_hex" in u}
# The emulator's API prefixes (tests/emulator/README.md).
API_PATHS = {"freddy": "/v1", "aius": "/api", "jwt": "/api/v1"}


def totp_code(hex_secret, offset=0, digits=6, step=30):
    """The code oathtool computes for now + offset seconds."""
    at = int(time.time()) + offset
    return subprocess.run(
        [OATHTOOL, "--totp", "-d", str(digits), "-s", "%ds" % step, "-N", "@%d" % at, hex_secret],
        check=True, capture_output=True, text=True).stdout.strip()


def wait_for_fresh_step(step=30, margin=5):
    """Sleep into the next TOTP step when this one ends within `margin`
    seconds, so that two logins with totp_window = 0 share one step."""
    left = step - time.time() % step
    if left < margin:
        time.sleep(left + 0.1)


def run_ctl(*args, user=None):
    cmd = [FREDDYCTL, *args]
    if user is not None:
        cmd = ["setpriv", "--reuid=%s" % user, "--regid=%s" % user, "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10)


class FlowEnv(FreddyEnv):
    """A FreddyEnv for one profile.  `config` may name {api_key_file} and
    {totp_users_file}; `enroll` lists users to enrol with freddyctl before
    the helper starts."""

    def __init__(self, api="freddy", config="", enroll=(), api_key=API_KEY,
                 api_key_mode=0o600, **kw):
        super().__init__(start_helper=False, **kw)
        self.api_key_file = os.path.join(self.tmp, "api_key")
        with open(self.api_key_file, "w") as f:
            f.write(api_key + "\n")
        os.chmod(self.api_key_file, api_key_mode)
        self.totp_users_file = os.path.join(self.tmp, "totp_users")
        self.secrets = {}
        for user in enroll:
            self.enroll(user)
        self.api_url = self.emu.base + API_PATHS[api]
        self.config_text = self.make_config(
            ("api = %s\n" % api) + config.format(api_key_file=self.api_key_file,
                                                 totp_users_file=self.totp_users_file))
        self.helper = Helper(self.tmp, self.config_text, env=self.helper_env)
        self.helper.start(wait_socket=self.socket)

    def enroll(self, user, *extra):
        r = run_ctl("totp", "enroll", "--users-file", self.totp_users_file, *extra, user)
        if r.returncode != 0:
            raise AssertionError("freddyctl totp enroll %s: %s" % (user, r.stderr))
        self.secrets[user] = self.secret_in_file(user)
        return r

    def secret_in_file(self, user):
        with open(self.totp_users_file) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 4 and fields[1] == user:
                    return fields[3]
        return None

    def forget_replay_state(self):
        """Make used TOTP steps usable again.  The helper keeps them in
        memory too (its files are only the copy that outlives it), so it
        is restarted with the files gone."""
        self.helper.stop()
        for path in glob.glob(os.path.join(self.cache_dir, ".totp=*")):
            os.unlink(path)
        self.helper.start(wait_socket=self.socket)

    def restart_helper(self):
        self.helper.stop()
        self.helper.start(wait_socket=self.socket)


class FlowTestCase(FreddyTestCase):
    env_class = FlowEnv

    @classmethod
    def setUpClass(cls):
        cls.env = cls.env_class(**cls.env_kwargs)

    def setUp(self):
        super().setUp()
        self.env.forget_replay_state()
