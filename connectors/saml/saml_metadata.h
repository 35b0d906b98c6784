// The IdP's SAML 2.0 metadata (an md:EntityDescriptor): who it is, which
// keys sign its answers, and where its attribute service listens.
//
// These keys are the only ones a response is ever verified with; KeyInfo in
// a response is ignored (SPEC §8.2).
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/saml/xml_signature.h"

namespace keywarden {

// Metadata that cannot be used. The message names the file and the problem.
class SamlMetadataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SamlIdpMetadata {
  std::string entity_id;
  // Every certificate of a KeyDescriptor with use="signing" or no use, in
  // any role descriptor of the entity (Shibboleth lists the same key under
  // IDPSSODescriptor and AttributeAuthorityDescriptor). Never empty.
  std::vector<XmlSecKey> signing_keys;
  // The Location of the first AttributeAuthorityDescriptor/AttributeService
  // with the SAML 2.0 SOAP binding, when there is one.
  std::optional<std::string> attribute_service_url;
};

// Parses metadata text (the root element an md:EntityDescriptor; DOCTYPE
// refused as for responses). Throws SamlMetadataError when it is not one,
// has no entityID, has no signing certificate, or a signing certificate does
// not load.
SamlIdpMetadata parse_idp_metadata(std::string_view xml);

// Reads and parses `path`; the error names the file.
SamlIdpMetadata read_idp_metadata(const std::filesystem::path& path);

// Standard base64 (whitespace ignored) to bytes; nullopt when malformed.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace keywarden
