"""Safety rules of SPEC §5, each shown against the real binary: no
destructive action on a bad read, thresholds and quarantine, pacing and
retries under faults, the journal across kill -9, config errors, secrets."""

import json
import os
import signal
import time
import unittest

from harness import API_KEY, Workspace, key_of, mutating_calls, wait_until
from palette_sim import PaletteSim
from tenant import Tenant, identity


def everyone(tenant, **kw):
    return [identity(p, **kw) for p in tenant.people]


class BadReadTest(unittest.TestCase):
    """A failed, partial or shrunken read leads to zero revoke or delete calls."""

    def setUp(self):
        self.t = Tenant(20, 40, api_key=API_KEY, seed=11)
        self.sim = PaletteSim(self.t.seed(), rate=60, burst=60)
        self.addCleanup(self.sim.stop)
        # unknown_owner = revoke makes a lost directory dangerous: every owner would look unknown.
        self.ws = Workspace(self.sim.url, policy={"unknown_owner": "revoke"})
        self.addCleanup(self.ws.cleanup)

    def assert_no_destruction(self, *, after_good_read, expect_unhealthy=True):
        if after_good_read:
            self.ws.write_identities(everyone(self.t))
            self.ws.run("sync", "--yes", check=0)
            self.assertEqual(mutating_calls(self.sim.calls()), [])
        yield_ = self.break_source
        yield_()
        self.sim.reset_calls()
        plan = self.ws.plan_json()
        self.assertEqual(plan["actions"], [])
        if expect_unhealthy:
            self.assertTrue(any(not s["ok"] for s in plan["sources"]))
        self.ws.run("sync", "--yes", check=0)
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        if expect_unhealthy:
            self.assertFalse(status["sources"][0]["healthy"])
            self.assertTrue(status["sources"][0]["last_error"])

    def test_missing_file_on_the_very_first_run(self):
        self.break_source = lambda: None  # never written
        self.assert_no_destruction(after_good_read=False)

    def test_missing_file_after_a_good_read(self):
        self.break_source = lambda: os.remove(self.ws.identities_path)
        self.assert_no_destruction(after_good_read=True)

    def test_unreadable_file(self):
        def make_unreadable():
            os.remove(self.ws.identities_path)
            os.mkdir(self.ws.identities_path)  # root reads any file; a folder it cannot read as one
        self.break_source = make_unreadable
        self.assert_no_destruction(after_good_read=True)

    def test_invalid_file(self):
        def truncate():
            with open(self.ws.identities_path, "r+") as f:
                text = f.read()
                f.seek(0)
                f.truncate()
                f.write(text[: len(text) // 2])
        self.break_source = truncate
        self.assert_no_destruction(after_good_read=True)

    def test_empty_file(self):
        def empty():
            with open(self.ws.identities_path, "w") as f:
                f.write('{"users": []}')
        self.break_source = empty
        self.assert_no_destruction(after_good_read=True)

    def test_zero_byte_file(self):
        def zero():
            open(self.ws.identities_path, "w").close()
        self.break_source = zero
        self.assert_no_destruction(after_good_read=True)

    def test_shrink_past_max_shrink_percent(self):
        def shrink():  # 25 % of the entitled population vanishes at once (limit 20 %)
            self.ws.write_identities(everyone(self.t)[5:])
        self.break_source = shrink
        self.assert_no_destruction(after_good_read=True)

    def test_shrink_within_the_limit_is_acted_on(self):
        self.ws.write_identities(everyone(self.t))
        self.ws.run("sync", "--yes", check=0)
        self.ws.write_identities(everyone(self.t)[2:])  # 10 % gone: a good read, two people deleted
        self.ws.run("sync", "--yes", check=0)
        gone = {k["uid"] for p in self.t.people[:2] for k in self.t.keys_of(p)}
        self.assertEqual({key_of(c) for c in mutating_calls(self.sim.calls())}, gone)
        self.assertEqual({a["reason"] for a in self.ws.audit()}, {"identity_deleted"})

    def test_palette_user_listing_failure(self):
        self.ws.write_identities(everyone(self.t, active=False))
        self.sim.set_faults(five_xx_rate=1.0)
        p = self.ws.run("sync", "--yes")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.sim.set_faults()
        self.assertEqual(mutating_calls(self.sim.calls()), [])


class QuarantineTest(unittest.TestCase):
    def setUp(self):
        self.t = Tenant(30, 60, api_key=API_KEY, seed=12)
        self.sim = PaletteSim(self.t.seed(), rate=60, burst=60)
        self.addCleanup(self.sim.stop)
        self.ws = Workspace(self.sim.url, safety={"max_revocations": 5, "max_revocations_percent": 100,
                                                   "max_shrink_percent": 50})
        self.addCleanup(self.ws.cleanup)
        self.ws.write_identities(everyone(self.t))
        self.ws.run("sync", "--yes", check=0)
        # Ten people leave: 20 keys, over max_revocations = 5.
        self.ws.write_identities([identity(p, active=i >= 10) for i, p in enumerate(self.t.people)])
        self.leavers_keys = {k["uid"] for p in self.t.people[:10] for k in self.t.keys_of(p)}

    def quarantine(self):
        self.sim.reset_calls()
        p = self.ws.run("sync", "--yes")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        self.assertEqual(len(status["quarantined_plans"]), 1)
        held = status["quarantined_plans"][0]
        self.assertEqual(held["revocations"], len(self.leavers_keys))
        self.assertIn("max_revocations", held["reason"])
        # The same situation again files no second plan.
        self.assertEqual(self.ws.run("sync", "--yes").returncode, 3)
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        self.assertEqual([q["plan_id"] for q in status["quarantined_plans"]], [held["plan_id"]])
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        quarantined = [a for a in self.ws.audit() if a["result"] == "quarantined"]
        self.assertEqual({a["key_uid"] for a in quarantined}, self.leavers_keys)
        return held["plan_id"]

    def test_approve_carries_the_plan_out(self):
        plan_id = self.quarantine()
        self.ws.run("approve", plan_id, check=0)
        self.assertEqual({key_of(c) for c in mutating_calls(self.sim.calls())}, self.leavers_keys)
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        self.assertEqual(status["quarantined_plans"], [])
        done = [a for a in self.ws.audit() if a["result"] == "done"]
        self.assertEqual({a["plan_id"] for a in done}, {plan_id})
        self.assertEqual(self.ws.run("approve", plan_id).returncode, 2)

    def test_approve_skips_what_is_no_longer_valid(self):
        plan_id = self.quarantine()
        # Two of the ten come back before the approval.
        self.ws.write_identities([identity(p, active=i < 2 or i >= 10) for i, p in enumerate(self.t.people)])
        self.ws.run("approve", plan_id, check=0)
        back = {k["uid"] for p in self.t.people[:2] for k in self.t.keys_of(p)}
        self.assertEqual({key_of(c) for c in mutating_calls(self.sim.calls())}, self.leavers_keys - back)
        skipped = {a["key_uid"] for a in self.ws.audit() if a["result"] == "skipped"}
        self.assertEqual(skipped, back)

    def test_reject_discards_the_plan(self):
        plan_id = self.quarantine()
        self.ws.run("reject", plan_id, check=0)
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        self.assertEqual(status["quarantined_plans"], [])
        self.assertEqual({a["key_uid"] for a in self.ws.audit() if a["result"] == "skipped"}, self.leavers_keys)
        self.assertEqual(self.ws.run("reject", plan_id).returncode, 2)
        self.assertEqual(self.ws.run("approve", "p-doesnotexist").returncode, 2)

    def test_percent_threshold(self):
        self.ws.set("safety", max_revocations=1000, max_revocations_percent=10)
        self.quarantine()


class FaultTest(unittest.TestCase):
    def test_every_action_completes_once_under_faults_at_the_configured_rate(self):
        t = Tenant(60, 120, api_key=API_KEY, seed=13)
        sim = PaletteSim(t.seed())  # documented limits: 10 req/s, burst 50
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url, palette={"requests_per_second": 8})
        self.addCleanup(ws.cleanup)
        ws.write_identities([identity(p, active=i >= 20) for i, p in enumerate(t.people)])
        leavers = {k["uid"] for p in t.people[:20] for k in t.keys_of(p)}
        sim.set_faults(five_xx_rate=0.2, drop_rate=0.1, storm_429=1.5, seed=99)
        started = time.time()
        p = ws.run("sync", "--yes", timeout=600)
        elapsed = time.time() - started
        sim.set_faults()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        state = {k["uid"]: k for k in sim.state()["keys"]}
        for k in leavers:
            self.assertFalse(state[k]["isActive"], k)
        done = [a for a in ws.audit() if a["result"] == "done"]
        self.assertEqual(sorted(a["key_uid"] for a in done), sorted(leavers), "each action done exactly once")
        self.assertTrue(any(a["attempts"] > 1 for a in done), "faults forced retries")
        calls = sim.calls()
        # Sustained rate: never more requests than requests_per_second allows over the run.
        span = (calls[-1]["time_ms"] - calls[0]["time_ms"]) / 1000.0
        self.assertLessEqual(len(calls), 8 * span + 2, f"{len(calls)} requests in {span:.1f}s")
        self.assertLessEqual(len(calls), 8 * elapsed + 2)
        # And within any one-second window, no burst above the pace.
        times = [c["time_ms"] for c in calls]
        for i in range(len(times)):
            j = i
            while j < len(times) and times[j] - times[i] < 1000:
                j += 1
            self.assertLessEqual(j - i, 9, "more than 8 requests within one second")


class CrashTest(unittest.TestCase):
    def test_kill_9_mid_sync_loses_and_repeats_nothing(self):
        t = Tenant(100, 200, api_key=API_KEY, seed=14)
        for k in t.keys:  # no key of the daemon's own user, so all 200 are actions
            if k["ownerUid"] == t.self_user["uid"]:
                k["ownerUid"] = t.people[0]["uid"]
        sim = PaletteSim(t.seed(), rate=1000, burst=1000)
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url, palette={"requests_per_second": 100})
        self.addCleanup(ws.cleanup)
        ws.write_identities(everyone(t, active=False))
        sim.set_faults(latency_ms=15)
        proc = ws.spawn("sync", "--yes")
        self.assertTrue(wait_until(lambda: len(mutating_calls(sim.calls())) >= 60, timeout=60))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = len(mutating_calls(sim.calls()))
        self.assertLess(before, 200, "the kill landed mid-sync")
        sim.set_faults()
        ws.run("sync", "--yes", check=0)
        calls = mutating_calls(sim.calls())
        per_key = {}
        for c in calls:
            per_key[key_of(c)] = per_key.get(key_of(c), 0) + 1
        self.assertEqual(set(per_key), {k["uid"] for k in t.keys}, "no action lost")
        self.assertEqual(max(per_key.values()), 1, "no revoke sent twice")
        done = [a for a in ws.audit() if a["result"] == "done"]
        self.assertEqual(sorted(a["key_uid"] for a in done), sorted(k["uid"] for k in t.keys))
        status = json.loads(ws.run("status", "--json", check=0).stdout)
        self.assertEqual(status["pending_actions"], [])


