"""Smoke test of the palette-sim binary: it must behave as reference/palette-api.md
documents Palette, since the daemon's integration tests and the demo trust it.
Run: python3 -m unittest -v test_palette_sim   (PALETTE_SIM_BIN names the binary)."""

import http.client
import time
import unittest
import urllib.parse

from palette_sim import PaletteSim, make_tenant

V1ERROR_FIELDS = {"code", "message", "ref", "details"}


def page(sim, token=None, limit=50):
    path = f"/v1/users?limit={limit}"
    if token:
        path += "&continue=" + urllib.parse.quote(token, safe="")
    status, _, body = sim.request("GET", path)
    assert status == 200, (status, body)
    return body


class PagingTest(unittest.TestCase):
    """A tenant of its own: nothing else may add or delete users under it."""

    @classmethod
    def setUpClass(cls):
        cls.seed = make_tenant(120, 3, seed=5)
        cls.sim = PaletteSim(cls.seed, rate=1000, burst=1000)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def test_users_come_in_three_pages_linked_by_continue(self):
        first = page(self.sim)
        self.assertEqual(len(first["items"]), 50)
        self.assertEqual(first["listmeta"]["count"], 120)
        self.assertEqual(first["listmeta"]["limit"], 50)
        self.assertTrue(first["listmeta"]["continue"])
        second = page(self.sim, first["listmeta"]["continue"])
        self.assertEqual(len(second["items"]), 50)
        self.assertTrue(second["listmeta"]["continue"])
        third = page(self.sim, second["listmeta"]["continue"])
        self.assertEqual(len(third["items"]), 20)
        self.assertEqual(third["listmeta"]["continue"], "")
        uids = [u["metadata"]["uid"] for p in (first, second, third) for u in p["items"]]
        self.assertEqual(uids, [u["uid"] for u in self.seed["users"]])
        user = first["items"][1]
        self.assertEqual(set(user), {"metadata", "spec", "status"})
        self.assertRegex(user["spec"]["emailId"], r"^[a-z-]+\.[a-z-]+\d*@example\.com$")
        self.assertEqual(user["spec"]["roles"], [])
        self.assertIsInstance(user["status"]["isActive"], bool)

    def test_limit_is_capped_at_50(self):
        for limit in (0, 51, 500):
            self.assertEqual(len(page(self.sim, limit=limit)["items"]), 50, limit)
        self.assertEqual(len(page(self.sim, limit=7)["items"]), 7)
        status, _, body = self.sim.request("GET", "/v1/users?continue=bogus")
        self.assertEqual(status, 400)
        self.assertEqual(set(body), V1ERROR_FIELDS)


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.seed = make_tenant(20, 30, seed=3, orphan_keys=2)
        cls.sim = PaletteSim(cls.seed, rate=1000, burst=1000)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def test_user_info_names_self(self):
        status, _, body = self.sim.request("GET", "/v1/users/info")
        self.assertEqual(status, 200)
        self.assertEqual(body, {"orgName": "acme", "tenantUid": self.seed["self"]["tenantUid"],
                                "userUid": self.seed["self"]["userUid"]})

    def test_wrong_or_missing_key_is_401(self):
        for key in ("wrong-key", None):
            status, _, body = self.sim.request("GET", "/v1/apiKeys", api_key=key)
            self.assertEqual(status, 401, key)
            self.assertEqual(set(body), V1ERROR_FIELDS)
        # Header names are case-insensitive.
        status, _, _ = self.sim.request("GET", "/v1/apiKeys", api_key=None, headers={"apikey": self.sim.api_key})
        self.assertEqual(status, 200)

    def test_project_uid_header_is_rejected(self):
        status, _, body = self.sim.request("GET", "/v1/apiKeys", headers={"ProjectUid": "p1"})
        self.assertEqual(status, 400)
        self.assertEqual(set(body), V1ERROR_FIELDS)

    def test_api_keys_have_the_documented_shape(self):
        status, _, body = self.sim.request("GET", "/v1/apiKeys")
        self.assertEqual(status, 200)
        self.assertEqual(set(body), {"items"})  # no listmeta
        key = body["items"][0]
        self.assertEqual(key["metadata"]["deletionTimestamp"], "0001-01-01T00:00:00.000Z")
        self.assertRegex(key["metadata"]["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(key["spec"]["expiry"], r"\.\d{3}Z$")
        self.assertEqual(key["metadata"]["annotations"]["scope"], "tenant")
        self.assertEqual(set(key["spec"]["user"]), {"uid", "firstName", "lastName"})
        self.assertIsInstance(key["status"]["isActive"], bool)

    def test_state_change_needs_an_explicit_boolean(self):
        uid = self.seed["keys"][0]["uid"]
        before = {k["uid"]: k for k in self.sim.state()["keys"]}[uid]["isActive"]
        for body in ({}, {"isActive": "false"}, {"isActive": None}, "not json", ""):
            status, _, err = self.sim.request("PUT", f"/v1/apiKeys/{uid}/state", body=body)
            self.assertEqual(status, 400, body)
            self.assertEqual(set(err), V1ERROR_FIELDS)
        self.assertEqual({k["uid"]: k for k in self.sim.state()["keys"]}[uid]["isActive"], before)

    def test_revoke_reactivate_and_delete(self):
        uid = self.seed["keys"][1]["uid"]
        status, _, _ = self.sim.request("PUT", f"/v1/apiKeys/{uid}/state", body={"isActive": False})
        self.assertEqual(status, 204)
        _, _, key = self.sim.request("GET", f"/v1/apiKeys/{uid}")
        self.assertFalse(key["status"]["isActive"])
        status, _, _ = self.sim.request("PATCH", f"/v1/apiKeys/{uid}", body={"isActive": True})
        self.assertEqual(status, 204)
        self.assertTrue({k["uid"]: k for k in self.sim.state()["keys"]}[uid]["isActive"])
        status, _, _ = self.sim.request("DELETE", f"/v1/apiKeys/{uid}")
        self.assertEqual(status, 204)
        for method, body in (("DELETE", None), ("GET", None), ("PUT", {"isActive": False})):
            path = f"/v1/apiKeys/{uid}" + ("/state" if method == "PUT" else "")
            status, _, err = self.sim.request(method, path, body=body)
            self.assertEqual(status, 404, method)
            self.assertEqual(err["code"], "ResourceNotFound")
        self.assertTrue({k["uid"]: k for k in self.sim.state()["keys"]}[uid]["deleted"])
        _, _, listing = self.sim.request("GET", "/v1/apiKeys")
        self.assertNotIn(uid, [k["metadata"]["uid"] for k in listing["items"]])

    def test_deleted_owner_leaves_keys(self):
        key = self.seed["keys"][2]
        owner = key["ownerUid"]
        if owner == self.seed["self"]["userUid"]:
            self.skipTest("key belongs to self in this seed")
        self.sim.delete_user(owner)
        status, _, _ = self.sim.request("GET", f"/v1/users/{owner}")
        self.assertEqual(status, 404)
        self.assertNotIn(owner, [u["metadata"]["uid"] for u in self.sim.list_all_users()])
        _, _, listing = self.sim.request("GET", "/v1/apiKeys")
        mine = [k for k in listing["items"] if k["metadata"]["uid"] == key["uid"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["spec"]["user"]["uid"], owner)

    def test_unknown_path_is_404(self):
        status, _, body = self.sim.request("GET", "/v1/clusterprofiles")
        self.assertEqual(status, 404)
        self.assertEqual(set(body), V1ERROR_FIELDS)

    def test_control_adds_users_and_keys(self):
        self.sim.add_users([{"uid": "ab" * 12, "email": "new.person@example.com", "firstName": "New",
                             "lastName": "Person", "isActive": True}])
        self.sim.add_keys([{"uid": "cd" * 12, "name": "fresh", "ownerUid": "ab" * 12}])
        status, _, user = self.sim.request("GET", "/v1/users/" + "ab" * 12)
        self.assertEqual(status, 200)
        self.assertEqual(user["spec"]["emailId"], "new.person@example.com")
        status, _, key = self.sim.request("GET", "/v1/apiKeys/" + "cd" * 12)
        self.assertEqual(status, 200)
        self.assertEqual(key["spec"]["user"]["firstName"], "New")
        status, _, _ = self.sim.request("POST", "/__sim/keys", body=[{"name": "no uid"}], api_key=None)
        self.assertEqual(status, 400)


class TeamsTest(unittest.TestCase):
    """GET /v1/teams: v1Team items, paged like users; teams are read-only."""

    def setUp(self):
        seed = make_tenant(3, 1, seed=8)
        self.users = [u["uid"] for u in seed["users"]]
        seed["teams"] = [{"uid": "t%03d" % i, "name": "team-%d" % i, "users": self.users[i % 3:i % 3 + 1],
                          "roles": ["r1"]} for i in range(60)]
        self.sim = PaletteSim(seed, rate=1000, burst=1000)
        self.addCleanup(self.sim.stop)

    def teams_page(self, token=None):
        path = "/v1/teams?limit=50" + ("&continue=" + urllib.parse.quote(token, safe="") if token else "")
        status, _, body = self.sim.request("GET", path)
        self.assertEqual(status, 200, body)
        return body

    def test_teams_come_in_pages_linked_by_continue(self):
        first = self.teams_page()
        self.assertEqual(len(first["items"]), 50)
        self.assertEqual(first["listmeta"]["count"], 60)
        second = self.teams_page(first["listmeta"]["continue"])
        self.assertEqual(len(second["items"]), 10)
        self.assertEqual(second["listmeta"]["continue"], "")
        names = [t["metadata"]["name"] for p in (first, second) for t in p["items"]]
        self.assertEqual(names, ["team-%d" % i for i in range(60)])
        team = first["items"][4]
        self.assertEqual(set(team), {"metadata", "spec", "status"})
        self.assertEqual(team["spec"], {"users": [self.users[1]], "roles": ["r1"], "sources": []})
        status, _, one = self.sim.request("GET", "/v1/teams/t004")
        self.assertEqual((status, one), (200, team))

    def test_control_sets_members_and_deleted_users_leave_teams(self):
        self.sim.add_teams([{"uid": "t000", "name": "team-0", "users": self.users}])
        self.assertEqual(self.teams_page()["items"][0]["spec"]["users"], self.users)
        self.sim.delete_user(self.users[2])
        self.assertEqual(self.teams_page()["items"][0]["spec"]["users"], self.users[:2])
        self.sim.delete_team("t000")
        self.assertEqual(self.teams_page()["listmeta"]["count"], 59)

    def test_team_changes_are_not_served_and_are_logged(self):
        for method in ("PUT", "PATCH", "DELETE"):
            status, _, _ = self.sim.request(method, "/v1/teams/t001", body={})
            self.assertEqual(status, 405, method)
        self.assertEqual([c["method"] for c in self.sim.calls() if c["path"].startswith("/v1/teams")],
                         ["PUT", "PATCH", "DELETE"])


class CallLogTest(unittest.TestCase):
    def test_log_records_requests_in_order_without_secrets(self):
        seed = make_tenant(3, 2)
        with PaletteSim(seed) as sim:
            sim.reset_calls()
            uid = seed["keys"][0]["uid"]
            sim.request("GET", "/v1/users?limit=50")
            sim.request("PUT", f"/v1/apiKeys/{uid}/state", body={"isActive": False})
            sim.request("GET", "/v1/apiKeys", api_key="not-the-key")
            sim.state()  # control requests are not logged
            calls = sim.calls()
            self.assertEqual([(c["method"], c["path"], c["status"]) for c in calls],
                             [("GET", "/v1/users", 200), ("PUT", f"/v1/apiKeys/{uid}/state", 204),
                              ("GET", "/v1/apiKeys", 401)])
            self.assertEqual(calls[0]["query"], "limit=50")
            self.assertEqual(calls[1]["body"], '{"isActive": false}')
            self.assertEqual(calls[1]["headers"]["apikey"], "<redacted>")
            self.assertEqual(calls[2]["headers"]["apikey"], "<wrong>")
            self.assertEqual(calls[1]["headers"]["content-type"], "application/json")
            times = [c["time_ms"] for c in calls]
            self.assertEqual(times, sorted(times))
            self.assertNotIn(sim.api_key, str(calls))
            sim.reset_calls()
            self.assertEqual(sim.calls(), [])
            sim.stop()
            self.assertNotIn(sim.api_key, sim.log())
            self.assertIn("PUT /v1/apiKeys/", sim.log())


class RateLimitTest(unittest.TestCase):
    def test_burst_then_429_per_prefix(self):
        with PaletteSim(make_tenant(2, 1)) as sim:  # Palette's limits: 10/s, burst 50
            statuses = [sim.request("GET", "/v1/users/info")[0] for _ in range(60)]
            self.assertEqual(statuses[:50], [200] * 50)
            self.assertIn(429, statuses[50:])
            status, _, body = sim.request("GET", "/v1/users")  # same prefix, same budget
            self.assertEqual(status, 429)
            self.assertEqual(body["code"], "TooManyRequests")
            self.assertEqual(body["message"], "Too Many Requests, [GET] /v1/users")
            self.assertEqual(sim.request("GET", "/v1/apiKeys")[0], 200)  # another prefix
            sim.state()  # control endpoints are never limited
            time.sleep(0.25)
            self.assertEqual(sim.request("GET", "/v1/users/info")[0], 200)  # refilled at 10/s


class FaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.seed = make_tenant(5, 5)
        cls.sim = PaletteSim(cls.seed, rate=1000, burst=1000)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def tearDown(self):
        self.sim.set_faults()

    def test_drop_closes_the_connection_before_applying(self):
        uid = self.seed["keys"][0]["uid"]
        self.sim.reset_calls()
        self.sim.set_faults(drop_rate=1.0)
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            self.sim.request("PUT", f"/v1/apiKeys/{uid}/state", body={"isActive": False})
        self.assertTrue({k["uid"]: k for k in self.sim.state()["keys"]}[uid]["isActive"])
        self.assertEqual([c["status"] for c in self.sim.calls()], [0])
        self.sim.set_faults()
        self.assertEqual(self.sim.request("GET", "/v1/apiKeys")[0], 200)

    def test_five_xx_and_determinism(self):
        def run():
            self.sim.set_faults(five_xx_rate=0.5, seed=7)
            return [self.sim.request("GET", "/v1/apiKeys")[0] for _ in range(30)]
        first = run()
        self.assertEqual(first, run())
        self.assertTrue(set(first) <= {200, 500, 502, 503})
        self.assertIn(200, first)
        self.assertTrue(set(first) & {500, 502, 503})

    def test_storm_429_with_retry_after(self):
        self.sim.set_faults(storm_429=0.5, retry_after=3)
        status, headers, body = self.sim.request("GET", "/v1/users/info")
        self.assertEqual(status, 429)
        self.assertEqual(headers.get("retry-after"), "3")
        self.assertEqual(body["code"], "TooManyRequests")
        time.sleep(0.6)
        self.assertEqual(self.sim.request("GET", "/v1/users/info")[0], 200)

    def test_latency(self):
        self.sim.set_faults(latency_ms=200)
        t0 = time.monotonic()
        self.assertEqual(self.sim.request("GET", "/v1/users/info")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)

    def test_bad_faults_are_rejected(self):
        status, _, _ = self.sim.request("POST", "/__sim/faults", body={"drop_rate": 2}, api_key=None)
        self.assertEqual(status, 400)
        status, _, _ = self.sim.request("POST", "/__sim/faults", body={"typo": 1}, api_key=None)
        self.assertEqual(status, 400)


class StartupTest(unittest.TestCase):
    def test_bad_seed_exits_with_a_reason(self):
        from palette_sim import PaletteSimError
        with self.assertRaises(PaletteSimError) as ctx:
            PaletteSim({"apiKey": "k", "users": [{"email": "no-uid@example.com"}]})
        self.assertIn("uid", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
