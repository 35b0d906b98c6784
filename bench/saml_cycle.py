#!/usr/bin/env python3
"""One SAML poll cycle (issue 10): `keywarden sync --yes` asks the attribute
authority stand-in (tests/integration/saml_standin.py) about each of 10,000
Palette key owners, one signed AttributeQuery each, judges every signed
answer and plans. Prints the cycle's wall time, keywarden's peak RSS and CPU
time (from wait4), and the most queries the stand-in ever had in flight
(SPEC §8.2: at most 8).

The stand-in signs each person's Assertion once before the cycle (RSA-SHA256,
exclusive c14n, in-process: SamlStandin.presign), valid for two hours; each
answer wraps it in a fresh, unsigned Response whose InResponseTo is the
query's ID. A few presigned answers are checked with `xmlsec1 --verify` first.

    KEYWARDEN_BIN=build/daemon/keywarden PALETTE_SIM_BIN=build/palette-sim/palette-sim \\
        python3 bench/saml_cycle.py [OWNERS] [--unsigned-queries]
"""

import datetime
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from harness import API_KEY, KEYWARDEN_BIN, Workspace, mutating_calls  # noqa: E402
from palette_sim import PaletteSim  # noqa: E402
from saml_standin import NS, TESTDATA, SamlStandin, verify  # noqa: E402
from tenant import Tenant  # noqa: E402

SP_ENTITY_ID = "https://keywarden.example.com/saml"


def sample_query(email, query_id):
    return ('<s:Envelope xmlns:s="%s"><s:Body><samlp:AttributeQuery xmlns:samlp="%s" xmlns:saml="%s" ID="%s" '
            'Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>%s</saml:Issuer><saml:Subject>'
            '<saml:NameID>%s</saml:NameID></saml:Subject></samlp:AttributeQuery></s:Body></s:Envelope>'
            % (NS["soap"], NS["samlp"], NS["saml"], query_id, SP_ENTITY_ID, email)).encode()


def timed_sync(ws):
    """Runs `keywarden sync --yes`; returns (wall s, peak RSS MB, CPU s, exit code, stderr)."""
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    start = time.monotonic()
    proc = subprocess.Popen([KEYWARDEN_BIN, "-c", ws.config_path, "sync", "--yes"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stderr = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, proc.returncode, stderr


def main():
    owners = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000
    signed_queries = "--unsigned-queries" not in sys.argv

    t = Tenant(owners, owners + 1, api_key=API_KEY, seed=3)  # one key each (and one of keywarden's own)
    sim = PaletteSim(t.seed(), rate=100000, burst=100000)
    ws = Workspace(sim.url, daemon={"log_level": "warn"}, palette={"requests_per_second": 1000})
    idp = SamlStandin(signer="python")
    try:
        for p in t.people:
            idp.people[p["email"]] = ["palette-users"]
        started = time.monotonic()
        idp.presign(SP_ENTITY_ID, datetime.timedelta(hours=2))
        print(f"stand-in: {owners} Assertions presigned in {time.monotonic() - started:.1f} s (2 processes)")
        for i in (0, owners // 2, owners - 1):
            answer = idp._answer(sample_query(t.people[i]["email"], "_q-sample%d" % i))
            assert verify(answer), "a presigned answer does not verify with xmlsec1"
        idp.reset_queries()

        idp.write_metadata(os.path.join(ws.dir, "idp-metadata.xml"))
        source = {"name": "saml-aa", "type": "saml", "idp_metadata_file": "idp-metadata.xml",
                  "sp_entity_id": SP_ENTITY_ID}
        if signed_queries:
            source.update(sp_cert_file=os.path.join(TESTDATA, "sp.crt"), sp_key_file=os.path.join(TESTDATA, "sp.key"))
        ws.sources = [source]
        ws.write_config()

        sim.reset_calls()
        wall, rss_mb, cpu, code, stderr = timed_sync(ws)
        status = json.loads(ws.run("status", "--json", check=0).stdout)
        saml = next(s for s in status["sources"] if s["name"] == "saml-aa")
        asked = len(idp.queries)
        print(f"cycle of {owners} key owners ({'signed' if signed_queries else 'unsigned'} queries): "
              f"{wall:.1f} s wall, {asked / wall:.0f} answers/s; keywarden peak RSS {rss_mb:.0f} MB, "
              f"CPU {cpu:.1f} s (user+sys); most queries in flight at the stand-in: {idp.most_in_flight}")
        print(f"  exit {code}, queries {asked}, source healthy {saml['healthy']}, "
              f"Palette mutations {len(mutating_calls(sim.calls()))}")
        if code != 0 or not saml["healthy"] or asked != owners or idp.most_in_flight > 8:
            print(stderr[-2000:], saml)
            sys.exit(1)
    finally:
        idp.stop()
        sim.stop()
        ws.cleanup()


if __name__ == "__main__":
    main()
