// libFuzzer target: judge_attribute_response over arbitrary bytes, with the
// test IdP's metadata keys, the way the source judges every answer; the same
// bytes are also read as an IdP metadata file (parse_idp_metadata), which
// check-config and the source read from the operator's file. Seed corpus:
// ../testdata/responses (good answers and the attack corpus), the test IdP's
// metadata, and ./corpus (regression inputs), all given by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include "connectors/saml/saml_metadata.h"
#include "connectors/saml/saml_response.h"

namespace {

const keywarden::SamlExpectation& expectation() {
  static const keywarden::SamlExpectation e = [] {
    std::ifstream in(std::string(SAML_TESTDATA_DIR) + "/idp-metadata.xml");
    std::ostringstream text;
    text << in.rdbuf();
    const keywarden::SamlIdpMetadata metadata = keywarden::parse_idp_metadata(text.str());
    keywarden::SamlExpectation out;
    out.query_id = "_q-7f3a";
    out.name_id = "alice@example.com";
    out.idp_entity_id = metadata.entity_id;
    out.sp_entity_id = "https://keywarden.example.com/saml";
    out.groups_attribute = "SpectroTeam";
    out.trusted_keys = metadata.signing_keys;
    out.now = *keywarden::parse_rfc3339("2026-11-30T10:00:30Z");
    return out;
  }();
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  keywarden::SamlExpectation e = expectation();
  e.transport_authenticated = size % 2 == 1;  // both paths, chosen by the input
  const keywarden::SamlAnswer answer = keywarden::judge_attribute_response(input, e);
  // The contract: a failure always says why, a success never does.
  if ((answer.verdict == keywarden::SamlVerdict::failed) == answer.problem.empty()) std::abort();
  try {
    (void)keywarden::parse_idp_metadata(input);
  } catch (const keywarden::SamlMetadataError& error) {
    if (error.what()[0] == '\0') std::abort();  // a refusal says why
  }
  return 0;
}
