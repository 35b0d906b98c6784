"""type = "keycloak" end to end: the real keywarden binary reads a stand-in Keycloak
realm (keycloak_standin.py: the Admin REST API with first/max paging, both group
shapes, admin events in the server's order, tokens that really expire) and acts
on palette-sim.

Each person of the tenant is a Keycloak user whose email is their Palette email.
Groups: /engineering (no one directly) with the subgroup /engineering/palette-users
(everyone), and the top-level palette-admins (people 0-4). 120 people: the user
listing and palette-users' members are two pages of 100.

`sync` does full reads (read_all). `keywarden run` (KeycloakDaemonTest) follows the
realm's admin events every poll_interval (read_changes) between full reads. The
unit tests (connectors/keycloak/keycloak_source_test.cc) cover each path's corner
cases."""

import json
import os
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace, key_of, mutating_calls, wait_until
from keycloak_standin import KeycloakStandin
from palette_sim import PaletteSim
from tenant import Tenant

CLIENT_ID = "keywarden"
CLIENT_SECRET = "kc-secret-9d2f7a41c6e84b1f"
SOURCE = "corp-kc"


class KeycloakCase(unittest.TestCase):
    n_people = 120
    version = (26, 2)
    admin_events = True
    extra_source = {}

    def setUp(self):
        self.tenant = Tenant(self.n_people, 2 * (self.n_people + 1), api_key=API_KEY, seed=37)
        self.sim = PaletteSim(self.tenant.seed(), rate=200, burst=200)
        self.addCleanup(self.sim.stop)
        self.kc = KeycloakStandin("corp", CLIENT_ID, CLIENT_SECRET, version=self.version[0], minor=self.version[1],
                                  admin_events=self.admin_events)
        self.addCleanup(self.kc.stop)
        self.uid = [self.kc.add_user(p["email"].split("@")[0], p["email"])["id"] for p in self.tenant.people]
        self.eng = self.kc.add_group("engineering")
        self.palette_users = self.kc.add_group("palette-users", parent=self.eng, members=self.uid)
        self.palette_admins = self.kc.add_group("palette-admins", members=self.uid[:5])
        self.ws = Workspace(self.sim.url, safety={"max_revocations": 1000, "max_revocations_percent": 100,
                                                  "max_shrink_percent": 20})
        self.addCleanup(self.ws.cleanup)
        with open(os.path.join(self.ws.dir, "kc-secret"), "w") as f:
            f.write(CLIENT_SECRET + "\n")
        source = {"name": SOURCE, "type": "keycloak", "url": self.kc.url, "realm": "corp", "client_id": CLIENT_ID,
                  "client_secret_file": "kc-secret"}
        source.update(self.extra_source)
        self.ws.sources = [source]
        self.ws.write_config()
        self.addCleanup(self.assert_no_secret_leaked)

    def assert_no_secret_leaked(self):
        tokens = list(self.kc.tokens)
        for text in self.ws.outputs:
            self.assertNotIn(CLIENT_SECRET, text)
            for t in tokens:
                self.assertNotIn(t, text)
        db = self.ws.db_bytes()
        self.assertNotIn(CLIENT_SECRET.encode(), db)

    def keys_of(self, i):
        return {k["uid"] for k in self.tenant.keys_of(self.tenant.people[i])}

    def sync(self):
        self.sim.reset_calls()
        self.kc.reset_requests()
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

    def done_reasons(self):
        return {a["key_uid"]: a["reason"] for a in self.ws.audit() if a["result"] == "done"}


