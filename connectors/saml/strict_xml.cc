#include "connectors/saml/strict_xml.h"

#include <libxml/parser.h>

#include <cstring>
#include <mutex>

namespace keywarden {

namespace {

void initialize_libxml_once() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

const char* as_chars(const xmlChar* s) { return reinterpret_cast<const char*>(s); }

}  // namespace

XmlDocument parse_strict_xml(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    throw XmlRefused("document of " + std::to_string(text.size()) + " bytes is larger than the limit of " +
                     std::to_string(max_bytes));
  }
  if (text.find('\0') != std::string_view::npos) throw XmlRefused("document holds a NUL byte (only UTF-8 is read)");
  // Refused on the bytes, before libxml2 sees them: no DTD means no entity
  // declarations, so neither expansion bombs nor external entities exist.
  if (text.find("<!DOCTYPE") != std::string_view::npos) throw XmlRefused("document has a DOCTYPE");
  initialize_libxml_once();
  // XML_PARSE_IGNORE_ENC with "UTF-8": an encoding declaration cannot switch
  // to a charset in which the DOCTYPE check above would not see "<!DOCTYPE".
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC;
  XmlDocument doc(xmlReadMemory(text.data(), static_cast<int>(text.size()), nullptr, "UTF-8", options));
  if (!doc) throw XmlRefused("document is not well-formed XML");
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) throw XmlRefused("document has a DTD");
  if (xmlDocGetRootElement(doc.get()) == nullptr) throw XmlRefused("document has no root element");
  return doc;
}

bool is_element(const xmlNode* node, std::string_view ns, std::string_view local) {
  return node != nullptr && node->type == XML_ELEMENT_NODE && node->ns != nullptr && node->ns->href != nullptr &&
         std::string_view(as_chars(node->name)) == local && std::string_view(as_chars(node->ns->href)) == ns;
}

std::vector<xmlNode*> child_elements(const xmlNode* node) {
  std::vector<xmlNode*> out;
  for (xmlNode* c = node->children; c != nullptr; c = c->next)
    if (c->type == XML_ELEMENT_NODE) out.push_back(c);
  return out;
}

std::vector<xmlNode*> children_named(const xmlNode* node, std::string_view ns, std::string_view local) {
  std::vector<xmlNode*> out;
  for (xmlNode* c = node->children; c != nullptr; c = c->next)
    if (is_element(c, ns, local)) out.push_back(c);
  return out;
}

bool has_attribute(const xmlNode* node, const char* name) {
  return xmlHasNsProp(node, reinterpret_cast<const xmlChar*>(name), nullptr) != nullptr;
}

std::string attribute(const xmlNode* node, const char* name) {
  xmlChar* value = xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) return {};
  std::string out(as_chars(value));
  xmlFree(value);
  return out;
}

std::string direct_text(const xmlNode* node, bool& only_text) {
  only_text = true;
  std::string out;
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (c->content != nullptr) out += as_chars(c->content);
    } else {
      only_text = false;
    }
  }
  return out;
}

std::string all_text(const xmlNode* node) {
  xmlChar* content = xmlNodeGetContent(node);
  if (content == nullptr) return {};
  std::string out(as_chars(content));
  xmlFree(content);
  return out;
}

std::string trim_xml_space(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(space);
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace keywarden
