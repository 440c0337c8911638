"""Endurance run for pam_freddy (tests/bench/soak; not part of CI).

Three helpers, one per API profile (freddy with cached re-authentication,
aius, jwt), each against its own emulator, get continuous mixed traffic
for --minutes (default 30), one worker per helper (their PAM programs
take turns):
  freddy: full logins (mailed code), a wrong code then the right one,
          three wrong codes (must fail) then a full login of that user,
          cached re-authentications (password only), `freddyctl token`
          as the user, sessions;
  aius:   logins without 2FA, with a TOTP code (oathtool, once per
          30 s step), three wrong codes (must fail);
  jwt:    logins with a session opened and closed (logout), a wrong
          password (must fail) then the right one.
Every user who fails also succeeds now and then, as a person who mistypes
does: a login that succeeds clears the user's failure budget, and a user
who only ever failed would meet the helper's rate limit
(rate_limit_failures = 1000 in the tests) within a long run and be
refused before the password prompt, which the scripts do not expect.
Every --reload-seconds (default 180) each helper gets SIGHUP (reload).

Every 2 s it samples each helper's RSS (VmRSS and RssAnon), open fds and
threads.  It fails when one of them grew more than 5 % from the minute
after the first one (its median) to the last minute (its median), when a
login that should succeed failed or one that should fail succeeded, or
when a helper logged an error.  The curves go to soak.png (matplotlib),
the samples to soak.csv, under OUTDIR.

Usage: soak.py BUILDDIR OUTDIR [--minutes N] [--reload-seconds S]
"""

import argparse
import csv
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import freddytest  # noqa: E402  (path set above)

GROWTH_LIMIT = 0.05
SAMPLE_S = 2.0
FREDDY_CODE = "code, or Enter to resend: "
AIUS_CODE = "Authenticator or recovery code: "
SUDO_SERVICE = "sudo-soak"


def proc_status(pid, keys=("VmRSS", "RssAnon", "Threads")):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


