// Judging one SOAP answer to a samlp:AttributeQuery (SPEC §8.2).
//
// Pure apart from xmlsec: the caller passes the time and what it asked; the
// answer is a verdict, never an exception. The Assertion whose content is
// used is the very node whose signature verified (or, unsigned, the one
// direct child of a Response that came over verified HTTPS); nothing is
// looked up by ID or XPath after verification.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/saml/xml_signature.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

// What the answer must match.
struct SamlExpectation {
  std::string query_id;           // the AttributeQuery's ID: the Response's InResponseTo
  std::string name_id;            // the NameID asked about, compared exactly
  std::string idp_entity_id;      // the metadata's entityID: every Issuer
  std::string sp_entity_id;       // must be named by every AudienceRestriction
  std::string groups_attribute;   // matched by Name or FriendlyName
  std::vector<XmlSecKey> trusted_keys;  // the metadata's signing keys, and only those
  Timestamp now{};
  // True when the answer came over HTTPS whose server certificate verified:
  // only then may it be unsigned.
  bool transport_authenticated = false;
};

enum class SamlVerdict {
  active,             // a valid assertion about the person: groups hold their groups
  unknown_principal,  // an authenticated UnknownPrincipal status
  failed,             // anything else: the read fails
};

struct SamlAnswer {
  SamlVerdict verdict = SamlVerdict::failed;
  std::vector<std::string> groups;  // for active: the attribute's values, in order, without duplicates
  std::string problem;              // for failed: why, without document content
};

// The clock skew allowed around NotBefore and NotOnOrAfter.
inline constexpr Duration kSamlClockSkew{180};
// The largest answer read (one person's attributes).
inline constexpr size_t kMaxSamlResponseBytes = 1024 * 1024;

// Judges `soap_body` (a SOAP 1.1 envelope whose Body holds one
// samlp:Response) against `expected`. The checks, in order: strict parse
// (size, no DOCTYPE, no network); a SOAP Fault or anything but one Response
// in the Body fails; the Response's ID is registered (and the Assertion's,
// when it has one): a duplicate fails; InResponseTo; the Response Issuer,
// when present; no EncryptedAssertion anywhere; a Signature that is a
// direct child of the Response must verify for the Response; the Status:
//  - Success: exactly one saml:Assertion in the whole document, a direct
//    child of the Response; authenticated by the Response's signature, by
//    its own direct-child signature (which must verify when present), or by
//    the transport; then its Issuer, the Subject's one NameID (full text, no
//    comment or element inside), SubjectConfirmationData InResponseTo when
//    present, Conditions with kSamlClockSkew, every AudienceRestriction;
//  - UnknownPrincipal as second-level code, no Assertion present,
//    authenticated by the Response's signature or the transport;
//  - any other status fails, naming the codes.
SamlAnswer judge_attribute_response(std::string_view soap_body, const SamlExpectation& expected);

}  // namespace keywarden
