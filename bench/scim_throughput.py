#!/usr/bin/env python3
"""SCIM intake throughput on loopback with wrk (SPEC §7: 5,000 requests/s or
more on 2 cores with every event durable). Every request creates a user; at
the end the daemon is asked how many users it stored, which must equal the
number of 201 answers wrk saw.

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/scim_throughput.py [SECONDS] [CONNECTIONS]
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from harness import API_KEY, DaemonProcess, Workspace  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from tenant import Tenant  # noqa: E402

TOKEN = "bench-scim-token-0123456789abcdef"


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    t = Tenant(10, 10, api_key=API_KEY, seed=6)
    sim = PaletteSim(t.seed(), rate=100000, burst=100000)
    ws = Workspace(sim.url, policy={"entitled_groups": []}, daemon={"log_level": "warn", "reconcile_interval": "1h"})
    with open(os.path.join(ws.dir, "scim.token"), "w") as f:
        f.write(TOKEN)
    ws.sources = [{"name": "corp", "type": "scim", "token_file": "scim.token"}]
    ws.write_config()
    daemon = DaemonProcess(ws)
    try:
        daemon.wait_ready()
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                              "-s", os.path.join(HERE, "scim_post.lua"), daemon.url, "--", TOKEN],
                             capture_output=True, text=True, check=True).stdout
        print(out)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        status, _, body = daemon.request("GET", "/scim/v2/corp/Users?count=1", headers={"Authorization": "Bearer " + TOKEN})
        stored = json.loads(body)["totalResults"]
        _, _, metrics = daemon.request("GET", "/metrics")
        counters = dict(re.findall(r"^(keywarden_store_\w+_total) ([\d.e+]+)$", metrics.decode(), re.M))
        commits = float(counters.get("keywarden_store_commits_total", 0))
        pushes = float(counters.get("keywarden_store_committed_pushes_total", 0))
        if commits:
            print(f"group commit: {commits:.0f} commits for {pushes:.0f} pushes ({pushes / commits:.1f} per commit)")
        print(f"throughput {rps:.0f} requests/s; {requests} requests, {errors.group(1) if errors else 0} non-2xx; "
              f"{stored} users stored (each 201 is a committed user)")
    finally:
        daemon.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
