#!/usr/bin/env python3
"""A Microsoft Entra directory of 100,000 users and 1,000 groups read from the
Graph stand-in (tests/integration/graph_standin.py) by `keywarden run`: time
and memory of the first cycle (users and groups delta rounds, Palette read,
plan) and of an incremental cycle with 10 changes (delta → revocations).

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/entra_directory.py [USERS] [GROUPS]
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from graph_standin import GraphStandin  # noqa: E402
from okta_directory import first_cycle, group_sets, palette_side, vm_kb, wait_revoked  # noqa: E402


def build_directory(users, groups):
    """A Graph stand-in holding USERS people (person<N>@example.com) and
    GROUPS groups, the first "palette-users", joined by group_sets; returns
    it, the users' ids and the number of memberships."""
    rng = random.Random(1)
    graph = GraphStandin(client_secret="bench-secret", page_size=200, member_chunk=1000)
    ids = [graph.add_user(f"person{i:06d}@example.com") for i in range(users)]
    gids = [graph.add_group("palette-users")] + [graph.add_group(f"group-{g:04d}") for g in range(1, groups)]
    memberships = 0
    with graph.dir.lock:
        for uid, chosen in group_sets(ids, gids, rng):
            for g in chosen:
                graph.dir.groups[g]["members"].add(uid)
            memberships += len(chosen)
    return graph, ids, memberships


def configure_source(ws, graph):
    """The workspace's one source: the stand-in, polled every 2 s."""
    with open(os.path.join(ws.dir, "entra.secret"), "w") as f:
        f.write("bench-secret")
    ws.sources = [{"name": "corp-entra", "type": "entra", "tenant_id": graph.tenant_id, "client_id": graph.client_id,
                   "client_secret_file": "entra.secret", "graph_url": graph.url, "login_url": graph.url,
                   "poll_interval": "2s"}]
    ws.write_config()


def main():
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    groups = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    started = time.time()
    graph, ids, memberships = build_directory(users, groups)
    print(f"stand-in: {users} users, {groups} groups, {memberships} memberships ({time.time() - started:.1f} s to build)")

    t, sim, ws = palette_side()
    configure_source(ws, graph)
    try:
        daemon = first_cycle(ws, "users+groups delta + Palette read + plan")
        t1 = time.time()
        for i in range(0, 1000, 100):
            graph.disable_user(ids[i])
        wait_revoked(daemon, sim, t)
        print(f"incremental cycle, 10 disabled → 10 revocations: {time.time() - t1:.2f} s "
              f"(poll_interval 2 s included), daemon peak RSS {vm_kb(daemon.proc.pid, 'VmHWM') / 1024:.0f} MB")
        daemon.stop()
    finally:
        graph.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
