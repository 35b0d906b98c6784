#!/usr/bin/env python3
"""Palette calls per full reconcile against the minimum of SPEC §7: one key
listing, one user listing per 50 users, one team listing per 50 teams (at
least one), one call per action (plus the one GET /v1/users/info that tells
keywarden who it is). Runs the real binaries:

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/palette_calls.py
"""

import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from harness import API_KEY, Workspace, mutating_calls  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from tenant import Tenant, identity  # noqa: E402


def run(people, keys, leavers, teams, rps):
    t = Tenant(people, keys, api_key=API_KEY, seed=99)
    seed = t.seed()
    # Teams of about ten people each, round robin.
    seed["teams"] = [{"uid": f"team{n:05d}", "name": f"team-{n}",
                      "users": [p["uid"] for i, p in enumerate(t.people) if i % teams == n]}
                     for n in range(teams)]
    sim = PaletteSim(seed)  # the documented limits: 10 req/s, burst 50
    ws = Workspace(sim.url, palette={"requests_per_second": rps},
                   safety={"max_revocations": 100000, "max_revocations_percent": 100})
    try:
        ws.write_identities([identity(p, active=i >= leavers) for i, p in enumerate(t.people)])
        started = time.time()
        ws.run("sync", "--yes", check=0, timeout=3600)
        elapsed = time.time() - started
        calls = sim.calls()
        actions = len(mutating_calls(calls))
        users = people + 1
        minimum = 1 + math.ceil(users / 50) + max(1, math.ceil(teams / 50)) + 1 + actions
        throttled = sum(1 for c in calls if c["status"] == 429)
        print(f"| {users} | {teams} | {keys} | {actions} | {len(calls)} | {minimum} | {throttled} | {rps} | {elapsed:.1f} s |")
    finally:
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    print("| Palette users | teams | keys | actions | calls made | minimum | 429s | requests_per_second | wall time |")
    print("|---|---|---|---|---|---|---|---|---|")
    run(people=129, keys=300, leavers=13, teams=13, rps=5)
    run(people=499, keys=1000, leavers=10, teams=60, rps=5)
