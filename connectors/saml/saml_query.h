// The samlp:AttributeQuery keywarden sends (SPEC §8.2), in a SOAP 1.1
// envelope, optionally signed.
#pragma once

#include <string>

#include "connectors/saml/xml_signature.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

struct AttributeQueryRequest {
  std::string id;              // new_query_id(); the answer's InResponseTo
  Timestamp issue_instant{};
  std::string destination;     // the attribute service URL
  std::string sp_entity_id;    // the Issuer
  std::string name_id;         // whom we ask about
  std::string name_id_format;
  std::string groups_attribute;  // the one Attribute asked for
};

// "_" and 32 hex digits from OpenSSL's CSPRNG: unguessable, so an answer
// cannot be prepared before the query is sent. Throws std::runtime_error if
// the generator fails.
std::string new_query_id();

// The SOAP envelope holding the query. Values are XML-escaped by libxml2.
// With `signing_key`, the query carries an enveloped signature right after
// its Issuer (RSA-SHA256, exclusive c14n, one Reference to the query's ID,
// the certificate in KeyInfo). Throws XmlKeyError when signing fails.
std::string build_attribute_query(const AttributeQueryRequest& request, const XmlSecKey* signing_key);

}  // namespace keywarden
