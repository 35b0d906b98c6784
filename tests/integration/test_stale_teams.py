"""SPEC §9 end to end: the real keywarden binary, the file source and
palette-sim with teams. Someone moved out of the IdP group `palette-admins`
keeps the Palette team of that name; keywarden reports it, or revokes the
owner's keys with `stale_team`, and reactivates them once the user is back in
the group or out of the team. keywarden never edits a team."""

import json
import unittest

from harness import API_KEY, Workspace, key_of, mutating_calls
from palette_sim import PaletteSim
from tenant import Tenant, identity

ADMINS = "palette-admins"


def team_calls_other_than_get(calls):
    return [c for c in calls if c["path"].startswith("/v1/teams") and c["method"] != "GET"]


class StaleTeamTest(unittest.TestCase):

    def setUp(self):
        # self + 4 people: alice and bob are admins, carol a viewer, dave in
        # palette-admins by hand (never in the IdP group).
        self.tenant = Tenant(4, 10, api_key=API_KEY)
        self.alice, self.bob, self.carol, self.dave = self.tenant.people
        seed = self.tenant.seed()
        seed["teams"] = [
            {"uid": "team-admins", "name": ADMINS,
             "users": [self.alice["uid"], self.bob["uid"], self.dave["uid"]], "roles": ["tenant-admin"]},
            {"uid": "team-viewers", "name": "viewers", "users": [self.carol["uid"]]},
        ]
        self.sim = PaletteSim(seed, rate=100, burst=100)
        self.addCleanup(self.sim.stop)
        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        self.alice_keys = {k["uid"] for k in self.tenant.keys_of(self.alice)}
        self.assertTrue(self.alice_keys)

    def write(self, alice_groups):
        self.ws.write_identities([
            identity(self.alice, groups=alice_groups),
            identity(self.bob, groups=["palette-users", ADMINS]),
            identity(self.carol, groups=["palette-users"]),
            identity(self.dave, groups=["palette-users"]),
        ])

    def sync(self):
        return self.ws.run("sync", "--yes", check=0)

    def key_active(self):
        return {k["uid"]: k["isActive"] for k in self.sim.state()["keys"] if not k["deleted"]}

    def assert_no_team_edits(self):
        self.assertEqual(team_calls_other_than_get(self.sim.calls()), [])

    def first_runs_and_alice_leaves_the_group(self):
        self.write(["palette-users", ADMINS])
        self.sync()  # keywarden sees alice in the group
        self.write(["palette-users"])

    def test_report_lists_the_stale_membership_and_revokes_nothing(self):
        self.first_runs_and_alice_leaves_the_group()
        plan = self.ws.plan_json()
        self.assertEqual(plan["actions"], [])
        self.assertEqual(len(plan["stale_teams"]), 1, plan["stale_teams"])
        stale = plan["stale_teams"][0]
        self.assertEqual({k: stale[k] for k in ("owner_uid", "owner_email", "team", "source", "group")},
                         {"owner_uid": self.alice["uid"], "owner_email": self.alice["email"], "team": ADMINS,
                          "source": "hr-export", "group": ADMINS})
        self.assertRegex(stale["left_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        text = self.ws.run("plan", check=0).stdout
        self.assertIn("stale Palette team memberships", text)
        self.assertIn(self.alice["email"], text)

        self.sim.reset_calls()
        self.sync()
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        self.assertTrue(all(self.key_active()[k] for k in self.alice_keys))

        status = self.ws.run("status", "--json", check=0)
        stale_in_status = json.loads(status.stdout)["stale_teams"]
        self.assertEqual([(s["owner_uid"], s["team"]) for s in stale_in_status], [(self.alice["uid"], ADMINS)])
        self.assertIn(ADMINS, self.ws.run("status", check=0).stdout)

        keys = json.loads(self.ws.run("keys", "--json", check=0).stdout)["keys"]
        for k in keys:
            if k["key_uid"] in self.alice_keys:
                self.assertEqual(k["verdict"], "report")
                self.assertEqual(k["action"]["reason"], "stale_team")
                self.assertEqual([s["team"] for s in k["stale_teams"]], [ADMINS])
            else:
                self.assertEqual(k["stale_teams"], [], k)  # dave, added by hand, is not stale
        self.assert_no_team_edits()

    def test_revoke_then_reactivate_when_back_in_the_group(self):
        self.ws.set("policy", stale_teams="revoke")
        self.first_runs_and_alice_leaves_the_group()
        plan = self.ws.plan_json()
        self.assertEqual({a["key_uid"] for a in plan["actions"]}, self.alice_keys)
        for a in plan["actions"]:
            self.assertEqual((a["action"], a["reason"], a["source"]), ("revoke", "stale_team", "hr-export"))
            self.assertIn(ADMINS, a["detail"])

        self.sim.reset_calls()
        self.sync()
        revoked = {key_of(c) for c in mutating_calls(self.sim.calls())}
        self.assertEqual(revoked, self.alice_keys)
        self.assertFalse(any(self.key_active()[k] for k in self.alice_keys))
        audit = [e for e in self.ws.audit() if e["action"] == "revoke"]
        self.assertEqual({(e["key_uid"], e["reason"], e["result"]) for e in audit},
                         {(k, "stale_team", "done") for k in self.alice_keys})

        # Nothing more while alice stays out of the group.
        self.sim.reset_calls()
        self.sync()
        self.assertEqual(mutating_calls(self.sim.calls()), [])

        self.write(["palette-users", ADMINS])
        self.sim.reset_calls()
        self.sync()
        self.assertTrue(all(self.key_active()[k] for k in self.alice_keys))
        reactivated = [e for e in self.ws.audit() if e["action"] == "reactivate"]
        self.assertEqual({(e["key_uid"], e["reason"]) for e in reactivated},
                         {(k, "re_entitled") for k in self.alice_keys})
        self.assert_no_team_edits()

    def test_revoke_then_reactivate_when_removed_from_the_team(self):
        self.ws.set("policy", stale_teams="revoke")
        self.first_runs_and_alice_leaves_the_group()
        self.sync()
        self.assertFalse(any(self.key_active()[k] for k in self.alice_keys))

        # An admin takes alice out of the Palette team (or she logs in).
        self.sim.add_teams([{"uid": "team-admins", "name": ADMINS,
                             "users": [self.bob["uid"], self.dave["uid"]], "roles": ["tenant-admin"]}])
        self.sim.reset_calls()
        self.sync()
        self.assertTrue(all(self.key_active()[k] for k in self.alice_keys))
        self.assertEqual(self.ws.plan_json()["stale_teams"], [])
        self.assert_no_team_edits()

    def test_ignore_reads_teams_but_says_nothing(self):
        self.ws.set("policy", stale_teams="ignore")
        self.first_runs_and_alice_leaves_the_group()
        plan = self.ws.plan_json()
        self.assertEqual(plan["actions"], [])
        self.assertEqual(plan["stale_teams"], [])


if __name__ == "__main__":
    unittest.main()
