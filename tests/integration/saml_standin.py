"""A SAML 2.0 attribute authority stand-in (Python 3 standard library only).

It answers samlp:AttributeQuery over the SOAP binding (SAML Bindings §3.2,
Profiles §6; reference/idp-protocols.md §7.1) at
/idp/profile/SAML2/SOAP/AttributeQuery, the way Shibboleth IdP does:
  - a known NameID: Status Success and one Assertion (Issuer, Subject with the
    NameID asked about, Conditions with an AudienceRestriction naming the
    query's Issuer, an AttributeStatement with the groups attribute),
    the Assertion signed with RSA-SHA256 / exclusive c14n;
  - an unknown NameID: Requester / UnknownPrincipal, the Response signed.
Signing is done by the xmlsec1 command line, independently of keywarden's
code, with the test keys of connectors/saml/testdata/.

For attack tests a person can be given a forged answer instead (see
FORGERIES): one document of the attack corpus of issue 10, made afresh for
each query (its InResponseTo, NameID and validity window are the real ones,
so that it is refused for its own flaw and nothing else). Each forged
answer's content says the person is in FORGED_GROUPS only, so a verifier it
fools would revoke them as not entitled.

It can serve over TLS (tls=TlsFiles(...)), optionally requiring a client
certificate issued by a given CA, and records the most queries it ever had in
flight.

Signing: by default each answer is signed by the xmlsec1 command line. For
benchmarks (thousands of answers) signer="python" signs the same Assertion
in-process: the stand-in writes the Assertion and SignedInfo directly in
their exclusive-c14n form, so the digest is SHA-256 over that text and the
signature an RSA PKCS#1 v1.5 exponentiation with the private key's numbers
(read once with `openssl rsa -text`). Its answers verify with
`xmlsec1 --verify` like the others (SamlStandinSelfTest checks it).
"""

import base64
import collections
import datetime
import hashlib
import http.server
import os
import re
import ssl
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(os.path.dirname(os.path.dirname(HERE)), "connectors", "saml", "testdata")
ENTITY_ID = "https://idp.example.org/idp/shibboleth"
PATH = "/idp/profile/SAML2/SOAP/AttributeQuery"

FORGED_GROUPS = ["contractors"]

# The attack corpus of issue 10, by name (see SamlStandin._forge). The XSW
# shapes follow Somorovsky et al., "On Breaking SAML" (USENIX Security 2012).
FORGERIES = [
    "unsigned", "untrusted_key", "sha1", "two_assertions", "reference_elsewhere", "duplicate_ids",
    "comment_in_name_id", "wrong_in_response_to", "wrong_issuer", "wrong_audience", "expired",
    "encrypted_assertion", "doctype_internal_entity", "doctype_external_entity",
    "xsw_evil_before_signed", "xsw_signed_inside_evil", "xsw_signed_in_extensions",
    "xsw_signed_in_soap_header", "xsw_response_wrapped", "xsw_original_in_advice",
]

TlsFiles = collections.namedtuple("TlsFiles", "cert key client_ca", defaults=(None,))

NS = {
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}


def _escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def _time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _signature_template(ref_id, sig_alg=RSA_SHA256, digest=SHA256):
    return ('<ds:Signature xmlns:ds="%s"><ds:SignedInfo>'
            '<ds:CanonicalizationMethod Algorithm="%s"/>'
            '<ds:SignatureMethod Algorithm="%s"/>'
            '<ds:Reference URI="#%s"><ds:Transforms>'
            '<ds:Transform Algorithm="%s"/>'
            '<ds:Transform Algorithm="%s"/></ds:Transforms>'
            '<ds:DigestMethod Algorithm="%s"/>'
            '<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>'
            '<ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>'
            % (NS["ds"], EXC_C14N, sig_alg, ref_id, ENVELOPED, EXC_C14N, digest))


def _between(text, start, end):
    """The first substring of `text` from `start` through the next `end`."""
    i = text.index(start)
    return text[i:text.index(end, i) + len(end)]


