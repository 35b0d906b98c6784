"""type = "ssf" end to end: the real keywarden binary takes Security Event Tokens
from a stand-in Shared Signals transmitter (ssf_standin.py, signing with the
openssl CLI) and acts on palette-sim. The directory is a `file` source; the
transmitter only says who left.

Push (RFC 8935): an account-disabled SET revokes at once (RS256, PS256 and
ES256); every refusal SPEC §8.1 lists is a 400 with its RFC 8935 `err` that
stores nothing; a replayed jti is acknowledged and not applied twice, also
after a restart; a key rotated at the transmitter is trusted once the
once-a-minute JWKS re-fetch allows; a paused stream keeps the source unhealthy
until it is enabled again. Poll (RFC 8936): the SET is applied, and its jti
acknowledged in a later poll, after the commit; a kill -9 before the
acknowledgement reaches the transmitter applies it once and acknowledges it
after the restart."""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import sqlite3
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace, key_of, wait_until
from palette_sim import PaletteSim
from ssf_standin import SSF, EcKey, RsaKey, SsfStandin, b64url
from tenant import Tenant, identity

SOURCE = "corp-ssf"
PUSH_TOKEN = "ssf-push-token-6a1e9f0c3b7d4e28"
MGMT_TOKEN = "ssf-mgmt-token-2c8d5b1a9e7f3064"
AUDIENCE = "https://keywarden.example.com/ssf/corp-ssf"


class SsfTestBase(unittest.TestCase):
    delivery = "push"

    def setUp(self):
        self.tenant = Tenant(6, 13, api_key=API_KEY, seed=31)
        self.sim = PaletteSim(self.tenant.seed(), rate=60, burst=60)
        self.addCleanup(self.sim.stop)
        self.transmitter = SsfStandin(audience=AUDIENCE, token=MGMT_TOKEN)
        self.addCleanup(self.transmitter.stop)

        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        self.ws.write_identities([identity(p) for p in self.tenant.people])
        for name, value in (("ssf-push-token", PUSH_TOKEN), ("ssf-token", MGMT_TOKEN)):
            with open(os.path.join(self.ws.dir, name), "w") as f:
                f.write(value + "\n")
        source = {"name": SOURCE, "type": "ssf", "issuer": self.transmitter.issuer, "audience": AUDIENCE,
                  "delivery": self.delivery, "token_file": "ssf-token", "poll_interval": "1s"}
        if self.delivery == "push":
            source.update({"receiver_url": "http://127.0.0.1:9/ssf/" + SOURCE, "push_token_file": "ssf-push-token"})
        self.ws.sources.append(source)
        self.ws.write_config()
        self.ws.run("sync", "--yes", check=0)
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(lambda: self.daemon.stop())  # whichever daemon runs by then
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        # The keys come from the JWKS the first upkeep fetches.
        self.assertTrue(wait_until(lambda: ("GET", "/jwks") in self.transmitter.requests, timeout=30),
                        self.daemon.output())
        self.sim.reset_calls()

    def tearDown(self):
        for text in self.ws.outputs:
            self.assertNotIn(PUSH_TOKEN, text)
            self.assertNotIn(MGMT_TOKEN, text)

    def revoked_keys(self):
        return {key_of(c) for c in self.sim.calls()
                if c["method"] == "PUT" and json.loads(c["body"] or "{}") == {"isActive": False}}

    def keys_of(self, person):
        return {k["uid"] for k in self.tenant.keys_of(person)}

    def push(self, token, authorization="Bearer " + PUSH_TOKEN):
        status, _, body = self.daemon.request("POST", "/ssf/" + SOURCE, body=token, headers={
            "Content-Type": "application/secevent+jwt", "Accept": "application/json",
            "Authorization": authorization})
        return status, body

    def disabled(self, person, **overrides):
        return self.transmitter.claims("https://schemas.openid.net/secevent/risc/event-type/account-disabled",
                                       {"format": "email", "email": person["email"]}, **overrides)

    def enabled(self, person):
        return self.transmitter.claims("https://schemas.openid.net/secevent/risc/event-type/account-enabled",
                                       {"format": "email", "email": person["email"]})

    def reactivated_keys(self):
        return {key_of(c) for c in self.sim.calls()
                if c["method"] == "PUT" and json.loads(c["body"] or "{}") == {"isActive": True}}

    def stored_event_ids(self):
        db = sqlite3.connect(os.path.join(self.ws.dir, "state", "keywarden.db"), timeout=10)
        try:
            return {row[0] for row in db.execute("SELECT event_id FROM events WHERE source = ?", (SOURCE,))}
        finally:
            db.close()

    def stored_health(self, db):
        row = db.execute("SELECT healthy FROM source_health WHERE source = ?", (SOURCE,)).fetchone()
        return bool(row and row[0])

    def source_status(self):
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        return next(s for s in status["sources"] if s["name"] == SOURCE)

    def source_up(self):
        _, _, body = self.daemon.request("GET", "/metrics")
        match = re.search(r'^keywarden_source_up\{source="%s"\} (\S+)$' % SOURCE, body.decode(), re.M)
        return float(match.group(1)) if match else None

    def metric(self, name, **labels):
        """The value of one /metrics sample of this source, or None when it is not there."""
        _, _, body = self.daemon.request("GET", "/metrics")
        labels = dict(labels, source=SOURCE)
        wanted = ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))
        for line in body.decode().splitlines():
            if line.startswith(name + "{" + wanted + "} "):
                return float(line.split(" ")[1])
        return None

    def healthy_everywhere(self, healthy):
        """status --json and keywarden_source_up agree that the source is (un)healthy."""
        return self.source_status()["healthy"] == healthy and self.source_up() == (1.0 if healthy else 0.0)


