"""The reconciler end to end: the real keywarden binary against palette-sim,
on a realistic tenant (130 Palette users, so the user listing pages, and 300
keys)."""

import json
import os
import time
import unittest

from harness import API_KEY, Workspace, key_of, mutating_calls
from palette_sim import PaletteSim
from tenant import Tenant, identity


class RealisticTenantTest(unittest.TestCase):
    """One tenant walked through revoke, return, leave and delete."""

    @classmethod
    def setUpClass(cls):
        cls.tenant = Tenant(129, 300, api_key=API_KEY,
                            key_names=lambda i, owner: f"ci-{i:04d}" if i % 37 == 0 else f"key-{i:04d}")
        t = cls.tenant
        # Roles by index: the pattern repeats every 10 people.
        cls.role = {}
        for i, p in enumerate(t.people):
            cls.role[p["uid"]] = {1: "inactive", 2: "deleted", 3: "leaves_group", 4: "exempt_inactive",
                                  5: "unknown", 7: "returns", 8: "other_group"}.get(i % 10, "entitled")
        cls.role[t.people[6]["uid"]] = "owner_missing"
        # A leaver's key that was already inactive before keywarden: never touched.
        cls.foreign_inactive = next(k for k in t.keys if cls.role.get(k["ownerUid"]) == "deleted")
        cls.foreign_inactive["isActive"] = False
        cls.sim = PaletteSim(t.seed(), rate=60, burst=60)
        cls.sim.delete_user(t.people[6]["uid"])

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def identities(self, step):
        users = []
        for p in self.tenant.people:
            r = self.role[p["uid"]]
            if r in ("unknown", "owner_missing"):
                continue
            if r == "inactive":
                users.append(identity(p, active=False))
            elif r == "deleted":
                users.append(identity(p, deleted=True))
            elif r == "exempt_inactive":
                users.append(identity(p, active=False))
            elif r == "leaves_group":
                users.append(identity(p, groups=["palette-users", "eng"] if step == 1 else ["eng"]))
            elif r == "returns":
                users.append(identity(p, active=step != 1))
            elif r == "other_group":
                users.append(identity(p, groups=["eng"]))
            else:
                users.append(identity(p))
        return users

    def keys_with_role(self, *roles):
        return {k["uid"] for k in self.tenant.keys if self.role.get(k["ownerUid"]) in roles}

    def test_walkthrough(self):
        t = self.tenant
        # Under the sanitizers the three syncs before step 3 take longer than
        # 5 s, so "nothing is deleted before delete_after" needs a longer one.
        grace = 20 if os.environ.get("KEYWARDEN_SANITIZED") else 5
        ws = Workspace(self.sim.url, policy={"delete_after": f"{grace}s",
                                             "exempt_users": [p["email"] for i, p in enumerate(t.people) if i % 10 == 4],
                                             "exempt_keys": ["ci-*"]})
        self.addCleanup(ws.cleanup)
        ci_keys = {k["uid"] for k in t.keys if k["name"].startswith("ci-")}
        untouchable = ({k["uid"] for k in t.keys if k["ownerUid"] == t.self_user["uid"]} | ci_keys |
                       self.keys_with_role("entitled", "unknown", "exempt_inactive", "other_group") |
                       {self.foreign_inactive["uid"]})

        # Step 1: the first sync revokes every leaver's key at once.
        ws.write_identities(self.identities(1))
        self.sim.reset_calls()
        plan = ws.plan_json()
        planned = {a["key_uid"]: a for a in plan["actions"]}
        self.assertEqual(mutating_calls(self.sim.calls()), [], "plan must change nothing")
        self.sim.reset_calls()
        ws.run("sync", "--yes", check=0)
        calls = self.sim.calls()
        user_pages = [c for c in calls if c["method"] == "GET" and c["path"] == "/v1/users"]
        self.assertEqual(len(user_pages), 3, "130 users are three pages of 50")
        self.assertTrue(any("continue=" in c["query"] for c in user_pages))
        for c in calls:
            self.assertNotIn("projectuid", {h.lower() for h in c.get("headers", {})})
        revoked = {key_of(c) for c in mutating_calls(calls)}
        expected = (self.keys_with_role("inactive", "deleted", "returns", "owner_missing") - ci_keys -
                    {self.foreign_inactive["uid"]})
        self.assertEqual(revoked, expected)
        self.assertEqual(set(planned), expected, "sync did what plan said")
        for c in mutating_calls(calls):
            self.assertEqual(c["method"], "PUT")
            self.assertTrue(c["path"].endswith("/state"))
            self.assertEqual(json.loads(c["body"]), {"isActive": False})
            self.assertIn('"isActive":false', c["body"].replace(" ", ""))
        reasons = {a["key_uid"]: a["reason"] for a in ws.audit() if a["result"] == "done"}
        for k in self.keys_with_role("inactive") - ci_keys:
            self.assertEqual(reasons[k], "identity_inactive")
        for k in self.keys_with_role("deleted") - ci_keys - {self.foreign_inactive["uid"]}:
            self.assertEqual(reasons[k], "identity_deleted")
        for k in self.keys_with_role("owner_missing") - ci_keys:
            self.assertEqual(reasons[k], "owner_missing")
        state = {k["uid"]: k for k in self.sim.state()["keys"]}
        for k in expected:
            self.assertFalse(state[k]["isActive"])

        # Step 2: someone returns within the grace, others leave the group.
        ws.write_identities(self.identities(2))
        self.sim.reset_calls()
        ws.run("sync", "--yes", check=0)
        calls = mutating_calls(self.sim.calls())
        reactivated = {key_of(c) for c in calls if json.loads(c["body"] or "{}") == {"isActive": True}}
        left = {key_of(c) for c in calls if json.loads(c["body"] or "{}") == {"isActive": False}}
        self.assertEqual(reactivated, self.keys_with_role("returns") - ci_keys)
        self.assertEqual(left, self.keys_with_role("leaves_group") - ci_keys)
        reasons = {a["key_uid"]: a["reason"] for a in ws.audit() if a["result"] == "done"}
        for k in left:
            self.assertEqual(reasons[k], "not_entitled")
        for k in reactivated:
            self.assertEqual(reasons[k], "re_entitled")

        # Nothing is deleted before delete_after.
        self.sim.reset_calls()
        ws.run("sync", "--yes", check=0)
        self.assertEqual(mutating_calls(self.sim.calls()), [])

        # Step 3: once delete_after has passed, every key keywarden revoked is deleted.
        # Times are stored in whole seconds, rounded down, and a delete waits
        # until the deadline has passed by a whole second: up to 2 s past it.
        time.sleep(grace + 2)
        self.sim.reset_calls()
        ws.run("sync", "--yes", check=0)
        calls = mutating_calls(self.sim.calls())
        self.assertTrue(all(c["method"] == "DELETE" for c in calls))
        deleted = {key_of(c) for c in calls}
        self.assertEqual(deleted, (expected - self.keys_with_role("returns")) | left)
        self.assertFalse(deleted & untouchable)
        remaining = {k["uid"] for k in self.sim.state()["keys"] if not k.get("deleted")}
        self.assertTrue(untouchable <= remaining)
        self.assertEqual({a["key_uid"] for a in ws.audit() if a["action"] == "delete" and a["result"] == "done"},
                         deleted)
        for a in ws.audit():
            if a["action"] == "delete":
                self.assertEqual(a["reason"], "grace_elapsed")

        # The API key appears nowhere: not in output, logs, the audit trail or the database.
        for text in ws.outputs:
            self.assertNotIn(API_KEY, text)
        self.assertNotIn(API_KEY.encode(), ws.db_bytes())


