"""type = "okta" end to end: the real keywarden binary reads a stand-in Okta org
(okta_standin.py) and acts on palette-sim. One scenario per leaver event, then
the API misbehaving: throttling in the middle of a read and a page that fails or
goes missing must never revoke anyone, and the next good read recovers.

`sync` does full reads (read_all): users, deactivated users, groups, members.
`keywarden run` (OktaDaemonTest) adds the other two ways in: Event Hook
deliveries at /hooks/okta/<source>, and System Log polling from the cursor
the full read left. The unit tests (connectors/okta/*_test.cc) cover each
path's corner cases."""

import json
import os
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace, key_of, mutating_calls, wait_until
from okta_standin import OktaStandin
from palette_sim import PaletteSim
from tenant import Tenant

OKTA_TOKEN = "00OktaTestToken-b1f4e2d9c8a7f6e5d4c3b2a1"
HOOK_SECRET = "okta-hook-secret-5e6f7a8b9c0d1e2f"
SOURCE = "corp-okta"


class OktaSourceTest(unittest.TestCase):
    """A tenant of 30 people, each an Okta user in palette-users (the first five
    in palette-admins too), two keys each; the org pages 7 users at a time."""

    def setUp(self):
        self.tenant = Tenant(30, 62, api_key=API_KEY, seed=23)
        self.sim = PaletteSim(self.tenant.seed(), rate=60, burst=60)
        self.addCleanup(self.sim.stop)
        self.okta = OktaStandin(OKTA_TOKEN, page_limit=7)
        self.addCleanup(self.okta.stop)
        self.okta.add_user("okta-admin@example.com")  # the token's owner: in Okta, not in Palette
        self.uid = {}
        for p in self.tenant.people:
            self.uid[p["email"]] = self.okta.add_user(p["email"], firstName=p["firstName"], lastName="Example")["id"]
        self.okta.add_group("palette-users", [self.uid[p["email"]] for p in self.tenant.people])
        self.okta.add_group("palette-admins", [self.uid[p["email"]] for p in self.tenant.people[:5]])
        self.okta.add_group("Everyone", list(self.uid.values()), type="BUILT_IN")

        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        with open(os.path.join(self.ws.dir, "okta-token"), "w") as f:
            f.write(OKTA_TOKEN + "\n")
        self.ws.sources = [{"name": SOURCE, "type": "okta", "url": self.okta.url, "token_file": "okta-token"}]
        self.ws.write_config()

        # The first sync knows everyone and changes nothing.
        self.sync()
        self.assertEqual(self.mutations, [])
        self.assert_healthy()

    def tearDown(self):
        for text in self.ws.outputs:
            self.assertNotIn(OKTA_TOKEN, text)
        self.assertNotIn(OKTA_TOKEN.encode(), self.ws.db_bytes())

    # --- helpers -------------------------------------------------------------------

    def person(self, i):
        p = self.tenant.people[i]
        return p, self.uid[p["email"]]

    def keys_of(self, person):
        return {k["uid"] for k in self.tenant.keys_of(person)}

    def sync(self):
        self.sim.reset_calls()
        self.okta.reset_requests()
        self.ws.run("sync", "--yes", check=0)
        self.mutations = mutating_calls(self.sim.calls())
        return self.mutations

    def revoked(self):
        return {key_of(c) for c in self.mutations if json.loads(c["body"] or "{}") == {"isActive": False}}

    def reactivated(self):
        return {key_of(c) for c in self.mutations if json.loads(c["body"] or "{}") == {"isActive": True}}

    def source_status(self):
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        return next(s for s in status["sources"] if s["name"] == SOURCE)

    def assert_healthy(self):
        s = self.source_status()
        self.assertTrue(s["healthy"], s)

    def plan_actions(self):
        self.sim.reset_calls()
        plan = self.ws.plan_json()
        self.assertEqual(mutating_calls(self.sim.calls()), [], "plan changes nothing")
        return plan

    def assert_revoked_for(self, person, reason, detail_part):
        plan = self.plan_actions()
        self.assertEqual({a["key_uid"] for a in plan["actions"]}, self.keys_of(person))
        for a in plan["actions"]:
            self.assertEqual(a["action"], "revoke")
            self.assertEqual(a["reason"], reason)
            self.assertEqual(a["source"], SOURCE)
            self.assertEqual(a["owner_email"], person["email"])
            self.assertIn(detail_part, a["detail"])
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(person))
        self.assertEqual(len(self.mutations), len(self.keys_of(person)))
        for c in self.mutations:
            self.assertEqual(c["method"], "PUT")
            self.assertTrue(c["path"].endswith("/state"))
        done = {a["key_uid"]: a for a in self.ws.audit() if a["result"] == "done"}
        for k in self.keys_of(person):
            self.assertEqual(done[k]["reason"], reason)
            self.assertEqual(done[k]["source"], SOURCE)
        self.assert_healthy()
        # Nothing more happens on the next read.
        self.sync()
        self.assertEqual(self.mutations, [])

    # --- one scenario per event ------------------------------------------------------

    def test_full_read_pages_everything_with_the_token(self):
        self.sync()
        reqs = self.okta.requests()
        self.assertTrue(reqs)
        self.assertTrue(all(r["auth"] == "ok" and r["method"] == "GET" for r in reqs))
        users = [r for r in reqs if r["path"] == "/api/v1/users"]
        # 31 users, 7 a page: five pages, plus the (one-page) DEPROVISIONED listing.
        self.assertEqual(len([r for r in users if "filter" not in r["query"]]), 5)
        self.assertEqual(len([r for r in users if 'filter=status%20eq%20%22DEPROVISIONED%22' in r["query"]
                              or "filter=status+eq+%22DEPROVISIONED%22" in r["query"]]), 1)
        self.assertTrue(any("after=" in r["query"] for r in users))
        groups = {g["profile"]["name"]: g["id"] for g in self.okta.state()["groups"]}
        for gid in groups.values():
            self.assertTrue(any(r["path"] == f"/api/v1/groups/{gid}/users" for r in reqs))
        member_pages = [r for r in reqs if r["path"] == f"/api/v1/groups/{groups['palette-users']}/users"]
        self.assertEqual(len(member_pages), 5)

    def test_suspended_user_is_revoked(self):
        p, uid = self.person(0)
        self.okta.suspend(uid)
        self.assert_revoked_for(p, "identity_inactive", "status SUSPENDED")

    def test_deactivated_user_is_revoked_as_inactive(self):
        # Okta leaves DEPROVISIONED users out of a plain listing: only the
        # filtered listing shows them as deactivated rather than gone.
        p, uid = self.person(1)
        self.okta.deactivate(uid)
        self.assert_revoked_for(p, "identity_inactive", "status DEPROVISIONED")

    def test_deleted_user_is_revoked_as_deleted(self):
        p, uid = self.person(2)
        self.okta.delete(uid)
        self.assert_revoked_for(p, "identity_deleted", "no longer listed")

    def test_removal_from_the_entitled_group_revokes(self):
        p, uid = self.person(8)
        self.okta.set_member(uid, "palette-users", False)
        self.assert_revoked_for(p, "not_entitled", "")

    def test_removal_from_one_of_two_entitled_groups_revokes_nothing(self):
        self.ws.set("policy", entitled_groups=["palette-users", "palette-admins"])
        p, uid = self.person(3)
        self.okta.set_member(uid, "palette-users", False)
        self.sync()
        self.assertEqual(self.mutations, [])
        self.assertEqual(self.plan_actions()["actions"], [])
        # Leaving the other one too makes them a leaver.
        self.okta.set_member(uid, "palette-admins", False)
        self.assert_revoked_for(p, "not_entitled", "")

    def test_return_within_the_grace_reactivates(self):
        p, uid = self.person(4)
        self.okta.suspend(uid)
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(p))
        self.okta.unsuspend(uid)
        self.sync()
        self.assertEqual(self.reactivated(), self.keys_of(p))
        self.assertEqual(self.revoked(), set())
        reasons = {a["key_uid"]: a["reason"] for a in self.ws.audit()
                   if a["result"] == "done" and a["action"] == "reactivate"}
        self.assertEqual(set(reasons), self.keys_of(p))
        self.assertTrue(all(r == "re_entitled" for r in reasons.values()))
        state = {k["uid"]: k for k in self.sim.state()["keys"]}
        self.assertTrue(all(state[k]["isActive"] for k in self.keys_of(p)))

    # --- the API misbehaving ---------------------------------------------------------

    def test_throttling_in_the_middle_of_a_read(self):
        p, uid = self.person(5)
        self.okta.suspend(uid)
        # Four requests in (inside the user listing), three 429s with a 1 s reset.
        self.okta.throttle(count=3, reset_in=1, after=4)
        self.sync()
        reqs = self.okta.requests()
        statuses = [r["status"] for r in reqs]
        self.assertEqual(statuses.count(429), 3, statuses)
        first = statuses.index(429)
        self.assertEqual(statuses[first:first + 3], [429, 429, 429])
        self.assertEqual(reqs[first + 3]["path"], reqs[first]["path"])
        self.assertEqual(reqs[first + 3]["query"], reqs[first]["query"])
        self.assertEqual(reqs[first + 3]["status"], 200)
        # The wait honoured X-Rate-Limit-Reset.
        self.assertGreaterEqual(reqs[first + 3]["time"] - reqs[first]["time"], 0.5)
        # Only the real leaver.
        self.assertEqual(self.revoked(), self.keys_of(p))
        self.assert_healthy()

    def assert_bad_read_then_recovery(self, break_org, error_part):
        p, uid = self.person(6)
        self.okta.suspend(uid)  # a real change, held back while reads fail
        break_org()
        plan = self.plan_actions()
        self.assertEqual(plan["actions"], [])
        okta_outcome = next(s for s in plan["sources"] if s["source"] == SOURCE)
        self.assertFalse(okta_outcome["ok"])
        self.assertIn(error_part, okta_outcome["error"])
        self.sync()
        self.assertEqual(self.mutations, [])
        s = self.source_status()
        self.assertFalse(s["healthy"])
        self.assertIn(error_part, s["last_error"])
        self.assertNotIn(OKTA_TOKEN, s["last_error"])
        # Okta answers properly again: the next read is good and acts.
        self.okta.clear_faults()
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(p))
        self.assert_healthy()

    def test_a_failed_page_revokes_nothing_and_recovers(self):
        # Page 2 of the plain user listing answers 500 on every attempt.
        self.assert_bad_read_then_recovery(lambda: self.okta.fail_page("/api/v1/users", 2, filter=""),
                                           "HTTP 500")

    def test_a_page_that_goes_missing_revokes_nothing_and_recovers(self):
        def drop():
            gid = next(g["id"] for g in self.okta.state()["groups"] if g["profile"]["name"] == "palette-users")
            self.okta.drop_page(f"/api/v1/groups/{gid}/users", 3)
        self.assert_bad_read_then_recovery(drop, "HTTP 404")

    def test_a_wrong_token_revokes_nothing(self):
        with open(os.path.join(self.ws.dir, "okta-token"), "w") as f:
            f.write("00NotTheToken\n")
        p, uid = self.person(7)
        self.okta.suspend(uid)
        self.sync()
        self.assertEqual(self.mutations, [])
        s = self.source_status()
        self.assertFalse(s["healthy"])
        self.assertIn("E0000011", s["last_error"])
        self.assertNotIn("00NotTheToken", s["last_error"])
        self.assertTrue(all(r["auth"] == "wrong" for r in self.okta.requests()))