class KeycloakSyncTest(KeycloakCase):
    """Full reads through `sync`."""

    def setUp(self):
        super().setUp()
        self.sync()
        self.assertEqual(self.mutations, [])
        self.assertTrue(self.source_status()["healthy"])

    def assert_revoked(self, i, reason):
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(i))
        reasons = self.done_reasons()
        self.assertEqual({reasons[k] for k in self.keys_of(i)}, {reason})
        self.assertTrue(self.source_status()["healthy"])
        self.sync()
        self.assertEqual(self.mutations, [], "nothing more on the next read")

    def test_full_read_pages_users_groups_and_members(self):
        self.sync()
        reqs = self.kc.requests()
        users = [r for r in reqs if r["path"] == "/admin/realms/corp/users"]
        self.assertEqual(len(users), 2, "120 users, max=100: a full page and a short one")
        self.assertTrue(all("max=100" in r["query"] for r in users))
        members = [r for r in reqs if r["path"] == "/admin/realms/corp/groups/%s/members" % self.palette_users]
        self.assertEqual(len(members), 2)
        self.assertTrue(any(r["path"] == "/admin/realms/corp/groups/%s/children" % self.eng for r in reqs),
                        "26.2 serves subgroups under /children")
        self.assertTrue(any(r["path"] == "/admin/realms/corp/users/count" for r in reqs))
        self.assertTrue(all(r["auth"] == "Bearer" for r in reqs if r["path"].startswith("/admin/")))

    def test_disabled_user_is_revoked(self):
        self.kc.disable(self.uid[0])
        self.assert_revoked(0, "identity_inactive")

    def test_deleted_user_is_revoked(self):
        self.kc.delete_user(self.uid[1])
        self.assert_revoked(1, "identity_deleted")

    def test_removal_from_the_entitled_group_revokes(self):
        self.kc.set_member(self.uid[7], self.palette_users, False)
        self.assert_revoked(7, "not_entitled")

    def test_removal_from_one_of_two_entitled_groups_revokes_nothing(self):
        self.ws.set("policy", entitled_groups=["palette-users", "palette-admins"])
        self.kc.set_member(self.uid[2], self.palette_users, False)
        self.sync()
        self.assertEqual(self.mutations, [])
        self.kc.set_member(self.uid[2], self.palette_admins, False)
        self.assert_revoked(2, "not_entitled")

    def test_return_within_the_grace_reactivates(self):
        self.kc.disable(self.uid[3])
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(3))
        self.kc.enable(self.uid[3])
        self.sync()
        self.assertEqual(self.reactivated(), self.keys_of(3))

    def test_a_subgroup_is_matched_by_its_full_path(self):
        self.ws.set("policy", entitled_groups=["/engineering/palette-users"])
        self.sync()
        self.assertEqual(self.mutations, [], "the same people are entitled by path")
        self.kc.set_member(self.uid[9], self.palette_users, False)
        self.assert_revoked(9, "not_entitled")

    def assert_bad_read_revokes_nothing_then_recovers(self, break_realm, error_part):
        self.kc.disable(self.uid[6])  # a real change, held back while reads fail
        break_realm()
        self.sync()
        self.assertEqual(self.mutations, [], "a bad read revokes nothing")
        s = self.source_status()
        self.assertFalse(s["healthy"])
        self.assertIn(error_part, s["last_error"])
        self.kc.clear_faults()
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(6))
        self.assertTrue(self.source_status()["healthy"])

    def test_a_500_in_the_middle_revokes_nothing(self):
        self.assert_bad_read_revokes_nothing_then_recovers(lambda: self.kc.fail("/users", page=2), "HTTP 500")

    def test_a_short_page_revokes_nothing(self):
        # The first page of users comes back one short (99 of max=100): it ends
        # the listing, and 21 people would look deleted. The listing is checked
        # against /users/count, so the read fails instead.
        self.assert_bad_read_revokes_nothing_then_recovers(lambda: self.kc.truncate("/users", page=1),
                                                           "/users/count")

    def test_a_cut_off_page_revokes_nothing(self):
        self.assert_bad_read_revokes_nothing_then_recovers(
            lambda: self.kc.cut("/groups/%s/members" % self.palette_users, page=2), "giving up")

    def test_a_token_expiring_mid_read_is_renewed(self):
        self.kc.disable(self.uid[5])
        before = self.kc.token_requests
        self.kc.revoke_tokens(after=3)  # inside the user listing
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(5), "no false revocation, and the real one")
        self.assertEqual(self.kc.token_requests - before, 2)
        statuses = [r["status"] for r in self.kc.requests() if r["path"].startswith("/admin/")]
        self.assertEqual(statuses.count(401), 1, statuses)


class KeycloakOlderServerSyncTest(KeycloakSyncTest):
    """The same against a Keycloak 22 realm: subgroups nested, no /children."""

    version = (22, 0)

    def test_full_read_pages_users_groups_and_members(self):
        self.sync()
        reqs = self.kc.requests()
        self.assertFalse(any(r["path"].endswith("/children") for r in reqs))
        self.assertEqual(len([r for r in reqs if r["path"] == "/admin/realms/corp/groups/%s/members"
                              % self.palette_users]), 2)