class OwnerPolicyTest(unittest.TestCase):
    def test_unknown_owner_revoke_and_ignore(self):
        t = Tenant(6, 12, api_key=API_KEY, seed=3)
        sim = PaletteSim(t.seed(), rate=60, burst=60)
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url, policy={"unknown_owner": "ignore"})
        self.addCleanup(ws.cleanup)
        ws.write_identities([identity(p) for p in t.people[:4]])  # people 4 and 5 are unknown
        ws.run("sync", "--yes", check=0)
        self.assertEqual(mutating_calls(sim.calls()), [])
        ws.set("policy", unknown_owner="revoke")
        ws.run("sync", "--yes", check=0)
        unknown = {k["uid"] for p in t.people[4:] for k in t.keys_of(p)}
        self.assertEqual({key_of(c) for c in mutating_calls(sim.calls())}, unknown)
        self.assertEqual({a["reason"] for a in ws.audit()}, {"unknown_owner"})

    def test_never_entitled_reports_by_default(self):
        t = Tenant(4, 8, api_key=API_KEY, seed=4)
        sim = PaletteSim(t.seed(), rate=60, burst=60)
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url)
        self.addCleanup(ws.cleanup)
        ws.write_identities([identity(p, groups=["eng"]) for p in t.people])
        plan = ws.plan_json()
        self.assertEqual(plan["actions"], [])
        ws.run("sync", "--yes", check=0)
        self.assertEqual(mutating_calls(sim.calls()), [])
        ws.set("policy", never_entitled="revoke")
        plan = ws.plan_json()
        self.assertEqual({a["reason"] for a in plan["actions"]}, {"never_entitled"})

    def test_plan_json_shape_and_detailed_exitcode(self):
        t = Tenant(3, 4, api_key=API_KEY, seed=5)
        sim = PaletteSim(t.seed(), rate=60, burst=60)
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url)
        self.addCleanup(ws.cleanup)
        ws.write_identities([identity(p) for p in t.people])
        self.assertEqual(ws.run("plan", "--detailed-exitcode").returncode, 0)
        ws.write_identities([identity(t.people[0], active=False)] + [identity(p) for p in t.people[1:]])
        self.assertEqual(ws.run("plan", "--json", "--detailed-exitcode").returncode, 4)
        plan = ws.plan_json()
        for field in ("plan_id", "generated_at", "blocked", "block_reason", "actions"):
            self.assertIn(field, plan)
        self.assertFalse(plan["blocked"])
        self.assertIsNone(plan["block_reason"])
        self.assertRegex(plan["generated_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        action = plan["actions"][0]
        self.assertEqual(set(action), {"action", "key_uid", "key_name", "owner_uid", "owner_email", "reason",
                                       "source", "detail"})
        self.assertEqual(action["action"], "revoke")
        self.assertEqual(action["reason"], "identity_inactive")
        self.assertEqual(action["source"], "hr-export")
        self.assertEqual(action["owner_email"], t.people[0]["email"])
        self.assertEqual(mutating_calls(sim.calls()), [])


class RehireTest(unittest.TestCase):
    """Two identities of one source with one email: a disabled old account and
    an active new one (docs/architecture.md, "One email, several identities of
    one source")."""

    def test_a_rehired_person_keeps_and_gets_back_their_keys(self):
        t = Tenant(3, 6, api_key=API_KEY, seed=8)
        sim = PaletteSim(t.seed(), rate=60, burst=60)
        self.addCleanup(sim.stop)
        # Three people: one leaving is a third of them, past the default shrink limit.
        ws = Workspace(sim.url, safety={"max_shrink_percent": 100})
        self.addCleanup(ws.cleanup)
        person, others = t.people[0], [identity(p) for p in t.people[1:]]
        keys = {k["uid"] for k in t.keys_of(person)}
        old = identity(person, active=False, subject="old-account")  # disabled, still listed in the group
        # She left: her keys are revoked.
        ws.write_identities([old] + others)
        ws.run("sync", "--yes", check=0)
        self.assertEqual({key_of(c) for c in mutating_calls(sim.calls())}, keys)
        # Rehired with a new account, the old one still there and disabled: her keys come back.
        ws.write_identities([old, identity(person, subject="new-account")] + others)
        ws.run("sync", "--yes", check=0)
        self.assertEqual({a["reason"] for a in ws.audit() if a["action"] == "reactivate"}, {"re_entitled"})
        state = {k["uid"]: k for k in sim.state()["keys"]}
        self.assertTrue(all(state[k]["isActive"] for k in keys))
        self.assertEqual(ws.plan_json()["actions"], [])
        # Both accounts disabled: a leaver again.
        ws.write_identities([old, identity(person, active=False, subject="new-account")] + others)
        self.assertEqual({(a["action"], a["reason"]) for a in ws.plan_json()["actions"]},
                         {("revoke", "identity_inactive")})


if __name__ == "__main__":
    unittest.main()
