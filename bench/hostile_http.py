#!/usr/bin/env python3
"""Issue 13 item 5's figures, with the real binaries on loopback:

1. RSS of `keywarden run` before and after 1,000 unauthenticated 1 MB bodies
   (wrong bearer, POST /scim/v2/<source>/Users, 200 at a time from
   127.0.0.1-4), its peak (VmHWM), and how much of the bodies the daemon let
   the clients send; then the same with the right bearer (bodies read in full
   and refused as invalid JSON), to show memory given back after a burst;
2. /healthz latency from 127.0.0.2 (one new connection per request) while
   127.0.0.1 holds 1,100 idle connections, a third of them dribbling a
   header that never ends (slowloris), and a SCIM push from 127.0.0.2 then.

Bounded: every phase has a deadline; the whole run takes about a minute on
the project's VM.

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/hostile_http.py
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from harness import API_KEY, DaemonProcess, Workspace  # noqa: E402
from hostile_client import IdleConnections, body_burst, raise_fd_limit, request_from, vm_kib  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from tenant import Tenant  # noqa: E402

TOKEN = "bench-scim-token-hostile-0123456789"
HEALTHZ_SAMPLES = 200


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def main():
    raise_fd_limit(8192)
    t = Tenant(8, 16, api_key=API_KEY, seed=13)
    sim = PaletteSim(t.seed(), rate=1000, burst=1000)
    ws = Workspace(sim.url, policy={"entitled_groups": []}, daemon={"log_level": "warn", "reconcile_interval": "1h"},
                   safety={"max_revocations": 100, "max_revocations_percent": 100})
    with open(os.path.join(ws.dir, "scim.token"), "w") as f:
        f.write(TOKEN)
    ws.sources = [{"name": "corp", "type": "scim", "token_file": "scim.token"}]
    ws.write_config()
    daemon = DaemonProcess(ws)
    try:
        daemon.wait_ready()
        pid = daemon.proc.pid
        daemon.request("GET", "/healthz")
        before = vm_kib(pid, "VmRSS")
        outcomes, sent, seconds = body_burst(daemon.port, "/scim/v2/corp/Users", {"Authorization": "Bearer wrong"},
                                             count=1000, concurrency=200, deadline_s=60)
        time.sleep(3)
        after = vm_kib(pid, "VmRSS")
        peak = vm_kib(pid, "VmHWM")
        print(f"burst: 1000 x 1 MiB, wrong bearer, 200 at a time: {dict(outcomes)} in {seconds:.1f} s; "
              f"body bytes the clients sent (discarded unbuffered) {sent / 2**20:.1f} MiB")
        print(f"RSS before {before / 1024:.1f} MiB, after (+3 s) {after / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB")

        # The same burst with the right bearer: every body is read in full (and
        # refused as invalid JSON), so this one shows memory given back.
        before = vm_kib(pid, "VmRSS")
        outcomes, sent, seconds = body_burst(daemon.port, "/scim/v2/corp/Users", {"Authorization": "Bearer " + TOKEN},
                                             count=1000, concurrency=200, deadline_s=60)
        during = vm_kib(pid, "VmHWM")
        time.sleep(3)
        after = vm_kib(pid, "VmRSS")
        print(f"burst: 1000 x 1 MiB, right bearer (read, then 400): {dict(outcomes)} in {seconds:.1f} s; "
              f"body bytes sent {sent / 2**20:.1f} MiB")
        print(f"RSS before {before / 1024:.1f} MiB, after (+3 s) {after / 1024:.1f} MiB, peak {during / 1024:.1f} MiB")

        attacker = IdleConnections(daemon.port, 1100, source="127.0.0.1", deadline_s=30)
        attacker.drip(rounds=2)
        attacker.keep(deadline_s=10)
        latencies, failures = [], 0
        deadline = time.monotonic() + 30
        for i in range(HEALTHZ_SAMPLES):
            if time.monotonic() > deadline:
                break
            try:
                status, _, s = request_from("127.0.0.2", daemon.port, "GET", "/healthz", timeout=5)
                if status == 200:
                    latencies.append(s)
                else:
                    failures += 1
            except OSError:
                failures += 1
            if i % 50 == 49:
                attacker.drip(rounds=1)
                attacker.keep(deadline_s=5)
        body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@corp.example",
                           "active": True})
        try:
            status, _, push_s = request_from("127.0.0.2", daemon.port, "POST", "/scim/v2/corp/Users", body,
                                             {"Authorization": "Bearer " + TOKEN,
                                              "Content-Type": "application/scim+json"}, timeout=5)
        except OSError as e:
            status, push_s = type(e).__name__, float("nan")
        print(f"1,100 idle/slowloris connections from 127.0.0.1 (reconnected {attacker.reconnects} times); "
              f"/healthz from 127.0.0.2: {len(latencies)} ok, {failures} failed; "
              + (f"p50 {ms(statistics.median(latencies))}, p99 {ms(percentile(latencies, 99))}, "
                 f"max {ms(max(latencies))}" if latencies else "none answered")
              + f"; SCIM push from 127.0.0.2: {status} in {ms(push_s)}")
        attacker.close()
    finally:
        daemon.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