class SsfPushTest(SsfTestBase):
    delivery = "push"

    def test_account_disabled_revokes_at_once(self):
        person = self.tenant.people[0]
        status, body = self.push(self.transmitter.sign(self.disabled(person)))
        self.assertEqual(status, 202, body)
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=10),
                        self.daemon.output())
        self.assertEqual(self.revoked_keys(), self.keys_of(person))

    def test_bad_signature_is_invalid_key_and_changes_nothing(self):
        person = self.tenant.people[1]
        token = self.transmitter.sign(self.disabled(person))
        head, payload, signature = token.split(".")
        forged = head + "." + payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
        status, body = self.push(forged)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["err"], "invalid_key")
        status, body = self.push(self.transmitter.sign(self.disabled(person)), authorization="Bearer wrong")
        self.assertEqual(status, 401)
        self.daemon.request("POST", "/ssf/" + SOURCE, body="", headers={})  # and an empty one
        # A good SET for someone else is applied, so the daemon did process pushes.
        other = self.tenant.people[2]
        self.assertEqual(self.push(self.transmitter.sign(self.disabled(other)))[0], 202)
        self.assertTrue(wait_until(lambda: self.keys_of(other) <= self.revoked_keys(), timeout=10))
        self.assertEqual(self.revoked_keys() & self.keys_of(person), set())

    def test_replayed_jti_is_acknowledged_and_applied_once(self):
        person = self.tenant.people[3]
        token = self.transmitter.sign(self.disabled(person))
        self.assertEqual(self.push(token)[0], 202)
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=10))
        self.assertEqual(self.push(token)[0], 202)
        # The person comes back: keywarden reactivates the keys it revoked. Were the old
        # account-disabled SET applied again, it would revoke them a second time.
        self.assertEqual(self.push(self.transmitter.sign(self.enabled(person)))[0], 202)
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.reactivated_keys(), timeout=10),
                        self.daemon.output())
        self.daemon.signal(signal.SIGKILL)
        self.daemon.proc.wait()
        self.daemon.stop()
        self.daemon = DaemonProcess(self.ws)
        self.assertTrue(self.daemon.wait_ready())
        self.assertTrue(wait_until(lambda: ("GET", "/jwks") in self.transmitter.requests[-20:], timeout=30))
        status, body = self.push(token)  # also after a restart
        self.assertEqual(status, 202, body)
        time.sleep(2)  # a targeted reconcile would have revoked by now
        revokes = [c for c in self.sim.calls() if c["method"] == "PUT" and key_of(c) in self.keys_of(person)
                   and json.loads(c["body"] or "{}") == {"isActive": False}]
        self.assertEqual(len(revokes), len(self.keys_of(person)), self.daemon.output())
        audit = [e for e in self.ws.audit() if e.get("action") == "revoke"]
        self.assertEqual(len(audit), len(self.keys_of(person)))

    def test_rs256_ps256_and_es256_are_accepted(self):
        # Keys the transmitter publishes beside its RS256 one; the daemon fetched only that
        # JWKS, so these come in at the once-a-minute re-fetch. A fresh daemon reads them at start.
        ps = self.transmitter.add_key(RsaKey(self.transmitter.folder, "ps-1", alg="PS256"))
        ec = self.transmitter.add_key(EcKey(self.transmitter.folder, "ec-1"))
        self.daemon.stop()
        self.transmitter.requests.clear()
        self.daemon = DaemonProcess(self.ws)
        self.assertTrue(self.daemon.wait_ready())
        self.assertTrue(wait_until(lambda: ("GET", "/jwks") in self.transmitter.requests, timeout=30))
        for person, key in zip(self.tenant.people, (self.transmitter.keys[0], ps, ec)):
            token = self.transmitter.sign(self.disabled(person), key=key)
            self.assertEqual(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["alg"], key.alg)
            status, body = self.push(token)
            self.assertEqual(status, 202, (key.alg, body))
            self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=10), key.alg)

    def test_every_refusal_is_a_400_with_its_err_and_stores_nothing(self):
        t = self.transmitter
        victim = self.tenant.people[1]
        stranger = RsaKey(t.folder, "not-in-jwks")
        now = int(time.time())

        def unsigned(claims, header):
            return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())

        def hs256_with_the_public_key(claims):
            # The classic confusion: an HMAC whose secret is the RSA public key the receiver trusts.
            head = unsigned(claims, {"alg": "HS256", "typ": "secevent+jwt", "kid": t.keys[0].kid})
            return head + "." + b64url(hmac.new(t.keys[0].public_pem(), head.encode(), hashlib.sha256).digest())

        def tampered():
            head, _, signature = t.sign(self.disabled(self.tenant.people[5])).split(".")
            return head + "." + b64url(json.dumps(self.disabled(victim)).encode()) + "." + signature

        without_jti = self.disabled(victim)
        del without_jti["jti"]
        cases = [
            ("alg none", unsigned(self.disabled(victim), {"alg": "none", "typ": "secevent+jwt"}) + ".", "invalid_key"),
            ("HS256 keyed with the RSA public key", hs256_with_the_public_key(self.disabled(victim)), "invalid_key"),
            ("a key not in the JWKS", t.sign(self.disabled(victim), key=stranger), "invalid_key"),
            ("tampered payload", tampered(), "invalid_key"),
            ("wrong iss", t.sign(self.disabled(victim, iss="https://other-idp.example/")), "invalid_issuer"),
            ("wrong aud", t.sign(self.disabled(victim, aud="https://someone-else.example/")), "invalid_audience"),
            ("iat far ahead", t.sign(self.disabled(victim, iat=now + 3600)), "invalid_request"),
            ("expired exp", t.sign(self.disabled(victim, exp=now - 60)), "invalid_request"),
            ("missing jti", t.sign(without_jti), "invalid_request"),
            ("wrong typ", t.sign(self.disabled(victim), header={"typ": "JWT"}), "invalid_request"),
            ("malformed", "this is not a JWS", "invalid_request"),
            ("malformed base64url", "e30.%%%.e30", "invalid_request"),
            ("oversized", t.sign(self.disabled(victim, padding="x" * (80 * 1024))), "invalid_request"),
        ]
        before = self.stored_event_ids()
        for name, token, err in cases:
            status, body = self.push(token)
            self.assertEqual(status, 400, (name, body))
            answer = json.loads(body)
            self.assertEqual(answer["err"], err, (name, answer))
            self.assertTrue(answer.get("description"), name)
        # The wrong media type, a missing or wrong bearer, a body past the server's limit.
        good = t.sign(self.disabled(victim))
        status, _, body = self.daemon.request("POST", "/ssf/" + SOURCE, body=good, headers={
            "Content-Type": "application/json", "Authorization": "Bearer " + PUSH_TOKEN})
        self.assertEqual((status, json.loads(body)["err"]), (400, "invalid_request"))
        self.assertEqual(self.push(good, authorization="Bearer " + PUSH_TOKEN[:-1] + "x")[0], 401)
        self.assertEqual(self.push(good, authorization="")[0], 401)
        status, _, _ = self.daemon.request("POST", "/ssf/" + SOURCE, body="x" * (2 * 1024 * 1024), headers={
            "Content-Type": "application/secevent+jwt", "Authorization": "Bearer " + PUSH_TOKEN})
        self.assertIn(status, (400, 413))
        self.assertEqual(self.stored_event_ids(), before)
        # A good SET for someone else is applied, so the daemon did act on pushes meanwhile.
        other = self.tenant.people[2]
        self.assertEqual(self.push(t.sign(self.disabled(other)))[0], 202)
        self.assertTrue(wait_until(lambda: self.keys_of(other) <= self.revoked_keys(), timeout=10))
        self.assertEqual(self.revoked_keys() & self.keys_of(victim), set())
        self.assertEqual(len(self.stored_event_ids() - before), 1)
        self.assertEqual([e for e in self.ws.audit() if e.get("owner_email") == victim["email"]], [])
        # status --json counts them: every SET that got past the bearer check, refusals by err.
        self.assertEqual(self.source_status()["sets"], {
            "received": len(cases) + 2, "applied": 1, "duplicate": 0, "noted": 0,
            "refused": {"invalid_key": 4, "invalid_issuer": 1, "invalid_audience": 1,
                        "invalid_request": len(cases) - 6 + 1}})
        # And /metrics, by err: the same counts, since the daemon started.
        self.assertEqual(self.metric("keywarden_ssf_sets_total", result="received"), len(cases) + 2)
        self.assertEqual(self.metric("keywarden_ssf_sets_total", result="applied"), 1)
        for err, n in (("invalid_key", 4), ("invalid_issuer", 1), ("invalid_audience", 1),
                       ("invalid_request", len(cases) - 6 + 1)):
            self.assertEqual(self.metric("keywarden_ssf_sets_refused_total", err=err), n, err)

    def test_other_event_types_change_nothing_and_are_counted(self):
        person = self.tenant.people[0]
        subject = {"format": "email", "email": person["email"]}
        caep = "https://schemas.openid.net/secevent/caep/event-type/"
        risc = "https://schemas.openid.net/secevent/risc/event-type/"
        for uri in (caep + "token-claims-change", risc + "account-credential-change-required",
                    caep + "session-revoked",  # on_compromise = "report" (the default): noted only
                    "https://example.com/event-type/something-new"):
            status, body = self.push(self.transmitter.sign(self.transmitter.claims(uri, subject)))
            self.assertEqual(status, 202, (uri, body))
        time.sleep(2)  # a targeted reconcile would have acted by now
        self.assertEqual(self.revoked_keys(), set())
        sets = self.source_status()["sets"]
        self.assertEqual((sets["received"], sets["applied"], sets["noted"]), (4, 4, 4), sets)
        # SPEC §8.1: every other event type is audited, and nothing else.
        events = [e for e in self.ws.audit() if e.get("action") == "event"]
        self.assertEqual(len(events), 4, events)
        self.assertTrue(all(e["result"] == "skipped" and e["source"] == SOURCE for e in events), events)
        self.assertEqual([e for e in self.ws.audit() if e.get("action") != "event"], [])

    def test_key_rotated_at_the_transmitter_is_trusted_after_the_refetch(self):
        person, later = self.tenant.people[0], self.tenant.people[1]
        old = self.transmitter.keys[0]
        fetched_at = time.time()  # the daemon fetched the JWKS in setUp, just now
        new = self.transmitter.rotate_key(retire_old=True)
        jwks_fetches = lambda: self.transmitter.requests.count(("GET", "/jwks"))  # noqa: E731
        fetches = jwks_fetches()
        token = self.transmitter.sign(self.disabled(person), key=new)
        status, body = self.push(token)
        self.assertEqual((status, json.loads(body)["err"]), (400, "invalid_key"), body)
        # SPEC §8.1: fetched again at most once a minute; so not yet, although the kid is unknown.
        time.sleep(5)
        self.assertEqual(jwks_fetches(), fetches)
        # A transmitter retries a refused push; once the minute is over the new key is there.
        self.assertTrue(wait_until(lambda: jwks_fetches() > fetches, timeout=90), self.daemon.output())
        self.assertGreaterEqual(time.time() - fetched_at, 55)
        status, body = self.push(token)
        self.assertEqual(status, 202, body)
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=10))
        # The old key is gone from the JWKS, so nothing it signs counts any more.
        status, body = self.push(self.transmitter.sign(self.disabled(later), key=old))
        self.assertEqual((status, json.loads(body)["err"]), (400, "invalid_key"), body)
        self.assertEqual(self.revoked_keys() & self.keys_of(later), set())

    def test_paused_stream_keeps_the_source_unhealthy_until_enabled(self):
        self.assertTrue(wait_until(lambda: self.healthy_everywhere(True), timeout=30), self.daemon.output())
        self.transmitter.set_status("paused")
        self.assertTrue(wait_until(lambda: self.healthy_everywhere(False), timeout=30), self.daemon.output())
        shown = self.source_status()
        self.assertEqual(shown["stream"]["status"], "paused")
        self.assertIn("paused", shown["last_error"])
        self.assertEqual(self.metric("keywarden_ssf_stream_status", status="paused"), 1.0)
        self.assertEqual(self.metric("keywarden_ssf_stream_status", status="enabled"), 0.0)
        # Not for a moment healthy while paused: several poll_intervals (1 s) of reads and upkeeps.
        db = sqlite3.connect(os.path.join(self.ws.dir, "state", "keywarden.db"), timeout=10)
        self.addCleanup(db.close)
        deadline, samples = time.time() + 5, 0
        while time.time() < deadline:
            self.assertFalse(self.stored_health(db), "the paused source turned healthy")
            samples += 1
        self.assertGreater(samples, 1000)
        self.assertEqual(self.source_up(), 0.0)
        self.transmitter.set_status("enabled")
        self.assertTrue(wait_until(lambda: self.source_status()["healthy"], timeout=30), self.daemon.output())
        self.assertEqual(self.source_status()["stream"]["status"], "enabled")
        self.assertTrue(wait_until(lambda: self.metric("keywarden_ssf_stream_status", status="enabled") == 1.0,
                                   timeout=10))
        self.assertEqual(self.metric("keywarden_ssf_stream_status", status="paused"), 0.0)

    def test_source_up_returns_to_1_once_the_stream_is_enabled(self):
        self.assertTrue(wait_until(lambda: self.healthy_everywhere(True), timeout=30), self.daemon.output())
        self.transmitter.set_status("paused")
        self.assertTrue(wait_until(lambda: self.healthy_everywhere(False), timeout=30), self.daemon.output())
        self.transmitter.set_status("enabled")
        self.assertTrue(wait_until(lambda: self.source_status()["healthy"], timeout=30), self.daemon.output())
        self.assertTrue(wait_until(lambda: self.source_up() == 1.0, timeout=10))

    def test_stream_updated_event_pauses_and_enables(self):
        self.assertTrue(wait_until(lambda: self.healthy_everywhere(True), timeout=30), self.daemon.output())
        stream_id = next(iter(self.transmitter.streams))

        def stream_updated(status):
            claims = self.transmitter.claims(SSF + "stream-updated", {"format": "opaque", "id": stream_id},
                                             {"status": status, "reason": "administrator action"})
            self.assertEqual(self.push(self.transmitter.sign(claims))[0], 202)

        self.transmitter.set_status("paused")  # the transmitter says so at once, before any status read
        stream_updated("paused")
        self.assertTrue(wait_until(lambda: self.healthy_everywhere(False), timeout=10), self.daemon.output())
        self.assertEqual(self.source_status()["stream"]["status"], "paused")
        self.transmitter.set_status("enabled")
        stream_updated("enabled")
        self.assertTrue(wait_until(lambda: self.source_status()["healthy"], timeout=10), self.daemon.output())
        self.assertEqual(self.source_status()["stream"]["status"], "enabled")


