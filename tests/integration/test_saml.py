"""type = "saml" end to end: the real keywarden binary asks a SAML 2.0
attribute-authority stand-in (saml_standin.py, answers signed by the xmlsec1
command line) about each Palette key owner, and acts on palette-sim.

A person the IdP answered for before and now calls UnknownPrincipal is
revoked (identity_deleted); one removed from the entitled group is revoked
(not_entitled); a wrapped (XSW) or unsigned-over-HTTP answer fails the whole
read and revokes nobody; a mass UnknownPrincipal trips the shrink rule.

SamlAttackCorpusTest serves every document of issue 10's attack corpus,
made afresh for the real query, in place of a good answer: each is refused,
nobody is revoked, the source is unhealthy and `status` names the person and
the reason; and each would have fooled a careless verifier (careless_reading)
into revoking the person. A DOCTYPE naming an external DTD and entity at a
local listener never makes keywarden contact it.

SamlHttpsTest runs the source over HTTPS (a test CA made with the openssl
command line): unsigned answers count only over a verified server
certificate, and keywarden presents sp_cert_file as its client certificate.

The unit tests (connectors/saml/*_test.cc) cover each verification rule with
a fixed attack document."""

import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest
import xml.dom.minidom

from harness import API_KEY, Workspace, key_of, mutating_calls
from palette_sim import PaletteSim
from saml_standin import FORGED_GROUPS, FORGERIES, NS, TESTDATA, SamlStandin, TlsFiles, verify
from tenant import Tenant

SOURCE = "saml-aa"
SP_ENTITY_ID = "https://keywarden.example.com/saml"


class SamlCase(unittest.TestCase):
    """A tenant of `people` people with two keys each, the IdP knowing all
    but the last (all in palette-users), and a saml source asking it."""

    people = 10
    max_shrink_percent = 20  # the harness default; small tenants need more room for one leaver

    def start(self, idp, **source_settings):
        self.tenant = Tenant(self.people, 2 * self.people + 2, api_key=API_KEY, seed=31)
        self.sim = PaletteSim(self.tenant.seed(), rate=60, burst=60)
        self.addCleanup(self.sim.stop)
        self.idp = idp
        self.addCleanup(self.idp.stop)
        for p in self.tenant.people[:-1]:
            self.idp.people[p["email"]] = ["palette-users"]

        self.ws = Workspace(self.sim.url)
        self.ws.sections["safety"]["max_shrink_percent"] = self.max_shrink_percent
        self.addCleanup(self.ws.cleanup)
        self.idp.write_metadata(os.path.join(self.ws.dir, "idp-metadata.xml"))
        self.ws.sources = [dict({"name": SOURCE, "type": "saml", "idp_metadata_file": "idp-metadata.xml",
                                 "sp_entity_id": SP_ENTITY_ID,
                                 "sp_cert_file": os.path.join(TESTDATA, "sp.crt"),
                                 "sp_key_file": os.path.join(TESTDATA, "sp.key")}, **source_settings)]
        self.ws.write_config()

        # The first sync knows all but the last person (who is "not known
        # here", and unknown_owner = report) and changes nothing.
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

    def assert_failed_read(self, person, reason):
        """Nobody revoked; the source unhealthy, its last_error naming the
        person (any key owner when `person` is None) and the reason, and no
        key material."""
        self.assertEqual(self.mutations, [])
        status = self.source_status()
        self.assertFalse(status["healthy"], status)
        owners = [person] if person else self.tenant.people
        self.assertTrue(any("about %s " % p["email"] in status["last_error"] for p in owners), status)
        self.assertIn(reason, status["last_error"])
        self.assertNotIn("BEGIN", status["last_error"])
        return status


class SamlSourceTest(SamlCase):
    """Ten people with two keys each. The IdP knows the first nine, all in
    palette-users; person 9 it has never heard of."""

    def setUp(self):
        self.start(SamlStandin(sp_cert=os.path.join(TESTDATA, "sp.crt")))

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


