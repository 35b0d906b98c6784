"""type = "saml" end to end: the real keywarden binary asks a SAML 2.0
attribute-authority stand-in (saml_standin.py, answers signed by the xmlsec1
command line) about each Palette key owner, and acts on palette-sim.

A person the IdP answered for before and now calls UnknownPrincipal is
revoked (identity_deleted); one removed from the entitled group is revoked
(not_entitled); a wrapped (XSW) or unsigned-over-HTTP answer fails the whole
read and revokes nobody; a mass UnknownPrincipal trips the shrink rule. The
unit tests (connectors/saml/*_test.cc) cover each verification rule with an
attack document."""

import json
import os
import unittest

from harness import API_KEY, Workspace, key_of, mutating_calls
from palette_sim import PaletteSim
from saml_standin import TESTDATA, SamlStandin, verify
from tenant import Tenant

SOURCE = "saml-aa"
SP_ENTITY_ID = "https://keywarden.example.com/saml"


class SamlSourceTest(unittest.TestCase):
    """Ten people with two keys each. The IdP knows the first nine, all in
    palette-users; person 9 it has never heard of."""

    def setUp(self):
        self.tenant = Tenant(10, 22, api_key=API_KEY, seed=31)
        self.sim = PaletteSim(self.tenant.seed(), rate=60, burst=60)
        self.addCleanup(self.sim.stop)
        self.idp = SamlStandin(sp_cert=os.path.join(TESTDATA, "sp.crt"))
        self.addCleanup(self.idp.stop)
        for p in self.tenant.people[:9]:
            self.idp.people[p["email"]] = ["palette-users"]

        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        self.idp.write_metadata(os.path.join(self.ws.dir, "idp-metadata.xml"))
        self.ws.sources = [{"name": SOURCE, "type": "saml", "idp_metadata_file": "idp-metadata.xml",
                            "sp_entity_id": SP_ENTITY_ID,
                            "sp_cert_file": os.path.join(TESTDATA, "sp.crt"),
                            "sp_key_file": os.path.join(TESTDATA, "sp.key")}]
        self.ws.write_config()

        # The first sync knows nine people (person 9 is "not known here", and
        # unknown_owner = report) and changes nothing.
        self.sync()
        self.assertEqual(self.mutations, [])
        self.assert_healthy()

    def tearDown(self):
        with open(os.path.join(TESTDATA, "sp.key")) as f:
            key_pem = f.read()
        secret_line = key_pem.splitlines()[1]
        for text in self.ws.outputs:
            self.assertNotIn(secret_line, text)

    # --- helpers -------------------------------------------------------------------

    def keys_of(self, person):
        return {k["uid"] for k in self.tenant.keys_of(person)}

    def sync(self):
        self.sim.reset_calls()
        self.idp.reset_queries()
        self.ws.run("sync", "--yes", check=0)
        self.mutations = mutating_calls(self.sim.calls())
        return self.mutations

    def revoked(self):
        return {key_of(c) for c in self.mutations if json.loads(c["body"] or "{}") == {"isActive": False}}

    def source_status(self):
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        return next(s for s in status["sources"] if s["name"] == SOURCE)

    def assert_healthy(self):
        s = self.source_status()
        self.assertTrue(s["healthy"], s)

    def assert_revoked_with(self, person, reason, source=SOURCE):
        self.sync()
        self.assertEqual(self.revoked(), self.keys_of(person))
        self.assertEqual(len(self.mutations), len(self.keys_of(person)))
        done = {a["key_uid"]: a for a in self.ws.audit() if a["result"] == "done"}
        for k in self.keys_of(person):
            self.assertEqual(done[k]["reason"], reason)
            self.assertEqual(done[k]["source"], source)
        self.assert_healthy()

    # --- scenarios -----------------------------------------------------------------

    def test_one_signed_query_per_owner(self):
        # The owners: the ten people (the daemon's own user is never asked about).
        asked = sorted(name_id for _, _, name_id in self.idp.queries)
        self.assertEqual(asked, sorted(p["email"] for p in self.tenant.people))
        self.assertTrue(all(issuer == SP_ENTITY_ID for _, issuer, _ in self.idp.queries))
        self.assertEqual(len({qid for qid, _, _ in self.idp.queries}), 10, "every query has its own ID")
        # Each query's signature verifies with sp.crt, checked by xmlsec1.
        self.assertEqual(self.idp.query_signatures, [True] * 10)

    def test_check_config_accepts_the_source(self):
        out = self.ws.run("check-config", check=0).stdout
        self.assertIn("saml-aa (saml)", out)

    def test_check_config_refuses_metadata_without_a_signing_key(self):
        path = os.path.join(self.ws.dir, "idp-metadata.xml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace('use="signing"', 'use="encryption"'))
        p = self.ws.run("check-config", check=2)
        self.assertIn("no signing certificate", p.stderr)
        self.assertIn("saml-aa", p.stderr)

    def test_unknown_principal_after_being_known_revokes_identity_deleted(self):
        person = self.tenant.people[0]
        del self.idp.people[person["email"]]
        self.assert_revoked_with(person, "identity_deleted")

    def test_leaver_removed_from_entitled_group_is_revoked_not_entitled(self):
        person = self.tenant.people[1]
        self.idp.people[person["email"]] = ["contractors"]
        self.assert_revoked_with(person, "not_entitled")

    def test_wrapped_answer_fails_the_read_and_revokes_nothing(self):
        person = self.tenant.people[2]
        # The forged answer says "no groups" (a naive reader would revoke
        # person 2 as not_entitled), and its signature genuinely verifies
        # with the IdP key, as xmlsec1 shows.
        self.idp.forged[person["email"]] = "wrapped"
        self.sync()
        self.assertEqual(self.mutations, [])
        status = self.source_status()
        self.assertFalse(status["healthy"], status)
        self.assertIn(person["email"], status["last_error"])
        self.assertIn("Assertions", status["last_error"])
        # The IdP recovers: healthy again, still nobody revoked.
        del self.idp.forged[person["email"]]
        self.sync()
        self.assertEqual(self.mutations, [])
        self.assert_healthy()

    def test_unsigned_unknown_principal_over_plain_http_fails_the_read(self):
        person = self.tenant.people[3]
        self.idp.forged[person["email"]] = "unsigned_unknown"
        self.sync()
        self.assertEqual(self.mutations, [])
        status = self.source_status()
        self.assertFalse(status["healthy"], status)
        self.assertIn(person["email"], status["last_error"])

    def test_mass_unknown_principal_trips_the_shrink_rule(self):
        self.idp.people.clear()
        self.sync()
        self.assertEqual(self.mutations, [])
        status = self.source_status()
        self.assertFalse(status["healthy"], status)
        self.assertIn("shrank", status["last_error"])

    def test_person_never_known_stays_unknown(self):
        # Person 9 was asked and answered UnknownPrincipal on every read; with
        # unknown_owner = revoke they fall to that policy, not identity_deleted.
        self.ws.set("policy", unknown_owner="revoke")
        person = self.tenant.people[9]
        # No source knows them, so the action names none.
        self.assert_revoked_with(person, "unknown_owner", source="")


class SamlStandinSelfTest(unittest.TestCase):
    """The stand-in's good answers verify with xmlsec1 independently of
    keywarden's code; its wrapped forgery verifies too (which is the attack)."""

    def test_answers_verify_with_xmlsec1(self):
        import urllib.request
        from saml_standin import NS
        idp = SamlStandin()
        self.addCleanup(idp.stop)
        idp.people["a@example.com"] = ["palette-users"]

        def ask(email):
            body = ('<s:Envelope xmlns:s="%s"><s:Body><samlp:AttributeQuery xmlns:samlp="%s" xmlns:saml="%s" '
                    'ID="_q1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>%s</saml:Issuer>'
                    '<saml:Subject><saml:NameID>%s</saml:NameID></saml:Subject></samlp:AttributeQuery>'
                    '</s:Body></s:Envelope>' % (NS["soap"], NS["samlp"], NS["saml"], SP_ENTITY_ID, email))
            request = urllib.request.Request(idp.url, body.encode(), {"Content-Type": "text/xml"})
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.read().decode()

        self.assertTrue(verify(ask("a@example.com")))
        unknown = ask("b@example.com")
        self.assertIn("UnknownPrincipal", unknown)
        self.assertTrue(verify(unknown, id_attr=NS["samlp"] + ":Response"))
        idp.forged["a@example.com"] = "wrapped"
        wrapped = ask("a@example.com")
        self.assertTrue(verify(wrapped))
        self.assertEqual(wrapped.count("<saml:Assertion "), 2)


if __name__ == "__main__":
    unittest.main()
