#!/usr/bin/env python3
"""Writes the SAML test documents of connectors/saml/ into responses/.

Every signature is made by the xmlsec1 command-line tool (Debian package
`xmlsec1`), independently of keywarden's own xmlsec code, from the templates
below. Attack documents are built by moving text of signed good documents
around, the way an attacker would: their signatures still verify with the
IdP's key, which the script checks with `xmlsec1 --verify` ("some signature
verifies" is exactly what the attacks exploit).

Fixed values (the unit tests use them): query ID _q-7f3a, NameID
alice@example.com, issuer https://idp.example.org/idp/shibboleth, audience
https://keywarden.example.com/saml, valid 2026-11-30T09:59:00Z to
2026-11-30T10:05:00Z.

Run it again after changing a template: python3 make_fixtures.py
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "responses")

QUERY_ID = "_q-7f3a"
RESPONSE_ID = "_r-1b2c"
ASSERTION_ID = "_a-3d4e"
EVIL_ASSERTION_ID = "_a-evil"
EVIL_RESPONSE_ID = "_r-evil"
NAME_ID = "alice@example.com"
IDP = "https://idp.example.org/idp/shibboleth"
SP = "https://keywarden.example.com/saml"

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
INCL_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"


def signature_template(ref_id, sig_alg=RSA_SHA256, digest=SHA256, transforms=(ENVELOPED, EXC_C14N), refs=None):
    refs = refs or [ref_id]
    references = ""
    for r in refs:
        t = "".join('<ds:Transform Algorithm="%s"/>' % a for a in transforms)
        references += ('<ds:Reference URI="#%s"><ds:Transforms>%s</ds:Transforms>'
                       '<ds:DigestMethod Algorithm="%s"/><ds:DigestValue></ds:DigestValue></ds:Reference>'
                       % (r, t, digest))
    return ('<ds:Signature xmlns:ds="%s"><ds:SignedInfo>'
            '<ds:CanonicalizationMethod Algorithm="%s"/><ds:SignatureMethod Algorithm="%s"/>%s'
            '</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>'
            '<ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo>'
            '</ds:Signature>' % (DS, EXC_C14N, sig_alg, references))


def assertion(aid=ASSERTION_ID, name_id=NAME_ID, groups=("palette-users", "ops"), issuer=IDP,
              not_before="2026-11-30T09:59:00Z", not_on_or_after="2026-11-30T10:05:00Z",
              audience=SP, signature="", attribute_name="SpectroTeam"):
    values = "".join("<saml:AttributeValue>%s</saml:AttributeValue>" % g for g in groups)
    audience_xml = ("<saml:AudienceRestriction><saml:Audience>%s</saml:Audience></saml:AudienceRestriction>"
                    % audience) if audience is not None else ""
    return ('<saml:Assertion xmlns:saml="%s" ID="%s" Version="2.0" IssueInstant="2026-11-30T10:00:00Z">'
            '<saml:Issuer>%s</saml:Issuer>%s'
            '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">%s</saml:NameID>'
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:sender-vouches">'
            '<saml:SubjectConfirmationData InResponseTo="%s"/></saml:SubjectConfirmation></saml:Subject>'
            '<saml:Conditions NotBefore="%s" NotOnOrAfter="%s">%s</saml:Conditions>'
            '<saml:AttributeStatement><saml:Attribute Name="%s" '
            'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">%s</saml:Attribute>'
            '</saml:AttributeStatement></saml:Assertion>'
            % (SAML, aid, issuer, signature, name_id, QUERY_ID, not_before, not_on_or_after, audience_xml,
               attribute_name, values))


def status(top="urn:oasis:names:tc:SAML:2.0:status:Success", second=None):
    inner = '<samlp:StatusCode Value="%s"/>' % second if second else ""
    return '<samlp:Status><samlp:StatusCode Value="%s">%s</samlp:StatusCode></samlp:Status>' % (top, inner)


def response(body, rid=RESPONSE_ID, in_response_to=QUERY_ID, issuer=IDP, signature="", extensions="",
             stat=None):
    issuer_xml = '<saml:Issuer xmlns:saml="%s">%s</saml:Issuer>' % (SAML, issuer) if issuer else ""
    return ('<samlp:Response xmlns:samlp="%s" ID="%s" Version="2.0" IssueInstant="2026-11-30T10:00:00Z" '
            'InResponseTo="%s">%s%s%s%s%s</samlp:Response>'
            % (SAMLP, rid, in_response_to, issuer_xml, signature, extensions, stat or status(), body))


def envelope(inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Body>'
            '%s</soap11:Body></soap11:Envelope>\n' % inner)


def key(name):
    return os.path.join(HERE, name + ".key") + "," + os.path.join(HERE, name + ".crt")


ID_ATTRS = ["--id-attr:ID", SAML + ":Assertion", "--id-attr:ID", SAMLP + ":Response"]


def sign(document, signer="idp", node_id=None):
    """Signs the first ds:Signature template in `document` (or the one inside
    the element with ID `node_id`) with xmlsec1."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.xml")
        with open(src, "w") as f:
            f.write(document)
        args = ["xmlsec1", "--sign", "--privkey-pem", key(signer)] + ID_ATTRS
        if node_id:
            args += ["--node-xpath", "//*[@ID='%s']/*[local-name()='Signature']" % node_id]
        out = subprocess.run(args + [src], check=True, capture_output=True, text=True)
        return out.stdout


