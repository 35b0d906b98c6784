// libFuzzer target over SET intake: the first byte picks the stage.
// - even: the input is a compact JWS for verify_set() against the fixture JWKS
//   (header parsing, the allow-list, kid selection, cjose import and verify);
// - odd: the rest is a payload as if its signature had verified, through the
//   claim checks' reader and the event mapping (read_set_events,
//   facts_from_events), which only ever see verified payloads.
// Never a crash, a leak or undefined behaviour; every refusal has a code.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "connectors/ssf/set_events.h"
#include "connectors/ssf/set_verifier.h"

namespace {

keywarden::SigningKeys load_keys() {
  std::ifstream in(std::string(SSF_TESTDATA_DIR) + "/set_fixtures.json");
  std::stringstream text;
  text << in.rdbuf();
  const auto fixtures = nlohmann::json::parse(text.str());
  return keywarden::SigningKeys::parse(fixtures.at("jwks").dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const keywarden::SigningKeys keys = load_keys();
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    const keywarden::SetExpectations expect{"https://idp.example.com/", "https://keywarden.example.com/ssf/corp-ssf",
                                            keywarden::Timestamp(keywarden::Duration(1800000000))};
    const auto result = keywarden::verify_set(input, keys, expect);
    if (const auto* refusal = std::get_if<keywarden::SetRefusal>(&result); refusal && refusal->description.empty()) {
      __builtin_trap();  // every refusal explains itself
    }
  } else {
    const auto claims = nlohmann::json::parse(input, nullptr, false);
    if (!claims.is_object()) return 0;
    const auto events = keywarden::read_set_events(claims);
    keywarden::facts_from_events(events, keywarden::CompromisePolicy::revoke, "fuzz");
  }
  return 0;
}
