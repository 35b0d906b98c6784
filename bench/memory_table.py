#!/usr/bin/env python3
"""Issue 14 item 5, the memory table: keywarden's peak RSS and its own CPU
time for the first full cycle of a 100,000-person directory (1,000 groups,
1,000,000 memberships), one connector per run.

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/memory_table.py CONNECTOR [USERS] [GROUPS]

CONNECTOR is one of file, scim, entra, okta, keycloak.

- file: an identities file of USERS people, each in 10 of GROUPS groups
  (okta_directory.group_sets: 9 in 10 in palette-users), read by the daemon's
  first reconcile.
- scim: the daemon starts on an empty SCIM source; USERS Users are POSTed,
  then GROUPS Groups are created and filled by member PATCHes (as few as the
  1 MiB body limit allows; the same memberships as above); then a SIGHUP (a
  reload, which makes the next full reconcile due at once) starts the full
  cycle that is measured. The peak covers the pushes as well.
- entra, okta, keycloak: the stand-ins and directories of
  bench/entra_directory.py, bench/okta_directory.py and
  bench/keycloak_directory.py.

The Palette side is that of those benches (palette_side: the first 1,000
people own one key each, 1,001 keys). The end of the full cycle is the
first `keywarden_reconciles_total{kind="full"}` counted after it started
(asked on /metrics every 0.2 s). Figures printed, of the `keywarden run`
process: CPU = utime + stime (/proc/<pid>/stat) at that moment, peak RSS =
VmHWM (/proc/<pid>/status) just before it is stopped, and VmRSS sampled
every 0.5 s (its largest value and when). The one-minute load average
(its smallest and largest value during the cycle) and keywarden's CPU time
are sampled with it; --samples FILE writes every sample ("seconds VmRSS-MB
load CPU-s" a line). The stand-ins are Python servers in this process, so the
wall time is mostly theirs; keywarden's own work is its CPU time.
"""

import json
import os
import random
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)

from harness import DaemonProcess, wait_until  # noqa: E402
from okta_directory import group_sets, palette_side, vm_kb  # noqa: E402

RUN_LIMIT_S = 2400
CYCLE_LIMIT_S = 1800
SCIM_TOKEN = "bench-scim-token-0123456789abcdef"


def cpu_seconds(pid):
    """utime + stime of process `pid` (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Sampler:
    """VmRSS of the daemon and the one-minute load average every 0.5 s."""

    def __init__(self, pid):
        self.pid = pid
        self.t0 = time.time()
        self.samples = []  # (seconds since start, VmRSS MB, load1, keywarden CPU s)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            try:
                self.samples.append((time.time() - self.t0, vm_kb(self.pid, "VmRSS") / 1024, load1(),
                                     cpu_seconds(self.pid)))
            except OSError:
                return
            self.done.wait(0.5)

    def stop(self):
        self.done.set()
        self.thread.join()

    def window(self, start, end=None):
        return [s for s in self.samples if s[0] >= start - self.t0 and (end is None or s[0] <= end - self.t0)]


def full_reconciles(daemon):
    """The number of full reconciles counted so far, by result."""
    try:
        status, _, body = daemon.request("GET", "/metrics", timeout=30)
    except OSError:
        return None
    if status != 200:
        return None
    counts = {}
    for labels, value in re.findall(r'^keywarden_reconciles_total\{([^}]*)\} ([\d.e+]+)$', body.decode(), re.M):
        if 'kind="full"' in labels:
            counts[re.search(r'result="([^"]*)"', labels).group(1)] = float(value)
    return counts


def wait_full_cycle(daemon, before):
    """Waits until one more full reconcile is counted than `before`; returns
    the results counted."""
    seen = {}

    def done():
        nonlocal seen
        c = full_reconciles(daemon)
        if c is None:
            return False
        seen = c
        return sum(c.values()) > before
    assert wait_until(done, timeout=CYCLE_LIMIT_S, interval=0.2), daemon.output()[-4000:]
    return seen


def stored(ws):
    """Identities (and how many active) and memberships (and how many in
    the entitled group) in the daemon's store, read-only."""
    import sqlite3
    db = sqlite3.connect(f"file:{os.path.join(ws.dir, 'state', 'keywarden.db')}?mode=ro", uri=True, timeout=30)
    try:
        ids = db.execute("SELECT count(*), sum(status = 'active') FROM identities").fetchone()
        members = db.execute("SELECT count(*) FROM memberships WHERE removed_at IS NULL").fetchone()[0]
        entitled = ws.sections["policy"]["entitled_groups"][0]
        in_entitled = db.execute("SELECT count(*) FROM memberships WHERE removed_at IS NULL AND group_name = ?", (entitled,)).fetchone()[0]
        return f"{ids[0]} identities ({ids[1]} active), {members} memberships ({in_entitled} in {entitled})"
    finally:
        db.close()


