"""SIGHUP while full plans run on the blocking pool (issue 14): the reload
must wait for the plan in progress, never change the policy under it. The
real binary, a file source, palette-sim; scripts/sanitize.sh runs this same
test against a ThreadSanitizer build of the daemon, where a data race
between the reload and the plan fails it."""

import signal
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace, mutating_calls, wait_until
from palette_sim import PaletteSim
from tenant import Tenant, identity


def full_reconciles(daemon):
    status, _, body = daemon.request("GET", "/metrics")
    assert status == 200
    total = 0
    for line in body.decode().splitlines():
        if line.startswith("keywarden_reconciles_total{") and 'kind="full"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class ReloadDuringPlansTest(unittest.TestCase):
    def test_a_sighup_storm_during_full_plans_keeps_serving_and_changes_nothing(self):
        t = Tenant(600, 1200, api_key=API_KEY, seed=41)
        sim = PaletteSim(t.seed(), rate=100000, burst=100000)
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url, daemon={"reconcile_interval": "1s", "log_level": "info"},
                       palette={"requests_per_second": 1000})
        self.addCleanup(ws.cleanup)
        # Key owners entitled, and many more people who own no key: each full
        # plan has real work to do on the pool.
        people = [identity(p) for p in t.people]
        people += [{"id": f"00x{i:06d}", "userName": f"staff{i}@example.com", "email": f"staff{i}@example.com",
                    "active": True, "groups": ["palette-users", f"team-{i % 50}"]} for i in range(20000)]
        ws.write_identities(people)
        daemon = DaemonProcess(ws)
        self.addCleanup(daemon.stop)
        self.assertTrue(daemon.wait_ready(timeout=120), daemon.output()[-3000:])
        before = full_reconciles(daemon)

        # Two valid configs, told apart by the exempt list; a reload at a
        # time, about every 20 ms, for 4 s while plans run every second.
        configs = []
        for exempt in ([], ["nobody@example.com"]):
            ws.set("policy", exempt_users=exempt)
            with open(ws.config_path) as f:
                configs.append(f.read())
        deadline = time.monotonic() + 4.0
        sent = 0
        while time.monotonic() < deadline:
            with open(ws.config_path, "w") as f:
                f.write(configs[sent % 2])
            daemon.signal(signal.SIGHUP)
            sent += 1
            time.sleep(0.02)
            self.assertIsNone(daemon.proc.poll(), daemon.output()[-3000:])
        self.assertEqual(daemon.request("GET", "/healthz")[0], 200)
        self.assertTrue(wait_until(lambda: full_reconciles(daemon) >= before + 2, timeout=60),
                        daemon.output()[-3000:])
        self.assertIn("config reloaded", daemon.output())
        # Everyone is entitled under both configs: nothing was touched.
        self.assertEqual(mutating_calls(sim.calls()), [])
        status, _, body = daemon.request("GET", "/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(daemon.stop(), 0, daemon.output()[-3000:])


if __name__ == "__main__":
    unittest.main()