def careless_reading(document):
    """What a careless verifier makes of an answer, independently of
    keywarden's code: it parses with entity substitution and external DTD
    loading (xmllint --noent --loaddtd, libxml2's XML_PARSE_NOENT |
    XML_PARSE_DTDLOAD), checks signatures only when there are any, accepts
    when one `xmlsec1 --verify` succeeds (with the IdP's certificate or the
    one in the document's own KeyInfo; IDs registered on Assertion and
    Response, or on Assertion only as the xmlsec1 manual shows), and then
    reads the Response's first Assertion: the NameID's first text node and
    the values of its groups attribute. Returns (accepted, name_id, groups)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "answer.xml")
        with open(path, "w") as f:
            f.write(document)
        if "<!DOCTYPE" in document:
            document = subprocess.run(["xmllint", "--noent", "--loaddtd", path], capture_output=True,
                                      text=True).stdout
            with open(path, "w") as f:
                f.write(document)
        certs = [os.path.join(TESTDATA, "idp.crt")]
        embedded = re.search(r"<ds:X509Certificate>\s*([A-Za-z0-9+/=\s]+?)\s*</ds:X509Certificate>", document)
        if embedded:
            certs.append(os.path.join(tmp, "keyinfo.crt"))
            with open(certs[-1], "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % embedded.group(1))
        accepted = "<ds:Signature" not in document
        for cert in certs:
            for ids in ([NS["saml"] + ":Assertion", NS["samlp"] + ":Response"], [NS["saml"] + ":Assertion"]):
                args = ["xmlsec1", "--verify", "--pubkey-cert-pem", cert]
                for name in ids:
                    args += ["--id-attr:ID", name]
                accepted = accepted or subprocess.run(args + [path], capture_output=True).returncode == 0
    name_id, groups = None, []
    dom = xml.dom.minidom.parseString(document.encode())
    response = dom.getElementsByTagNameNS(NS["samlp"], "Response")[0]
    assertions = [n for n in response.childNodes if n.nodeType == n.ELEMENT_NODE
                  and n.namespaceURI == NS["saml"] and n.localName == "Assertion"]
    if assertions:
        first = assertions[0]
        name_id_node = first.getElementsByTagNameNS(NS["saml"], "NameID")[0]
        name_id = name_id_node.firstChild.data if name_id_node.firstChild else ""
        for statement in [n for n in first.childNodes if n.nodeType == n.ELEMENT_NODE
                          and n.localName == "AttributeStatement"]:
            for value in statement.getElementsByTagNameNS(NS["saml"], "AttributeValue"):
                groups.append("".join(c.data for c in value.childNodes if c.nodeType == c.TEXT_NODE))
    return accepted, name_id, groups


class RecordingListener:
    """A loopback HTTP server that counts every request it receives and
    serves FORGED_GROUPS[0] (the text an external entity would bring in)."""

    def __init__(self):
        self.requests = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                listener.requests.append(self.path)
                body = FORGED_GROUPS[0].encode() if self.path.endswith("/xxe") else b""
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


# The part of status' last_error that names each forgery's flaw.
CORPUS_REASONS = {
    "unsigned": "unsigned and did not come over verified HTTPS",
    "untrusted_key": "does not verify with any signing key",
    "sha1": "sha1",
    "two_assertions": "2 Assertions",
    "reference_elsewhere": "Reference does not point at the signed element",
    "duplicate_ids": "ID is used more than once",
    "comment_in_name_id": "NameID holds a comment",
    "wrong_in_response_to": "InResponseTo is not the query's ID",
    "wrong_issuer": "Assertion Issuer",
    "wrong_audience": "AudienceRestriction",
    "expired": "expired",
    "encrypted_assertion": "EncryptedAssertion",
    "doctype_internal_entity": "DOCTYPE",
    "doctype_external_entity": "DOCTYPE",
    "xsw_evil_before_signed": "2 Assertions",
    "xsw_signed_inside_evil": "2 Assertions",
    "xsw_signed_in_extensions": "2 Assertions",
    "xsw_signed_in_soap_header": "2 Assertions",
    "xsw_response_wrapped": "2 Assertions",
    "xsw_original_in_advice": "2 Assertions",
}


class SamlAttackCorpusTest(SamlCase):
    """Four people; person 1's answer is replaced by each attack document in
    turn. A good answer with the forged content ("contractors" only) would
    revoke person 1 as not_entitled (test_leaver_removed_from_entitled_group_
    is_revoked_not_entitled shows it), so an empty mutation list means the
    document was refused, not ignored."""

    people = 4
    max_shrink_percent = 50

    def setUp(self):
        self.start(SamlStandin())
        self.listener = RecordingListener()
        self.addCleanup(self.listener.stop)
        self.idp.external_url = self.listener.url

    def test_corpus_names_every_attack_of_issue_10(self):
        self.assertEqual(set(FORGERIES), set(CORPUS_REASONS))
        self.assertGreaterEqual(len([k for k in FORGERIES if k.startswith("xsw_")]), 6)

    def test_each_attack_is_refused_revokes_nobody_and_would_fool_a_careless_verifier(self):
        person = self.tenant.people[1]
        for kind in FORGERIES:
            with self.subTest(kind):
                self.idp.forged = {person["email"]: kind}
                self.sync()
                self.assert_failed_read(person, CORPUS_REASONS[kind])
                self.assertEqual(self.listener.requests, [], "keywarden fetched a URL named in a DOCTYPE")
                # The same document fools the careless verifier: it accepts
                # it and reads the forged groups about this very person.
                accepted, name_id, groups = careless_reading(self.idp.served[kind])
                self.assertTrue(accepted, kind)
                self.assertEqual(name_id, person["email"], kind)
                self.assertEqual(groups, FORGED_GROUPS, kind)
                self.listener.requests.clear()
        # The IdP answers honestly again: healthy, still nobody revoked.
        self.idp.forged = {}
        self.sync()
        self.assertEqual(self.mutations, [])
        self.assert_healthy()

    def test_external_entity_and_dtd_are_never_fetched(self):
        person = self.tenant.people[2]
        self.idp.forged = {person["email"]: "doctype_external_entity"}
        self.sync()
        self.assert_failed_read(person, "DOCTYPE")
        # `status` (the table, too) says whose answer failed and why.
        table = self.ws.run("status", check=0).stdout
        self.assertIn("about %s " % person["email"], table)
        self.assertIn("DOCTYPE", table)
        document = self.idp.served["doctype_external_entity"]
        self.assertIn(self.listener.url + "/xxe", document)
        self.assertIn(self.listener.url + "/evil.dtd", document)
        self.assertEqual(self.listener.requests, [])
        # The listener is live: a careless parser asks it for both (and then
        # the expanded document's signature verifies).
        self.assertTrue(careless_reading(document)[0])
        self.assertEqual(sorted(self.listener.requests), ["/evil.dtd", "/xxe"])

    def test_internal_entity_is_refused(self):
        person = self.tenant.people[0]
        self.idp.forged = {person["email"]: "doctype_internal_entity"}
        self.sync()
        self.assert_failed_read(person, "DOCTYPE")
        self.assertIn("<!ENTITY grp", self.idp.served["doctype_internal_entity"])


def make_tls_files(folder):
    """A test CA and a server certificate for 127.0.0.1 issued by it, and a
    second ("rogue") CA with its own server certificate for 127.0.0.1, made
    with the openssl command line. Returns (ca.crt, good TlsFiles, rogue TlsFiles)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=folder)

    ext = os.path.join(folder, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    files = {}
    for name in ("test", "rogue"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-ca.key", "-out", name + "-ca.crt",
            "-days", "2", "-subj", "/CN=keywarden %s CA" % name)
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-server.key", "-out", name + "-server.csr",
            "-subj", "/CN=127.0.0.1")
        run("x509", "-req", "-in", name + "-server.csr", "-CA", name + "-ca.crt", "-CAkey", name + "-ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", name + "-server.crt")
        files[name] = TlsFiles(os.path.join(folder, name + "-server.crt"), os.path.join(folder, name + "-server.key"),
                               os.path.join(TESTDATA, "sp.crt"))
    return os.path.join(folder, "test-ca.crt"), files["test"], files["rogue"]


