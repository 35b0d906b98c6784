// Enveloped XML signatures with libxmlsec1 (OpenSSL backend), done the one
// way that leaves no room for signature wrapping (reference/idp-protocols.md
// §7.3): the caller names the element it will read and registers its ID;
// the Signature must be that element's direct child with exactly one
// Reference to that ID, verified with a key the caller trusts (KeyInfo in
// the document is never used), with only the enveloped and exclusive-c14n
// transforms and no SHA-1.
//
// Only this file pair calls xmlsec. Everything here may run on any thread
// (the connector runs it on the blocking pool); keys are immutable once
// loaded and each operation uses its own copy.
#pragma once

#include <libxml/tree.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct _xmlSecKey;

namespace keywarden {

// A key that could not be loaded. The message names the file or the
// certificate's position, never key material.
class XmlKeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One xmlsec key (a public key from a certificate, or a private key with its
// certificate). Shared and never modified after loading.
using XmlSecKey = std::shared_ptr<const _xmlSecKey>;

// The public key of a DER certificate (the base64-decoded content of
// ds:X509Certificate). Throws XmlKeyError.
XmlSecKey load_certificate_key(std::string_view der);

// A PEM private key with its PEM certificate (sent in KeyInfo of what it
// signs). Throws XmlKeyError naming `what`, never the key.
XmlSecKey load_signing_key(std::string_view private_key_pem, std::string_view certificate_pem,
                           const std::string& what);

// Registers `id_attribute`'s value as an ID of `doc` (xmlAddID). Returns
// false when that value is already an ID of the document: the caller must
// refuse the document, since "#id" would then name two elements.
bool register_id(xmlDoc* doc, xmlAttr* id_attribute);

// Verifies the enveloped signature of `element`, whose ID (already
// registered with register_id) is `id`. Succeeds only when:
// - `element` has exactly one direct-child ds:Signature;
// - its SignedInfo uses exclusive c14n, RSA or ECDSA with SHA-256/384/512,
//   and holds exactly one Reference, with URI "#<id>", transforms only
//   enveloped-signature and exclusive c14n, digest SHA-256/384/512;
// - xmlsec verifies it with one of `trusted` (each tried with a fresh
//   context and the key preset, so KeyInfo is ignored), with only
//   same-document references and the same transforms enabled;
// - xmlsec's reference resolved "#<id>" and the ID names `element` itself.
// Returns nullopt on success, else what failed (no document content).
std::optional<std::string> verify_enveloped_signature(xmlDoc* doc, xmlNode* element, const std::string& id,
                                                      const std::vector<XmlSecKey>& trusted);

// Signs `element` (ID `id`, registered) with an enveloped signature:
// RSA-SHA256, exclusive c14n, one Reference "#<id>" with the enveloped and
// exclusive-c14n transforms and SHA-256, KeyInfo with the certificate. The
// Signature is inserted after `insert_after` (for SAML, the Issuer) or as
// the first child when it is null. Throws XmlKeyError when signing fails.
void sign_enveloped(xmlDoc* doc, xmlNode* element, const std::string& id, xmlNode* insert_after,
                    const XmlSecKey& key);

}  // namespace keywarden
