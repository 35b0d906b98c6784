"""type = "ssf" end to end: the real keywarden binary takes Security Event Tokens
from a stand-in Shared Signals transmitter (ssf_standin.py, signing with the
openssl CLI) and acts on palette-sim. The directory is a `file` source; the
transmitter only says who left.

Push (RFC 8935): an account-disabled SET revokes at once; a bad signature is a
400 invalid_key that changes nothing; a replayed jti is acknowledged and not
applied twice. Poll (RFC 8936): the SET is applied, and its jti acknowledged in
a later poll, after the commit."""

import json
import os
import unittest

from harness import API_KEY, DaemonProcess, Workspace, key_of, wait_until
from palette_sim import PaletteSim
from ssf_standin import SsfStandin
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
        self.addCleanup(self.daemon.stop)
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

    def disabled(self, person):
        return self.transmitter.claims("https://schemas.openid.net/secevent/risc/event-type/account-disabled",
                                       {"format": "email", "email": person["email"]})


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
        self.daemon.stop()
        self.daemon = DaemonProcess(self.ws)
        self.assertTrue(self.daemon.wait_ready())
        self.assertTrue(wait_until(lambda: ("GET", "/jwks") in self.transmitter.requests[-20:], timeout=30))
        self.assertEqual(self.push(token)[0], 202)  # also after a restart
        audit = [e for e in self.ws.audit() if e.get("action") == "revoke"]
        self.assertEqual(len(audit), len(self.keys_of(person)))


class SsfPollTest(SsfTestBase):
    delivery = "poll"

    def test_poll_applies_then_acknowledges_after_commit(self):
        person = self.tenant.people[4]
        jti = self.transmitter.emit("account-disabled", email=person["email"])
        self.assertTrue(wait_until(lambda: self.keys_of(person) <= self.revoked_keys(), timeout=20),
                        self.daemon.output())
        self.assertTrue(wait_until(lambda: jti in self.transmitter.acked, timeout=20))
        self.assertEqual(self.transmitter.set_errs, {})


if __name__ == "__main__":
    unittest.main()