class Soak:
    def __init__(self, builddir, outdir, minutes, reload_s):
        self.outdir, self.minutes, self.reload_s = outdir, minutes, reload_s
        self.deadline = time.monotonic() + minutes * 60
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.errors = []		# what makes the run fail
        self.counts = {}		# action -> [done, wrong outcome]
        self.samples = []		# (t, helper, rss, anon, fds, threads)
        self.reloads = []		# t
        self.stop = threading.Event()
        # One PAM program at a time: pam_wrapper gives each process a
        # service folder /tmp/pam.X, and two starting at once have been
        # seen to share one (a pamtester of the aius helper reached the
        # jwt helper).  The helpers still get traffic without a pause.
        self.pam_lock = threading.Lock()
        quiet = ("--quiet", "--max-login-failures", "0")
        # Full logins (freddy-test) always ask for the code; sudo-soak
        # may skip it within the window.
        config = "debug = no\ncached_auth_timeout = 600\ncached_auth_services = freddy-test\n"
        # (cachetest and flowtest take the build's paths from
        # FREDDY_TOP_BUILDDIR when imported: tests/bench/soak sets it.)
        import cachetest
        import flowtest
        self.flowtest = flowtest
        self.envs = {
            "freddy": cachetest.CacheEnv(config=config, emulator_args=quiet),
            "aius": flowtest.FlowEnv(api="aius", config="debug = no\nuser_template = %u@example.com\n",
                                     emulator_args=quiet),
            "jwt": flowtest.FlowEnv(api="jwt", config="debug = no\n", emulator_args=quiet),
        }
        freddy = self.envs["freddy"]
        freddy.write_service(SUDO_SERVICE, "auth required %s\n" % freddy.module_line())

    # ---- bookkeeping ------------------------------------------------------

    def record(self, action, expect_ok, result):
        ok = result.status == 0 if hasattr(result, "status") else result.returncode == 0
        with self.lock:
            done = self.counts.setdefault(action, [0, 0])
            done[0] += 1
            if ok != expect_ok:
                done[1] += 1
                self.errors.append("%.0f s: %s %s: %r" % (
                    time.monotonic() - self.started, action,
                    "failed" if expect_ok else "succeeded but should have failed",
                    getattr(result, "transcript", None) or getattr(result, "stderr", "")[-500:]))
                print("  wrong outcome: %s" % self.errors[-1], flush=True)

    def safely(self, action, fn, expect_ok=True):
        try:
            with self.pam_lock:
                result = fn()
            self.record(action, expect_ok, result)
        except Exception as e:	# a script that did not follow is a failure too
            with self.lock:
                self.counts.setdefault(action, [0, 0])
                self.counts[action][0] += 1
                self.counts[action][1] += 1
                self.errors.append("%.0f s: %s: %s" % (time.monotonic() - self.started, action, e))
                print("  wrong outcome: %s" % self.errors[-1], flush=True)

    # ---- the three workers -----------------------------------------------

    def freddy_worker(self):
        env = self.envs["freddy"]
        wrong_then_right = lambda user: env.pamtester(user, [
            ("Password: ", freddytest.PASSWORDS[user]),
            (FREDDY_CODE, "0000"),
            ("Invalid code, 2 attempts left\r?\n\r?\n4-digit code",
             lambda: env.emu.code_for("%s@example.com" % user, time.time() - 5)),
        ])
        all_wrong = lambda user: env.pamtester(user, [
            ("Password: ", freddytest.PASSWORDS[user]), (FREDDY_CODE, "0001"),
            ("Invalid code, 2 attempts left", "0002"), ("Invalid code, 1 attempt left", "0003")])
        while not self.stop.is_set():
            self.safely("freddy full login", lambda: env.login("alice"))
            self.safely("freddy cached re-authentication",
                        lambda: env.password_login("alice", freddytest.PASSWORDS["alice"],
                                                   service=SUDO_SERVICE))
            self.safely("freddyctl token", lambda: env.ctl("token", user="alice"))
            self.safely("freddy session", lambda: env.pamtester("alice", [],
                                                               ops=("open_session", "close_session")))
            self.safely("freddy wrong code, then the right one", lambda: wrong_then_right("bob"))
            self.safely("freddy three wrong codes", lambda: all_wrong("carol"), expect_ok=False)
            self.safely("freddy full login after three wrong codes", lambda: env.login("carol"))

    def aius_worker(self):
        env = self.envs["aius"]
        secret = self.flowtest.EMULATOR_SECRETS["bob"]
        last_step = None
        while not self.stop.is_set():
            self.safely("aius login without 2FA",
                        lambda: env.pamtester("carol", [("Password: ", freddytest.PASSWORDS["carol"])]))
            step = int(time.time()) // 30
            if step != last_step and time.time() % 30 < 25:
                last_step = step
                self.safely("aius login with TOTP", lambda: env.pamtester("bob", [
                    ("Password: ", freddytest.PASSWORDS["bob"]),
                    (AIUS_CODE, lambda: self.flowtest.totp_code(secret))]))
            self.safely("aius three wrong codes", lambda: env.pamtester("bob", [
                ("Password: ", freddytest.PASSWORDS["bob"]), (AIUS_CODE, "000000"),
                ("Invalid code.*(\r?\n)+.*" + AIUS_CODE, "000001"),
                ("Invalid code.*(\r?\n)+.*" + AIUS_CODE, "000002")]), expect_ok=False)

    def jwt_worker(self):
        env = self.envs["jwt"]
        while not self.stop.is_set():
            self.safely("jwt login with a session", lambda: env.pamtester(
                "alice", [("Password: ", freddytest.PASSWORDS["alice"])],
                ops=("authenticate", "open_session", "close_session")))
            self.safely("jwt login", lambda: env.pamtester(
                "bob", [("Password: ", freddytest.PASSWORDS["bob"])]))
            self.safely("jwt wrong password", lambda: env.pamtester(
                "carol", [("Password: ", "wrong-password")]), expect_ok=False)
            self.safely("jwt login after a wrong password", lambda: env.pamtester(
                "carol", [("Password: ", freddytest.PASSWORDS["carol"])]))

    # ---- sampling and reloads --------------------------------------------

    def sampler(self):
        next_reload = time.monotonic() + self.reload_s
        while not self.stop.wait(SAMPLE_S):
            t = time.monotonic() - self.started
            for name, env in self.envs.items():
                pid = env.helper.proc.pid
                try:
                    st = proc_status(pid)
                    fds = len(os.listdir("/proc/%d/fd" % pid))
                except FileNotFoundError:
                    with self.lock:
                        self.errors.append("%.0f s: the %s helper is gone" % (t, name))
                    continue
                self.samples.append((t, name, st["VmRSS"], st["RssAnon"], fds, st["Threads"]))
            if time.monotonic() >= next_reload:
                next_reload += self.reload_s
                for env in self.envs.values():
                    env.helper.proc.send_signal(signal.SIGHUP)
                self.reloads.append(time.monotonic() - self.started)

    def run(self):
        workers = [threading.Thread(target=fn, daemon=True)
                   for fn in (self.freddy_worker, self.aius_worker, self.jwt_worker)]
        sampler = threading.Thread(target=self.sampler, daemon=True)
        sampler.start()
        for w in workers:
            w.start()
        while time.monotonic() < self.deadline:
            time.sleep(min(5, max(0.1, self.deadline - time.monotonic())))
            done = sum(c[0] for c in self.counts.values())
            print("  %5.0f s: %d actions, %d errors" % (time.monotonic() - self.started, done,
                                                          len(self.errors)), flush=True)
        self.stop.set()
        for w in workers:
            w.join(120)
        sampler.join(10)

    # ---- verdict ------------------------------------------------------------

    def growth(self):
        """{(helper, metric): (baseline, end, growth)}: medians of the
        second minute and of the last minute."""
        end_t = self.samples[-1][0]
        out = {}
        for name in self.envs:
            for i, metric in ((2, "VmRSS"), (3, "RssAnon"), (4, "fds"), (5, "threads")):
                base = [s[i] for s in self.samples if s[1] == name and 60 <= s[0] < 120]
                last = [s[i] for s in self.samples if s[1] == name and s[0] >= end_t - 60]
                if base and last:
                    b, e = statistics.median(base), statistics.median(last)
                    out[(name, metric)] = (b, e, (e - b) / b if b else 0.0)
        return out

    def log_errors(self):
        found = []
        for name, env in self.envs.items():
            for line in env.helper.read_log().splitlines():
                if "error: " in line:
                    found.append("%s helper: %s" % (name, line))
            reloaded = env.helper.read_log().count("configuration reloaded")
            if reloaded < len(self.reloads):
                found.append("%s helper: %d reloads logged of %d sent" % (name, reloaded, len(self.reloads)))
        return found

    def plot(self, path):
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib not installed (python3-matplotlib): no plot")
            return
        fig, axes = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
        for ax, (i, label) in zip(axes, ((2, "RSS (MiB)"), (3, "RssAnon (MiB)"), (4, "open fds"),
                                         (5, "threads"))):
            for name in self.envs:
                pts = [(s[0] / 60, s[i] / 1024 if i <= 3 else s[i]) for s in self.samples if s[1] == name]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label="%s helper" % name)
            for t in self.reloads:
                ax.axvline(t / 60, color="grey", alpha=0.3, linewidth=0.8)
            ax.axvspan(1, 2, color="green", alpha=0.07)
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
        axes[0].legend(fontsize=8)
        axes[0].set_title("pam_freddy soak: %d min of mixed traffic (grey: reloads; green: baseline minute)"
                          % self.minutes, fontsize=10)
        axes[-1].set_xlabel("minutes")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        print("plot: %s" % path)

    def report(self):
        os.makedirs(self.outdir, exist_ok=True)
        with open(os.path.join(self.outdir, "soak.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(("seconds", "helper", "vmrss_kib", "rssanon_kib", "fds", "threads"))
            w.writerows(self.samples)
        self.plot(os.path.join(self.outdir, "soak.png"))
        for name, env in self.envs.items():
            shutil.copy(env.helper.log_path, os.path.join(self.outdir, "helper-%s.log" % name))
        failures = list(self.errors) + self.log_errors()
        print("\n%-45s %8s %8s" % ("action", "done", "wrong"))
        for action, (done, wrong) in sorted(self.counts.items()):
            print("%-45s %8d %8d" % (action, done, wrong))
        print("\n%-8s %-8s %10s %10s %8s" % ("helper", "metric", "minute 2", "last min", "growth"))
        for (name, metric), (b, e, g) in sorted(self.growth().items()):
            bad = g > GROWTH_LIMIT
            print("%-8s %-8s %10.0f %10.0f %7.1f%%%s" % (name, metric, b, e, 100 * g, "  > 5 %" if bad else ""))
            if bad:
                failures.append("%s helper: %s grew %.1f %% (%.0f -> %.0f)" % (name, metric, 100 * g, b, e))
        print("reloads: %d; samples: %d; load average now: %s" % (
            len(self.reloads), len(self.samples), " ".join("%.2f" % x for x in os.getloadavg())))
        for f in failures[:50]:
            print("FAIL: %s" % f)
        print("soak: %s (%d failures)" % ("passed" if not failures else "FAILED", len(failures)))
        return not failures

    def close(self):
        for env in self.envs.values():
            env.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("builddir")
    p.add_argument("outdir")
    p.add_argument("--minutes", type=int, default=30)
    p.add_argument("--reload-seconds", type=int, default=180)
    a = p.parse_args()
    if a.minutes < 3:
        p.error("--minutes: at least 3 (the growth compares minute 2 with the last one)")
    builddir = os.path.abspath(a.builddir)
    freddytest.TOP_BUILDDIR = builddir
    freddytest.HELPER = os.path.join(builddir, "freddy-helperd")
    freddytest.MODULE = os.path.join(builddir, ".libs", "pam_freddy.so")
    freddytest.FREDDYCTL = os.path.join(builddir, "freddyctl")
    soak = Soak(builddir, os.path.abspath(a.outdir), a.minutes, a.reload_seconds)
    try:
        soak.run()
        passed = soak.report()
    finally:
        soak.close()
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