def verifies_naively(document, cert="idp"):
    """What a careless verifier checks: the first signature verifies with the
    IdP's key, IDs registered by name anywhere."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.xml")
        with open(src, "w") as f:
            f.write(document)
        r = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", os.path.join(HERE, cert + ".crt")]
                           + ID_ATTRS + [src], capture_output=True, text=True)
        return r.returncode == 0


def between(text, start, end):
    """The first substring of `text` from `start` through the matching `end`."""
    i = text.index(start)
    j = text.index(end, i) + len(end)
    return text[i:j]


def strip_xml_decl(doc):
    return doc.split("?>", 1)[1].lstrip() if doc.startswith("<?xml") else doc


def write(name, document, must_verify=None):
    if must_verify is not None:
        ok = verifies_naively(document)
        if ok != must_verify:
            sys.exit("%s: xmlsec1 --verify says %s, expected %s" % (name, ok, must_verify))
    with open(os.path.join(OUT, name), "w") as f:
        f.write(document)


def signed_assertion(**kw):
    """A Response (unsigned) carrying a signed Assertion; returns the document."""
    sig_kw = {k: kw.pop(k) for k in ("sig_alg", "digest", "transforms") if k in kw}
    aid = kw.get("aid", ASSERTION_ID)
    signer = kw.pop("signer", "idp")
    doc = envelope(response(assertion(signature=signature_template(aid, **sig_kw), **kw)))
    return sign(doc, signer)


def cert_base64(name):
    pem = open(os.path.join(HERE, name + ".crt")).read()
    return "".join(line for line in pem.splitlines() if "CERTIFICATE" not in line)


def metadata():
    """The IdP's metadata: idp.crt for signing, idp-rollover.crt with no `use`
    (also signing), attacker.crt for encryption only (never trusted)."""
    def key_descriptor(name, use):
        use_attr = ' use="%s"' % use if use else ""
        return ('<md:KeyDescriptor%s><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate>'
                '</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>' % (use_attr, cert_base64(name)))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="%s" entityID="%s">\n'
            ' <md:AttributeAuthorityDescriptor protocolSupportEnumeration="%s">\n  %s\n  %s\n  %s\n'
            '  <md:AttributeService Binding="urn:oasis:names:tc:SAML:1.0:bindings:SOAP-binding" '
            'Location="https://idp.example.org/idp/profile/SAML1/SOAP/AttributeQuery"/>\n'
            '  <md:AttributeService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" '
            'Location="https://idp.example.org/idp/profile/SAML2/SOAP/AttributeQuery"/>\n'
            ' </md:AttributeAuthorityDescriptor>\n</md:EntityDescriptor>\n'
            % (DS, IDP, SAMLP, key_descriptor("idp", "signing"), key_descriptor("idp-rollover", None),
               key_descriptor("attacker", "encryption")))


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(HERE, "idp-metadata.xml"), "w") as f:
        f.write(metadata())

    # ---- good answers
    good = signed_assertion()
    write("good_assertion_signed.xml", good, must_verify=True)
    write("good_response_signed.xml",
          sign(envelope(response(assertion(), signature=signature_template(RESPONSE_ID)))), must_verify=True)
    both = sign(envelope(response(assertion(signature=signature_template(ASSERTION_ID)))), node_id=ASSERTION_ID)
    both = both.replace('<samlp:Status>', signature_template(RESPONSE_ID) + '<samlp:Status>', 1)
    write("good_both_signed.xml", sign(both, node_id=RESPONSE_ID), must_verify=True)
    write("good_rollover_key.xml", signed_assertion(signer="idp-rollover"))
    write("good_no_groups.xml", signed_assertion(attribute_name="somethingElse"), must_verify=True)
    write("good_unsigned.xml", envelope(response(assertion())))
    unknown = status("urn:oasis:names:tc:SAML:2.0:status:Requester",
                     "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal")
    write("unknown_principal_signed.xml",
          sign(envelope(response("", signature=signature_template(RESPONSE_ID), stat=unknown))),
          must_verify=True)
    write("unknown_principal_unsigned.xml", envelope(response("", stat=unknown)))
    write("request_denied_signed.xml",
          sign(envelope(response("", signature=signature_template(RESPONSE_ID),
                                 stat=status("urn:oasis:names:tc:SAML:2.0:status:Responder",
                                             "urn:oasis:names:tc:SAML:2.0:status:RequestDenied")))))

    # ---- plain failures of the checks after the signature (each signed correctly)
    write("attack_wrong_in_response_to.xml",
          sign(envelope(response(assertion(signature=signature_template(ASSERTION_ID)), in_response_to="_q-other"))),
          must_verify=True)
    write("attack_wrong_issuer.xml", signed_assertion(issuer="https://evil.example.net/idp"), must_verify=True)
    write("attack_wrong_response_issuer.xml",
          sign(envelope(response(assertion(signature=signature_template(ASSERTION_ID)),
                                 issuer="https://evil.example.net/idp"))), must_verify=True)
    write("attack_wrong_audience.xml", signed_assertion(audience="https://other-sp.example.com"), must_verify=True)
    write("attack_expired.xml", signed_assertion(not_before="2026-11-30T08:00:00Z",
                                                 not_on_or_after="2026-11-30T08:05:00Z"), must_verify=True)
    write("attack_not_yet_valid.xml", signed_assertion(not_before="2026-11-30T11:00:00Z",
                                                       not_on_or_after="2026-11-30T11:05:00Z"), must_verify=True)
    write("attack_other_name_id.xml", signed_assertion(name_id="bob@example.com"), must_verify=True)

    # ---- signatures that must not count
    write("attack_unsigned.xml", envelope(response(assertion())))
    write("attack_untrusted_key.xml", signed_assertion(signer="attacker"))
    write("attack_sha1_digest.xml", signed_assertion(digest=SHA1), must_verify=True)
    write("attack_sha1_signature.xml", signed_assertion(sig_alg=RSA_SHA1), must_verify=True)
    write("attack_inclusive_c14n_transform.xml", signed_assertion(transforms=(ENVELOPED, INCL_C14N)),
          must_verify=True)
    write("attack_c14n_with_comments_transform.xml",
          signed_assertion(transforms=(ENVELOPED, EXC_C14N_COMMENTS)), must_verify=True)
    # The Assertion's Signature signs the whole Response instead of the Assertion.
    write("attack_reference_elsewhere.xml",
          sign(envelope(response(assertion(signature=signature_template(RESPONSE_ID))))), must_verify=True)
    # Two References: the Assertion and the (unsigned-looking) Response.
    write("attack_two_references.xml",
          sign(envelope(response(assertion(signature=signature_template(
              ASSERTION_ID, transforms=(ENVELOPED, EXC_C14N), refs=[ASSERTION_ID, ASSERTION_ID])))) ),
          must_verify=True)

    # ---- comments and entities
    # A comment inside the NameID: a parser that reads the first text node
    # sees "alice@example.com", one that reads the whole text sees more. The
    # signature covers the comment (exc-c14n without comments drops it, so
    # the signature is over the text "alice@example.com.evil.net"... without
    # the comment) and still verifies after the comment is added.
    commented = signed_assertion(name_id="alice@example.com.evil.net")
    commented = commented.replace(">alice@example.com.evil.net<", ">alice@example.com<!---->.evil.net<")
    write("attack_comment_in_name_id.xml", commented, must_verify=True)
    write("attack_comment_in_name_id_exact.xml",
          good.replace(">alice@example.com<", ">alice@<!-- x -->example.com<"), must_verify=True)
    write("attack_doctype_internal_entity.xml",
          good.replace('<soap11:Envelope',
                       '<!DOCTYPE soap11:Envelope [<!ENTITY who "alice@example.com">]>\n<soap11:Envelope', 1))
    write("attack_doctype_external_entity.xml",
          good.replace('<soap11:Envelope',
                       '<!DOCTYPE soap11:Envelope [<!ENTITY ext SYSTEM "http://127.0.0.1:9/xxe">]>\n'
                       '<soap11:Envelope', 1).replace(">ops<", ">&ext;<"))
    write("attack_encrypted_assertion.xml",
          good.replace("</samlp:Response>",
                       '<saml:EncryptedAssertion xmlns:saml="%s"><xenc:EncryptedData '
                       'xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion></samlp:Response>'
                       % SAML), must_verify=True)
    # Response ID equal to the Assertion ID: "#id" is ambiguous.
    write("attack_duplicate_ids.xml",
          good.replace('ID="%s" Version="2.0" IssueInstant="2026-11-30T10:00:00Z" InResponseTo' % RESPONSE_ID,
                       'ID="%s" Version="2.0" IssueInstant="2026-11-30T10:00:00Z" InResponseTo' % ASSERTION_ID))

    # ---- signature wrapping (shapes after Somorovsky et al., "On Breaking SAML", 2012)
    signed_a = between(good, "<saml:Assertion", "</saml:Assertion>")
    evil_a = assertion(aid=EVIL_ASSERTION_ID, groups=("palette-admins",), name_id=NAME_ID)
    evil_same_id = assertion(groups=("palette-admins",))  # the evil one takes the signed one's ID

    def sig_of(text):
        return between(text, "<ds:Signature", "</ds:Signature>")

    # XSW-A (cf. XSW3): an evil Assertion before the signed one, both children of the Response.
    write("attack_xsw_evil_before_signed.xml", envelope(response(evil_a + signed_a)), must_verify=True)
    # XSW-B (cf. XSW4): the signed Assertion inside the evil one.
    write("attack_xsw_signed_inside_evil.xml",
          envelope(response(evil_a.replace("</saml:Assertion>", signed_a + "</saml:Assertion>"))),
          must_verify=True)
    # XSW-C (cf. XSW7): the signed Assertion under samlp:Extensions, the evil one in its place.
    write("attack_xsw_signed_in_extensions.xml",
          envelope(response(evil_a, extensions="<samlp:Extensions>%s</samlp:Extensions>" % signed_a)),
          must_verify=True)
    # XSW-D (cf. XSW6/8): the evil Assertion carries the original Signature, and the
    # original Assertion (its Signature removed) sits in a ds:Object of that Signature.
    orig_sig = sig_of(signed_a)
    orig_unsigned = signed_a.replace(orig_sig, "")
    moved_sig = orig_sig.replace("</ds:Signature>", "<ds:Object>%s</ds:Object></ds:Signature>" % orig_unsigned)
    evil_with_sig = evil_a.replace("</saml:Issuer>", "</saml:Issuer>" + moved_sig, 1)
    # (The enveloped transform cuts the ds:Object out again, so this one fails even a
    # careless verifier; kept because a verifier without that transform would pass it.)
    write("attack_xsw_original_in_signature_object.xml", envelope(response(evil_with_sig)))
    # XSW-E (cf. XSW5): the evil Assertion keeps the signed one's ID and Signature; the
    # original (unsigned copy) goes first, so "#id" names two elements and a
    # verifier that keeps the first registration digests the original.
    evil_keeps_sig = evil_same_id.replace("</saml:Issuer>", "</saml:Issuer>" + orig_sig, 1)
    write("attack_xsw_duplicate_id_copy.xml", envelope(response(orig_unsigned + evil_keeps_sig)))
    # XSW-F (cf. XSW1): a Response-signed answer wrapped: a new evil Response whose
    # Signature is the original one, the original Response inside a ds:Object.
    good_resp = open(os.path.join(OUT, "good_response_signed.xml")).read()
    signed_r = between(good_resp, "<samlp:Response", "</samlp:Response>")
    r_sig = sig_of(signed_r)
    r_unsigned = signed_r.replace(r_sig, "")
    r_moved_sig = r_sig.replace("</ds:Signature>", "<ds:Object>%s</ds:Object></ds:Signature>" % r_unsigned)
    write("attack_xsw_response_in_signature_object.xml",
          envelope(response(evil_a, rid=EVIL_RESPONSE_ID, signature=r_moved_sig)))
    # XSW-G (cf. XSW2): the evil Response with the original signed Response as its
    # child before its (copied) Signature.
    write("attack_xsw_response_wrapped.xml",
          envelope(response(signed_r + evil_a, rid=EVIL_RESPONSE_ID)), must_verify=True)
    # XSW-H: the signed Assertion moved into the SOAP Header, the evil one in the Body.
    write("attack_xsw_signed_in_soap_header.xml",
          envelope(response(evil_a)).replace(
              "<soap11:Body>", "<soap11:Header>%s</soap11:Header><soap11:Body>" % signed_a, 1),
          must_verify=True)
    # XSW-I: the evil Assertion with the original's Signature pasted in (Reference to
    # the original's ID), the original kept in a saml:Advice of the evil one.
    evil_advice = evil_a.replace("</saml:Issuer>", "</saml:Issuer>" + orig_sig, 1).replace(
        "<saml:Subject>", "<saml:Subject>", 1).replace(
        "</saml:Conditions>", "</saml:Conditions><saml:Advice>%s</saml:Advice>" % orig_unsigned, 1)
    write("attack_xsw_original_in_advice.xml", envelope(response(evil_advice)), must_verify=True)
    print("wrote", len(os.listdir(OUT)), "documents to", OUT)


if __name__ == "__main__":
    main()