class PythonSigner:
    """RSA-SHA256 enveloped signatures over an element that the caller
    already wrote in its exclusive-c14n form (attributes in c14n order, no
    self-closing tags, its namespace declared on itself, text escaped as
    c14n does). The SignedInfo is written in c14n form too, so nothing needs
    canonicalizing: the digest is over the element's text and the signature
    PKCS#1 v1.5 over the SignedInfo's text."""

    _DIGEST_INFO_SHA256 = bytes.fromhex("3031300d060960864801650304020105000420")

    def __init__(self, key_path):
        out = subprocess.run(["openssl", "rsa", "-in", key_path, "-noout", "-text"], check=True,
                             capture_output=True, text=True).stdout
        numbers = {}
        for name, hexdigits in re.findall(r"^(\w+):\s*\n((?:\s+[0-9a-f:]+\n)+)", out, re.M):
            numbers[name] = int(re.sub(r"[^0-9a-f]", "", hexdigits), 16)
        self.n, self.p, self.q = numbers["modulus"], numbers["prime1"], numbers["prime2"]
        self.dp, self.dq, self.qinv = numbers["exponent1"], numbers["exponent2"], numbers["coefficient"]
        self.size = (self.n.bit_length() + 7) // 8

    def _rsa_sign(self, data):
        t = self._DIGEST_INFO_SHA256 + hashlib.sha256(data).digest()
        em = b"\x00\x01" + b"\xff" * (self.size - len(t) - 3) + b"\x00" + t
        m = int.from_bytes(em, "big")
        m1, m2 = pow(m, self.dp, self.p), pow(m, self.dq, self.q)  # CRT
        s = m2 + self.q * ((self.qinv * (m1 - m2)) % self.p)
        return s.to_bytes(self.size, "big")

    def signature(self, ref_id, canonical_element):
        digest = base64.b64encode(hashlib.sha256(canonical_element.encode()).digest()).decode()
        signed_info = ('<ds:SignedInfo xmlns:ds="%s"><ds:CanonicalizationMethod Algorithm="%s">'
                       '</ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="%s"></ds:SignatureMethod>'
                       '<ds:Reference URI="#%s"><ds:Transforms><ds:Transform Algorithm="%s"></ds:Transform>'
                       '<ds:Transform Algorithm="%s"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="%s">'
                       '</ds:DigestMethod><ds:DigestValue>%s</ds:DigestValue></ds:Reference></ds:SignedInfo>'
                       % (NS["ds"], EXC_C14N, RSA_SHA256, ref_id, ENVELOPED, EXC_C14N, SHA256, digest))
        value = base64.b64encode(self._rsa_sign(signed_info.encode())).decode()
        return ('<ds:Signature xmlns:ds="%s">%s<ds:SignatureValue>%s</ds:SignatureValue></ds:Signature>'
                % (NS["ds"], signed_info, value))


def sign(document, key_name="idp"):
    """Fills the first ds:Signature template of `document` with xmlsec1."""
    key = os.path.join(TESTDATA, key_name + ".key") + "," + os.path.join(TESTDATA, key_name + ".crt")
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(document)
        path = f.name
    try:
        out = subprocess.run(["xmlsec1", "--sign", "--privkey-pem", key,
                              "--id-attr:ID", NS["saml"] + ":Assertion",
                              "--id-attr:ID", NS["samlp"] + ":Response", path],
                             check=True, capture_output=True, text=True)
        return out.stdout
    finally:
        os.unlink(path)


def _c14n_text(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")


def verify(document, cert_name="idp", id_attr=NS["saml"] + ":Assertion"):
    """`xmlsec1 --verify` with the named test certificate: an independent check."""
    return _verify_with(document, os.path.join(TESTDATA, cert_name + ".crt"), id_attr)


def _verify_with(document, cert_path, id_attr):
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(document)
        path = f.name
    try:
        r = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", cert_path, "--id-attr:ID", id_attr,
                            "--enabled-reference-uris", "same-doc", path], capture_output=True, text=True)
        return r.returncode == 0
    finally:
        os.unlink(path)


def metadata_xml(location):
    with open(os.path.join(TESTDATA, "idp.crt")) as f:
        cert = "".join(line for line in f.read().splitlines() if "CERTIFICATE" not in line)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="%s" entityID="%s">'
            '<md:AttributeAuthorityDescriptor protocolSupportEnumeration="%s">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s'
            '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
            '<md:AttributeService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="%s"/>'
            '</md:AttributeAuthorityDescriptor></md:EntityDescriptor>\n'
            % (NS["ds"], ENTITY_ID, NS["samlp"], cert, _escape(location)))


_process_signer = None


