#include "connectors/saml/saml_response.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "connectors/saml/strict_xml.h"

namespace keywarden {

namespace {

constexpr std::string_view kStatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success";
constexpr std::string_view kStatusUnknownPrincipal = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";

SamlAnswer failed(std::string problem) {
  SamlAnswer answer;
  answer.verdict = SamlVerdict::failed;
  answer.problem = std::move(problem);
  return answer;
}

// Every element named `local` in `ns` anywhere in the document, SOAP
// Header, Extensions, Advice and ds:Object included.
size_t count_everywhere(const xmlNode* node, std::string_view ns, std::string_view local) {
  size_t count = 0;
  for (const xmlNode* c = node; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (is_element(c, ns, local)) ++count;
    count += count_everywhere(c->children, ns, local);
  }
  return count;
}

// The one child element named `local`, or nullptr when there is none.
// `several` is set when there is more than one.
xmlNode* single_child(const xmlNode* parent, std::string_view ns, std::string_view local, bool& several) {
  const auto found = children_named(parent, ns, local);
  several = found.size() > 1;
  return found.size() == 1 ? found[0] : nullptr;
}

// An Issuer's value: its whole text, which must be text only.
std::optional<std::string> issuer_of(const xmlNode* element) {
  bool several = false;
  const xmlNode* issuer = single_child(element, kSamlAssertionNs, "Issuer", several);
  if (issuer == nullptr) return std::nullopt;
  bool only_text = false;
  const std::string text = direct_text(issuer, only_text);
  if (!only_text) return std::string("\n(not plain text)");
  return trim_xml_space(text);
}

struct StatusCodes {
  std::string top;
  std::string second;
};

std::optional<StatusCodes> status_of(const xmlNode* response) {
  bool several = false;
  const xmlNode* status = single_child(response, kSamlProtocolNs, "Status", several);
  if (status == nullptr) return std::nullopt;
  const xmlNode* top = single_child(status, kSamlProtocolNs, "StatusCode", several);
  if (top == nullptr) return std::nullopt;
  StatusCodes codes;
  codes.top = attribute(top, "Value");
  if (const xmlNode* second = single_child(top, kSamlProtocolNs, "StatusCode", several)) {
    codes.second = attribute(second, "Value");
  }
  return codes;
}

// Registers the ID attribute of `element`; the value through `id`.
std::optional<std::string> register_element_id(xmlDoc* doc, xmlNode* element, const char* what, std::string& id) {
  xmlAttr* attr = xmlHasNsProp(element, reinterpret_cast<const xmlChar*>("ID"), nullptr);
  id = attribute(element, "ID");
  if (attr == nullptr || id.empty()) return std::string(what) + " has no ID";
  if (!register_id(doc, attr)) return std::string(what) + " ID is used more than once in the document";
  return std::nullopt;
}

std::optional<std::string> check_conditions(const xmlNode* assertion, const SamlExpectation& expected) {
  bool several = false;
  const xmlNode* conditions = single_child(assertion, kSamlAssertionNs, "Conditions", several);
  if (several) return "the Assertion has more than one Conditions";
  if (conditions == nullptr) return std::nullopt;
  if (has_attribute(conditions, "NotBefore")) {
    const auto not_before = parse_rfc3339(attribute(conditions, "NotBefore"));
    if (!not_before) return "Conditions NotBefore is not a date-time";
    if (expected.now + kSamlClockSkew < *not_before) return "the Assertion is not valid yet (Conditions NotBefore)";
  }
  if (has_attribute(conditions, "NotOnOrAfter")) {
    const auto not_on_or_after = parse_rfc3339(attribute(conditions, "NotOnOrAfter"));
    if (!not_on_or_after) return "Conditions NotOnOrAfter is not a date-time";
    if (expected.now - kSamlClockSkew >= *not_on_or_after) return "the Assertion has expired (Conditions NotOnOrAfter)";
  }
  // Every restriction must be met (SAML Core 2.5.1.4); each is met when one
  // of its Audiences is us.
  for (const xmlNode* restriction : children_named(conditions, kSamlAssertionNs, "AudienceRestriction")) {
    bool named = false;
    for (const xmlNode* audience : children_named(restriction, kSamlAssertionNs, "Audience"))
      named = named || trim_xml_space(all_text(audience)) == expected.sp_entity_id;
    if (!named) return "an AudienceRestriction does not name sp_entity_id";
  }
  return std::nullopt;
}

std::optional<std::string> check_subject(const xmlNode* assertion, const SamlExpectation& expected) {
  bool several = false;
  const xmlNode* subject = single_child(assertion, kSamlAssertionNs, "Subject", several);
  if (subject == nullptr) return "the Assertion has no single Subject";
  const xmlNode* name_id = single_child(subject, kSamlAssertionNs, "NameID", several);
  if (name_id == nullptr) return "the Subject has no single NameID";
  bool only_text = false;
  const std::string text = direct_text(name_id, only_text);
  // exclusive c14n drops comments, so a comment splits what was signed from
  // what a first-text-node reader sees: refuse it outright.
  if (!only_text) return "the NameID holds a comment or an element";
  if (trim_xml_space(text) != expected.name_id) return "the NameID is not the one asked about";
  for (const xmlNode* confirmation : children_named(subject, kSamlAssertionNs, "SubjectConfirmation")) {
    for (const xmlNode* data : children_named(confirmation, kSamlAssertionNs, "SubjectConfirmationData")) {
      if (has_attribute(data, "InResponseTo") && attribute(data, "InResponseTo") != expected.query_id) {
        return "SubjectConfirmationData InResponseTo is not the query's ID";
      }
    }
  }
  return std::nullopt;
}

std::vector<std::string> groups_of(const xmlNode* assertion, const std::string& groups_attribute) {
  std::vector<std::string> groups;
  for (const xmlNode* statement : children_named(assertion, kSamlAssertionNs, "AttributeStatement")) {
    for (const xmlNode* attr : children_named(statement, kSamlAssertionNs, "Attribute")) {
      if (attribute(attr, "Name") != groups_attribute && attribute(attr, "FriendlyName") != groups_attribute) continue;
      for (const xmlNode* value : children_named(attr, kSamlAssertionNs, "AttributeValue")) {
        std::string group = trim_xml_space(all_text(value));
        if (!group.empty() && std::find(groups.begin(), groups.end(), group) == groups.end()) {
          groups.push_back(std::move(group));
        }
      }
    }
  }
  return groups;
}

}  // namespace

SamlAnswer judge_attribute_response(std::string_view soap_body, const SamlExpectation& expected) {
  XmlDocument doc;
  try {
    doc = parse_strict_xml(soap_body, kMaxSamlResponseBytes);
  } catch (const XmlRefused& e) {
    return failed(e.what());
  }
  xmlNode* envelope = xmlDocGetRootElement(doc.get());
  if (!is_element(envelope, kSoap11Ns, "Envelope")) return failed("the answer is not a SOAP 1.1 Envelope");
  bool several = false;
  xmlNode* body = single_child(envelope, kSoap11Ns, "Body", several);
  if (body == nullptr) return failed("the SOAP Envelope has no single Body");
  const auto body_children = child_elements(body);
  if (!children_named(body, kSoap11Ns, "Fault").empty()) return failed("SOAP Fault");
  if (body_children.size() != 1 || !is_element(body_children[0], kSamlProtocolNs, "Response")) {
    return failed("the SOAP Body does not hold exactly one samlp:Response");
  }
  xmlNode* response = body_children[0];

  std::string response_id;
  if (auto problem = register_element_id(doc.get(), response, "the Response", response_id)) return failed(*problem);
  const auto assertions = children_named(response, kSamlAssertionNs, "Assertion");
  std::string assertion_id;
  if (assertions.size() == 1) {
    if (auto problem = register_element_id(doc.get(), assertions[0], "the Assertion", assertion_id)) {
      return failed(*problem);
    }
  }

  if (attribute(response, "InResponseTo") != expected.query_id) return failed("InResponseTo is not the query's ID");
  if (const auto issuer = issuer_of(response); issuer && *issuer != expected.idp_entity_id) {
    return failed("the Response Issuer is not the metadata's entityID");
  }
  if (count_everywhere(envelope, kSamlAssertionNs, "EncryptedAssertion") != 0) {
    return failed("EncryptedAssertion is not supported");
  }

  bool response_signed = false;
  if (!children_named(response, kXmlDsigNs, "Signature").empty()) {
    if (auto problem = verify_enveloped_signature(doc.get(), response, response_id, expected.trusted_keys)) {
      return failed("Response signature: " + *problem);
    }
    response_signed = true;
  }

  const auto status = status_of(response);
  if (!status) return failed("the Response has no Status");
  const size_t assertions_anywhere = count_everywhere(envelope, kSamlAssertionNs, "Assertion");

  if (status->top != kStatusSuccess) {
    if (status->second != kStatusUnknownPrincipal) {
      return failed("status " + status->top + (status->second.empty() ? "" : " / " + status->second));
    }
    if (assertions_anywhere != 0) return failed("an UnknownPrincipal answer carries an Assertion");
    if (!response_signed && !expected.transport_authenticated) {
      return failed("UnknownPrincipal unsigned and not over verified HTTPS");
    }
    SamlAnswer answer;
    answer.verdict = SamlVerdict::unknown_principal;
    return answer;
  }

  if (assertions.size() != 1 || assertions_anywhere != 1) {
    return failed("the answer holds " + std::to_string(assertions_anywhere) +
                  " Assertions; exactly one, a direct child of the Response, is allowed");
  }
  xmlNode* assertion = assertions[0];
  bool assertion_signed = false;
  if (!children_named(assertion, kXmlDsigNs, "Signature").empty()) {
    if (auto problem = verify_enveloped_signature(doc.get(), assertion, assertion_id, expected.trusted_keys)) {
      return failed("Assertion signature: " + *problem);
    }
    assertion_signed = true;
  }
  if (!response_signed && !assertion_signed && !expected.transport_authenticated) {
    return failed("the answer is unsigned and did not come over verified HTTPS");
  }

  const auto assertion_issuer = issuer_of(assertion);
  if (!assertion_issuer || *assertion_issuer != expected.idp_entity_id) {
    return failed("the Assertion Issuer is not the metadata's entityID");
  }
  if (auto problem = check_subject(assertion, expected)) return failed(*problem);
  if (auto problem = check_conditions(assertion, expected)) return failed(*problem);

  SamlAnswer answer;
  answer.verdict = SamlVerdict::active;
  answer.groups = groups_of(assertion, expected.groups_attribute);
  return answer;
}

}  // namespace keywarden
