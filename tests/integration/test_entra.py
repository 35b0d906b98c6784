"""The `entra` source end to end: the real keywarden binary reads a Microsoft
Graph stand-in (graph_standin.py: delta queries with paging, the client
credentials token endpoint, throttling, faults) and acts on palette-sim.

Each person of the tenant is an Entra user whose userPrincipalName and mail
are their Palette email. Groups: palette-users (everyone), palette-admins
(people 0-3), eng (people 0-9)."""

import json
import os
import unittest
import urllib.parse

from graph_standin import GraphStandin
from harness import API_KEY, Workspace, key_of, mutating_calls, wait_until
from palette_sim import PaletteSim
from tenant import Tenant

try:
    from harness import DaemonProcess
except ImportError:  # an older harness without `keywarden run`
    DaemonProcess = None

TENANT_ID = "8f1d6a52-3c4b-4e1a-9d07-5b2c7e9f0a11"
CLIENT_ID = "0c3e5a7b-1d2f-4a6b-8c9d-e0f1a2b3c4d5"
CLIENT_SECRET = "Qx8~entra.secret_7Fz-3kL9pW2mN5vB"
CLIENT_STATE = "kw-client-state-2f9c41d7"
SOURCE = "corp-entra"


class EntraTestCase(unittest.TestCase):
    """A fresh tenant, Graph stand-in, palette-sim and workspace per test."""

    n_people = 24
    policy = {}

    def setUp(self):
        self.t = Tenant(self.n_people, self.n_people * 2, api_key=API_KEY, seed=31)
        self.sim = PaletteSim(self.t.seed(), rate=100, burst=100)
        self.addCleanup(self.sim.stop)
        # Small pages: 24 users are 8 pages, palette-users' 24 members 5 chunks spread over the groups round.
        self.graph = GraphStandin(TENANT_ID, CLIENT_ID, CLIENT_SECRET, page_size=3, member_chunk=5)
        self.addCleanup(self.graph.stop)
        self.uid = [self.graph.add_user(p["email"], display_name=p["firstName"]) for p in self.t.people]
        self.palette_users = self.graph.add_group("palette-users", self.uid)
        self.palette_admins = self.graph.add_group("palette-admins", self.uid[:4])
        self.eng = self.graph.add_group("eng", self.uid[:10])
        policy = dict(self.policy)
        self.ws = Workspace(self.sim.url, policy=policy,
                            safety={"max_revocations": 100, "max_revocations_percent": 100})
        self.addCleanup(self.ws.cleanup)
        with open(os.path.join(self.ws.dir, "entra-secret"), "w") as f:
            f.write(CLIENT_SECRET + "\n")
        with open(os.path.join(self.ws.dir, "entra-client-state"), "w") as f:
            f.write(CLIENT_STATE + "\n")
        self.ws.sources = [{"name": SOURCE, "type": "entra", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                            "client_secret_file": "entra-secret", "graph_url": self.graph.url,
                            "login_url": self.graph.url}]
        self.ws.write_config()
        self.addCleanup(self.assert_no_secret_printed)

    def assert_no_secret_printed(self):
        tokens = [t for t in self.graph.dir.tokens]
        for out in self.ws.outputs:
            self.assertNotIn(CLIENT_SECRET, out)
            self.assertNotIn(CLIENT_STATE, out)
            for t in tokens:
                self.assertNotIn(t, out)

    def keys_of(self, i):
        return {k["uid"] for k in self.t.keys_of(self.t.people[i])}

    def sync(self):
        self.sim.reset_calls()
        self.ws.run("sync", "--yes", check=0)
        return mutating_calls(self.sim.calls())

    def revoked_by(self, calls):
        return {key_of(c) for c in calls if c["method"] == "PUT" and json.loads(c["body"]) == {"isActive": False}}

    def reactivated_by(self, calls):
        return {key_of(c) for c in calls if c["method"] == "PUT" and json.loads(c["body"]) == {"isActive": True}}

    def status(self):
        return json.loads(self.ws.run("status", "--json", check=0).stdout)

    def source_status(self):
        return next(s for s in self.status()["sources"] if s.get("source", s.get("name")) == SOURCE)

    def audit_reasons(self):
        return {a["key_uid"]: a for a in self.ws.audit() if a["result"] == "done"}

    def first_sync(self):
        calls = self.sync()
        self.assertEqual(calls, [], "everyone is entitled: nothing to do")
        self.assertTrue(self.source_status()["healthy"])