class KeycloakDaemonTest(KeycloakCase):
    """keywarden run: admin events every second, full reads every 5 minutes."""

    n_people = 12
    extra_source = {"poll_interval": "1s"}

    def setUp(self):
        super().setUp()
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        self.assertEqual(mutating_calls(self.sim.calls()), [])

    def wait_keys(self, keys, active, timeout=20):
        def done():
            state = {k["uid"]: k for k in self.sim.state()["keys"]}
            return all(state[k]["isActive"] == active for k in keys)
        return wait_until(done, timeout=timeout)

    def let_the_first_poll_finish(self):
        """The first poll reads the events of the setup (users created, members
        added) and then looks those users up, as they are when it gets to them:
        under load that can be after the changes a test makes next. A second
        admin-events request means the first poll, lookups and all, is over, so
        the changes below are found by a later poll's events."""
        def seen():
            return any(r["path"].endswith("/admin-events") and r["status"] == 200 for r in self.kc.requests())
        self.assertTrue(wait_until(seen))
        self.kc.reset_requests()
        self.assertTrue(wait_until(seen))
        self.kc.reset_requests()

    def full_reads(self, reqs):
        return [r for r in reqs if r["path"] == "/admin/realms/corp/users"]

    def test_admin_events_revoke_without_a_full_read(self):
        self.let_the_first_poll_finish()
        self.kc.disable(self.uid[0])                             # a plain UPDATE
        self.kc.set_member(self.uid[1], self.palette_users, False)  # GROUP_MEMBERSHIP DELETE
        self.assertTrue(self.wait_keys(self.keys_of(0) | self.keys_of(1), active=False), self.daemon.output())
        reasons = self.done_reasons()
        self.assertEqual({reasons[k] for k in self.keys_of(0)}, {"identity_inactive"})
        self.assertEqual({reasons[k] for k in self.keys_of(1)}, {"not_entitled"})
        reqs = self.kc.requests()
        self.assertEqual(self.full_reads(reqs), [], "the admin events did it")
        events = [r for r in reqs if r["path"] == "/admin/realms/corp/admin-events"]
        self.assertTrue(events)
        self.assertTrue(all("direction=asc" in r["query"] for r in events))
        # Each later poll asks from where the last one ended; no event is applied twice.
        self.sim.reset_calls()
        time.sleep(2.5)
        self.assertEqual(mutating_calls(self.sim.calls()), [])

    def test_a_change_made_while_keywarden_was_down_is_caught_after_restart(self):
        self.assertTrue(wait_until(lambda: any(r["path"].endswith("/admin-events") for r in self.kc.requests())))
        self.daemon.stop()
        self.kc.disable(self.uid[2])
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        self.assertTrue(self.wait_keys(self.keys_of(2), active=False), self.daemon.output())


class KeycloakOlderServerDaemonTest(KeycloakDaemonTest):
    """Keycloak 24: dateFrom only as yyyy-MM-dd, newest first, no event ids."""

    version = (24, 0)

    def test_admin_events_revoke_without_a_full_read(self):
        self.let_the_first_poll_finish()
        self.kc.disable(self.uid[0])
        self.kc.delete_user(self.uid[1])
        self.assertTrue(self.wait_keys(self.keys_of(0) | self.keys_of(1), active=False), self.daemon.output())
        reasons = self.done_reasons()
        self.assertEqual({reasons[k] for k in self.keys_of(0)}, {"identity_inactive"})
        self.assertEqual({reasons[k] for k in self.keys_of(1)}, {"identity_deleted"})
        reqs = self.kc.requests()
        self.assertEqual(self.full_reads(reqs), [])
        dates = {r["query"].split("dateFrom=")[1].split("&")[0] for r in reqs
                 if r["path"] == "/admin/realms/corp/admin-events" and r["status"] == 200}
        self.assertTrue(dates and all(len(d) == 10 and d[4] == "-" for d in dates), dates)


class KeycloakNoAdminEventsDaemonTest(KeycloakCase):
    """A realm that records no admin events: full reads every poll_interval."""

    n_people = 12
    admin_events = False
    extra_source = {"poll_interval": "1s"}

    def test_changes_are_caught_by_full_reads_every_poll_interval(self):
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        self.kc.reset_requests()
        self.kc.disable(self.uid[4])
        self.assertTrue(wait_until(lambda: all(
            k["isActive"] is False for k in self.sim.state()["keys"] if k["uid"] in self.keys_of(4)), timeout=20),
            self.daemon.output())
        reqs = self.kc.requests()
        self.assertEqual([r for r in reqs if r["path"].endswith("/admin-events")], [])
        self.assertTrue([r for r in reqs if r["path"] == "/admin/realms/corp/users"], "a full read found it")
        self.assertEqual(self.source_status()["admin_events"],
                         "not recorded by the realm; full reads every poll_interval")


if __name__ == "__main__":
    unittest.main()