class OktaDaemonCase(unittest.TestCase):
    """keywarden run with an okta source that takes hooks and polls the System
    Log every `poll_interval`. 10 people in palette-users, two keys each."""

    poll_interval = "1h"

    def setUp(self):
        self.tenant = Tenant(10, 22, api_key=API_KEY, seed=29)
        self.sim = PaletteSim(self.tenant.seed(), rate=100, burst=100)
        self.addCleanup(self.sim.stop)
        self.okta = OktaStandin(OKTA_TOKEN, page_limit=4)
        self.addCleanup(self.okta.stop)
        self.uid = {p["email"]: self.okta.add_user(p["email"])["id"] for p in self.tenant.people}
        self.okta.add_group("palette-users", list(self.uid.values()))
        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        for name, value in (("okta-token", OKTA_TOKEN), ("okta-hook-secret", HOOK_SECRET)):
            with open(os.path.join(self.ws.dir, name), "w") as f:
                f.write(value + "\n")
        self.ws.sources = [{"name": SOURCE, "type": "okta", "url": self.okta.url, "token_file": "okta-token",
                            "hook_secret_file": "okta-hook-secret", "poll_interval": self.poll_interval}]
        self.ws.write_config()
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        self.assertEqual(mutating_calls(self.sim.calls()), [])

    def tearDown(self):
        self.daemon.stop()
        for text in self.ws.outputs:
            self.assertNotIn(OKTA_TOKEN, text)
            self.assertNotIn(HOOK_SECRET, text)

    def person(self, i):
        p = self.tenant.people[i]
        return p, self.uid[p["email"]]

    def keys_of(self, person):
        return {k["uid"] for k in self.tenant.keys_of(person)}

    def wait_keys(self, keys, active, timeout=15):
        def done():
            state = {k["uid"]: k for k in self.sim.state()["keys"]}
            return all(state[k]["isActive"] == active for k in keys)
        return wait_until(done, timeout=timeout)

    def hook(self, method, body=None, secret=HOOK_SECRET, headers=None):
        h = {"Content-Type": "application/json", "Accept": "application/json"} if method == "POST" else {}
        if secret is not None:
            h["Authorization"] = secret
        h.update(headers or {})
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        return self.daemon.request(method, "/hooks/okta/" + SOURCE, data, h)

    @staticmethod
    def delivery(events):
        """Okta's Event Hook envelope around System Log events."""
        return {"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
                "contentType": "application/json", "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "source": "https://corp.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
                "data": {"events": list(events)}}

    def last_event(self, event_type, uid):
        return [e for e in self.okta.events()
                if e["eventType"] == event_type and any(t["id"] == uid for t in e["target"])][-1]