class EntraSyncTest(EntraTestCase):

    def test_a_full_read_pages_through_both_rounds_with_one_token(self):
        self.first_sync()
        log = self.graph.log()
        users = [e for e in log if e["path"] == "/v1.0/users/delta"]
        groups = [e for e in log if e["path"] == "/v1.0/groups/delta"]
        self.assertEqual(len(users), 8, "24 users, 3 a page")
        self.assertIn("$select=", urllib.parse.unquote(users[0]["query"]))
        self.assertTrue(all("skiptoken" in e["query"] for e in users[1:]))
        self.assertEqual(len(groups), 3, "8 items (palette-users alone is 5 chunks of members), 3 a page")
        self.assertTrue(all(e["authorized"] and e["status"] == 200 for e in users + groups))
        self.assertEqual(len([e for e in log if e["path"].endswith("/oauth2/v2.0/token")]), 1)
        plan = self.ws.plan_json()
        self.assertEqual(plan["actions"], [])
        source = next(s for s in plan["sources"] if s["source"] == SOURCE)
        self.assertTrue(source["ok"])
        self.assertEqual(source["identities"], self.n_people)

    def test_a_disabled_user_is_revoked(self):
        self.first_sync()
        self.graph.disable_user(self.uid[5])
        plan = self.ws.plan_json()
        self.assertEqual({a["key_uid"] for a in plan["actions"]}, self.keys_of(5))
        for a in plan["actions"]:
            self.assertEqual(a["reason"], "identity_inactive")
            self.assertEqual(a["source"], SOURCE)
            self.assertIn("accountEnabled false", a["detail"])
        calls = self.sync()
        self.assertEqual(self.revoked_by(calls), self.keys_of(5))
        self.assertEqual(len(calls), len(self.keys_of(5)))

    def test_a_deleted_user_is_revoked(self):
        self.first_sync()
        self.graph.delete_user(self.uid[6])              # soft delete: @removed reason "changed"
        self.graph.delete_user(self.uid[7], hard=True)   # hard delete: reason "deleted"
        calls = self.sync()
        expected = self.keys_of(6) | self.keys_of(7)
        self.assertEqual(self.revoked_by(calls), expected)
        reasons = self.audit_reasons()
        for k in expected:
            self.assertEqual(reasons[k]["reason"], "identity_deleted")

    def test_removal_from_the_entitled_group_by_display_name(self):
        self.first_sync()
        self.graph.remove_member(self.palette_users, self.uid[8])
        calls = self.sync()
        self.assertEqual(self.revoked_by(calls), self.keys_of(8))
        reasons = self.audit_reasons()
        for k in self.keys_of(8):
            self.assertEqual(reasons[k]["reason"], "not_entitled")

    def test_leaving_eng_alone_changes_nothing(self):
        self.first_sync()
        self.graph.remove_member(self.eng, self.uid[2])
        self.assertEqual(self.sync(), [])

    def test_return_within_the_grace_reactivates(self):
        self.first_sync()
        self.graph.disable_user(self.uid[9])
        self.assertEqual(self.revoked_by(self.sync()), self.keys_of(9))
        self.graph.enable_user(self.uid[9])
        calls = self.sync()
        self.assertEqual(self.reactivated_by(calls), self.keys_of(9))
        self.assertEqual(self.revoked_by(calls), set())
        reasons = self.audit_reasons()
        reactivations = [a for a in self.ws.audit() if a["action"] == "reactivate" and a["result"] == "done"]
        self.assertEqual({a["key_uid"] for a in reactivations}, self.keys_of(9))
        self.assertTrue(all(a["reason"] == "re_entitled" for a in reactivations))
        self.assertTrue(reasons)

    def test_throttling_and_a_token_expiring_mid_read_cause_no_false_revocation(self):
        self.first_sync()
        self.graph.reset_log()
        self.graph.throttle(3, retry_after=1)   # the next three Graph calls: 429, Retry-After: 1
        self.graph.expire_token_after(6)        # and the token dies in the middle of the users round
        calls = self.sync()
        self.assertEqual(calls, [], "a throttled, re-authenticated read is still the whole directory")
        log = self.graph.log()
        self.assertEqual(len([e for e in log if e["status"] == 429]), 3)
        self.assertEqual(len([e for e in log if e["status"] == 401]), 1)
        self.assertEqual(len([e for e in log if e["path"].endswith("/oauth2/v2.0/token")]), 2, "one refresh")
        self.assertTrue(self.source_status()["healthy"])
        # The source keeps working: a real leaver is still caught.
        self.graph.disable_user(self.uid[10])
        self.assertEqual(self.revoked_by(self.sync()), self.keys_of(10))

    def test_a_lost_page_makes_the_source_unhealthy_and_revokes_nothing(self):
        self.first_sync()
        # Someone leaves, and the users round loses a page: nothing may be inferred.
        self.graph.disable_user(self.uid[11])
        self.graph.remove_member(self.palette_users, self.uid[12])
        self.graph.fail(status=404, match="$skiptoken")
        plan = self.ws.plan_json()
        self.assertEqual(plan["actions"], [])
        source = next(s for s in plan["sources"] if s["source"] == SOURCE)
        self.assertFalse(source["ok"])
        self.assertIn("404", source["error"])
        self.assertEqual(self.sync(), [])
        status = self.source_status()
        self.assertFalse(status["healthy"])
        self.assertIn("page 2", status["last_error"])
        # Graph answers again: the leavers are caught.
        self.graph.clear_failures()
        self.assertEqual(self.revoked_by(self.sync()), self.keys_of(11) | self.keys_of(12))
        self.assertTrue(self.source_status()["healthy"])

    def test_server_errors_and_malformed_pages_revoke_nothing(self):
        self.first_sync()
        self.graph.disable_user(self.uid[13])
        self.graph.fail(status=503, match="/v1.0/groups/delta")  # past every retry
        self.assertEqual(self.sync(), [])
        self.assertFalse(self.source_status()["healthy"])
        self.graph.clear_failures()
        self.graph.fail(status=200, match="$skiptoken", body='{"@odata.context":"x","value":[{"id":')  # cut short
        self.assertEqual(self.sync(), [])
        self.assertIn("invalid JSON", self.source_status()["last_error"])
        self.graph.clear_failures()
        self.assertEqual(self.revoked_by(self.sync()), self.keys_of(13))

    def test_a_wrong_client_secret_is_a_failed_read_that_names_no_secret(self):
        self.first_sync()
        with open(os.path.join(self.ws.dir, "entra-secret"), "w") as f:
            f.write("not-the-secret\n")
        self.graph.disable_user(self.uid[14])
        self.assertEqual(self.sync(), [])
        status = self.source_status()
        self.assertFalse(status["healthy"])
        self.assertIn("invalid_client", status["last_error"])
        self.assertNotIn("not-the-secret", json.dumps(self.status()))


