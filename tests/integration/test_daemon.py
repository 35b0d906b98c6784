"""keywarden run: SCIM pushes replayed exactly as Entra ID and Okta send them,
bad input, durability across kill -9, SIGHUP and SIGTERM, health and metrics.
The real binary against palette-sim."""

import json
import os
import re
import signal
import socket
import sqlite3
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace, key_of, mutating_calls, wait_until
from palette_sim import PaletteSim
from scim_group_load import KeepAlive
from tenant import Tenant

SCIM_TOKEN = "scim-bearer-7d1f0e2c9a4b4e0f8f3a"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ScimDaemonTest(unittest.TestCase):
    """A daemon with one SCIM source; every test gets a fresh tenant."""

    entitled_groups = []

    def setUp(self):
        self.t = Tenant(8, 16, api_key=API_KEY, seed=21)
        self.sim = PaletteSim(self.t.seed(), rate=100, burst=100)
        self.addCleanup(self.sim.stop)
        self.ws = Workspace(self.sim.url, policy={"entitled_groups": self.entitled_groups},
                            safety={"max_revocations": 100, "max_revocations_percent": 100})
        self.addCleanup(self.ws.cleanup)
        with open(os.path.join(self.ws.dir, "scim.token"), "w") as f:
            f.write(SCIM_TOKEN + "\n")
        self.ws.sources = [{"name": "corp-scim", "type": "scim", "token_file": "scim.token"}]
        self.ws.write_config()
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())

    def scim(self, method, path, body=None, token=SCIM_TOKEN, content_type="application/scim+json"):
        headers = {"Content-Type": content_type, "Accept": "application/scim+json"}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        status, hdrs, payload = self.daemon.request(method, "/scim/v2/corp-scim" + path, body, headers)
        return status, hdrs, (json.loads(payload) if payload else None)

    def keys_of(self, i):
        return {k["uid"] for k in self.t.keys_of(self.t.people[i])}

    def wait_revoked(self, keys, timeout=10):
        def done():
            state = {k["uid"]: k for k in self.sim.state()["keys"]}
            return all(not state[k]["isActive"] for k in keys)
        return wait_until(done, timeout=timeout)

    def create_user(self, i, **extra):
        p = self.t.people[i]
        body = {"schemas": [USER_SCHEMA], "userName": p["email"], "active": True,
                "emails": [{"primary": True, "type": "work", "value": p["email"]}],
                "name": {"givenName": p["firstName"], "familyName": p["lastName"]}}
        body.update(extra)
        status, _, created = self.scim("POST", "/Users", body)
        self.assertEqual(status, 201, created)
        return created["id"]


