// libFuzzer target over SET intake (scripts/fuzz.sh): the first byte % 4
// picks the stage, the rest is its input.
// - 0: a compact JWS POSTed as a push (answer_push → take_set → verify_set)
//   against the fixture JWKS: header parsing, the allow-list, kid selection,
//   cjose import and verify. Fuzzed tokens almost never verify, so
// - 2: the rest is a payload that this target signs (ES256, with a key made
//   at start-up whose public half is the only key of the JWKS), then pushed
//   the same way: verify_set's claim checks (typ, iss, aud, iat, exp, jti,
//   events) and, for a SET that passes them, the event mapping, all reached
//   through a signature that verifies;
// - 1: the rest is a payload as if its signature had verified, straight into
//   the event mapping (read_set_events, facts_from_events);
// - 3: the rest is a transmitter document, read as each of the ones
//   keywarden fetches: a JWKS (SigningKeys::parse), the SSF metadata, a
//   stream configuration, a stream status and an RFC 8936 poll answer.
// Seed corpus: ./corpus (tokens and payloads of ../testdata/set_fixtures.json,
// which the npm jose package made; metadata and poll answers shaped as SSF 1.0
// and RFC 8936 show them).
//
// Beyond the sanitizers: every refusal has an RFC 8935 code and a
// description; an answer is 202 with no body or 400 with one; a signed
// payload that verifies yields the jti it carries; the parsers throw only
// their documented errors.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <cjose/cjose.h>

#include "connectors/ssf/set_events.h"
#include "connectors/ssf/set_intake.h"
#include "connectors/ssf/set_verifier.h"
#include "connectors/ssf/transmitter_wire.h"

namespace {

constexpr const char* kIssuer = "https://idp.example.com/";
constexpr const char* kAudience = "https://keywarden.example.com/ssf/corp-ssf";
constexpr const char* kFuzzKid = "fuzz-es256";

void check(bool ok) {
  if (!ok) std::abort();
}

keywarden::SigningKeys fixture_keys() {
  std::ifstream in(std::string(SSF_TESTDATA_DIR) + "/set_fixtures.json");
  std::stringstream text;
  text << in.rdbuf();
  const auto fixtures = nlohmann::json::parse(text.str());
  return keywarden::SigningKeys::parse(fixtures.at("jwks").dump());
}

// The key this target signs payloads with, and a JWKS holding its public half.
struct FuzzSigner {
  cjose_jwk_t* key = nullptr;
  keywarden::SigningKeys keys;

  FuzzSigner() {
    cjose_err err;
    key = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    check(key != nullptr && cjose_jwk_set_kid(key, kFuzzKid, std::string(kFuzzKid).size(), &err));
    char* public_jwk = cjose_jwk_to_json(key, false, &err);
    check(public_jwk != nullptr);
    keys = keywarden::SigningKeys::parse(std::string(R"({"keys":[)") + public_jwk + "]}");
    std::free(public_jwk);
    check(keys.find(kFuzzKid) != nullptr);
  }

  // The compact JWS of `payload` with typ secevent+jwt, or "" when cjose
  // cannot sign it.
  std::string sign(const std::string& payload) const {
    cjose_err err;
    std::string out;
    cjose_header_t* header = cjose_header_new(&err);
    check(header != nullptr);
    if (cjose_header_set(header, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err) &&
        cjose_header_set(header, CJOSE_HDR_KID, kFuzzKid, &err) &&
        cjose_header_set(header, "typ", "secevent+jwt", &err)) {
      cjose_jws_t* jws = cjose_jws_sign(key, header, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &err);
      const char* compact = nullptr;
      if (jws != nullptr && cjose_jws_export(jws, &compact, &err)) out = compact;
      cjose_jws_release(jws);
    }
    cjose_header_release(header);
    return out;
  }
};

keywarden::IntakeSettings settings() {
  keywarden::IntakeSettings s;
  s.expect = keywarden::SetExpectations{kIssuer, kAudience, keywarden::Timestamp(keywarden::Duration(1800000000))};
  s.on_compromise = keywarden::CompromisePolicy::revoke;
  return s;
}

keywarden::PushAnswer push(const std::string& compact, const keywarden::SigningKeys& keys) {
  const auto seen = [](const std::string& jti) { return jti == "jti-seen-before"; };
  const keywarden::PushAnswer answer = keywarden::answer_push("application/secevent+jwt", compact, &keys, settings(), seen);
  if (answer.status == 202) {
    check(answer.body.empty() && !answer.outcome.refusal && !answer.outcome.jti.empty());
  } else {
    check(answer.status == 400 && answer.outcome.refusal && !answer.outcome.refusal->description.empty());
    const auto body = nlohmann::json::parse(answer.body, nullptr, false);
    check(body.is_object() && body.contains("err") && body.contains("description"));
  }
  return answer;
}

void fuzz_signed_payload(const std::string& payload) {
  static const FuzzSigner signer;
  const std::string compact = signer.sign(payload);
  if (compact.empty()) return;
  const keywarden::PushAnswer answer = push(compact, signer.keys);
  if (answer.status == 202) {
    // The signature verified and every claim check passed: the payload is an
    // object with the jti the intake reports.
    const auto claims = nlohmann::json::parse(payload);
    check(claims.at("jti") == answer.outcome.jti);
  } else {
    // Our own signature always verifies: a refusal is about the claims.
    check(answer.outcome.refusal->err != keywarden::SetErrorCode::invalid_key);
  }
}

void fuzz_unsigned_payload(const std::string& payload) {
  const auto claims = nlohmann::json::parse(payload, nullptr, false);
  if (!claims.is_object()) return;
  const auto events = keywarden::read_set_events(claims);
  keywarden::facts_from_events(events, keywarden::CompromisePolicy::revoke, "fuzz");
}

void fuzz_transmitter_document(const std::string& text) {
  try {
    (void)keywarden::SigningKeys::parse(text);
  } catch (const keywarden::SigningKeysError&) {
  }
  try {
    const auto metadata = keywarden::TransmitterMetadata::parse(text, kIssuer);
    check(metadata.issuer == kIssuer && !metadata.jwks_uri.empty());
  } catch (const keywarden::TransmitterError&) {
  }
  try {
    for (const keywarden::StreamConfig& stream : keywarden::parse_streams(text)) {
      (void)keywarden::missing_events(stream, keywarden::requested_event_types());
      (void)keywarden::is_push_delivery(stream.delivery_method);
      (void)keywarden::is_poll_delivery(stream.delivery_method);
    }
  } catch (const keywarden::TransmitterError&) {
  }
  try {
    (void)keywarden::parse_stream_status(text);
  } catch (const keywarden::TransmitterError&) {
  }
  try {
    (void)keywarden::PollResponse::parse(text);
  } catch (const keywarden::TransmitterError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const keywarden::SigningKeys keys = fixture_keys();
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      push(input, keys);
      break;
    case 1:
      fuzz_unsigned_payload(input);
      break;
    case 2:
      fuzz_signed_payload(input);
      break;
    case 3:
      fuzz_transmitter_document(input);
      break;
  }
  return 0;
}