class EntraObjectIdTest(EntraTestCase):
    """entitled_groups naming an Entra group by its object id (SPEC §3)."""

    def setUp(self):
        super().setUp()
        self.ws.set("policy", entitled_groups=[self.palette_users])

    def test_removal_from_the_entitled_group_by_object_id(self):
        self.first_sync()
        self.graph.remove_member(self.palette_users, self.uid[3])
        calls = self.sync()
        self.assertEqual(self.revoked_by(calls), self.keys_of(3))
        reasons = self.audit_reasons()
        for k in self.keys_of(3):
            self.assertEqual(reasons[k]["reason"], "not_entitled")


class EntraTwoGroupsTest(EntraTestCase):
    """Two entitled groups: leaving one of them is no departure."""

    def setUp(self):
        super().setUp()
        self.ws.set("policy", entitled_groups=["palette-users", "palette-admins"])

    def test_leaving_one_of_two_entitled_groups_revokes_nothing(self):
        self.first_sync()
        self.graph.remove_member(self.palette_users, self.uid[1])   # still in palette-admins
        self.assertEqual(self.sync(), [])
        self.graph.remove_member(self.palette_admins, self.uid[1])  # now in neither
        self.assertEqual(self.revoked_by(self.sync()), self.keys_of(1))


@unittest.skipIf(DaemonProcess is None, "the harness has no DaemonProcess")
class EntraDaemonTest(EntraTestCase):
    """`keywarden run` with an entra source: Graph change notifications on
    /hooks/entra/<source> and incremental delta reads."""

    def setUp(self):
        super().setUp()
        self.ws.sources[0].update({"client_state_file": "entra-client-state", "poll_interval": "1h"})
        self.ws.write_config()
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        self.hook = f"/hooks/entra/{SOURCE}"

    def notify(self, items):
        return self.daemon.request("POST", self.hook, {"value": items}, {"Content-Type": "application/json"})

    def notification(self, change, i, state=CLIENT_STATE):
        uid = self.uid[i]
        return {"subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
                "subscriptionExpirationDateTime": "2026-12-01T10:00:00.0000000Z",
                "clientState": state, "changeType": change, "resource": f"Users/{uid}", "tenantId": TENANT_ID,
                "resourceData": {"@odata.type": "#Microsoft.Graph.User", "@odata.id": f"Users/{uid}", "id": uid,
                                 "organizationId": TENANT_ID}}

    def wait_revoked(self, keys, timeout=15):
        def done():
            state = {k["uid"]: k for k in self.sim.state()["keys"]}
            return all(not state[k]["isActive"] for k in keys)
        return wait_until(done, timeout=timeout)

    def test_the_validation_handshake_echoes_the_decoded_token(self):
        token = "Validation: Testing client application reachability for subscription Request-Id: 3b3f <b>&</b>"
        status, headers, body = self.daemon.request(
            "POST", self.hook + "?validationToken=" + urllib.parse.quote(token, safe=""))
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertEqual(body.decode(), token)

    def test_a_deleted_notification_revokes_at_once(self):
        self.graph.delete_user(self.uid[4])
        status, _, body = self.notify([self.notification("deleted", 4)])
        self.assertEqual(status, 202, body)
        self.assertTrue(self.wait_revoked(self.keys_of(4)), self.daemon.output())

    def test_an_updated_notification_runs_the_delta_read(self):
        self.graph.disable_user(self.uid[5])
        self.graph.remove_member(self.palette_users, self.uid[6])
        self.graph.reset_log()
        status, _, body = self.notify([self.notification("updated", 5)])
        self.assertEqual(status, 202, body)
        # poll_interval is 1h and reconcile_interval 5m: only the notification explains this.
        self.assertTrue(self.wait_revoked(self.keys_of(5) | self.keys_of(6)), self.daemon.output())
        deltas = [e for e in self.graph.log() if e["path"].endswith("/delta")]
        self.assertTrue(any("deltatoken" in e["query"] for e in deltas), "an incremental read, from the deltaLink")

    def test_a_forged_notification_does_nothing(self):
        self.graph.delete_user(self.uid[7])
        self.graph.reset_log()
        status, _, body = self.notify([self.notification("deleted", 7, state="forged")])
        self.assertEqual(status, 202)
        self.assertEqual(json.loads(body)["ignored"], 1)
        self.assertFalse(self.wait_revoked(self.keys_of(7), timeout=3))
        self.assertEqual([e for e in self.graph.log() if e["path"].endswith("/delta")], [])
        status, _, _ = self.daemon.request("POST", self.hook, "{not json", {"Content-Type": "application/json"})
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main()