class SamlHttpsTest(SamlCase):
    """The attribute service over HTTPS, its certificate issued by a test CA
    given as ca_file, a client certificate issued by sp.crt required, and
    every answer unsigned (Shibboleth's default over a TLS back-channel)."""

    people = 4
    max_shrink_percent = 50

    @classmethod
    def setUpClass(cls):
        cls.tls_dir = tempfile.mkdtemp(prefix="kw-saml-tls-")
        cls.ca_file, cls.good_tls, cls.rogue_tls = make_tls_files(cls.tls_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tls_dir)

    def setUp(self):
        self.start(SamlStandin(tls=self.good_tls, signer=None), ca_file=self.ca_file)

    def test_unsigned_answers_over_verified_https_count(self):
        self.assertTrue(self.idp.url.startswith("https://"))
        person = self.tenant.people[1]
        self.idp.people[person["email"]] = ["contractors"]
        self.assert_revoked_with(person, "not_entitled")
        self.assertEqual(len(self.idp.queries), 4)

    def test_keywarden_presents_sp_cert_as_its_client_certificate(self):
        self.sync()
        self.assertEqual(self.idp.client_certificates, ["keywarden-test-sp"] * 4)
        # Without sp_cert_file/sp_key_file the IdP refuses the handshake:
        # the read fails and nobody is revoked.
        self.ws.sources[0].pop("sp_cert_file")
        self.ws.sources[0].pop("sp_key_file")
        self.ws.write_config()
        self.idp.people.clear()
        self.sync()
        self.assertEqual(self.idp.queries, [])
        self.assertGreater(self.idp.failed_connections, 0)
        self.assert_failed_read(None, "connection failed")
        # A client certificate the IdP does not trust is refused the same way.
        self.ws.sources[0].update(sp_cert_file=os.path.join(TESTDATA, "attacker.crt"),
                                  sp_key_file=os.path.join(TESTDATA, "attacker.key"))
        self.ws.write_config()
        self.sync()
        self.assertEqual(self.idp.queries, [])
        self.assert_failed_read(None, "connection failed")

    def test_unsigned_unknown_principal_over_verified_https_revokes_identity_deleted(self):
        person = self.tenant.people[2]
        del self.idp.people[person["email"]]
        self.assert_revoked_with(person, "identity_deleted")

    def test_server_certificate_not_from_ca_file_fails_the_read(self):
        rogue = SamlStandin(tls=self.rogue_tls, signer=None)
        self.addCleanup(rogue.stop)
        # The rogue server would say everyone is unknown (all deleted).
        rogue.write_metadata(os.path.join(self.ws.dir, "idp-metadata.xml"))
        self.sync()
        self.assertEqual(rogue.queries, [])
        status = self.assert_failed_read(None, "connection failed")
        self.assertIn("certificate verify failed", status["last_error"])


class SamlStandinSelfTest(unittest.TestCase):
    """The stand-in's good answers verify with xmlsec1 independently of
    keywarden's code; its wrapped forgery verifies too (which is the attack)."""

    def test_answers_verify_with_xmlsec1(self):
        import urllib.request
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

    def test_python_signer_answers_verify_with_xmlsec1(self):
        idp = SamlStandin(signer="python")
        self.addCleanup(idp.stop)
        idp.people["a&b@example.com"] = ["palette-users", "x<y"]
        body = ('<s:Envelope xmlns:s="%s"><s:Body><samlp:AttributeQuery xmlns:samlp="%s" xmlns:saml="%s" '
                'ID="_q1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>%s</saml:Issuer>'
                '<saml:Subject><saml:NameID>a&amp;b@example.com</saml:NameID></saml:Subject>'
                '</samlp:AttributeQuery></s:Body></s:Envelope>' % (NS["soap"], NS["samlp"], NS["saml"], SP_ENTITY_ID))
        answer = idp._answer(body.encode())
        self.assertTrue(verify(answer))
        self.assertFalse(verify(answer.replace("palette-users", "palette-admins")))


if __name__ == "__main__":
    unittest.main()