class OktaHookDaemonTest(OktaDaemonCase):
    """Event Hooks; no poll falls due, so what happens is the hook's doing."""

    def test_verification_needs_the_secret(self):
        status, headers, body = self.hook("GET", headers={"X-Okta-Verification-Challenge": "Mn9Wz1q2"})
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertEqual(json.loads(body), {"verification": "Mn9Wz1q2"})
        for secret in (None, "wrong", HOOK_SECRET[:-1]):
            status, _, body = self.hook("GET", secret=secret, headers={"X-Okta-Verification-Challenge": "c"})
            self.assertEqual(status, 401)
            self.assertNotIn(b'"verification"', body)

    def test_hook_delivery_revokes_at_once_and_only_once(self):
        p, uid = self.person(1)
        self.okta.suspend(uid)
        suspend = self.last_event("user.lifecycle.suspend", uid)
        # A wrong secret: 401, and nothing happens.
        status, _, _ = self.hook("POST", self.delivery([suspend]), secret="wrong")
        self.assertEqual(status, 401)
        time.sleep(0.5)
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        # Okta's delivery: revoked at once (no poll is due for an hour).
        status, _, body = self.hook("POST", self.delivery([suspend]))
        self.assertEqual((status, body), (200, b""))
        self.assertTrue(self.wait_keys(self.keys_of(p), active=False), self.daemon.output())
        # Back within the grace: reactivated.
        self.okta.unsuspend(uid)
        unsuspend = self.last_event("user.lifecycle.unsuspend", uid)
        self.assertEqual(self.hook("POST", self.delivery([unsuspend]))[0], 200)
        self.assertTrue(self.wait_keys(self.keys_of(p), active=True), self.daemon.output())
        # Okta delivers the suspension again (at least once): no second effect.
        self.sim.reset_calls()
        self.assertEqual(self.hook("POST", self.delivery([suspend]))[0], 200)
        time.sleep(1.0)
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        done = [a for a in self.ws.audit() if a["result"] == "done"]
        self.assertEqual(sorted(a["action"] for a in done), ["reactivate"] * 2 + ["revoke"] * 2)

    def test_hook_group_removal_and_bad_input(self):
        p, uid = self.person(2)
        status, _, _ = self.hook("POST", "{\"data\": {\"events\": [")
        self.assertEqual(status, 400)
        status, _, _ = self.hook("POST", {"data": {}})
        self.assertEqual(status, 400)
        self.okta.set_member(uid, "palette-users", False)
        removal = self.last_event("group.user_membership.remove", uid)
        self.assertEqual(self.hook("POST", self.delivery([removal]))[0], 200)
        self.assertTrue(self.wait_keys(self.keys_of(p), active=False), self.daemon.output())
        reasons = {a["key_uid"]: a["reason"] for a in self.ws.audit() if a["result"] == "done"}
        self.assertEqual(set(reasons), self.keys_of(p))
        self.assertEqual(set(reasons.values()), {"not_entitled"})


