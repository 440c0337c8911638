"""Fleet simulation: what many machines running pam_freddy cost the API.

HELPERS helpers on loopback (each one a machine: its own socket, cache
and configuration) use one API server (tests/bench/api_server.js, 100 ms
of connection set-up, LATENCY ms per request).  On every machine USERS
people run sudo at the same instant, ROUNDS times, 2 s apart: HELPERS x
USERS x ROUNDS sudo calls (1000 with the defaults), each a full login
(password, then the mailed code after a 200 ms think time).  The same is
done without and with cached_auth_timeout (then every call after a
user's first is the password and one token refresh), over HTTP/2 and
over HTTP/1.1.

Per run it reports the API requests per 1000 sudo calls (by endpoint),
the TLS connections the API accepted, its CPU time, and the first round
(a fleet-wide sudo storm on machines that just booted) and the last one
(the same storm once the machines have connections and caches) on their
own: how long they took, how many requests, connections and streams at
once they cost the API.

Usage: fleet.py BUILDDIR OUTDIR [--helpers 20] [--users 5] [--rounds 10]
                [--latency-ms 100] [--protocols h2,http1]
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)

import bench  # noqa: E402  (path set above)
import freddytest  # noqa: E402

SERVICE_PREFIX = "sudo-fleet"
CACHE_WINDOW = 900


class Fleet:
    def __init__(self, builddir, helpers, users, latency_ms):
        bench.use_build(builddir)
        self.storm = os.path.join(builddir, "tests", "bench", "pam_storm")
        self.env = freddytest.FreddyEnv(users=[], start_helper=False, emulator_args=("--quiet",))
        self.api = freddytest.ApiServer(self.env.tmp, self.env.certs, bench.PASSWORD, bench.CODE,
                                        users=users, streams=bench.STREAMS, setup_ms=bench.SETUP_MS,
                                        latency_ms=latency_ms)
        self.count, self.users = helpers, users
        self.helpers = []

    def start(self, proto, cached):
        self.stop_helpers()
        tag = "%s-%s" % (proto, "cached" if cached else "plain")
        for i in range(self.count):
            name = "%s-%d" % (tag, i)
            sock = os.path.join(self.env.tmp, "run", "%s.sock" % name)
            config = ("socket = %s\napi = freddy\napi_url = %s\nca_file = %s\ncache_dir = %s\n"
                      "timeout = 30\ndebug = no\nrate_limit_failures = 1000\nmax_clients = 4096\n"
                      "cached_auth_timeout = %d\n" % (
                          sock, self.api.url(proto), os.path.join(self.env.certs, "ca.pem"),
                          os.path.join(self.env.tmp, "cache-" + name), CACHE_WINDOW if cached else 0))
            helper = freddytest.Helper(self.env.tmp, config, name="helper-" + name)
            helper.start(wait_socket=sock)
            self.env.write_service("%s-%d" % (SERVICE_PREFIX, i), "auth required %s socket=%s timeout=60\n"
                                   % (freddytest.MODULE, sock))
            self.helpers.append(helper)

    def stop_helpers(self):
        for h in self.helpers:
            h.stop()
        self.helpers = []

    def sudo_round(self):
        """USERS sudo calls on every machine at once; (seconds, failed)."""
        started = time.monotonic()
        procs = [subprocess.Popen([self.storm, "%s-%d" % (SERVICE_PREFIX, i), "bench", bench.PASSWORD,
                                   bench.CODE, str(bench.THINK_MS), str(self.users)],
                                  env=self.env.pam_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
                 for i in range(len(self.helpers))]
        failed = 0
        for p in procs:
            out, err = p.communicate(timeout=600)
            if p.returncode != 0:
                raise RuntimeError("pam_storm: %s" % err[-1000:])
            failed += sum(1 for line in out.splitlines()
                          if not line.startswith("rusage") and line.split()[2] != "0")
        return time.monotonic() - started, failed

    def api_counters(self):
        stats = self.api.stats()
        return {"requests": dict(stats["requests"]), "h2": stats["by_protocol"].get("h2", 0),
                "http/1.1": stats["by_protocol"].get("http/1.1", 0),
                "cpu_s": bench.proc_cpu_s(self.api.proc.pid)}

    def close(self):
        self.stop_helpers()
        self.api.stop()
        self.env.close()


def delta(after, before):
    reqs = {k: v - before["requests"].get(k, 0) for k, v in after["requests"].items()
            if v - before["requests"].get(k, 0)}
    return {"requests": reqs, "total_requests": sum(reqs.values()),
            "connections": (after["h2"] - before["h2"]) + (after["http/1.1"] - before["http/1.1"]),
            "api_cpu_s": round(after["cpu_s"] - before["cpu_s"], 3)}


def run(fleet, proto, cached, rounds):
    fleet.start(proto, cached)
    calls = len(fleet.helpers) * fleet.users * rounds
    first = last = None
    start = fleet.api_counters()
    failed = 0
    for r in range(rounds):
        before = fleet.api_counters()
        fleet.api.peaks()
        seconds, f = fleet.sudo_round()
        failed += f
        peaks = fleet.api.peaks()
        d = delta(fleet.api_counters(), before)
        d.update({"seconds": round(seconds, 2), "failed": f, "peak_open_connections": peaks["open_connections"],
                  "peak_streams_per_connection": peaks["streams_per_connection"]})
        if r == 0:
            first = d
        last = d
        print("  %-5s %-6s round %2d: %5.2f s, %4d requests, %3d new connections, api cpu %.2f s%s" % (
            proto, "cached" if cached else "plain", r + 1, seconds, d["total_requests"], d["connections"],
            d["api_cpu_s"], "  FAILED %d" % f if f else ""), flush=True)
        time.sleep(2)
    total = delta(fleet.api_counters(), start)
    per_1000 = {k: round(1000.0 * v / calls, 1) for k, v in total["requests"].items()}
    return {"protocol": proto, "cached_auth_timeout": CACHE_WINDOW if cached else 0, "sudo_calls": calls,
            "failed": failed, "requests_per_1000": per_1000,
            "total_requests_per_1000": round(1000.0 * total["total_requests"] / calls, 1),
            "connections": total["connections"], "api_cpu_s": total["api_cpu_s"],
            "first_round": first, "last_round": last}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("builddir")
    p.add_argument("outdir")
    p.add_argument("--helpers", type=int, default=20)
    p.add_argument("--users", type=int, default=5)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--latency-ms", type=int, default=100)
    p.add_argument("--protocols", default="h2,http1")
    a = p.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    fleet = Fleet(os.path.abspath(a.builddir), a.helpers, a.users, a.latency_ms)
    results = []
    load = os.getloadavg()
    try:
        for proto in a.protocols.split(","):
            for cached in (False, True):
                results.append(run(fleet, proto, cached, a.rounds))
    finally:
        fleet.close()
    with open(os.path.join(a.outdir, "fleet.json"), "w") as f:
        json.dump({"helpers": a.helpers, "users_per_helper": a.users, "rounds": a.rounds,
                   "latency_ms": a.latency_ms, "setup_ms": bench.SETUP_MS, "load_before": load,
                   "runs": results}, f, indent=1)
    print("\n%d machines x %d people x %d rounds = %d sudo calls per run; API latency %d ms, "
          "connection set-up %d ms; load average before %.2f" % (
              a.helpers, a.users, a.rounds, a.helpers * a.users * a.rounds, a.latency_ms, bench.SETUP_MS,
              load[0]))
    print("%-8s %-8s %9s %-44s %6s %8s | %-36s | %-36s" % (
        "proto", "cache", "req/1000", "by endpoint (per 1000 calls)", "conns", "api cpu",
        "first round: s, requests, conns, streams", "last round: s, requests, conns, streams"))
    for r in results:
        fr, lr = r["first_round"], r["last_round"]
        print("%-8s %-8s %9.0f %-44s %6d %7.2fs | %5.2f s %5d req %4d conn %4d str | %5.2f s %5d req %4d conn %4d str%s" % (
            bench.PROTOCOL_NAMES[r["protocol"]], "%d s" % r["cached_auth_timeout"] if r["cached_auth_timeout"] else "off",
            r["total_requests_per_1000"],
            ", ".join("%s %.0f" % (k.split("/")[-1], v) for k, v in sorted(r["requests_per_1000"].items())),
            r["connections"], r["api_cpu_s"], fr["seconds"], fr["total_requests"], fr["connections"],
            fr["peak_streams_per_connection"], lr["seconds"], lr["total_requests"], lr["connections"],
            lr["peak_streams_per_connection"], "  FAILED %d" % r["failed"] if r["failed"] else ""))
    sys.exit(1 if any(r["failed"] for r in results) else 0)


if __name__ == "__main__":
    main()