# ---- the directories -----------------------------------------------------------------------------

def setup_file(users, groups, t, ws):
    rng = random.Random(1)
    names = ["palette-users"] + [f"group-{g:04d}" for g in range(1, groups)]
    people = []
    memberships = 0
    for i, chosen in group_sets(list(range(users)), list(range(groups)), rng):
        email = f"person{i:06d}@example.com"
        people.append({"id": f"00u{i:07d}", "userName": email, "email": email, "active": True,
                       "groups": sorted(names[g] for g in chosen)})
        memberships += len(chosen)
    ws.write_identities(people)
    size = os.path.getsize(ws.identities_path)
    ws.sources = [{"name": "hr-export", "type": "file", "path": "identities.json"}]
    ws.write_config()
    return f"{users} identities, {memberships} memberships, {size / 1e6:.1f} MB of JSON", lambda: None


def setup_okta(users, groups, t, ws):
    from okta_directory import build_org, configure_source
    okta, _, memberships = build_org(users, groups)
    configure_source(ws, okta)
    return f"Okta stand-in: {users} users, {groups} groups, {memberships} memberships", okta.stop


def setup_entra(users, groups, t, ws):
    from entra_directory import build_directory, configure_source
    graph, _, memberships = build_directory(users, groups)
    configure_source(ws, graph)
    return f"Graph stand-in: {users} users, {groups} groups, {memberships} memberships", graph.stop


def setup_keycloak(users, groups, t, ws):
    from keycloak_directory import CLIENT_ID, CLIENT_SECRET, build_realm, configure_source
    from keycloak_standin import KeycloakStandin
    kc = KeycloakStandin("corp", CLIENT_ID, CLIENT_SECRET, version=26, minor=2)
    _, _, memberships = build_realm(kc, users, groups)
    configure_source(ws, kc)
    return f"Keycloak 26.2 stand-in: {users} users, {groups} groups, {memberships} direct memberships", kc.stop


def setup_scim(users, groups, t, ws):
    with open(os.path.join(ws.dir, "scim.token"), "w") as f:
        f.write(SCIM_TOKEN)
    ws.sources = [{"name": "corp", "type": "scim", "token_file": "scim.token"}]
    ws.write_config()
    return f"SCIM: {users} Users, {groups} Groups pushed (memberships below)", lambda: None


def push_scim(daemon, users, groups):
    """POSTs the Users from 16 keep-alive connections, then creates the
    Groups and adds their members in PATCHes; returns (memberships, seconds
    for users, seconds for groups, requests)."""
    from scim_group_load import GROUP_SCHEMA, KeepAlive, create_users, member_patches
    started = time.time()
    ids = create_users(daemon.port, SCIM_TOKEN, "corp", users, threads=16,
                       email_of=lambda i: f"person{i:06d}@example.com", external_id_of=lambda i: f"00u{i:07d}")
    users_s = time.time() - started
    requests = users

    rng = random.Random(1)
    members = [[] for _ in range(groups)]
    memberships = 0
    for uid, chosen in group_sets(ids, list(range(groups)), rng):
        for g in chosen:
            members[g].append(uid)
        memberships += len(chosen)
    names = ["palette-users"] + [f"group-{g:04d}" for g in range(1, groups)]
    started = time.time()
    errors = []

    def fill(first):
        client = KeepAlive(daemon.port, SCIM_TOKEN, timeout=600)
        n = 0
        try:
            for g in range(first, groups, 4):
                status, payload = client.request("POST", "/scim/v2/corp/Groups",
                                                 {"schemas": [GROUP_SCHEMA], "displayName": names[g]})
                if status != 201:
                    errors.append((status, payload[:200]))
                    return
                gid = json.loads(payload)["id"]
                n += 1
                for body in member_patches(members[g]):
                    status, payload = client.request("PATCH", f"/scim/v2/corp/Groups/{gid}", body)
                    n += 1
                    if status not in (200, 204):
                        errors.append((status, payload[:200]))
                        return
        finally:
            client.close()
            counts.append(n)
    counts = []
    fillers = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for w in fillers:
        w.start()
    for w in fillers:
        w.join()
    assert not errors, errors[:3]
    return memberships, users_s, time.time() - started, requests + sum(counts)


