"""Login-storm benchmark for pam_freddy (a benchmark, not a timed test).

Starts the emulator with injected latency, the helper, and pam_storm (a C
driver calling libpam in N threads), and reports what pam_freddy adds to a
login beyond the API's round trips.  The same logins are then done the way
an administrator would without this project: pam_exec.so running curl; and
with pam_permit.so alone, which shows what N simultaneous logins cost
libpam on this machine before any module does anything.

The API: when BUILDDIR/tests/bench/bench_server is built (configure found
libmicrohttpd), that C server answers the storms' requests, because the
Python emulator, at about 2 requests per ms under the GIL, would be the
bottleneck at hundreds of concurrent logins.  Otherwise, or with
--emulator, the Python emulator does.  The table says which one served
and what share of the machine's CPU it used.

Usage: bench.py BUILDDIR OUTDIR [--quick] [--emulator]
"""

import csv
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import freddytest  # noqa: E402  (path set above)

PASSWORD = "Bench-Pass-1"
CODE = "4321"
THINK_MS = 200
# The storms run with the shipped max_api_connections (256); the cap
# section repeats the largest one with other values, to show the trade
# between memory and storm time.
DEFAULT_API_CONNECTIONS = 256


def proc_cpu_s(pid):
    """CPU time of every thread of `pid`, from schedstat (nanoseconds; the
    utime/stime of /proc/PID/stat count 10 ms ticks)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass	# the thread ended meanwhile
    return total / 1e9


def proc_rss_kib(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's RssAnon every few ms while a storm runs: VmHWM
    gives the peak of the whole RSS only, shared library pages included."""

    def __init__(self, pid):
        self.pid, self.peak_anon_kib = pid, 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_event.is_set():
            self.peak_anon_kib = max(self.peak_anon_kib, proc_rss_kib(self.pid, "RssAnon"))
            self.stop_event.wait(0.005)

    def stop(self):
        self.stop_event.set()
        self.thread.join()
        return self.peak_anon_kib


