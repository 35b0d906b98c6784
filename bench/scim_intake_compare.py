#!/usr/bin/env python3
"""SCIM intake next to a Node SCIM server, and as the store grows (issue 16
goal 2: at least 10x scimmy + scimmy-routers on express, and no decline up to
1,000,000 stored users).

In one run:
1. keywarden (a SCIM source "corp" against palette-sim, as
   bench/scim_throughput.py starts it) and bench/scimmy/server.js (in memory)
   each get the same wrk script (bench/scim_post.lua: every request creates a
   user) with the same threads, connections and duration. Each must have
   stored every user it answered 201 for: the stored count grows by at least
   the 201s and by no more than the 201s plus the requests still in flight
   when wrk stopped (at most one per connection).
2. keywarden's store is grown through the same SCIM POSTs (wrk, as fast as it
   goes) and intake is measured again, with the same window, at each size.

    (cd bench/scimmy && npm ci)
    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/scim_intake_compare.py [--seconds 10] [--connections 64] [--threads 2] \\
            [--sizes 0,250000,500000,750000,1000000] [--keep] [--perf-dir DIR]

The state folder is made by tempfile (TMPDIR, normally /tmp); the report
prints the file system it is on. --keep leaves it for sqlite3; --perf-dir
records `perf record -g` of the daemon during each measured window.
Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from harness import API_KEY, DaemonProcess, Workspace, wait_until  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from tenant import Tenant  # noqa: E402

TOKEN = "bench-scim-token-0123456789abcdef"
WRK_SCRIPT = os.path.join(HERE, "scim_post.lua")
SCIMMY_DIR = os.path.join(HERE, "scimmy")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def file_system_of(path):
    """The mount (device and type) that holds `path`, from /proc/mounts."""
    best = ("", "?", "?")
    with open("/proc/mounts") as f:
        for line in f:
            device, mount, fstype = line.split()[:3]
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best[0]):
                best = (mount, device, fstype)
    return f"{best[1]} ({best[2]}) mounted on {best[0]}"


class Wrk:
    """One wrk invocation of scim_post.lua; the numbers it printed."""

    def __init__(self, url, args, seconds, name_prefix):
        cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency",
               "-s", WRK_SCRIPT, url, "--", TOKEN, name_prefix]
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.output = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # wrk's own user + system time: the load generator shares the cores.
        self.cpu_seconds = (children_after.ru_utime - children_before.ru_utime +
                            children_after.ru_stime - children_before.ru_stime)
        self.rps = float(re.search(r"Requests/sec:\s+([\d.]+)", self.output).group(1))
        self.requests = int(re.search(r"(\d+) requests in", self.output).group(1))
        counts = re.search(r"created (\d+) failed (\d+)", self.output)
        self.created, self.failed = int(counts.group(1)), int(counts.group(2))
        latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", self.output, re.M))
        socket_errors = re.search(r"Socket errors: (.*)", self.output)
        self.socket_errors = socket_errors.group(1) if socket_errors else ""
        self.p50, self.p99 = latency.get("50", "?"), latency.get("99", "?")


class Server:
    """What the comparison needs of a SCIM server: its URL, user count and CPU time."""

    def __init__(self, name, port, pid):
        self.name = name
        self.port = port
        self.pid = pid
        self.url = f"http://127.0.0.1:{port}"

    def cpu_seconds(self):
        """User + system CPU time of the server process so far (all its threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stored_users(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.request("GET", "/scim/v2/corp/Users?count=1", headers={"Authorization": "Bearer " + TOKEN})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        if r.status != 200:
            raise RuntimeError(f"{self.name}: GET /Users answered {r.status}: {body[:200]!r}")
        return json.loads(body)["totalResults"]


class ScimmyServer(Server):
    """bench/scimmy/server.js on an ephemeral port; needs `npm ci` there first."""

    def __init__(self, token_file):
        if not os.path.isdir(os.path.join(SCIMMY_DIR, "node_modules")):
            raise SystemExit("bench/scimmy/node_modules is missing: run (cd bench/scimmy && npm ci)")
        self.dir = tempfile.mkdtemp(prefix="scimmy-")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(["node", "server.js", "--token-file", token_file, "--port-file", port_file],
                                     cwd=SCIMMY_DIR, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if not wait_until(lambda: os.path.exists(port_file) or self.proc.poll() is not None, timeout=30):
            raise RuntimeError("scimmy server did not start listening")
        if self.proc.poll() is not None:
            raise RuntimeError("scimmy server exited at once; see " + self.log.name)
        with open(port_file) as f:
            super().__init__("scimmy", int(f.read().strip()), self.proc.pid)
        with open("/proc/%d/cmdline" % self.proc.pid, "rb") as f:
            self.cmdline = f.read().replace(b"\0", b" ").decode().strip()

    def version(self):
        return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def measure(server, args, tag):
    """One wrk window against `server`; checks that every 201 was stored."""
    before = server.stored_users()
    load = load_average()
    cpu_before = server.cpu_seconds()
    run = Wrk(server.url, args, args.seconds, tag)
    run.cpu_ms_per_request = (server.cpu_seconds() - cpu_before) * 1000 / max(run.requests, 1)
    after = server.stored_users()
    grown = after - before
    # A 201 is sent only for a stored user; requests in flight when wrk's
    # window closes may be stored without wrk counting the answer.
    durable = run.created <= grown <= run.created + args.connections
    print(f"  {server.name:9} {run.rps:9.0f} requests/s  p50 {run.p50:>8} p99 {run.p99:>8}  "
          f"{run.created} created (201), {run.failed} other; stored {before} -> {after} (+{grown}) "
          f"{'ok' if durable else 'MISMATCH'}  {run.cpu_ms_per_request:.3f} CPU ms/request  "
          f"(wrk {run.cpu_seconds / args.seconds:.2f} cores)  load {load}", flush=True)
    if run.socket_errors:
        print(f"    wrk socket errors: {run.socket_errors}")
    if not durable:
        raise SystemExit(f"{server.name}: {run.created} answers 201 but the store grew by {grown}")
    return run, after, load


def perf_record(pid, path):
    """perf record -g of `pid` until the returned process gets SIGINT."""
    return subprocess.Popen(["perf", "record", "-g", "-p", str(pid), "-o", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def state_files(ws):
    state = os.path.join(ws.dir, "state")
    sizes = {}
    for name in sorted(os.listdir(state)):
        sizes[name] = os.path.getsize(os.path.join(state, name))
    return ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items() if size)


def grow(server, args, target, round_no):
    """POSTs new users through wrk until `server` holds at least `target`."""
    stored = server.stored_users()
    rate = 5000.0
    while stored < target:
        seconds = max(1, min(60, int((target - stored) / rate)))
        round_no += 1
        t0 = time.time()
        run = Wrk(server.url, args, seconds, f"g{round_no}-")
        stored = server.stored_users()
        rate = max(run.rps, 100.0)
        print(f"    growing: {run.rps:7.0f} requests/s for {time.time() - t0:4.0f} s, {stored} stored "
              f"(load {load_average()})", flush=True)
    return stored, round_no


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="each measured wrk window")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="0,250000,500000,750000,1000000",
                        help="stored-user counts at which keywarden's intake is measured again")
    parser.add_argument("--keep", action="store_true", help="leave keywarden's state folder (for sqlite3)")
    parser.add_argument("--perf-dir", help="perf record -g the daemon during each measured window")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    t = Tenant(10, 10, api_key=API_KEY, seed=6)
    sim = PaletteSim(t.seed(), rate=100000, burst=100000, quiet=True)
    ws = Workspace(sim.url, policy={"entitled_groups": []}, daemon={"log_level": "warn", "reconcile_interval": "1h"})
    token_file = os.path.join(ws.dir, "scim.token")
    with open(token_file, "w") as f:
        f.write(TOKEN)
    ws.sources = [{"name": "corp", "type": "scim", "token_file": "scim.token"}]
    ws.write_config()
    daemon = scimmy = None
    try:
        daemon = DaemonProcess(ws)
        daemon.wait_ready()
        keywarden = Server("keywarden", daemon.port, daemon.proc.pid)
        scimmy = ScimmyServer(token_file)
        print(f"keywarden pid {daemon.proc.pid}, state {ws.dir}/state on {file_system_of(ws.dir)}")
        print(f"scimmy pid {scimmy.proc.pid} (node {scimmy.version()}): {scimmy.cmdline}")
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s -s bench/scim_post.lua, "
              f"{os.cpu_count()} CPUs\n")

        print("side by side (same wrk script, same parameters):", flush=True)
        kw, _, _ = measure(keywarden, args, "kw-")
        node, _, _ = measure(scimmy, args, "node-")
        scimmy.stop()
        scimmy = None
        print(f"  ratio keywarden / scimmy: {kw.rps / node.rps:.1f}x in requests/s, "
              f"{node.cpu_ms_per_request / kw.cpu_ms_per_request:.1f}x in CPU time per request\n", flush=True)

        print("keywarden intake as the store grows:", flush=True)
        results = []
        round_no = 0
        for i, size in enumerate(sizes):
            stored, round_no = grow(keywarden, args, size, round_no)
            recorder = None
            if args.perf_dir:
                os.makedirs(args.perf_dir, exist_ok=True)
                recorder = perf_record(daemon.proc.pid, os.path.join(args.perf_dir, f"keywarden-{stored}.data"))
                time.sleep(1)
            run, after, load = measure(keywarden, args, f"m{i}-")
            if recorder:
                recorder.send_signal(signal.SIGINT)
                recorder.wait()
            print(f"    state: {state_files(ws)}", flush=True)
            results.append((stored, run, load))

        print("\nsummary")
        print(f"  keywarden {kw.rps:.0f} requests/s ({kw.cpu_ms_per_request:.3f} CPU ms/request), "
              f"scimmy {node.rps:.0f} requests/s ({node.cpu_ms_per_request:.3f} CPU ms/request): "
              f"{kw.rps / node.rps:.1f}x")
        for stored, run, load in results:
            print(f"  {stored:>9} users stored: {run.rps:7.0f} requests/s (p50 {run.p50}, p99 {run.p99}, "
                  f"{run.cpu_ms_per_request:.3f} CPU ms/request); load {load}")
    finally:
        if scimmy:
            scimmy.stop()
        if daemon:
            daemon.stop()
        sim.stop()
        if args.keep:
            print(f"state kept in {ws.dir}/state")
        else:
            ws.cleanup()


if __name__ == "__main__":
    main()
