// IdP metadata: the entityID, every signing certificate (use="signing" or no
// use, never use="encryption"), the SAML 2.0 SOAP AttributeService, and a
// refusal for metadata that cannot give a trusted key.
#include "connectors/saml/saml_metadata.h"

#include <gtest/gtest.h>

#include "connectors/saml/saml_test_files.h"

namespace keywarden {
namespace {

using saml_test::testdata;

TEST(SamlMetadata, ReadsEntityIdSigningKeysAndSoapAttributeService) {
  const SamlIdpMetadata m = read_idp_metadata(std::string(SAML_TESTDATA_DIR) + "/idp-metadata.xml");
  EXPECT_EQ(m.entity_id, "https://idp.example.org/idp/shibboleth");
  // idp.crt (use="signing") and idp-rollover.crt (no use); attacker.crt is
  // use="encryption" and must not be trusted.
  EXPECT_EQ(m.signing_keys.size(), 2u);
  ASSERT_TRUE(m.attribute_service_url.has_value());
  // The SAML 1 SOAP binding listed first is skipped.
  EXPECT_EQ(*m.attribute_service_url, "https://idp.example.org/idp/profile/SAML2/SOAP/AttributeQuery");
}

TEST(SamlMetadata, EncryptionOnlyKeysAreNoSigningKeys) {
  std::string xml = testdata("idp-metadata.xml");
  // Make every key encryption-only.
  for (size_t at; (at = xml.find("<md:KeyDescriptor use=\"signing\">")) != std::string::npos;)
    xml.replace(at, 32, "<md:KeyDescriptor use=\"encryption\">");
  for (size_t at; (at = xml.find("<md:KeyDescriptor>")) != std::string::npos;)
    xml.replace(at, 18, "<md:KeyDescriptor use=\"encryption\">");
  try {
    parse_idp_metadata(xml);
    FAIL() << "metadata without a signing key was accepted";
  } catch (const SamlMetadataError& e) {
    EXPECT_NE(std::string(e.what()).find("no signing certificate"), std::string::npos) << e.what();
  }
}

TEST(SamlMetadata, RefusesUnreadableFileNamingIt) {
  try {
    read_idp_metadata("/nonexistent/idp.xml");
    FAIL();
  } catch (const SamlMetadataError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/idp.xml"), std::string::npos);
  }
}

TEST(SamlMetadata, RefusesDoctypeWrongRootMissingEntityIdAndBrokenCertificate) {
  const std::string good = testdata("idp-metadata.xml");
  const std::string with_doctype = "<!DOCTYPE x [<!ENTITY e \"v\">]>" + good.substr(good.find("<md:"));
  EXPECT_THROW(parse_idp_metadata(with_doctype), SamlMetadataError);
  EXPECT_THROW(parse_idp_metadata("<EntityDescriptor entityID=\"x\"/>"), SamlMetadataError);
  std::string no_entity = good;
  no_entity.replace(no_entity.find("entityID="), 9, "entityXX=");
  EXPECT_THROW(parse_idp_metadata(no_entity), SamlMetadataError);
  std::string broken = good;
  const size_t cert = broken.find("<ds:X509Certificate>") + 20;
  broken.replace(cert, 40, "AAAA");
  EXPECT_THROW(parse_idp_metadata(broken), SamlMetadataError);
  EXPECT_THROW(parse_idp_metadata("not xml"), SamlMetadataError);
}

TEST(SamlMetadata, Base64) {
  EXPECT_EQ(decode_base64("aGVs\nbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8"), "hello");
  EXPECT_FALSE(decode_base64("aGV$bG8=").has_value());
  EXPECT_FALSE(decode_base64("aG=Vs").has_value());
}

}  // namespace
}  // namespace keywarden