SETUPS = {"file": setup_file, "scim": setup_scim, "entra": setup_entra, "okta": setup_okta,
          "keycloak": setup_keycloak}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    samples_path = None
    if "--samples" in sys.argv:
        samples_path = sys.argv[sys.argv.index("--samples") + 1]
        args.remove(samples_path)
    connector = args[0]
    users = int(args[1]) if len(args) > 1 else 100_000
    groups = int(args[2]) if len(args) > 2 else 1_000

    def out_of_time(signum, frame):
        raise TimeoutError(f"the bench ran longer than {RUN_LIMIT_S} s")
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(RUN_LIMIT_S)

    t, sim, ws = palette_side()
    stop_standin = lambda: None  # noqa: E731
    daemon = sampler = None
    try:
        started = time.time()
        what, stop_standin = SETUPS[connector](users, groups, t, ws)
        print(f"{connector}: {what} ({time.time() - started:.1f} s to build); palette-sim: "
              f"{len(t.people)} users, {len(t.keys)} keys", flush=True)
        t0 = time.time()
        daemon = DaemonProcess(ws)
        pid = daemon.proc.pid
        sampler = Sampler(pid)
        before = 0
        if connector == "scim":
            first = wait_full_cycle(daemon, 0)  # the first reconcile, of the empty source
            print(f"first reconcile (empty SCIM source): {first}, "
                  f"{len([c for c in sim.calls() if c['method'] in ('PUT', 'PATCH', 'DELETE')])} Palette changes",
                  flush=True)
            sim.reset_calls()
            memberships, users_s, groups_s, requests = push_scim(daemon, users, groups)
            rss_before = vm_kb(pid, "VmRSS") / 1024
            print(f"pushed: {users} Users in {users_s:.1f} s, {groups} Groups with {memberships} memberships in "
                  f"{groups_s:.1f} s ({requests} requests); keywarden CPU so far {cpu_seconds(pid):.1f} s, "
                  f"VmHWM {vm_kb(pid, 'VmHWM') / 1024:.0f} MB, VmRSS {rss_before:.0f} MB", flush=True)
            time.sleep(2)  # the targeted reconciles of the last PATCHes
            before = sum(full_reconciles(daemon).values())
            t0 = time.time()
            cpu0 = cpu_seconds(pid)
            hwm0 = vm_kb(pid, "VmHWM") / 1024
            daemon.signal(signal.SIGHUP)
        else:
            cpu0 = 0.0
            hwm0 = 0.0
        load_start = load1()
        results = wait_full_cycle(daemon, before)
        cpu = cpu_seconds(pid)
        wall = time.time() - t0
        t1 = time.time()
        load_end = load1()
        time.sleep(1)
        hwm = vm_kb(pid, "VmHWM") / 1024
        rss_now = vm_kb(pid, "VmRSS") / 1024
        sampler.stop()
        window = sampler.window(t0, t1) or sampler.samples
        peak = max(window, key=lambda s: s[1])
        loads = [s[2] for s in window] + [load_start, load_end]
        changes = [c for c in sim.calls() if c["method"] in ("PUT", "PATCH", "DELETE")]
        print(f"full cycle ({connector}): wall {wall:.1f} s, keywarden CPU {cpu - cpu0:.2f} s "
              f"(process total {cpu:.2f} s), peak RSS (VmHWM) {hwm:.0f} MB"
              + (f" (before the cycle {hwm0:.0f} MB)" if hwm0 else "")
              + f", largest VmRSS sample in the cycle {peak[1]:.0f} MB at +{peak[0] - (t0 - sampler.t0):.1f} s, "
              f"VmRSS after {rss_now:.0f} MB; load average (1 min) {min(loads):.2f}–{max(loads):.2f}; "
              f"reconciles {results}; {len(changes)} Palette changes", flush=True)
        print(f"store after the cycle: {stored(ws)}", flush=True)
        if samples_path:
            with open(samples_path, "w") as f:
                for s, rss, ld, c in sampler.samples:
                    f.write(f"{s:.1f} {rss:.1f} {ld:.2f} {c:.2f}\n")
        if hwm > 400:
            step = max(1, len(window) // 40)
            print("VmRSS over the cycle (s: MB): " + ", ".join(
                f"{s - (t0 - sampler.t0):.0f}: {rss:.0f}" for s, rss, _, _ in window[::step]), flush=True)
    finally:
        if sampler is not None:
            sampler.stop()
        if daemon is not None:
            daemon.stop()
        stop_standin()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
