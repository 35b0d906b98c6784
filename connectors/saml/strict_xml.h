// Parsing XML that an attacker may have written, and reading it by position.
//
// Only this file pair calls libxml2's parser. It refuses what SAML never
// needs and attacks use: a DOCTYPE (entities, billion laughs, XXE), network
// access, encodings other than UTF-8, and oversized input. Readers walk
// children by namespace and local name; nothing here searches a document by
// ID or XPath (that gap is what signature wrapping exploits).
#pragma once

#include <libxml/tree.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace keywarden {

// A document refused before or during parsing. The message says why; it
// never quotes the document.
class XmlRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct XmlDocumentFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDocument = std::unique_ptr<xmlDoc, XmlDocumentFree>;

// Parses `text` as one UTF-8 XML document. Throws XmlRefused when it is
// larger than `max_bytes`, holds a NUL byte (UTF-16/32), contains
// "<!DOCTYPE" anywhere (checked on the bytes, before parsing), is not
// well-formed, or came out with a DTD anyway. Parses with XML_PARSE_NONET and
// without XML_PARSE_NOENT or XML_PARSE_DTDLOAD, so no entity is ever
// expanded and nothing is fetched. Safe to call from any thread.
XmlDocument parse_strict_xml(std::string_view text, size_t max_bytes);

// Namespace URIs this connector reads.
inline constexpr std::string_view kSoap11Ns = "http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr std::string_view kSamlProtocolNs = "urn:oasis:names:tc:SAML:2.0:protocol";
inline constexpr std::string_view kSamlAssertionNs = "urn:oasis:names:tc:SAML:2.0:assertion";
inline constexpr std::string_view kSamlMetadataNs = "urn:oasis:names:tc:SAML:2.0:metadata";
inline constexpr std::string_view kXmlDsigNs = "http://www.w3.org/2000/09/xmldsig#";

// True when `node` is an element named `local` in namespace `ns`.
bool is_element(const xmlNode* node, std::string_view ns, std::string_view local);

// The element children of `node`, in document order.
std::vector<xmlNode*> child_elements(const xmlNode* node);
// The element children named `local` in `ns`.
std::vector<xmlNode*> children_named(const xmlNode* node, std::string_view ns, std::string_view local);

// Whether the unqualified attribute `name` is present, and its value ("" when absent).
bool has_attribute(const xmlNode* node, const char* name);
std::string attribute(const xmlNode* node, const char* name);

// The concatenated text of `node`'s direct text and CDATA children. Sets
// `only_text` to false when it has any other child (an element, a comment,
// a processing instruction): for values that must be exactly one string.
std::string direct_text(const xmlNode* node, bool& only_text);

// Every text below `node` (xmlNodeGetContent).
std::string all_text(const xmlNode* node);

// Leading and trailing XML whitespace removed.
std::string trim_xml_space(std::string_view text);

}  // namespace keywarden
