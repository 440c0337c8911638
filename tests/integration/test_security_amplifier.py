"""Shared CPU and the API are no amplifier: one uid's flood of password
checks cannot starve root callers' cached re-authentications, and whether
a user is inside the cached window does not show in how long a wrong
password takes.  (Status probes: test_freddyctl.StatusStorm.)

The flooding uid is real and unprivileged (setpriv, tests/lib/attacker.py)."""

import json
import os
import statistics
import time

from freddytest import PASSWORDS, FreddyTestCase, main
import security
from test_security_capacity import attacker

PROMPT, DONE, ANSWER, TAG_TEXT = 64, 67, 2, 9


def password_only_ms(env, user, password, whole=False):
    """A root caller (sudo) answers the password prompt: milliseconds from
    the answer to the verdict (`whole`: from connecting), and the result."""
    t0 = time.monotonic()
    s = security.connect(env.socket, timeout=20)
    s.sendall(security.frame(security.AUTH_BEGIN, security.field(security.TAG_USER, user),
                             security.field(security.TAG_SERVICE, "sudo")))
    assert security.read_frame(s)[0] == PROMPT
    if not whole:
        t0 = time.monotonic()
    s.sendall(security.frame(ANSWER, security.field(TAG_TEXT, password)))
    reply = security.read_frame(s)
    ms = (time.monotonic() - t0) * 1000
    s.close()
    assert reply is not None and reply[0] == DONE, reply
    result = int.from_bytes(reply[1][3:7], "big") if reply[1][:1] == bytes([security.TAG_RESULT]) else None
    return ms, result


def wrong_password_ms(env, user):
    return password_only_ms(env, user, "Not-The-Password-9")[0]


class CachedAuth(FreddyTestCase):

    @classmethod
    def setUpClass(cls):
        from test_security_callers import make_env
        cls.env = make_env("cached_auth_timeout = 600\ndebug = no\n")
        os.chmod(os.path.dirname(cls.env.socket), 0o755)

    def cached_reauth_s(self, user):
        """A password-only login inside the window; seconds it took."""
        r = self.env.pamtester(user, [("Password: ", PASSWORDS[user])], timeout=60)
        self.assertEqual(r.status, 0, r)
        self.assertNotIn("code (Enter", r.transcript)
        return r.elapsed

    def full_login(self, user):
        path = self.env.cache_file(user)	# a cached one would skip the code
        if os.path.exists(path):
            os.unlink(path)
        r = self.env.login(user)
        self.assertEqual(r.status, 0, r)
        # The verifier is made while the code is typed, and joins the
        # record just after the login.
        time.sleep(0.5)

    def cached_reauth_ms(self, user):
        ms, result = password_only_ms(self.env, user, PASSWORDS[user], whole=True)
        self.assertEqual(result, 0)		# SUCCESS, without a code
        return ms

    def test_a_flood_of_checks_does_not_starve_root(self):
        with security.TimingSection():
            self.flood_of_checks()

    def flood_of_checks(self):
        self.full_login("bob")
        # The attacker inside her own window: every one of her passwords
        # is a real yescrypt check (outside it, a decoy check is as dear,
        # but a check turned away used to go on to the API instead).
        self.full_login("alice")
        alone = [self.cached_reauth_ms("bob") for _ in range(5)]
        logins_before = self.env.emu.requests("POST /v1/auth/login")
        p = attacker(self.env, security.NOBODY_UID, "flood", "alice", PASSWORDS["alice"], 256, 12)
        try:
            self.assertIn("started", p.stdout.readline())
            time.sleep(1)
            during = [self.cached_reauth_ms("bob") for _ in range(5)]
            # And through libpam, as sudo would.
            sudo_like = [self.cached_reauth_s("bob") for _ in range(3)]
        finally:
            out, err = p.communicate(timeout=60)
        counts = json.loads(out.splitlines()[-1])
        self.assertLess(statistics.median(during), 500 * security.TIME_SCALE, during)
        # Checks beyond her share of the verifier threads are refused as
        # busy, not sent on as full logins: the API mailed her no code.
        self.assertEqual(self.env.emu.requests("POST /v1/auth/login") - logins_before, 0, counts)
        print("root's cached re-authentication (connect to verdict): median %.0f ms alone, %.0f ms "
              "during a 256-connection flood (%s); through pamtester %.0f ms"
              % (statistics.median(alone), statistics.median(during), counts,
                 1000 * statistics.median(sudo_like)))

    def test_window_does_not_show_in_a_wrong_password_s_time(self):
        self.full_login("bob")		# inside the window
        inside, outside = [], []
        with security.TimingSection():
            self.sample(inside, outside)
        # The fastest of each: what the helper's own work costs, whatever
        # else the machine is busy with.
        mi, mo = min(inside), min(outside)
        print("wrong password: %.1f ms inside the cached window, %.1f ms outside (fastest of 9; "
              "medians %.1f and %.1f)" % (mi, mo, statistics.median(inside), statistics.median(outside)))
        # A hash each way: the two are alike (without the decoy, outside
        # took a fifteenth of inside: no yescrypt at all).
        self.assertGreater(mo, 0.6 * mi, (inside, outside))
        self.assertGreater(mi, 0.6 * mo, (inside, outside))

    def sample(self, inside, outside):
        for _ in range(9):		# interleaved, so that load on the machine hits both alike
            inside.append(wrong_password_ms(self.env, "bob"))
            outside.append(wrong_password_ms(self.env, "alice"))	# never logged in


if __name__ == "__main__":
    main()
