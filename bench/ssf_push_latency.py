#!/usr/bin/env python3
"""SSF push to Palette revoke latency (SPEC §7: p99 under 25 ms, durable
commit and signature check included) on loopback, with the real binaries:
the daemon takes one RISC account-disabled SET (RFC 8935 push, RS256 with a
real 2048-bit signature the daemon verifies against the stand-in
transmitter's JWKS) per leaver, and the latency is the time from sending the
push to palette-sim receiving the revoke (the simulator stamps each call with
the wall clock in µs). The SETs are signed before the clock starts.

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/ssf_push_latency.py [LEAVERS]
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from harness import API_KEY, DaemonProcess, Workspace, key_of, mutating_calls, wait_until  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from ssf_standin import RISC, SsfStandin  # noqa: E402
from tenant import Tenant, identity  # noqa: E402

PUSH_TOKEN = "bench-ssf-push-token-0123456789abcdef"
AUDIENCE = "https://keywarden.example.com/ssf/corp-ssf"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def main():
    leavers = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    t = Tenant(leavers, leavers + 1, api_key=API_KEY, seed=9)
    sim = PaletteSim(t.seed(), rate=100000, burst=100000)
    transmitter = SsfStandin(audience=AUDIENCE)
    ws = Workspace(sim.url, policy={"entitled_groups": []}, palette={"requests_per_second": 200},
                   safety={"max_revocations": 1000000, "max_revocations_percent": 100},
                   daemon={"log_level": "warn", "reconcile_interval": "1h"})
    ws.write_identities([identity(p) for p in t.people])
    with open(os.path.join(ws.dir, "ssf-push-token"), "w") as f:
        f.write(PUSH_TOKEN)
    ws.sources.append({"name": "corp-ssf", "type": "ssf", "issuer": transmitter.issuer, "audience": AUDIENCE,
                       "delivery": "push", "receiver_url": "http://127.0.0.1:9/ssf/corp-ssf",
                       "push_token_file": "ssf-push-token", "poll_interval": "30s"})
    ws.write_config()
    print(f"signing {leavers} SETs (RS256, 2048-bit) ...", flush=True)
    tokens = {}
    for p in t.people:
        claims = transmitter.claims(RISC + "account-disabled", {"format": "email", "email": p["email"]})
        tokens[p["uid"]] = transmitter.sign(claims)
    daemon = DaemonProcess(ws)
    try:
        daemon.wait_ready()
        assert wait_until(lambda: ("GET", "/jwks") in transmitter.requests, timeout=60), "no JWKS fetched"
        headers = {"Authorization": "Bearer " + PUSH_TOKEN, "Content-Type": "application/secevent+jwt"}
        sent, acks = {}, []
        for p in t.people:
            key = t.keys_of(p)[0]["uid"]
            started = time.time()
            status, _, body = daemon.request("POST", "/ssf/corp-ssf", tokens[p["uid"]], headers)
            acks.append(time.time() - started)
            assert status == 202, body
            sent[key] = started
            time.sleep(0.01)  # one leaver at a time: the pacer (200/s) never holds a call back
        time.sleep(1)
        latencies = []
        for c in mutating_calls(sim.calls()):
            k = key_of(c)
            if k in sent:
                latencies.append(c["unix_us"] / 1e6 - sent.pop(k))
        ms = [x * 1000 for x in latencies]
        ack = [x * 1000 for x in acks]
        print(f"leavers {leavers}, revoked {len(ms)}, missing {len(sent)}")
        print(f"SSF push -> revoke call: p50 {percentile(ms, 50):.2f} ms, p99 {percentile(ms, 99):.2f} ms, "
              f"max {max(ms):.2f} ms, mean {statistics.mean(ms):.2f} ms")
        print(f"SSF push -> 202 (verified, durable): p50 {percentile(ack, 50):.2f} ms, "
              f"p99 {percentile(ack, 99):.2f} ms, max {max(ack):.2f} ms")
    finally:
        daemon.stop()
        sim.stop()
        transmitter.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
