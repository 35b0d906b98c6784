#!/usr/bin/env python3
"""An Okta directory of 100,000 users and 1,000 groups read from the stand-in
(tests/integration/okta_standin.py) by `keywarden run`: time and memory of
the first cycle (full read, Palette read, plan) and of an incremental cycle
with 10 changes (System Log poll → targeted revocations).

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/okta_directory.py [USERS] [GROUPS]
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from harness import API_KEY, DaemonProcess, Workspace, wait_until  # noqa: E402
from okta_standin import OktaStandin  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from tenant import Tenant  # noqa: E402

TOKEN = "00bench-okta-token-0123456789"


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class HealthProbe:
    """Asks /healthz every 50 ms from a thread and keeps the slowest answer:
    how long the daemon's I/O thread was ever kept from serving."""

    def __init__(self, daemon):
        import threading
        self.daemon = daemon
        self.slowest = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            start = time.monotonic()
            try:
                self.daemon.request("GET", "/healthz", timeout=600)
            except OSError:
                pass
            self.slowest = max(self.slowest, time.monotonic() - start)
            self.done.wait(0.05)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.slowest


def first_cycle(ws, what):
    """Starts `keywarden run` and waits for its first reconcile; prints its
    time, the daemon's peak RSS and the slowest /healthz meanwhile."""
    t0 = time.time()
    daemon = DaemonProcess(ws)
    probe = HealthProbe(daemon)
    assert daemon.wait_ready(timeout=1800), daemon.output()
    print(f"first cycle ({what}): {time.time() - t0:.1f} s, daemon peak RSS {vm_kb(daemon.proc.pid, 'VmHWM') / 1024:.0f} MB, "
          f"slowest /healthz meanwhile {probe.stop() * 1000:.0f} ms")
    return daemon


def wait_revoked(daemon, sim, t):
    """Waits until the keys of people 0, 100, …, 900 (the leavers the benches
    make) are inactive in palette-sim."""
    keys = {k["uid"] for i in range(0, 1000, 100) for k in t.keys_of(t.people[i])}

    def revoked():
        state = {k["uid"]: k for k in sim.state()["keys"]}
        return all(not state[k]["isActive"] for k in keys)
    assert wait_until(revoked, timeout=120, interval=0.05), daemon.output()


def group_sets(user_ids, group_ids, rng):
    """Ten groups per user from the pool; nine users in ten are in group_ids[0] (palette-users)."""
    for i, uid in enumerate(user_ids):
        chosen = {group_ids[0]} if i % 10 else set()
        while len(chosen) < 10:
            chosen.add(group_ids[rng.randrange(1, len(group_ids))])
        yield uid, chosen


def palette_side():
    """The first 1,000 people own one key each; keywarden may revoke freely."""
    t = Tenant(1000, 1001, api_key=API_KEY, seed=3)
    for i, p in enumerate(t.people):
        p["email"] = f"person{i:06d}@example.com"
    sim = PaletteSim(t.seed(), rate=100000, burst=100000)
    ws = Workspace(sim.url, daemon={"reconcile_interval": "1h", "log_level": "warn"},
                   palette={"requests_per_second": 200},
                   safety={"max_revocations": 1000, "max_revocations_percent": 100, "max_shrink_percent": 20})
    return t, sim, ws


def build_org(users, groups):
    """An Okta stand-in holding USERS people (person<N>@example.com) and
    GROUPS groups, the first "palette-users", joined by group_sets; returns
    it, the users' ids and the number of memberships."""
    rng = random.Random(1)
    okta = OktaStandin(TOKEN, rate_limit=10**9)
    org = okta.org
    with org.lock:
        ids = [org.add_user({"login": f"person{i:06d}@example.com"}, log=False)["id"] for i in range(users)]
        names = ["palette-users"] + [f"group-{g:04d}" for g in range(1, groups)]
        gids = [org.add_group({"name": n})["id"] for n in names]
        memberships = 0
        for uid, chosen in group_sets(ids, gids, rng):
            for g in chosen:
                org.members[g].add(uid)
            memberships += len(chosen)
    return okta, ids, memberships


def configure_source(ws, okta):
    """The workspace's one source: the stand-in, polled every 2 s."""
    with open(os.path.join(ws.dir, "okta.token"), "w") as f:
        f.write(TOKEN)
    ws.sources = [{"name": "corp-okta", "type": "okta", "url": okta.url, "token_file": "okta.token",
                   "poll_interval": "2s"}]
    ws.write_config()


def main():
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    groups = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    started = time.time()
    okta, ids, memberships = build_org(users, groups)
    print(f"stand-in: {users} users, {groups} groups, {memberships} memberships ({time.time() - started:.1f} s to build)")

    t, sim, ws = palette_side()
    configure_source(ws, okta)
    try:
        daemon = first_cycle(ws, "full Okta read + Palette read + plan")
        victims = ids[:1000:100]  # 10 people with Palette keys
        t1 = time.time()
        for uid in victims:
            okta.suspend(uid)
        wait_revoked(daemon, sim, t)
        second = time.time() - t1
        print(f"incremental cycle, 10 suspensions → 10 revocations: {second:.2f} s "
              f"(poll_interval 2 s included), daemon peak RSS {vm_kb(daemon.proc.pid, 'VmHWM') / 1024:.0f} MB, "
              f"current RSS {vm_kb(daemon.proc.pid, 'VmRSS') / 1024:.0f} MB")
        daemon.stop()
    finally:
        okta.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