class EntraSequenceTest(ScimDaemonTest):
    def test_entra_documented_sequence_revokes_at_once(self):
        email = self.t.people[1]["email"]
        # Entra matches before it creates.
        status, hdrs, listing = self.scim("GET", "/Users?filter=" + f'userName eq "{email}"'.replace(" ", "%20").replace('"', "%22"))
        self.assertEqual(status, 200)
        self.assertIn("application/scim+json", hdrs["content-type"])
        self.assertEqual(listing["schemas"], ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        self.assertEqual((listing["totalResults"], listing["Resources"]), (0, []))
        user_id = self.create_user(1, externalId="e-1")
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        # The default (non-compliant) disable: "Replace" with the string "False".
        status, _, _ = self.scim("PATCH", f"/Users/{user_id}", {
            "schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
        self.assertIn(status, (200, 204))
        self.assertTrue(self.wait_revoked(self.keys_of(1)), self.daemon.output())
        calls = mutating_calls(self.sim.calls())
        self.assertEqual({key_of(c) for c in calls}, self.keys_of(1))
        for c in calls:
            self.assertEqual(json.loads(c["body"]), {"isActive": False})
        # Disabling twice is idempotent.
        status, _, _ = self.scim("PATCH", f"/Users/{user_id}", {
            "schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
        self.assertIn(status, (200, 204))
        # A hard delete later: 204, then 404.
        status, _, _ = self.scim("DELETE", f"/Users/{user_id}")
        self.assertEqual(status, 204)
        status, _, err = self.scim("GET", f"/Users/{user_id}")
        self.assertEqual(status, 404)
        self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", err["schemas"])
        metrics = self.daemon.request("GET", "/metrics")[2].decode()
        self.assertRegex(metrics, r"keywarden_push_to_action_seconds_count \d+")


class EntraGroupTest(ScimDaemonTest):
    entitled_groups = ["palette-users"]

    def test_group_member_removal_by_value_array_revokes(self):
        ids = [self.create_user(i) for i in (1, 2)]
        status, _, group = self.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "palette-users",
                                                           "members": []})
        self.assertEqual(status, 201)
        status, _, _ = self.scim("PATCH", f"/Groups/{group['id']}", {"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "Add", "path": "members", "value": [{"$ref": None, "value": ids[0]}, {"$ref": None, "value": ids[1]}]}]})
        self.assertIn(status, (200, 204))
        status, _, listing = self.scim(
            "GET", "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22palette-users%22")
        self.assertEqual(listing["totalResults"], 1)
        self.assertNotIn("members", listing["Resources"][0])
        self.assertEqual(mutating_calls(self.sim.calls()), [])
        status, _, _ = self.scim("PATCH", f"/Groups/{group['id']}", {"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "Remove", "path": "members", "value": [{"value": ids[0]}]}]})
        self.assertIn(status, (200, 204))
        self.assertTrue(self.wait_revoked(self.keys_of(1)), self.daemon.output())
        time.sleep(0.3)
        self.assertEqual({key_of(c) for c in mutating_calls(self.sim.calls())}, self.keys_of(1))
        audit = self.ws.audit()
        self.assertEqual({a["reason"] for a in audit}, {"not_entitled"})


class OktaSequenceTest(ScimDaemonTest):
    entitled_groups = ["palette-users"]

    def test_okta_documented_sequence(self):
        p1, p2, p3 = (self.t.people[i]["email"] for i in (1, 2, 3))
        status, _, listing = self.scim(
            "GET", "/Users?filter=userName%20eq%20%22" + p1.replace("@", "%40") + "%22&startIndex=1&count=100")
        self.assertEqual(status, 200)
        for field in ("totalResults", "startIndex", "itemsPerPage"):
            self.assertIsInstance(listing[field], int)
        ids = {}
        for i in (1, 2, 3):
            ids[i] = self.create_user(i, externalId=f"00u{i}", password="t1meMa$heen", groups=[])
        # A second POST of the same userName is a 409 with the error schema.
        status, _, err = self.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": p1, "active": True})
        self.assertEqual(status, 409)
        self.assertEqual(err.get("scimType"), "uniqueness")
        # Group push: create, then remove-by-filter and add in one request.
        status, _, group = self.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "palette-users",
                                                           "members": [{"value": ids[1]}, {"value": ids[2]}]})
        self.assertEqual(status, 201)
        status, _, _ = self.scim("PATCH", f"/Groups/{group['id']}", {"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "remove", "path": f'members[value eq "{ids[2]}"]'},
            {"op": "add", "path": "members", "value": [{"value": ids[3], "display": p3}]}]})
        self.assertIn(status, (200, 204))
        self.assertTrue(self.wait_revoked(self.keys_of(2)), self.daemon.output())
        # OIN deactivation: the path-less replace.
        status, _, _ = self.scim("PATCH", f"/Users/{ids[1]}", {"schemas": [PATCH_SCHEMA],
                                                                "Operations": [{"op": "replace", "value": {"active": False}}]})
        self.assertIn(status, (200, 204))
        self.assertTrue(self.wait_revoked(self.keys_of(1)), self.daemon.output())
        # AIW deactivation: a PUT of the whole user with "active": false.
        status, _, user3 = self.scim("GET", f"/Users/{ids[3]}")
        user3["active"] = False
        status, _, _ = self.scim("PUT", f"/Users/{ids[3]}", user3)
        self.assertEqual(status, 200)
        self.assertTrue(self.wait_revoked(self.keys_of(3)), self.daemon.output())
        time.sleep(0.3)
        expected = self.keys_of(1) | self.keys_of(2) | self.keys_of(3)
        self.assertEqual({key_of(c) for c in mutating_calls(self.sim.calls())}, expected)
        reasons = {a["key_uid"]: a["reason"] for a in self.ws.audit() if a["result"] == "done"}
        for k in self.keys_of(2):
            self.assertEqual(reasons[k], "not_entitled")
        for k in self.keys_of(1) | self.keys_of(3):
            self.assertEqual(reasons[k], "identity_inactive")


class BadInputTest(ScimDaemonTest):
    def test_wrong_or_missing_token_gets_401_and_stores_nothing(self):
        body = {"schemas": [USER_SCHEMA], "userName": self.t.people[1]["email"], "active": True}
        for token in (None, "wrong-token", SCIM_TOKEN + "x", ""):
            status, hdrs, err = self.scim("POST", "/Users", body, token=token)
            self.assertEqual(status, 401, token)
        status, _, listing = self.scim("GET", "/Users")
        self.assertEqual(listing["totalResults"], 0)
        self.assertNotIn(SCIM_TOKEN, self.daemon.output())

    def test_malformed_oversized_and_unknown_requests(self):
        status, _, err = self.scim("POST", "/Users", "{\"userName\": ")
        self.assertEqual(status, 400)
        self.assertEqual(err.get("scimType"), "invalidSyntax")
        status, _, _ = self.daemon.request("POST", "/scim/v2/corp-scim/Users", b"x" * (2 * 1024 * 1024),
                                           {"Authorization": "Bearer " + SCIM_TOKEN,
                                            "Content-Type": "application/scim+json"})
        self.assertEqual(status, 413)
        status, _, _ = self.daemon.request("GET", "/scim/v2/no-such-source/Users",
                                           headers={"Authorization": "Bearer " + SCIM_TOKEN})
        self.assertEqual(status, 404)
        status, _, _ = self.daemon.request("POST", "/hooks/okta/corp-scim", b"{}")
        self.assertEqual(status, 404)
        # A wrong schema URN is tolerated (OneLogin sends SCIM 1.0 URNs).
        user_id = self.create_user(2, schemas=["urn:scim:schemas:core:1.0"])
        self.assertTrue(user_id)
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)

    def test_a_slow_client_is_cut_off_and_the_daemon_keeps_serving(self):
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        s.sendall(b"POST /scim/v2/corp-scim/Users HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(30)
        started = time.time()
        data = s.recv(4096)
        s.close()
        self.assertLess(time.time() - started, 25)
        self.assertTrue(data == b"" or b"408" in data.split(b"\r\n")[0], data)
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)


class DurabilityTest(ScimDaemonTest):
    def test_kill_9_right_after_a_2xx_loses_nothing(self):
        user_id = self.create_user(4)
        self.sim.set_faults(latency_ms=3000)  # the revoke cannot finish before the kill
        status, _, _ = self.scim("PATCH", f"/Users/{user_id}", {
            "schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]})
        self.assertIn(status, (200, 204))
        self.daemon.proc.send_signal(signal.SIGKILL)
        self.daemon.proc.wait()
        self.sim.set_faults()
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.wait_revoked(self.keys_of(4), timeout=20), self.daemon.output())
        status, _, user = self.scim("GET", f"/Users/{user_id}")
        self.assertEqual(user["active"], False)

    def test_sighup_with_a_broken_config_keeps_the_old_one(self):
        with open(self.ws.config_path) as f:
            good = f.read()
        with open(self.ws.config_path, "w") as f:
            f.write(good + "\n[policy]\nnot_a_key = 1\n")
        self.daemon.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "reload refused" in self.daemon.output(), timeout=10), self.daemon.output())
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)
        # Still working on the old config: a push still revokes.
        user_id = self.create_user(5)
        self.scim("PATCH", f"/Users/{user_id}", {"schemas": [PATCH_SCHEMA],
                                                   "Operations": [{"op": "replace", "value": {"active": False}}]})
        self.assertTrue(self.wait_revoked(self.keys_of(5)), self.daemon.output())
        with open(self.ws.config_path, "w") as f:
            f.write(good)
        self.daemon.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "config reloaded" in self.daemon.output(), timeout=10))