class OktaPollingDaemonTest(OktaDaemonCase):
    """System Log polling every second, with no hook calls."""

    poll_interval = "1s"

    def test_system_log_poll_revokes_without_a_hook(self):
        self.okta.reset_requests()
        p1, uid1 = self.person(3)
        p2, uid2 = self.person(4)
        self.okta.deactivate(uid1)
        self.okta.set_member(uid2, "palette-users", False)
        self.assertTrue(self.wait_keys(self.keys_of(p1) | self.keys_of(p2), active=False), self.daemon.output())
        reasons = {a["key_uid"]: a for a in self.ws.audit() if a["result"] == "done"}
        self.assertEqual(set(reasons), self.keys_of(p1) | self.keys_of(p2))
        for k in self.keys_of(p1):
            self.assertEqual(reasons[k]["reason"], "identity_inactive")
        for k in self.keys_of(p2):
            self.assertEqual(reasons[k]["reason"], "not_entitled")
        requests = self.okta.requests()
        # The System Log did it: no full read (which a lost cursor would force) ran.
        self.assertEqual([r for r in requests if r["path"] in ("/api/v1/users", "/api/v1/groups")], [])
        logs = [r for r in requests if r["path"] == "/api/v1/logs"]
        self.assertTrue(logs)
        self.assertTrue(all(r["auth"] == "ok" and r["status"] == 200 for r in logs))
        # After the first poll, every poll follows a stored next link.
        self.assertTrue(all("after=" in r["query"] for r in logs[1:]), [r["query"] for r in logs])
        self.assertIn("since=", logs[0]["query"])
        self.assertIn("sortOrder=ASCENDING", logs[0]["query"])


if __name__ == "__main__":
    unittest.main()