class SsfPollTest(SsfTestBase):
    delivery = "poll"

    def test_poll_applies_then_acknowledges_after_commit(self):
        person = self.tenant.people[4]
        jti = self.transmitter.emit("account-disabled", email=person["email"])
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=20),
                        self.daemon.output())
        self.assertTrue(wait_until(lambda: jti in self.transmitter.acked, timeout=20))
        self.assertEqual(self.transmitter.set_errs, {})
        # Two SETs: the verification the stream's creation asked for, then the account-disabled one.
        shown = self.source_status()
        self.assertTrue(shown["stream"]["verified"], shown)
        self.assertEqual(self.metric("keywarden_ssf_stream_verified"), 1.0)
        self.assertEqual(self.metric("keywarden_ssf_stream_missing_events"), 0.0)
        self.assertEqual((shown["sets"]["received"], shown["sets"]["applied"], shown["sets"]["refused"]),
                         (2, 2, {}), shown)

    def test_refused_polled_set_is_reported_in_set_errs_and_counted(self):
        person = self.tenant.people[3]
        claims = self.transmitter.claims("https://schemas.openid.net/secevent/risc/event-type/account-disabled",
                                         {"format": "email", "email": person["email"]},
                                         aud="https://someone-else.example/")
        with self.transmitter.lock:
            self.transmitter.queue.append((claims["jti"], self.transmitter.sign(claims)))
        self.assertTrue(wait_until(lambda: claims["jti"] in self.transmitter.set_errs, timeout=20))
        self.assertEqual(self.transmitter.set_errs[claims["jti"]]["err"], "invalid_audience")
        self.assertNotIn(claims["jti"], self.transmitter.acked)
        self.assertTrue(wait_until(lambda: self.source_status()["sets"]["refused"] == {"invalid_audience": 1},
                                   timeout=10))
        self.assertEqual(self.revoked_keys() & self.keys_of(person), set())

    def test_paused_poll_stream_is_unhealthy_until_enabled_and_then_delivers(self):
        self.assertTrue(wait_until(lambda: self.source_status()["healthy"], timeout=30), self.daemon.output())
        self.transmitter.set_status("paused")
        self.assertTrue(wait_until(lambda: not self.source_status()["healthy"], timeout=30), self.daemon.output())
        db = sqlite3.connect(os.path.join(self.ws.dir, "state", "keywarden.db"), timeout=10)
        self.addCleanup(db.close)
        deadline = time.time() + 4
        while time.time() < deadline:
            self.assertFalse(self.stored_health(db), "the paused source turned healthy")
        person = self.tenant.people[2]
        jti = self.transmitter.emit("account-disabled", email=person["email"])  # held while paused
        self.transmitter.set_status("enabled")
        self.assertTrue(wait_until(lambda: self.source_status()["healthy"], timeout=30), self.daemon.output())
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=20))
        self.assertTrue(wait_until(lambda: jti in self.transmitter.acked, timeout=20))

    def test_kill_between_receiving_and_acknowledging_applies_once_then_acknowledges(self):
        person = self.tenant.people[5]
        # Every poll that would acknowledge something hangs unprocessed: the daemon has the SET
        # (and commits it) but the transmitter never learns that.
        self.transmitter.hold_ack_polls()
        jti = self.transmitter.emit("account-disabled", email=person["email"])
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=20),
                        self.daemon.output())
        self.assertTrue(wait_until(lambda: any(jti in held for held in self.transmitter.held_acks), timeout=20))
        self.daemon.signal(signal.SIGKILL)
        self.daemon.proc.wait()
        self.daemon.stop()
        self.transmitter.release_held_polls()  # those acks are lost: the SET is still outstanding
        self.assertNotIn(jti, self.transmitter.acked)
        self.assertIn(jti, self.transmitter.outstanding)

        self.daemon = DaemonProcess(self.ws)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        self.assertTrue(wait_until(lambda: jti in self.transmitter.acked, timeout=30), self.daemon.output())
        self.assertNotIn(jti, self.transmitter.outstanding)
        self.assertEqual(self.transmitter.set_errs, {})
        # The person comes back, then the transmitter delivers the old SET again (it may: RFC 8936
        # §2.4). keywarden knows the jti across the restart: acknowledged, not applied, no revoke.
        self.transmitter.emit("account-enabled", email=person["email"])
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.reactivated_keys(), timeout=20),
                        self.daemon.output())
        self.transmitter.redeliver(jti)
        self.assertTrue(wait_until(lambda: self.transmitter.acked.count(jti) == 2, timeout=20), self.daemon.output())
        time.sleep(2)  # a targeted reconcile would have revoked by now
        revokes = [c for c in self.sim.calls() if c["method"] == "PUT" and key_of(c) in self.keys_of(person)
                   and json.loads(c["body"] or "{}") == {"isActive": False}]
        self.assertEqual(len(revokes), len(self.keys_of(person)), self.daemon.output())
        self.assertEqual(len([e for e in self.ws.audit() if e.get("action") == "revoke"]), len(self.keys_of(person)))


if __name__ == "__main__":
    unittest.main()
