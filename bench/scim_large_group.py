#!/usr/bin/env python3
"""A large SCIM group change next to /healthz and unrelated pushes (issue 13;
goal: 100,000 members added in under 1 s in all, /healthz and a deactivation
push under 50 ms meanwhile). Creates the users, then adds them to one group in
as few PATCHes as the 1 MiB body limit allows while /healthz is polled every
5 ms and one key owner is deactivated during each PATCH; prints the figures.
With --alone, the PATCHes are sent with nothing else going on, and the CPU
time each of the daemon's threads spent meanwhile is printed too (from /proc):
what the group change itself costs.

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/scim_large_group.py [--alone] [MEMBERS]
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from harness import API_KEY, DaemonProcess, Workspace  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from scim_group_load import (GROUP_SCHEMA, KeepAlive, USER_SCHEMA, add_members_under_load,  # noqa: E402
                             create_users, member_patches)
from tenant import Tenant  # noqa: E402

TOKEN = "bench-scim-token-0123456789abcdef"


def thread_cpu_ms(pid):
    """Each thread's user+system CPU time so far, in ms, by thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[tid] = (int(fields[11]) + int(fields[12])) * 1000 // ticks
    return out


def add_members_alone(daemon, client, group_id, ids):
    bodies = member_patches(ids)
    before = thread_cpu_ms(daemon.proc.pid)
    each = []
    started = time.monotonic()
    for body in bodies:
        sent = time.monotonic()
        status, payload = client.request("PATCH", f"/scim/v2/corp/Groups/{group_id}", body)
        assert status == 204, (status, payload)
        each.append(time.monotonic() - sent)
    total = time.monotonic() - started
    after = thread_cpu_ms(daemon.proc.pid)
    busy = sorted(((after[t] - before.get(t, 0), t) for t in after), reverse=True)
    print(f"{len(ids)} members in {len(bodies)} PATCHes, nothing else going on: {total * 1000:.0f} ms; each "
          f"{', '.join(f'{p * 1000:.0f}' for p in each)} ms")
    print("daemon CPU meanwhile, by thread: " + ", ".join(f"{ms} ms" for ms, _ in busy if ms > 0) +
          " (the first is the store worker)")


def main():
    args = [a for a in sys.argv[1:] if a != "--alone"]
    alone = len(args) != len(sys.argv) - 1
    members = int(args[0]) if args else 100_000
    t = Tenant(8, 16, api_key=API_KEY, seed=13)
    sim = PaletteSim(t.seed(), rate=100000, burst=100000)
    ws = Workspace(sim.url, policy={"entitled_groups": ["palette-users"]},
                   daemon={"log_level": "warn", "reconcile_interval": "1h"},
                   safety={"max_revocations": 100, "max_revocations_percent": 100})
    with open(os.path.join(ws.dir, "scim.token"), "w") as f:
        f.write(TOKEN)
    ws.sources = [{"name": "corp", "type": "scim", "token_file": "scim.token"}]
    ws.write_config()
    daemon = DaemonProcess(ws)
    client = KeepAlive(daemon.port, TOKEN)
    try:
        daemon.wait_ready()
        leavers = []
        for person in t.people[:5]:
            status, payload = client.request("POST", "/scim/v2/corp/Users", {
                "schemas": [USER_SCHEMA], "userName": person["email"], "active": True,
                "emails": [{"value": person["email"], "type": "work", "primary": True}]})
            assert status == 201, payload
            leavers.append(json.loads(payload)["id"])
        status, _ = client.request("POST", "/scim/v2/corp/Groups", {
            "schemas": [GROUP_SCHEMA], "displayName": "palette-users", "members": [{"value": i} for i in leavers]})
        assert status == 201
        started = time.monotonic()
        ids = create_users(daemon.port, TOKEN, "corp", members)
        print(f"created {members} users in {time.monotonic() - started:.1f} s")
        status, payload = client.request("POST", "/scim/v2/corp/Groups",
                                         {"schemas": [GROUP_SCHEMA], "displayName": "all-staff"})
        assert status == 201, payload
        group_id = json.loads(payload)["id"]
        if alone:
            add_members_alone(daemon, client, group_id, ids)
            return
        f = add_members_under_load(daemon.port, TOKEN, "corp", group_id, ids, leavers)
        print(f"{members} members in {len(f['patches'])} PATCHes of up to {max(f['patch_bytes'])} bytes: "
              f"all PATCHes {f['patch_total'] * 1000:.0f} ms; each "
              f"{', '.join(f'{p * 1000:.0f}' for p in f['patches'])} ms")
        print(f"slowest /healthz {f['healthz_max'] * 1000:.1f} ms ({f['healthz_count']} polled, "
              f"{len(f['healthz_failures'])} failed)")
        print(f"deactivation pushes during the PATCHes: {', '.join(f'{p * 1000:.1f}' for p in f['pushes'])} ms "
              f"(statuses {sorted(set(f['push_statuses']))})")
    finally:
        client.close()
        daemon.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