class SigtermTest(unittest.TestCase):
    def test_sigterm_while_palette_is_unreachable_exits_at_once(self):
        # Found by running the daemon for real: with Palette gone, a reconcile
        # sits in the Palette client's retry backoff (8 attempts, about 20 s),
        # and SIGTERM waited for all of it. Now stop() ends those waits.
        t = Tenant(5, 10, api_key=API_KEY, seed=23)
        sim = PaletteSim(t.seed())
        ws = Workspace(sim.url, daemon={"reconcile_interval": "2s"})
        self.addCleanup(ws.cleanup)
        from tenant import identity
        ws.write_identities([identity(p) for p in t.people])
        daemon = DaemonProcess(ws)
        self.addCleanup(daemon.stop)
        self.assertTrue(daemon.wait_ready(), daemon.output())
        sim.stop()
        time.sleep(3)  # a reconcile (every 2 s) is now retrying against the dead endpoint
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.proc.wait(timeout=30), 0, daemon.output()[-2000:])
        self.assertLess(time.monotonic() - started, 5.0, daemon.output()[-2000:])

    def test_sigterm_during_a_reconcile_leaves_nothing_half_done(self):
        t = Tenant(30, 60, api_key=API_KEY, seed=22)
        sim = PaletteSim(t.seed(), rate=1000, burst=1000)
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url, palette={"requests_per_second": 50})
        self.addCleanup(ws.cleanup)
        from tenant import identity
        ws.write_identities([identity(p, active=False) for p in t.people])
        sim.set_faults(latency_ms=100)
        daemon = DaemonProcess(ws)
        self.assertTrue(wait_until(lambda: len(mutating_calls(sim.calls())) >= 5, timeout=30), daemon.output())
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.proc.wait(timeout=30), 0)
        sim.set_faults()
        before = {key_of(c) for c in mutating_calls(sim.calls())}
        self.assertLess(len(before), 60)
        ws.run("sync", "--yes", check=0)
        per_key = {}
        for c in mutating_calls(sim.calls()):
            per_key[key_of(c)] = per_key.get(key_of(c), 0) + 1
        leavers = {k["uid"] for k in t.keys if k["ownerUid"] != t.self_user["uid"]}
        self.assertEqual(set(per_key), leavers)
        self.assertEqual(max(per_key.values()), 1, "nothing sent twice")
        status = json.loads(ws.run("status", "--json", check=0).stdout)
        self.assertEqual(status["pending_actions"], [])


