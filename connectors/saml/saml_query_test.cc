// The AttributeQuery: its content, escaping, and a signature that verifies
// with the SP certificate, both with our verifier and with the xmlsec1
// command line (independent of our code) when it is installed.
#include "connectors/saml/saml_query.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "connectors/saml/saml_metadata.h"
#include "connectors/saml/saml_test_files.h"
#include "connectors/saml/strict_xml.h"

namespace keywarden {
namespace {

using saml_test::testdata;

AttributeQueryRequest request() {
  AttributeQueryRequest r;
  r.id = new_query_id();
  r.issue_instant = *parse_rfc3339("2026-11-30T10:00:00Z");
  r.destination = "https://idp.example.org/idp/profile/SAML2/SOAP/AttributeQuery";
  r.sp_entity_id = "https://keywarden.example.com/saml";
  r.name_id = "alice+<x>&co@example.com";
  r.name_id_format = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
  r.groups_attribute = "SpectroTeam";
  return r;
}

XmlSecKey sp_certificate_key() {
  const std::string pem = testdata("sp.crt");
  std::string body;
  for (size_t start = 0; start < pem.size();) {
    size_t end = pem.find('\n', start);
    if (end == std::string::npos) end = pem.size();
    const std::string line = pem.substr(start, end - start);
    if (line.find("CERTIFICATE") == std::string::npos) body += line;
    start = end + 1;
  }
  return load_certificate_key(*decode_base64(body));
}

xmlNode* query_of(xmlDoc* doc) {
  xmlNode* body = children_named(xmlDocGetRootElement(doc), kSoap11Ns, "Body").at(0);
  return children_named(body, kSamlProtocolNs, "AttributeQuery").at(0);
}

TEST(SamlQuery, IdsAreUniqueAndUnguessableShaped) {
  const std::string a = new_query_id();
  EXPECT_EQ(a.size(), 33u);
  EXPECT_EQ(a[0], '_');  // an NCName must not start with a digit
  EXPECT_NE(a, new_query_id());
}

TEST(SamlQuery, UnsignedQueryCarriesWhatSpecAsksFor) {
  const AttributeQueryRequest r = request();
  const std::string soap = build_attribute_query(r, nullptr);
  XmlDocument doc = parse_strict_xml(soap, 1 << 20);
  xmlNode* query = query_of(doc.get());
  EXPECT_EQ(attribute(query, "ID"), r.id);
  EXPECT_EQ(attribute(query, "Version"), "2.0");
  EXPECT_EQ(attribute(query, "IssueInstant"), "2026-11-30T10:00:00Z");
  EXPECT_EQ(attribute(query, "Destination"), r.destination);
  EXPECT_EQ(all_text(children_named(query, kSamlAssertionNs, "Issuer").at(0)), r.sp_entity_id);
  xmlNode* subject = children_named(query, kSamlAssertionNs, "Subject").at(0);
  xmlNode* name_id = children_named(subject, kSamlAssertionNs, "NameID").at(0);
  EXPECT_EQ(all_text(name_id), r.name_id);  // escaped on the wire, intact when read
  EXPECT_EQ(attribute(name_id, "Format"), r.name_id_format);
  EXPECT_EQ(attribute(children_named(query, kSamlAssertionNs, "Attribute").at(0), "Name"), "SpectroTeam");
  EXPECT_TRUE(children_named(query, kXmlDsigNs, "Signature").empty());
}

TEST(SamlQuery, SignedQueryVerifiesWithTheSpCertificate) {
  const XmlSecKey key = load_signing_key(testdata("sp.key"), testdata("sp.crt"), "sp_key_file");
  const AttributeQueryRequest r = request();
  const std::string soap = build_attribute_query(r, &key);

  XmlDocument doc = parse_strict_xml(soap, 1 << 20);
  xmlNode* query = query_of(doc.get());
  // The Signature follows the Issuer (the schema's order).
  const auto children = child_elements(query);
  ASSERT_GE(children.size(), 2u);
  EXPECT_TRUE(is_element(children[1], kXmlDsigNs, "Signature"));
  ASSERT_TRUE(register_id(doc.get(), xmlHasNsProp(query, reinterpret_cast<const xmlChar*>("ID"), nullptr)));
  EXPECT_EQ(verify_enveloped_signature(doc.get(), query, r.id, {sp_certificate_key()}), std::nullopt);

  // Another key does not verify it, and a changed NameID breaks it.
  const SamlIdpMetadata idp = parse_idp_metadata(testdata("idp-metadata.xml"));
  EXPECT_NE(verify_enveloped_signature(doc.get(), query, r.id, idp.signing_keys), std::nullopt);
  std::string tampered = soap;
  tampered.replace(tampered.find("alice+"), 6, "mallory+");
  XmlDocument tampered_doc = parse_strict_xml(tampered, 1 << 20);
  xmlNode* tampered_query = query_of(tampered_doc.get());
  ASSERT_TRUE(register_id(tampered_doc.get(),
                          xmlHasNsProp(tampered_query, reinterpret_cast<const xmlChar*>("ID"), nullptr)));
  EXPECT_NE(verify_enveloped_signature(tampered_doc.get(), tampered_query, r.id, {sp_certificate_key()}),
            std::nullopt);
}

TEST(SamlQuery, SignedQueryVerifiesWithTheXmlsec1CommandLine) {
  if (std::system("xmlsec1 --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "xmlsec1 CLI not installed";
  const XmlSecKey key = load_signing_key(testdata("sp.key"), testdata("sp.crt"), "sp_key_file");
  const std::string soap = build_attribute_query(request(), &key);
  char path[] = "/tmp/kw-saml-query-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << soap;
  const std::string command = std::string("xmlsec1 --verify --pubkey-cert-pem ") + SAML_TESTDATA_DIR +
                              "/sp.crt --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:AttributeQuery " + path +
                              " >/dev/null 2>&1";
  const int rc = std::system(command.c_str());
  std::remove(path);
  EXPECT_EQ(rc, 0) << command;
}

TEST(SamlQuery, SigningKeyErrorsNameTheSettingNotTheKey) {
  try {
    load_signing_key("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n", testdata("sp.crt"),
                     "sp_key_file /etc/kw/sp.key");
    FAIL();
  } catch (const XmlKeyError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("sp_key_file /etc/kw/sp.key"), std::string::npos);
    EXPECT_EQ(message.find("c2VjcmV0"), std::string::npos);
  }
}

}  // namespace
}  // namespace keywarden