class ConfigTest(unittest.TestCase):
    def test_config_errors_point_at_file_line_col(self):
        ws = Workspace("http://127.0.0.1:9")
        self.addCleanup(ws.cleanup)
        with open(ws.config_path) as f:
            lines = f.read().splitlines()
        policy_line = lines.index("[policy]") + 1
        lines.insert(policy_line, "delete_afterr = \"7d\"")
        with open(ws.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = ws.run("check-config")
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{ws.config_path}:{policy_line + 1}:1:", p.stderr)
        self.assertIn("delete_afterr", p.stderr)
        for command in (["plan"], ["sync", "--yes"], ["status"]):
            self.assertEqual(ws.run(*command).returncode, 2, command)

    def test_a_valid_config_checks_out(self):
        ws = Workspace("http://127.0.0.1:9")
        self.addCleanup(ws.cleanup)
        p = ws.run("check-config")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(API_KEY, p.stdout + p.stderr)

    def test_a_wrong_api_key_is_a_runtime_failure_without_the_key(self):
        t = Tenant(2, 2, api_key="the-real-key", seed=15)
        sim = PaletteSim(t.seed())
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url)
        self.addCleanup(ws.cleanup)
        ws.write_identities(everyone(t))
        p = ws.run("sync", "--yes")
        self.assertEqual(p.returncode, 1)
        self.assertIn("401", p.stderr)
        self.assertNotIn(API_KEY, p.stdout + p.stderr)

    def test_version(self):
        ws = Workspace("http://127.0.0.1:9")
        self.addCleanup(ws.cleanup)
        p = ws.run("version", check=0)
        self.assertRegex(p.stdout, r"keywarden \d+\.\d+\.\d+")
        self.assertIn("sqlite", p.stdout)


if __name__ == "__main__":
    unittest.main()
