#include "connectors/saml/saml_query.h"

#include <libxml/tree.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

#include "connectors/saml/strict_xml.h"

namespace keywarden {

namespace {

const xmlChar* x(const char* s) { return reinterpret_cast<const xmlChar*>(s); }
const xmlChar* x(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }

}  // namespace

std::string new_query_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("the random generator failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "_";
  for (unsigned char b : bytes) {
    id.push_back(hex[b >> 4]);
    id.push_back(hex[b & 15]);
  }
  return id;
}

std::string build_attribute_query(const AttributeQueryRequest& request, const XmlSecKey* signing_key) {
  XmlDocument doc(xmlNewDoc(x("1.0")));
  xmlNode* envelope = xmlNewNode(nullptr, x("Envelope"));
  xmlDocSetRootElement(doc.get(), envelope);
  xmlNs* soap = xmlNewNs(envelope, x(std::string(kSoap11Ns)), x("soap11"));
  xmlSetNs(envelope, soap);
  xmlNode* body = xmlNewChild(envelope, soap, x("Body"), nullptr);

  xmlNode* query = xmlNewChild(body, nullptr, x("AttributeQuery"), nullptr);
  xmlNs* samlp = xmlNewNs(query, x(std::string(kSamlProtocolNs)), x("samlp"));
  xmlNs* saml = xmlNewNs(query, x(std::string(kSamlAssertionNs)), x("saml"));
  xmlSetNs(query, samlp);
  xmlAttr* id = xmlNewProp(query, x("ID"), x(request.id));
  xmlNewProp(query, x("Version"), x("2.0"));
  xmlNewProp(query, x("IssueInstant"), x(format_rfc3339(request.issue_instant)));
  xmlNewProp(query, x("Destination"), x(request.destination));

  xmlNode* issuer = xmlNewTextChild(query, saml, x("Issuer"), x(request.sp_entity_id));
  xmlNode* subject = xmlNewChild(query, saml, x("Subject"), nullptr);
  xmlNode* name_id = xmlNewTextChild(subject, saml, x("NameID"), x(request.name_id));
  xmlNewProp(name_id, x("Format"), x(request.name_id_format));
  xmlNode* wanted = xmlNewChild(query, saml, x("Attribute"), nullptr);
  xmlNewProp(wanted, x("Name"), x(request.groups_attribute));

  if (signing_key != nullptr) {
    if (!register_id(doc.get(), id)) throw XmlKeyError("the query ID could not be registered");
    sign_enveloped(doc.get(), query, request.id, issuer, *signing_key);
  }

  xmlChar* text = nullptr;
  int size = 0;
  xmlDocDumpMemoryEnc(doc.get(), &text, &size, "UTF-8");
  if (text == nullptr) throw std::runtime_error("the query could not be serialized");
  std::string out(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
  xmlFree(text);
  return out;
}

}  // namespace keywarden