def rss_floor(builddir):
    """(VmRSS, RssAnon, RssFile) of tests/bench/rss_floor: the helper's
    libraries loaded and curl initialised, nothing else."""
    r = subprocess.run([os.path.join(builddir, "tests", "bench", "rss_floor")],
                       capture_output=True, text=True, check=True)
    return tuple(int(x) for x in r.stdout.split())


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class BenchServer:
    """tests/bench/bench_server: a C HTTPS server with only the Freddy email
    flow and the emulator's /_emu/stats and /_emu/config."""

    def __init__(self, binary, tmp, certs, users):
        port_file = os.path.join(tmp, "bench_server.port")
        self.log = open(os.path.join(tmp, "bench_server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--cert", os.path.join(certs, "server.pem"),
             "--key", os.path.join(certs, "server.key"), "--password", PASSWORD,
             "--code", CODE, "--users", str(users), "--port", "0", "--port-file", port_file],
            stdout=self.log, stderr=subprocess.STDOUT)
        freddytest.wait_for(lambda: freddytest.read_text(port_file) or self.proc.poll() is not None,
                            what="bench_server port")
        if self.proc.poll() is not None:
            raise RuntimeError("bench_server exited %s" % self.proc.returncode)
        self.port = int(freddytest.read_text(port_file))
        self.base = "https://127.0.0.1:%d" % self.port
        self.ssl = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))

    # Same admin requests as the emulator's client.
    admin = freddytest.Emulator.admin
    stats = freddytest.Emulator.stats

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Bench:
    def __init__(self, builddir, outdir, users, use_emulator=False):
        freddytest.TOP_BUILDDIR = builddir
        freddytest.HELPER = os.path.join(builddir, "freddy-helperd")
        freddytest.MODULE = os.path.join(builddir, ".libs", "pam_freddy.so")
        freddytest.FREDDYCTL = os.path.join(builddir, "freddyctl")
        self.storm = os.path.join(builddir, "tests", "bench", "pam_storm")
        self.outdir = outdir
        bench_users = [{"username": "bench%d" % i, "email": "bench%d@example.com" % i,
                        "password": PASSWORD} for i in range(users)]
        self.env = freddytest.FreddyEnv(
            users=bench_users,
            emulator_args=("--quiet", "--fixed-code", CODE, "--max-login-failures", "0"),
            config="debug = no\ntimeout = 30\nmax_clients = 4096\n",
            module_args="timeout=60")
        self.server = None
        server_bin = os.path.join(builddir, "tests", "bench", "bench_server")
        if not use_emulator and os.access(server_bin, os.X_OK):
            self.server = BenchServer(server_bin, self.env.tmp, self.env.certs, users)
            self.use_api(self.server.base + "/v1")
            self.api, self.api_name = self.server, "bench_server"
        else:
            self.api, self.api_name = self.env.emu, "python emulator"
        baseline = "auth required pam_exec.so expose_authtok quiet %s %s %s %s\n" % (
            os.path.join(HERE, "pam_exec_curl.sh"), self.env.api_url,
            os.path.join(self.env.certs, "ca.pem"), CODE)
        self.env.write_service("bench-baseline", baseline)
        # libpam alone: what N simultaneous logins cost this machine before
        # any module does anything.
        self.env.write_service("bench-permit", "auth required pam_permit.so\n")
        self.helper_pid = self.env.helper.proc.pid
        self.emu_pid = self.api.proc.pid

    def use_api(self, url):
        """Restart the helper with api_url = url."""
        self.restart_helper("api_url", url)
        self.env.api_url = url

    def restart_helper(self, key, value):
        """Restart the helper with `key = value` in its configuration."""
        self.env.helper.stop()
        with open(self.env.helper.config) as f:
            lines = f.read().splitlines()
        lines = [ln for ln in lines if ln.split("=", 1)[0].strip() != key]
        lines.append("%s = %s" % (key, value))
        with open(self.env.helper.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.path.exists(self.env.socket):
            os.unlink(self.env.socket)
        self.env.helper.start(wait_socket=self.env.socket)
        self.helper_pid = self.env.helper.proc.pid

    def helper_connections_opened(self):
        """TLS connections the helper has opened (curl's
        CURLINFO_NUM_CONNECTS, summed), from `freddyctl status`."""
        r = subprocess.run([freddytest.FREDDYCTL, "--socket", self.env.socket, "status"],
                           capture_output=True, text=True, timeout=60)
        for line in r.stdout.splitlines():
            if line.startswith("api connections opened:"):
                return int(line.split(":")[1])
        raise RuntimeError("freddyctl status: no connection count: %s %s" % (r.stdout, r.stderr))

    def run_storm(self, service, count, spread_ms=0):
        r = subprocess.run([self.storm, service, "bench", PASSWORD, CODE, str(THINK_MS), str(count),
                            str(spread_ms)],
                           env=self.env.pam_env(), capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("pam_storm failed: %s" % r.stderr[-2000:])
        logins, cpu = [], None
        for line in r.stdout.splitlines():
            parts = line.split()
            if parts[0] == "rusage":
                cpu = (int(parts[1]) / 1e6, int(parts[2]) / 1e6)
            else:
                logins.append((int(parts[0]) / 1000.0, int(parts[1]) / 1000.0, int(parts[2])))
        return logins, cpu

    def measure(self, label, service, count, latency_ms, ours=True, spread_ms=0):
        self.api.admin("config", {"latency_ms": latency_ms})
        helper_conn0 = self.helper_connections_opened() if ours else 0
        emu_conn0 = self.api.stats()["connections"]
        helper_cpu0 = proc_cpu_s(self.helper_pid) if ours else 0.0
        emu_cpu0 = proc_cpu_s(self.emu_pid)
        sampler = RssSampler(self.helper_pid) if ours else None
        wall0 = time.monotonic()
        logins, (driver_cpu, children_cpu) = self.run_storm(service, count, spread_ms)
        wall = time.monotonic() - wall0
        peak_anon = sampler.stop() if ours else 0
        helper_cpu = (proc_cpu_s(self.helper_pid) - helper_cpu0) if ours else 0.0
        emu_cpu = proc_cpu_s(self.emu_pid) - emu_cpu0
        # The final stats request is a connection of its own.
        server_new_conns = self.api.stats()["connections"] - emu_conn0 - 1
        new_conns = self.helper_connections_opened() - helper_conn0 if ours else server_new_conns
        failed = sum(1 for _, _, res in logins if res != 0)
        # What pam_freddy adds: the login's time minus the person's think
        # time and the two API round trips' injected latency.
        overhead = [lat - think - 2 * latency_ms for lat, think, _ in logins]
        think = statistics.mean(t for _, t, _ in logins)
        row = {
            "impl": label, "api_server": self.api_name, "n": count, "latency_ms": latency_ms, "failed": failed,
            "wall_s": round(wall, 3),
            "spread_ms": spread_ms,
            "wall_minus_think_s": round(wall - think / 1000.0 - spread_ms / 1000.0, 3),
            "logins_per_s": round(count / wall, 1),
            "overhead_p50_ms": round(percentile(overhead, 50), 2),
            "overhead_p95_ms": round(percentile(overhead, 95), 2),
            "overhead_p99_ms": round(percentile(overhead, 99), 2),
            "cpu_per_login_ms": round(1000 * (helper_cpu + driver_cpu + children_cpu) / count, 3),
            "helper_cpu_per_login_ms": round(1000 * helper_cpu / count, 3),
            "new_tls_per_1000": round(1000.0 * new_conns / count, 1),
            # The same seen from the API server: a cross-check.
            "server_new_tls_per_1000": round(1000.0 * server_new_conns / count, 1),
            "emulator_cpu_share": round(emu_cpu / wall / os.cpu_count(), 3),
            "helper_rss_kib": proc_rss_kib(self.helper_pid) if ours else 0,
            "helper_peak_rss_kib": proc_rss_kib(self.helper_pid, "VmHWM") if ours else 0,
            "helper_peak_anon_kib": peak_anon,
            "helper_fds": proc_fds(self.helper_pid) if ours else 0,
        }
        print("  %-9s N=%-5d lat=%-4d wall=%6.2fs overhead p50/p95/p99 = %6.2f/%6.2f/%6.2f ms  "
              "cpu/login %.3f ms  new TLS/1000 %5.1f  api cpu %.0f%%%s" % (
                  label, count, latency_ms, wall, row["overhead_p50_ms"], row["overhead_p95_ms"],
                  row["overhead_p99_ms"], row["cpu_per_login_ms"], row["new_tls_per_1000"],
                  100 * row["emulator_cpu_share"], "  FAILED %d" % failed if failed else ""),
              flush=True)
        return row

    def close(self):
        if self.server is not None:
            self.server.stop()
        self.env.close()


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for impl in ("freddy", "pam_exec", "pam_permit"):
        for lat in sorted({r["latency_ms"] for r in rows}):
            pts = sorted((r["n"], r["overhead_p99_ms"]) for r in rows
                         if r["impl"] == impl and r["latency_ms"] == lat and r["phase"] == "steady")
            if pts:
                # A log axis: an overhead at or below 0.1 ms is drawn at 0.1.
                ax.plot([p[0] for p in pts], [max(p[1], 0.1) for p in pts], marker="o",
                        label="libpam alone (pam_permit, p99)" if impl == "pam_permit"
                        else "%s, %d ms API latency (p99)" % (impl, lat))
    pts = sorted((r["n"], r["overhead_p99_ms"]) for r in rows if r["phase"] == "spread")
    if pts:
        ax.plot([p[0] for p in pts], [max(p[1], 0.1) for p in pts], marker="s", linestyle="--",
                label="freddy, 0 ms, arrivals spread over %d ms (p99)" % THINK_MS)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent logins (N)")
    ax.set_ylabel("latency added per login, p99 (ms)")
    ax.set_title("pam_freddy login storm: overhead beyond API round trips")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("plot: %s" % path)


def main():
    builddir, outdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    quick = "--quick" in sys.argv
    use_emulator = "--emulator" in sys.argv
    sizes = [1, 50, 200] if quick else [1, 50, 200, 1000]
    os.makedirs(outdir, exist_ok=True)
    bench = Bench(builddir, outdir, max(sizes), use_emulator)
    rows = []
    started = time.monotonic()
    floor = rss_floor(builddir)
    try:
        idle = {k: proc_rss_kib(bench.helper_pid, k) for k in ("VmRSS", "RssAnon", "RssFile")}
        print("helper idle RSS: %d KiB (%d anonymous, %d shared library pages); API server: %s (pid %d)" % (
            idle["VmRSS"], idle["RssAnon"], idle["RssFile"], bench.api_name, bench.emu_pid), flush=True)
        print("its libraries alone (rss_floor: libcurl and the rest loaded, curl initialised): "
              "%d KiB (%d anonymous, %d shared library pages)" % floor, flush=True)
        for latency in (0, 300):
            for n in sizes:
                # The first storms of a size grow the connection pool to
                # what the size needs: a storm opens connections whenever
                # its peak concurrency beats every earlier one's, which at
                # 0 ms latency varies from storm to storm.  Steady state,
                # which the targets talk about, is the storm after two in
                # a row that opened none (after at most six warm-ups).
                quiet = 0
                for _ in range(6):
                    row = bench.measure("freddy", "freddy-test", n, latency)
                    row["phase"] = "warm-up"
                    rows.append(row)
                    quiet = quiet + 1 if row["new_tls_per_1000"] == 0 else 0
                    if quiet == 2:
                        break
                row = bench.measure("freddy", "freddy-test", n, latency)
                row["phase"] = "steady"
                rows.append(row)
        # The same number in flight, but arriving over the think time
        # rather than at one instant: what a login costs without the
        # burst's queueing for two cores.
        for n in ([200] if quick else [200, 1000]):
            row = bench.measure("freddy", "freddy-test", n, 0, spread_ms=THINK_MS)
            row["phase"] = "spread"
            rows.append(row)
        for n in ([1, 50] if quick else [1, 50, 200]):
            row = bench.measure("pam_exec", "bench-baseline", n, 0, ours=False)
            row["phase"] = "steady"
            rows.append(row)
        for n in sizes:
            for phase in ("warm-up", "steady"):
                row = bench.measure("pam_permit", "bench-permit", n, 0, ours=False)
                row["phase"] = phase
                rows.append(row)
        # Memory against storm time: fewer API connections, less memory,
        # but more logins wait for a free connection.
        for cap in ([] if quick else [128, 400, 1100]):
            bench.restart_helper("max_api_connections", cap)
            for phase in ("warm-up", "cap %d" % cap):
                row = bench.measure("freddy", "freddy-test", max(sizes), 300)
                row["phase"] = phase
                row["api_connections"] = cap
                rows.append(row)
    finally:
        bench.close()
    elapsed = time.monotonic() - started
    for r in rows:
        r.setdefault("api_connections", DEFAULT_API_CONNECTIONS if r["impl"] == "freddy" else 0)

    csv_path = os.path.join(outdir, "bench.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(outdir, "bench.json"), "w") as f:
        json.dump({"idle_rss_kib": idle["VmRSS"], "idle_anon_kib": idle["RssAnon"],
                   "idle_file_kib": idle["RssFile"], "floor_rss_kib": floor[0],
                   "rows": rows}, f, indent=1)

    shown = [r for r in rows if r["phase"] != "warm-up"]
    print("\n%-9s %-8s %5s %6s %5s %8s %9s %8s %8s %8s %10s %9s %8s %8s %8s" % (
        "impl", "phase", "N", "lat", "conns", "login/s", "wall-thk", "ovh p50", "ovh p95", "ovh p99",
        "cpu/login", "TLS/1000", "peakRSS", "peakAnon", "api cpu"))
    for r in shown:
        print("%-9s %-8s %5d %6d %5d %8.1f %8.2fs %7.2fms %7.2fms %7.2fms %8.3fms %9.1f %7dK %7dK %7.0f%%" % (
            r["impl"], r["phase"], r["n"], r["latency_ms"], r["api_connections"], r["logins_per_s"],
            r["wall_minus_think_s"], r["overhead_p50_ms"], r["overhead_p95_ms"], r["overhead_p99_ms"],
            r["cpu_per_login_ms"], r["new_tls_per_1000"], r["helper_peak_rss_kib"],
            r["helper_peak_anon_kib"], 100 * r["emulator_cpu_share"]))
    print("API server: %s; api cpu = its CPU time / wall time / %d CPUs; conns = max_api_connections;"
          " spread = the N logins start evenly over %d ms" % (bench.api_name, os.cpu_count(), THINK_MS))
    ours = {(r["n"], r["latency_ms"]): r for r in rows if r["impl"] == "freddy" and r["phase"] == "steady"}
    print()
    for r in shown:
        if r["impl"] == "pam_exec" and (r["n"], 0) in ours:
            o = ours[(r["n"], 0)]
            print("N=%d, 0 ms: ours/theirs latency p50 %.2f, CPU per login %.3f (%.1fx cheaper)" % (
                r["n"], (o["overhead_p50_ms"] + 1e-9) / max(r["overhead_p50_ms"], 1e-9),
                o["cpu_per_login_ms"] / r["cpu_per_login_ms"],
                r["cpu_per_login_ms"] / max(o["cpu_per_login_ms"], 1e-9)))
    print("helper RSS idle %d KiB, of which %d KiB anonymous (the libraries alone: %d KiB); "
          "results in %s; %.0f s" % (idle["VmRSS"], idle["RssAnon"], floor[0], csv_path, elapsed))
    plot(rows, os.path.join(outdir, "latency.png"))


if __name__ == "__main__":
    main()