class LargeReadTest(unittest.TestCase):
    """A first full read of a large directory is seconds of SQLite work. The
    I/O thread must keep answering health checks and pushes meanwhile, and a
    push must not wait for the read's write lock (it would hit the busy
    timeout on a slow disk)."""

    PEOPLE = 80000

    def large_directory(self):
        """A workspace with a file source of PEOPLE people and a SCIM source."""
        t = Tenant(8, 16, api_key=API_KEY, seed=23)
        sim = PaletteSim(t.seed(), rate=1000, burst=1000)
        self.addCleanup(sim.stop)
        ws = Workspace(sim.url, daemon={"log_level": "info"},
                       safety={"max_revocations": 100, "max_revocations_percent": 100})
        self.addCleanup(ws.cleanup)
        from tenant import identity
        users = [identity(p) for p in t.people]
        users += [{"id": f"big-{i:06d}", "userName": f"u{i}@big.example", "email": f"u{i}@big.example",
                   "active": True, "groups": ["palette-users", f"team-{i % 97}", "staff", "everyone"]}
                  for i in range(self.PEOPLE)]
        ws.write_identities(users)
        with open(os.path.join(ws.dir, "scim.token"), "w") as f:
            f.write(SCIM_TOKEN)
        ws.sources.append({"name": "corp-scim", "type": "scim", "token_file": "scim.token"})
        ws.write_config()
        return ws

    def test_sigterm_while_the_read_is_written_on_another_thread_waits_for_it(self):
        ws = self.large_directory()
        daemon = DaemonProcess(ws)
        self.addCleanup(daemon.stop)
        db = os.path.join(ws.dir, "state", "keywarden.db")

        def writing():
            # Its first chunks are committed, so the pool thread is writing the rest.
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                    return conn.execute("SELECT count(*) FROM identities").fetchone()[0] > 0
            except sqlite3.Error:
                return False
        self.assertTrue(wait_until(writing, timeout=60, interval=0.01), daemon.output()[-2000:])
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.proc.wait(timeout=120), 0, daemon.output()[-2000:])
        out = daemon.output()
        self.assertIn("keywarden stopped", out)
        # The signal came mid-write; the write was finished, not cut off.
        self.assertIn("reconcile finished", out)
        self.assertLess(out.index("stopping"), out.index("reconcile finished"))
        status = json.loads(ws.run("status", "--json", check=0).stdout)
        self.assertEqual(status["pending_actions"], [])

    def test_health_checks_and_pushes_are_served_during_a_large_first_read(self):
        ws = self.large_directory()
        daemon = DaemonProcess(ws)
        self.addCleanup(daemon.stop)
        slowest = {"healthz": 0.0, "push": 0.0}
        pushed = 0
        deadline = time.time() + 120
        while "reconcile finished" not in daemon.output() and time.time() < deadline:
            start = time.monotonic()
            self.assertEqual(daemon.request("GET", "/healthz", timeout=60)[0], 200)
            slowest["healthz"] = max(slowest["healthz"], time.monotonic() - start)
            body = {"schemas": [USER_SCHEMA], "userName": f"pushed-{pushed}@example.com", "active": True}
            start = time.monotonic()
            status, _, payload = daemon.request("POST", "/scim/v2/corp-scim/Users", body, timeout=60,
                                                headers={"Authorization": "Bearer " + SCIM_TOKEN,
                                                         "Content-Type": "application/scim+json"})
            self.assertEqual(status, 201, payload)
            slowest["push"] = max(slowest["push"], time.monotonic() - start)
            pushed += 1
            time.sleep(0.01)
        match = re.search(r"reconcile finished.*seconds=([\d.]+)", daemon.output())
        self.assertIsNotNone(match, daemon.output()[-2000:])
        seconds = float(match.group(1))
        self.assertGreater(seconds, 0.5, "the read was too quick to show anything; make PEOPLE larger")
        # Served all along: each wait is a small part of the read, not all of it.
        for what, waited in slowest.items():
            self.assertLess(waited, 0.25 * seconds, f"a {what} waited {waited:.2f} s during a {seconds:.2f} s reconcile")
        self.assertGreater(pushed, 5)
        status, _, payload = daemon.request("GET", "/scim/v2/corp-scim/Users?count=1",
                                            headers={"Authorization": "Bearer " + SCIM_TOKEN})
        self.assertEqual(json.loads(payload)["totalResults"], pushed)


