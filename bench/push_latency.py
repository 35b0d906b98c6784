#!/usr/bin/env python3
"""Push-to-Palette-revoke latency (SPEC §7: p99 under 25 ms, durable commit
included) over 1,000 leavers, on loopback, with the real binaries: the
daemon gets Entra's disable PATCH for one user at a time, and the latency is
the time from sending the push to palette-sim receiving the revoke (the
simulator stamps each call with the wall clock in µs).

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/push_latency.py [LEAVERS] [BACKGROUND_RATE]

With BACKGROUND_RATE (requests/s, e.g. 1000), wrk sends that many other
SCIM requests per second (user creations, bench/scim_background.lua) on 20
connections while the leavers are pushed (issue 16); the rate wrk actually
reached is printed with the figures.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from harness import API_KEY, DaemonProcess, Workspace, key_of, mutating_calls  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from tenant import Tenant  # noqa: E402

TOKEN = "bench-scim-token-0123456789abcdef"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


BACKGROUND_CONNECTIONS = 20


def start_background(url, delay_ms, seconds, prefix):
    """wrk creating users on BACKGROUND_CONNECTIONS connections, each waiting
    `delay_ms` after an answer, for `seconds`; user names start with `prefix`."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scim_background.lua")
    return subprocess.Popen(["wrk", "-t1", f"-c{BACKGROUND_CONNECTIONS}", f"-d{seconds}s", "-s", script, url,
                             "--", TOKEN, str(delay_ms), prefix], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def background_summary(wrk):
    out, _ = wrk.communicate()
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    refused = {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"^status (\d+): (\d+)$", out, re.M)}
    errors = re.search(r"Socket errors: .*|Non-2xx or 3xx responses: \d+", out)
    if errors:
        refused["wrk"] = errors.group(0)
    return (float(rate.group(1)) if rate else 0.0), refused


def delay_for(url, rate):
    """The per-request delay that gives about `rate` requests/s: each
    connection sends one request per (delay + latency), and the latency under
    that load is measured by a 3 s trial run (wrk has no fixed-rate mode)."""
    period_ms = BACKGROUND_CONNECTIONS * 1000.0 / rate
    trial = start_background(url, int(period_ms), 3, "trial")
    reached, _ = background_summary(trial)
    latency_ms = max(0.0, BACKGROUND_CONNECTIONS * 1000.0 / max(reached, 1.0) - int(period_ms))
    return max(0, int(round(period_ms - latency_ms)))


def main():
    leavers = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    background_rate = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    t = Tenant(leavers, leavers + 1, api_key=API_KEY, seed=5)
    sim = PaletteSim(t.seed(), rate=100000, burst=100000)
    ws = Workspace(sim.url, policy={"entitled_groups": []}, palette={"requests_per_second": 200},
                   safety={"max_revocations": 1000000, "max_revocations_percent": 100},
                   daemon={"log_level": "warn", "reconcile_interval": "1h"})
    with open(os.path.join(ws.dir, "scim.token"), "w") as f:
        f.write(TOKEN)
    ws.sources = [{"name": "corp", "type": "scim", "token_file": "scim.token"}]
    ws.write_config()
    daemon = DaemonProcess(ws)
    try:
        daemon.wait_ready()
        headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/scim+json"}
        ids = {}
        for p in t.people:
            status, _, body = daemon.request("POST", "/scim/v2/corp/Users", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": p["email"], "active": True,
                "emails": [{"primary": True, "type": "work", "value": p["email"]}]}, headers)
            assert status == 201, body
            ids[p["uid"]] = json.loads(body)["id"]
        wrk = None
        if background_rate:
            wrk = start_background(daemon.url, delay_for(daemon.url, background_rate), int(leavers * 0.013) + 4,
                                   "load")
            time.sleep(1.5)  # the load is steady before the first leaver
        sent, acks = {}, []
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
        for p in t.people:
            key = t.keys_of(p)[0]["uid"]
            started = time.time()
            status, _, _ = daemon.request("PATCH", f"/scim/v2/corp/Users/{ids[p['uid']]}", patch, headers)
            acks.append(time.time() - started)
            assert status in (200, 204)
            sent[key] = started
            time.sleep(0.01)  # one leaver at a time: the pacer (200/s) never holds a call back
        if wrk:
            rate, refused = background_summary(wrk)
            print(f"background: {rate:.0f} SCIM creations/s on {BACKGROUND_CONNECTIONS} connections, "
                  f"not 201: {refused or 'none'}")
        time.sleep(1)
        latencies = []
        for c in mutating_calls(sim.calls()):
            k = key_of(c)
            if k in sent:
                latencies.append(c["unix_us"] / 1e6 - sent.pop(k))
        missing = len(sent)
        ms = [x * 1000 for x in latencies]
        ack = [x * 1000 for x in acks]
        print(f"leavers {leavers}, revoked {len(ms)}, missing {missing}")
        print(f"push -> revoke call: p50 {percentile(ms, 50):.2f} ms, p99 {percentile(ms, 99):.2f} ms, "
              f"max {max(ms):.2f} ms, mean {statistics.mean(ms):.2f} ms")
        print(f"push -> 2xx (durable): p50 {percentile(ack, 50):.2f} ms, p99 {percentile(ack, 99):.2f} ms")
    finally:
        daemon.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