def _presign_one(args):
    """For multiprocessing: one person's signed Assertion (see
    SamlStandin.presign)."""
    global _process_signer
    if _process_signer is None:
        _process_signer = SamlStandin._detached_python_signer()
    return args[0], _process_signer._python_signed_assertion(*args[1:])


class SamlStandin:
    def __init__(self, groups_attribute="SpectroTeam", sp_cert=None, tls=None, signer="xmlsec1"):
        """tls: a TlsFiles (server certificate chain and key, and when
        client_ca is set, a client certificate issued by it is required).
        signer: "xmlsec1" (every answer signed by the command line),
        "python" (PythonSigner, for benchmarks) or None (answers unsigned,
        as Shibboleth answers over a TLS back-channel by default)."""
        self.signer = signer
        self.groups_attribute = groups_attribute
        self.sp_cert = sp_cert  # when set, each query's signature is checked with xmlsec1 against it
        self.query_signatures = []  # True/False per query, when sp_cert is set
        self.people = {}      # email -> list of groups
        self.forged = {}      # email -> "unsigned_unknown" | "wrapped" | a name of FORGERIES
        self.served = {}      # forgery name -> the last document served for it
        self.external_url = "http://127.0.0.1:9"  # where doctype_external_entity points
        self.queries = []     # (query ID, issuer, NameID) per request
        self.client_certificates = []  # the subject CN of the client certificate of each query over TLS
        self.failed_connections = 0  # connections that ended in an error, e.g. a refused TLS handshake
        self.in_flight = 0
        self.most_in_flight = 0
        self._python_signer = PythonSigner(os.path.join(TESTDATA, "idp.key")) if signer == "python" else None
        self._presigned = {}  # email -> signed Assertion text (presign())
        self._lock = threading.Lock()
        self._serial = 0
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                with standin._lock:
                    standin.in_flight += 1
                    standin.most_in_flight = max(standin.most_in_flight, standin.in_flight)
                try:
                    self._post()
                finally:
                    with standin._lock:
                        standin.in_flight -= 1

            def _post(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != PATH or "text/xml" not in self.headers.get("Content-Type", ""):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(self.connection, ssl.SSLSocket):
                    peer = self.connection.getpeercert() or {}
                    cn = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
                    with standin._lock:
                        standin.client_certificates.append(cn[0] if cn else None)
                try:
                    answer = standin._answer(body)
                    status = 200
                except Exception as e:  # a malformed query: a SOAP fault, as an IdP answers
                    answer = ('<soap11:Envelope xmlns:soap11="%s"><soap11:Body><soap11:Fault>'
                              '<faultcode>soap11:Client</faultcode><faultstring>%s</faultstring>'
                              '</soap11:Fault></soap11:Body></soap11:Envelope>' % (NS["soap"], _escape(str(e))))
                    status = 500
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

            def handle_error(self, request, client_address):
                with standin._lock:
                    standin.failed_connections += 1

        self._server = Server(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert, tls.key)
            if tls.client_ca:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(tls.client_ca)
            # The handshake runs in the request's thread (the first read),
            # so a failing client does not stall the accept loop.
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d%s" % (scheme, self._server.server_address[1], PATH)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def write_metadata(self, path):
        with open(path, "w") as f:
            f.write(metadata_xml(self.url))

    @classmethod
    def _detached_python_signer(cls):
        """A stand-in without a server, used only to sign (in pool workers)."""
        signer = cls.__new__(cls)
        signer.groups_attribute = "SpectroTeam"
        signer._python_signer = PythonSigner(os.path.join(TESTDATA, "idp.key"))
        return signer

    def presign(self, audience, valid_for, processes=2):
        """Signs, once, an Assertion for each person of `people` (groups as
        they are now), valid from a minute ago for `valid_for` (a
        timedelta), with PythonSigner in `processes` worker processes. Later
        answers about them carry that Assertion in a fresh Response (its
        InResponseTo is the query's ID; the Response itself is unsigned, so
        nothing signed depends on the query). For benchmarks: one RSA
        signature per person ahead of the cycle instead of one per query."""
        import multiprocessing
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        jobs = [(email, "_a-%s" % hashlib.sha256(email.encode()).hexdigest()[:24], now, email, audience, groups,
                 valid_for) for email, groups in self.people.items()]
        with multiprocessing.Pool(processes) as pool:
            signed = dict(pool.map(_presign_one, jobs, chunksize=64))
        with self._lock:
            self._presigned = signed

    def reset_queries(self):
        with self._lock:
            self.queries = []
            self.client_certificates = []
            self.most_in_flight = 0

    # --- answering -----------------------------------------------------------------

    def _answer(self, body):
        root = ET.fromstring(body)
        query = root.find("soap:Body/samlp:AttributeQuery", NS)
        if query is None:
            raise ValueError("no samlp:AttributeQuery in the SOAP Body")
        query_id = query.get("ID")
        issuer = (query.findtext("saml:Issuer", default="", namespaces=NS)).strip()
        name_id = (query.findtext("saml:Subject/saml:NameID", default="", namespaces=NS)).strip()
        if not query_id or not issuer or not name_id:
            raise ValueError("the query lacks an ID, Issuer or NameID")
        if self.sp_cert:
            signed = query.find("ds:Signature", NS) is not None and _verify_with(
                body.decode(), self.sp_cert, NS["samlp"] + ":AttributeQuery")
            with self._lock:
                self.query_signatures.append(signed)
        with self._lock:
            self.queries.append((query_id, issuer, name_id))
            self._serial += 1
            serial = self._serial
            groups = self.people.get(name_id)
            forged = self.forged.get(name_id)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        ids = {"response": "_r%d" % serial, "assertion": "_a%d" % serial, "query": query_id}
        if forged == "unsigned_unknown":
            return self._envelope(self._response(ids, now, self._unknown_status(), ""))
        if forged:
            document = self._forge("xsw_signed_in_extensions" if forged == "wrapped" else forged,
                                   ids, now, name_id, issuer, groups or ["palette-users"])
            with self._lock:
                self.served[forged] = document
            return document
        if groups is None and self.signer is None:
            return self._envelope(self._response(ids, now, self._unknown_status(), ""))
        if groups is None:
            return sign(self._envelope(self._response(ids, now, self._unknown_status(), "",
                                                      signature=_signature_template(ids["response"]))))
        if self.signer is None:
            return self._envelope(self._response(ids, now, self._success_status(),
                                                 self._assertion(ids["assertion"], now, name_id, issuer, groups)))
        if name_id in self._presigned:
            return self._envelope(self._response(ids, now, self._success_status(), self._presigned[name_id]))
        if self._python_signer:
            return self._envelope(self._response(ids, now, self._success_status(),
                                                 self._python_signed_assertion(ids["assertion"], now, name_id,
                                                                               issuer, groups)))
        return sign(self._envelope(self._response(
            ids, now, self._success_status(),
            self._assertion(ids["assertion"], now, name_id, issuer, groups,
                            signature=_signature_template(ids["assertion"])))))

    def _signed_assertion(self, aid, now, name_id, audience, groups, key_name="idp", **kw):
        """An Assertion signed on its own (exc-c14n makes its signature
        independent of where it is later put), as text."""
        sig_kw = {k: kw.pop(k) for k in ("sig_alg", "digest") if k in kw}
        ids = {"response": "_tmp" + aid, "assertion": aid, "query": "_unused"}
        doc = sign(self._envelope(self._response(ids, now, self._success_status(), self._assertion(
            aid, now, name_id, audience, groups, signature=_signature_template(aid, **sig_kw), **kw))), key_name)
        return _between(doc, "<saml:Assertion", "</saml:Assertion>")

    def _forge(self, kind, ids, now, name_id, audience, genuine_groups):
        """One document of the attack corpus about `name_id`, answering the
        query ids["query"]; its content says FORGED_GROUPS. Shapes as in
        connectors/saml/testdata/make_fixtures.py, made per query."""
        ok = self._success_status()
        aid, evil_aid = ids["assertion"], ids["assertion"] + "-evil"
        evil = self._assertion(evil_aid, now, name_id, audience, FORGED_GROUPS)
        signed_evil = self._signed_assertion(aid, now, name_id, audience, FORGED_GROUPS)
        genuine = self._signed_assertion(aid, now, name_id, audience, genuine_groups)

        def doc(body, **kw):
            return self._envelope(self._response(ids, now, ok, body, **kw))

        if kind == "unsigned":
            return doc(self._assertion(aid, now, name_id, audience, FORGED_GROUPS))
        if kind == "untrusted_key":
            return doc(self._signed_assertion(aid, now, name_id, audience, FORGED_GROUPS, key_name="attacker"))
        if kind == "sha1":
            return doc(self._signed_assertion(aid, now, name_id, audience, FORGED_GROUPS, sig_alg=RSA_SHA1,
                                              digest=SHA1))
        if kind == "two_assertions":
            # Two genuinely signed Assertions: a stale one first, the current one after.
            stale = self._signed_assertion(aid + "-stale", now, name_id, audience, FORGED_GROUPS)
            return doc(stale + genuine)
        if kind == "reference_elsewhere":
            # The Assertion's Signature signs the whole Response instead.
            return sign(doc(self._assertion(aid, now, name_id, audience, FORGED_GROUPS,
                                            signature=_signature_template(ids["response"]))))
        if kind == "duplicate_ids":
            # The Response takes the Assertion's ID: "#id" names two elements.
            return doc(signed_evil).replace('ID="%s"' % ids["response"], 'ID="%s"' % aid, 1)
        if kind == "comment_in_name_id":
            # Signed about another NameID; a comment makes its first text node the asked one.
            other = self._signed_assertion(aid, now, name_id + ".evil.net", audience, FORGED_GROUPS)
            escaped = _c14n_text(name_id)
            return doc(other.replace(">%s.evil.net<" % escaped, ">%s<!---->.evil.net<" % escaped, 1))
        if kind == "wrong_in_response_to":
            return self._envelope(self._response(dict(ids, query="_q-another"), now, ok, signed_evil))
        if kind == "wrong_issuer":
            return doc(self._signed_assertion(aid, now, name_id, audience, FORGED_GROUPS,
                                              issuer="https://evil.example.net/idp"))
        if kind == "wrong_audience":
            return doc(self._signed_assertion(aid, now, name_id, "https://other-sp.example.com", FORGED_GROUPS))
        if kind == "expired":
            return doc(self._signed_assertion(aid, now - datetime.timedelta(hours=2), name_id, audience,
                                              FORGED_GROUPS))
        if kind == "encrypted_assertion":
            return doc(signed_evil + '<saml:EncryptedAssertion xmlns:saml="%s"><xenc:EncryptedData '
                       'xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>' % NS["saml"])
        if kind == "doctype_internal_entity":
            # The entity spells the forged group; expanded, the signature verifies.
            text = doc(signed_evil).replace(">%s<" % FORGED_GROUPS[0], ">&grp;<", 1)
            return text.replace("<soap11:Envelope", '<!DOCTYPE soap11:Envelope [<!ENTITY grp "%s">]>\n'
                                '<soap11:Envelope' % FORGED_GROUPS[0], 1)
        if kind == "doctype_external_entity":
            # An external DTD and an external entity, both at external_url:
            # a parser that loads them asks that URL (SSRF), and with the
            # entity's text (FORGED_GROUPS[0]) the signature verifies.
            text = doc(signed_evil).replace(">%s<" % FORGED_GROUPS[0], ">&ext;<", 1)
            return text.replace("<soap11:Envelope", '<!DOCTYPE soap11:Envelope SYSTEM "%s/evil.dtd" '
                                '[<!ENTITY ext SYSTEM "%s/xxe">]>\n<soap11:Envelope'
                                % (self.external_url, self.external_url), 1)
        # Signature wrapping: the genuine signed Assertion (genuine groups)
        # kept somewhere a careless verifier still finds it, the evil one
        # where a careless reader looks.
        if kind == "xsw_evil_before_signed":  # cf. XSW3
            return doc(evil + genuine)
        if kind == "xsw_signed_inside_evil":  # cf. XSW4
            return doc(evil.replace("</saml:Assertion>", genuine + "</saml:Assertion>"))
        if kind == "xsw_signed_in_extensions":  # cf. XSW7
            return doc(evil, extensions="<samlp:Extensions>%s</samlp:Extensions>" % genuine)
        if kind == "xsw_signed_in_soap_header":
            return doc(evil).replace("<soap11:Body>", "<soap11:Header>%s</soap11:Header><soap11:Body>"
                                     % genuine, 1)
        if kind == "xsw_response_wrapped":  # cf. XSW2: a signed Response inside an evil one
            signed_response = _between(sign(self._envelope(self._response(
                ids, now, ok, self._assertion(aid, now, name_id, audience, genuine_groups),
                signature=_signature_template(ids["response"])))), "<samlp:Response", "</samlp:Response>")
            return self._envelope(self._response(dict(ids, response=ids["response"] + "-evil"), now, ok,
                                                 signed_response + evil))
        if kind == "xsw_original_in_advice":  # the original's Signature on the evil one, the original in Advice
            original_signature = _between(genuine, "<ds:Signature", "</ds:Signature>")
            original_unsigned = genuine.replace(original_signature, "")
            wrapped = evil.replace("</saml:Issuer>", "</saml:Issuer>" + original_signature, 1).replace(
                "</saml:Conditions>", "</saml:Conditions><saml:Advice>%s</saml:Advice>" % original_unsigned, 1)
            return doc(wrapped)
        raise ValueError("unknown forgery " + kind)

    @staticmethod
    def _success_status():
        return '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'

    @staticmethod
    def _unknown_status():
        return ('<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Requester">'
                '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"/>'
                '</samlp:StatusCode></samlp:Status>')

    def _assertion(self, aid, now, name_id, audience, groups, signature="", issuer=ENTITY_ID):
        values = "".join("<saml:AttributeValue>%s</saml:AttributeValue>" % _escape(g) for g in groups)
        attribute = ('<saml:AttributeStatement><saml:Attribute Name="%s">%s</saml:Attribute>'
                     '</saml:AttributeStatement>' % (_escape(self.groups_attribute), values)) if groups else ""
        return ('<saml:Assertion xmlns:saml="%s" ID="%s" Version="2.0" IssueInstant="%s">'
                '<saml:Issuer>%s</saml:Issuer>%s'
                '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">%s'
                '</saml:NameID></saml:Subject>'
                '<saml:Conditions NotBefore="%s" NotOnOrAfter="%s"><saml:AudienceRestriction>'
                '<saml:Audience>%s</saml:Audience></saml:AudienceRestriction></saml:Conditions>%s'
                '</saml:Assertion>'
                % (NS["saml"], aid, _time(now), _escape(issuer), signature, _escape(name_id),
                   _time(now - datetime.timedelta(seconds=60)), _time(now + datetime.timedelta(minutes=5)),
                   _escape(audience), attribute))

    def _python_signed_assertion(self, aid, now, name_id, audience, groups,
                                 valid_for=datetime.timedelta(minutes=5)):
        """The Assertion of _assertion(), written in exclusive-c14n form (ID,
        IssueInstant, Version in c14n attribute order) and signed by
        PythonSigner; its Signature goes after the Issuer, as SAML wants."""
        values = "".join("<saml:AttributeValue>%s</saml:AttributeValue>" % _c14n_text(g) for g in groups)
        attribute = ('<saml:AttributeStatement><saml:Attribute Name="%s">%s</saml:Attribute>'
                     '</saml:AttributeStatement>' % (_escape(self.groups_attribute), values)) if groups else ""
        head = ('<saml:Assertion xmlns:saml="%s" ID="%s" IssueInstant="%s" Version="2.0">'
                '<saml:Issuer>%s</saml:Issuer>' % (NS["saml"], aid, _time(now), _c14n_text(ENTITY_ID)))
        tail = ('<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">%s'
                '</saml:NameID></saml:Subject>'
                '<saml:Conditions NotBefore="%s" NotOnOrAfter="%s"><saml:AudienceRestriction>'
                '<saml:Audience>%s</saml:Audience></saml:AudienceRestriction></saml:Conditions>%s'
                '</saml:Assertion>'
                % (_c14n_text(name_id), _time(now - datetime.timedelta(seconds=60)),
                   _time(now + valid_for), _c14n_text(audience), attribute))
        return head + self._python_signer.signature(aid, head + tail) + tail

    @staticmethod
    def _response(ids, now, status, assertion, signature="", extensions=""):
        return ('<samlp:Response xmlns:samlp="%s" ID="%s" Version="2.0" IssueInstant="%s" InResponseTo="%s">'
                '<saml:Issuer xmlns:saml="%s">%s</saml:Issuer>%s%s%s%s</samlp:Response>'
                % (NS["samlp"], ids["response"], _time(now), _escape(ids["query"]), NS["saml"], ENTITY_ID,
                   signature, extensions, status, assertion))

    @staticmethod
    def _envelope(inner):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<soap11:Envelope xmlns:soap11="%s"><soap11:Body>%s'
                '</soap11:Body></soap11:Envelope>\n' % (NS["soap"], inner))
