#include "connectors/saml/saml_metadata.h"

#include <fstream>
#include <sstream>

#include "connectors/saml/strict_xml.h"

namespace keywarden {

namespace {

constexpr size_t kMaxMetadataBytes = 4 * 1024 * 1024;
constexpr std::string_view kSoapBinding = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";

void collect_signing_keys(const xmlNode* role, SamlIdpMetadata& metadata) {
  for (const xmlNode* descriptor : children_named(role, kSamlMetadataNs, "KeyDescriptor")) {
    const std::string use = attribute(descriptor, "use");
    if (has_attribute(descriptor, "use") && use != "signing") continue;
    for (const xmlNode* key_info : children_named(descriptor, kXmlDsigNs, "KeyInfo")) {
      for (const xmlNode* x509 : children_named(key_info, kXmlDsigNs, "X509Data")) {
        for (const xmlNode* certificate : children_named(x509, kXmlDsigNs, "X509Certificate")) {
          const size_t position = metadata.signing_keys.size() + 1;
          const auto der = decode_base64(all_text(certificate));
          if (!der || der->empty()) {
            throw SamlMetadataError("signing certificate " + std::to_string(position) + " is not valid base64");
          }
          try {
            metadata.signing_keys.push_back(load_certificate_key(*der));
          } catch (const XmlKeyError& e) {
            throw SamlMetadataError("signing certificate " + std::to_string(position) + ": " + e.what());
          }
        }
      }
    }
  }
}

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  int padding = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = value(c);
    if (v < 0 || padding > 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

SamlIdpMetadata parse_idp_metadata(std::string_view xml) {
  XmlDocument doc;
  try {
    doc = parse_strict_xml(xml, kMaxMetadataBytes);
  } catch (const XmlRefused& e) {
    throw SamlMetadataError(e.what());
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!is_element(root, kSamlMetadataNs, "EntityDescriptor")) {
    throw SamlMetadataError("the root element is not an md:EntityDescriptor");
  }
  SamlIdpMetadata metadata;
  metadata.entity_id = trim_xml_space(attribute(root, "entityID"));
  if (metadata.entity_id.empty()) throw SamlMetadataError("the EntityDescriptor has no entityID");
  for (const xmlNode* role : child_elements(root)) {
    collect_signing_keys(role, metadata);
    if (!is_element(role, kSamlMetadataNs, "AttributeAuthorityDescriptor") || metadata.attribute_service_url) continue;
    for (const xmlNode* service : children_named(role, kSamlMetadataNs, "AttributeService")) {
      if (attribute(service, "Binding") == kSoapBinding && !attribute(service, "Location").empty()) {
        metadata.attribute_service_url = trim_xml_space(attribute(service, "Location"));
        break;
      }
    }
  }
  if (metadata.signing_keys.empty()) {
    throw SamlMetadataError("no signing certificate (a KeyDescriptor with use=\"signing\" or no use)");
  }
  return metadata;
}

SamlIdpMetadata read_idp_metadata(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SamlMetadataError("IdP metadata " + path.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw SamlMetadataError("IdP metadata " + path.string() + ": cannot be read");
  try {
    return parse_idp_metadata(text.str());
  } catch (const SamlMetadataError& e) {
    throw SamlMetadataError("IdP metadata " + path.string() + ": " + e.what());
  }
}

}  // namespace keywarden
