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

For attack tests a person can be given a forged answer instead: the genuine
signed Assertion moved under samlp:Extensions and an unsigned Assertion with
other groups in its place (signature wrapping), or an unsigned
UnknownPrincipal.
"""

import datetime
import http.server
import os
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(os.path.dirname(os.path.dirname(HERE)), "connectors", "saml", "testdata")
ENTITY_ID = "https://idp.example.org/idp/shibboleth"
PATH = "/idp/profile/SAML2/SOAP/AttributeQuery"

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


def _signature_template(ref_id):
    return ('<ds:Signature xmlns:ds="%s"><ds:SignedInfo>'
            '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            '<ds:Reference URI="#%s"><ds:Transforms>'
            '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
            '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
            '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
            '<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>'
            '<ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>' % (NS["ds"], ref_id))


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


class SamlStandin:
    def __init__(self, groups_attribute="SpectroTeam", sp_cert=None):
        self.groups_attribute = groups_attribute
        self.sp_cert = sp_cert  # when set, each query's signature is checked with xmlsec1 against it
        self.query_signatures = []  # True/False per query, when sp_cert is set
        self.people = {}      # email -> list of groups
        self.forged = {}      # email -> "wrapped" | "unsigned_unknown"
        self.queries = []     # (query ID, issuer, NameID) per request
        self._lock = threading.Lock()
        self._serial = 0
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != PATH or "text/xml" not in self.headers.get("Content-Type", ""):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
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

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d%s" % (self._server.server_address[1], PATH)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def write_metadata(self, path):
        with open(path, "w") as f:
            f.write(metadata_xml(self.url))

    def reset_queries(self):
        with self._lock:
            self.queries = []

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
        if groups is None:
            return sign(self._envelope(self._response(ids, now, self._unknown_status(), "",
                                                      signature=_signature_template(ids["response"]))))
        genuine = sign(self._envelope(self._response(
            ids, now, self._success_status(),
            self._assertion(ids["assertion"], now, name_id, issuer, groups,
                            signature=_signature_template(ids["assertion"])))))
        if forged == "wrapped":
            # The genuine signed Assertion goes under samlp:Extensions; an
            # unsigned one without the groups takes its place.
            start = genuine.index("<saml:Assertion")
            end = genuine.index("</saml:Assertion>") + len("</saml:Assertion>")
            signed_assertion = genuine[start:end]
            evil = self._assertion("_evil%d" % serial, now, name_id, issuer, [])
            return self._envelope(self._response(ids, now, self._success_status(), evil,
                                                 extensions="<samlp:Extensions>%s</samlp:Extensions>"
                                                 % signed_assertion))
        return genuine

    @staticmethod
    def _success_status():
        return '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'

    @staticmethod
    def _unknown_status():
        return ('<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Requester">'
                '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"/>'
                '</samlp:StatusCode></samlp:Status>')

    def _assertion(self, aid, now, name_id, audience, groups, signature=""):
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
                % (NS["saml"], aid, _time(now), ENTITY_ID, signature, _escape(name_id),
                   _time(now - datetime.timedelta(seconds=60)), _time(now + datetime.timedelta(minutes=5)),
                   _escape(audience), attribute))

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
