#!/usr/bin/env python3
"""A Keycloak realm of 100,000 users and 1,000 groups read from the stand-in
(tests/integration/keycloak_standin.py, the Admin REST API of Keycloak 26.2)
by `keywarden run`: keywarden's own CPU time and peak memory for the first
cycle (full read, Palette read, plan), then 10 changes recorded as admin
events (disables, deletes, removals from the entitled group) to their 10
revocations at palette-sim.

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/keycloak_directory.py [USERS] [GROUPS]

The Palette side is that of the Okta and Entra benches (the first 1,000
people own one key each, 1,001 keys), so the figures compare.

The stand-in is a Python HTTP server in this process: it takes most of the
wall time, so the figure that measures keywarden is its CPU time (utime +
stime of the daemon process, from /proc/<pid>/stat), not the wall time.
Every wait is bounded; the whole run is cut off after 40 minutes.
"""

import os
import random
import resource
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from harness import DaemonProcess, mutating_calls, wait_until  # noqa: E402
from keycloak_standin import KeycloakStandin  # noqa: E402
from okta_directory import HealthProbe, group_sets, palette_side, vm_kb  # noqa: E402

CLIENT_ID = "keywarden-bench"
CLIENT_SECRET = "kc-bench-secret-0123456789"
TOP_LEVEL_GROUPS = 100        # groups 0..99: engineering, palette-users (under it) and 98 more departments
ENTITLED_PATH = "/engineering/palette-users"
RUN_LIMIT_S = 2400
FIRST_CYCLE_LIMIT_S = 1800
INCREMENTAL_LIMIT_S = 120


def cpu_seconds(pid):
    """utime + stime of process `pid` (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5); the split starts at field 3 (state).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_realm(kc, users, groups):
    """`users` people in `groups` groups: 99 top-level departments (group 0
    is engineering), /engineering/palette-users, and every other group a
    subgroup of a department (the 23+ shape: served under /children). Each
    user is a direct member of 10 groups; 9 users in 10 are in
    palette-users (okta_directory.group_sets), the other memberships are
    spread at random over the rest."""
    rng = random.Random(1)
    ids = [kc.add_user(f"person{i:06d}", f"person{i:06d}@example.com", record=False)["id"] for i in range(users)]
    names = ["engineering", "palette-users"] + [f"group-{g:04d}" for g in range(2, groups)]

    def parent_of(g):
        if g == 1:
            return 0
        if g < TOP_LEVEL_GROUPS:
            return None
        department = g % TOP_LEVEL_GROUPS
        return 0 if department == 1 else department
    parent_index = [parent_of(g) for g in range(groups)]
    members = [[] for _ in range(groups)]
    order = [1] + [g for g in range(groups) if g != 1]  # group_sets puts its first group in 9 of 10 users
    memberships = 0
    for uid, chosen in group_sets(ids, order, rng):
        for g in chosen:
            members[g].append(uid)
        memberships += len(chosen)
    gids = [None] * groups
    for g in range(groups):  # parents first: every parent index is below TOP_LEVEL_GROUPS
        parent = gids[parent_index[g]] if parent_index[g] is not None else None
        gids[g] = kc.add_group(names[g], parent=parent, members=members[g])
    assert kc.path_of(gids[1]) == ENTITLED_PATH
    return ids, gids, memberships


def first_cycle(ws):
    """Starts `keywarden run`, waits for its first reconcile (/readyz), and
    returns the daemon with the cycle's wall time, CPU time and peak RSS."""
    t0 = time.time()
    daemon = DaemonProcess(ws)
    probe = HealthProbe(daemon)
    try:
        ready = daemon.wait_ready(timeout=FIRST_CYCLE_LIMIT_S)
        cpu = cpu_seconds(daemon.proc.pid)
        wall = time.time() - t0
        slowest = probe.stop()
        assert ready, daemon.output()[-4000:]
        return daemon, wall, cpu, vm_kb(daemon.proc.pid, "VmHWM") / 1024, slowest
    except BaseException:  # not ready, or out of time: the daemon is not left running
        probe.done.set()
        daemon.stop()
        raise


def configure_source(ws, kc):
    """The workspace's one source: the stand-in's realm, polled every 2 s,
    with the entitled group given by its path."""
    with open(os.path.join(ws.dir, "kc.secret"), "w") as f:
        f.write(CLIENT_SECRET + "\n")
    ws.sections["policy"]["entitled_groups"] = [ENTITLED_PATH]
    ws.sources = [{"name": "corp-keycloak", "type": "keycloak", "url": kc.url, "realm": "corp",
                   "client_id": CLIENT_ID, "client_secret_file": "kc.secret", "poll_interval": "2s"}]
    ws.write_config()