class EndpointsTest(ScimDaemonTest):
    def test_health_readiness_and_metrics(self):
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)
        status, hdrs, body = self.daemon.request("GET", "/readyz")
        self.assertEqual(status, 200)
        self.assertTrue(json.loads(body)["ready"])
        status, hdrs, body = self.daemon.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", hdrs["content-type"])
        text = body.decode()
        for name in ("keywarden_actions_total", "keywarden_source_up", "keywarden_source_last_success_timestamp_seconds",
                     "keywarden_quarantined_plans", "keywarden_http_requests_total", "keywarden_push_to_action_seconds",
                     "keywarden_reconcile_duration_seconds"):
            self.assertIn("# TYPE " + name, text)
        self.assertIn('keywarden_http_requests_total{code="200",route="readyz"}', text)
        self.assertNotIn(API_KEY, text)
        self.assertNotIn(SCIM_TOKEN, text)
        self.assertEqual(self.daemon.request("GET", "/nope")[0], 404)

    def metric(self, text, name):
        match = re.search("^" + re.escape(name) + r" (\S+)$", text, re.M)
        return float(match.group(1)) if match else None

    def test_wal_checkpoints_run_on_the_checkpointer_thread_not_on_the_pushes(self):
        # Each created user is one commit of a few WAL pages: a few hundred
        # take the WAL past the 1,000 pages that wake the checkpointer.
        client = KeepAlive(self.daemon.port, SCIM_TOKEN)
        self.addCleanup(client.close)
        for i in range(700):
            status, payload = client.request("POST", "/scim/v2/corp-scim/Users", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"wal{i}@example.com"})
            self.assertEqual(status, 201, payload)
        text = self.daemon.request("GET", "/metrics")[2].decode()
        self.assertIn("# TYPE keywarden_store_checkpoints_total counter", text)
        self.assertIn("# TYPE keywarden_store_wal_pages gauge", text)
        self.assertGreaterEqual(self.metric(text, 'keywarden_store_checkpoints_total{on="checkpointer"}'), 1, text)
        self.assertEqual(self.metric(text, 'keywarden_store_checkpoints_total{on="writer"}'), 0)
        self.assertEqual(self.metric(text, "keywarden_store_checkpoint_failures_total"), 0)
        self.assertLess(self.metric(text, "keywarden_store_wal_pages"), 8000)

    def test_the_daemons_threads_are_named_for_what_they_do(self):
        # top -H, ps -L, perf and gdb show these names (docs/operations.md).
        tasks = f"/proc/{self.daemon.proc.pid}/task"
        names = set()
        for tid in os.listdir(tasks):
            with open(os.path.join(tasks, tid, "comm")) as f:
                names.add(f.read().strip())
        for name in ("keywarden", "kw-store", "kw-store-sync", "kw-checkpoint"):
            self.assertIn(name, names)


class NotReadyTest(unittest.TestCase):
    def test_readyz_is_503_with_a_reason_while_palette_is_unreachable(self):
        ws = Workspace("http://127.0.0.1:9", palette={"timeout": "2s"})
        self.addCleanup(ws.cleanup)
        ws.write_identities([{"id": "1", "email": "a@example.com", "groups": ["palette-users"]}])
        daemon = DaemonProcess(ws)
        self.addCleanup(daemon.stop)
        status, _, body = daemon.request("GET", "/readyz")
        self.assertEqual(status, 503)
        self.assertIn("reason", json.loads(body))
        self.assertEqual(daemon.request("GET", "/healthz")[0], 200)


if __name__ == "__main__":
    unittest.main()