def main():
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    groups = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    assert groups > TOP_LEVEL_GROUPS and users >= 1000
    def out_of_time(signum, frame):
        raise TimeoutError(f"the bench ran longer than {RUN_LIMIT_S} s")
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(RUN_LIMIT_S)  # the finally below stops keywarden, palette-sim and the stand-in

    kc = KeycloakStandin("corp", CLIENT_ID, CLIENT_SECRET, version=26, minor=2)
    started = time.time()
    ids, gids, memberships = build_realm(kc, users, groups)
    print(f"stand-in (Keycloak 26.2): {users} users, {groups} groups ({TOP_LEVEL_GROUPS} top level), "
          f"{memberships} direct memberships ({time.time() - started:.1f} s to build)", flush=True)

    t, sim, ws = palette_side()
    print(f"palette-sim: {len(t.people)} users, {len(t.keys)} keys", flush=True)
    configure_source(ws, kc)
    daemon = None
    try:
        own_cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        daemon, wall, cpu, peak, slowest = first_cycle(ws)
        own_cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        standin_cpu = (own_cpu_after.ru_utime + own_cpu_after.ru_stime) - (own_cpu_before.ru_utime + own_cpu_before.ru_stime)
        pages = len(kc.requests())
        first_mutations = len(mutating_calls(sim.calls()))
        print(f"first cycle (full Keycloak read + Palette read + plan): wall {wall:.1f} s, "
              f"keywarden CPU {cpu:.2f} s, keywarden peak RSS {peak:.0f} MB, slowest /healthz {slowest * 1000:.0f} ms; "
              f"{pages} requests to the stand-in (its CPU {standin_cpu:.1f} s, bench process); "
              f"{first_mutations} Palette changes", flush=True)

        # Ten key owners in palette-users (i % 10 != 0): four disabled, three
        # deleted, three taken out of the entitled group, each an admin event.
        victims = list(range(1, 1000, 100))
        keys = {k["uid"] for i in victims for k in t.keys_of(t.people[i])}
        assert len(keys) == 10
        sim.reset_calls()
        kc.reset_requests()
        cpu0 = cpu_seconds(daemon.proc.pid)
        t1 = time.time()
        for n, i in enumerate(victims):
            if n < 4:
                kc.disable(ids[i])
            elif n < 7:
                kc.delete_user(ids[i])
            else:
                kc.set_member(ids[i], gids[1], False)
        changes_made = time.time() - t1

        def revoked():
            state = {k["uid"]: k for k in sim.state()["keys"]}
            return all(not state[k]["isActive"] for k in keys)
        done = wait_until(revoked, timeout=INCREMENTAL_LIMIT_S, interval=0.05)
        second = time.time() - t1
        assert done, daemon.output()[-4000:]
        cpu1 = cpu_seconds(daemon.proc.pid)
        time.sleep(1)  # a revocation beyond the ten would show here
        changed = mutating_calls(sim.calls())
        print(f"incremental, 10 admin events (4 disables, 3 deletes, 3 removals from {ENTITLED_PATH}) → "
              f"{len(keys)} revocations: {second:.2f} s (poll_interval 2 s included), keywarden CPU meanwhile "
              f"{cpu1 - cpu0:.3f} s, {len(kc.requests())} requests to the stand-in, {len(changed)} Palette changes "
              f"({len({c['path'] for c in changed})} keys), peak RSS {vm_kb(daemon.proc.pid, 'VmHWM') / 1024:.0f} MB, "
              f"current RSS {vm_kb(daemon.proc.pid, 'VmRSS') / 1024:.0f} MB", flush=True)
        # Where the time went: the daemon's polls of the admin events and its re-reads of the users named.
        polls = [r["time"] - t1 for r in kc.requests() if r["path"].endswith("/admin-events")]
        rereads = [r["time"] - t1 for r in kc.requests() if "/users/" in r["path"]]
        print("  admin-events polls at " + ", ".join(f"+{x:.2f}" for x in polls) + " s; users re-read from "
              f"+{min(rereads, default=0):.2f} to +{max(rereads, default=0):.2f} s; changes made in {changes_made:.2f} s",
              flush=True)
        assert len(changed) == len(keys), changed
    finally:
        if daemon is not None:
            daemon.stop()
        kc.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
