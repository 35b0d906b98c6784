// SET verification against tokens signed by the npm `jose` package
// (testdata/make_set_fixtures.mjs), an implementation independent of cjose:
// every accepted algorithm verifies, and every way a token can be wrong is
// refused with the RFC 8935 error code SPEC §8.1 gives it.
#include "connectors/ssf/set_verifier.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace keywarden {
namespace {

using nlohmann::json;

const json& fixtures() {
  static const json loaded = [] {
    std::ifstream in(std::string(SSF_TESTDATA_DIR) + "/set_fixtures.json");
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str());
  }();
  return loaded;
}

std::string token(const std::string& name) { return fixtures().at("tokens").at(name).get<std::string>(); }

class SetVerifierTest : public ::testing::Test {
 protected:
  SetVerifierTest()
      : keys_(SigningKeys::parse(fixtures().at("jwks").dump())),
        expect_{fixtures().at("issuer").get<std::string>(), fixtures().at("audience").get<std::string>(),
                Timestamp(Duration(fixtures().at("now").get<long long>()))} {}

  SetVerification verify(const std::string& name) { return verify_set(token(name), keys_, expect_); }

  void expect_accepted(const std::string& name) {
    const SetVerification result = verify(name);
    const auto* refusal = std::get_if<SetRefusal>(&result);
    EXPECT_EQ(refusal, nullptr) << name << ": " << (refusal ? refusal->description : "");
  }

  SetRefusal expect_refused(const std::string& name, SetErrorCode err) {
    SetVerification result = verify(name);
    const auto* refusal = std::get_if<SetRefusal>(&result);
    EXPECT_NE(refusal, nullptr) << name << " was accepted";
    if (!refusal) return {};
    EXPECT_EQ(to_string(refusal->err), to_string(err)) << name << ": " << refusal->description;
    return *refusal;
  }

  SigningKeys keys_;
  SetExpectations expect_;
};

TEST_F(SetVerifierTest, JwksKeepsOnlyTrustedSigningKeys) {
  ASSERT_NE(keys_.find("rsa-1"), nullptr);
  ASSERT_NE(keys_.find("rsa-2"), nullptr);
  ASSERT_NE(keys_.find("ec-1"), nullptr);
  EXPECT_EQ(keys_.find("ec-1")->ec_curve, "P-256");
  EXPECT_EQ(keys_.find("rsa-1")->alg, "RS256");
  EXPECT_EQ(keys_.find("rsa-enc"), nullptr);
  EXPECT_TRUE(keys_.is_unusable("rsa-enc"));
  EXPECT_EQ(keys_.find("oct-1"), nullptr);
  EXPECT_TRUE(keys_.is_unusable("oct-1"));
}

TEST_F(SetVerifierTest, AcceptsEveryAllowedAlgorithmFamily) {
  for (const char* name : {"good_rs256", "good_ps256", "good_ps512", "good_es256", "good_es384"}) {
    expect_accepted(name);
  }
  const SetVerification result = verify("good_ps256");
  ASSERT_TRUE(std::holds_alternative<VerifiedSet>(result));
  const auto& set = std::get<VerifiedSet>(result);
  EXPECT_EQ(set.alg, "PS256");
  EXPECT_EQ(set.kid, "rsa-2");
  EXPECT_EQ(set.jti, set.claims.at("jti").get<std::string>());
  EXPECT_EQ(set.claims.at("sub_id").at("email"), "alice@example.com");
}

TEST_F(SetVerifierTest, AcceptsWhatTheRulesAllow) {
  expect_accepted("good_aud_array");
  expect_accepted("good_iat_4min_ahead");
  expect_accepted("good_exp_ahead");
  expect_accepted("good_typ_upper");
}

// Found by set_fuzz: cjose asserts (aborting the daemon) on a part whose
// length is 1 mod 4; padding and characters outside base64url are refused too.
TEST_F(SetVerifierTest, RefusesPartsThatAreNotUnpaddedBase64urlBeforeCjoseSeesThem) {
  const std::string good = token("good_rs256");
  const size_t first_dot = good.find('.');
  const size_t second_dot = good.find('.', first_dot + 1);
  const std::string header = good.substr(0, first_dot);
  const std::string payload = good.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string signature = good.substr(second_dot + 1);
  std::string one_mod_four = payload;
  while (one_mod_four.size() % 4 != 1) one_mod_four.push_back('A');
  for (const std::string& bad : {header + "." + one_mod_four + "." + signature,
                                 header + "." + payload + "=." + signature,
                                 header + "." + payload + "." + signature + "+/"}) {
    const SetVerification result = verify_set(bad, keys_, expect_);
    const auto* refusal = std::get_if<SetRefusal>(&result);
    ASSERT_NE(refusal, nullptr) << bad;
    EXPECT_EQ(to_string(refusal->err), "invalid_request") << refusal->description;
  }
  expect_accepted("good_rs256");
}

TEST_F(SetVerifierTest, RefusesAlgNone) { expect_refused("alg_none", SetErrorCode::invalid_key); }

TEST_F(SetVerifierTest, RefusesHmacKeyedWithTheRsaPublicKey) {
  expect_refused("hs256_rsa_public_pem", SetErrorCode::invalid_key);
  expect_refused("hs256_oct_key", SetErrorCode::invalid_key);
}

TEST_F(SetVerifierTest, UnknownKidIsRefusedAndAsksForAFreshJwks) {
  EXPECT_TRUE(expect_refused("unknown_kid", SetErrorCode::invalid_key).unknown_kid);
  // A kid that is present but no signing key is not "unknown": no re-fetch.
  EXPECT_FALSE(expect_refused("enc_key", SetErrorCode::invalid_key).unknown_kid);
}

TEST_F(SetVerifierTest, WithoutKidOnlyTheOneFittingKeyIsTried) {
  // rsa-1 (alg RS256) is the only key that fits RS256 with no kid... and
  // rsa-2 (no alg) fits too, so the choice is ambiguous and refused.
  expect_refused("no_kid", SetErrorCode::invalid_key);
  SigningKeys only_rsa1 = SigningKeys::parse(json{{"keys", json::array({fixtures()["jwks"]["keys"][0]})}}.dump());
  const SetVerification result = verify_set(token("no_kid"), only_rsa1, expect_);
  EXPECT_TRUE(std::holds_alternative<VerifiedSet>(result));
}

TEST_F(SetVerifierTest, KeyTypeMustFitTheAlgorithm) {
  expect_refused("es_key_rs_alg", SetErrorCode::invalid_key);
  expect_refused("rsa_key_es_alg", SetErrorCode::invalid_key);
  expect_refused("es384_key_es256_alg", SetErrorCode::invalid_key);
}

TEST_F(SetVerifierTest, HeaderAlgMustMatchTheKeysAlg) {
  expect_refused("ps256_key_names_rs256", SetErrorCode::invalid_key);
}

TEST_F(SetVerifierTest, RefusesBadSignatures) {
  expect_refused("tampered_payload", SetErrorCode::invalid_key);
  expect_refused("wrong_signer_same_kid", SetErrorCode::invalid_key);
  std::string flipped = token("good_es256");
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(std::holds_alternative<SetRefusal>(verify_set(flipped, keys_, expect_)));
}

TEST_F(SetVerifierTest, RefusesWrongTyp) {
  expect_refused("wrong_typ", SetErrorCode::invalid_request);
  expect_refused("missing_typ", SetErrorCode::invalid_request);
}

TEST_F(SetVerifierTest, RefusesWrongIssuer) {
  expect_refused("wrong_iss", SetErrorCode::invalid_issuer);
  expect_refused("missing_iss", SetErrorCode::invalid_issuer);
}

TEST_F(SetVerifierTest, RefusesWrongAudience) {
  expect_refused("wrong_aud", SetErrorCode::invalid_audience);
  expect_refused("wrong_aud_array", SetErrorCode::invalid_audience);
  expect_refused("missing_aud", SetErrorCode::invalid_audience);
}

TEST_F(SetVerifierTest, RefusesBadTimes) {
  expect_refused("iat_far_ahead", SetErrorCode::invalid_request);
  expect_refused("missing_iat", SetErrorCode::invalid_request);
  expect_refused("iat_string", SetErrorCode::invalid_request);
  expect_refused("expired", SetErrorCode::invalid_request);
  // The same token is fine while its exp is ahead: the clock is an argument.
  expect_.now -= Duration(60);
  expect_accepted("expired");
}

TEST_F(SetVerifierTest, IatLimitIsFiveMinutes) {
  expect_accepted("good_iat_4min_ahead");  // iat = now + 240
  expect_.now -= Duration(61);             // iat = now + 301
  expect_refused("good_iat_4min_ahead", SetErrorCode::invalid_request);
}

TEST_F(SetVerifierTest, RefusesMissingJtiOrEvents) {
  expect_refused("missing_jti", SetErrorCode::invalid_request);
  expect_refused("empty_jti", SetErrorCode::invalid_request);
  expect_refused("missing_events", SetErrorCode::invalid_request);
  expect_refused("empty_events", SetErrorCode::invalid_request);
  expect_refused("event_not_object", SetErrorCode::invalid_request);
  expect_refused("payload_not_object", SetErrorCode::invalid_request);
}

TEST_F(SetVerifierTest, RefusesUnknownCriticalExtensions) {
  expect_refused("unknown_crit", SetErrorCode::invalid_request);
}

TEST_F(SetVerifierTest, RefusesMalformedTokens) {
  for (const char* name : {"malformed_two_parts", "malformed_garbage", "malformed_header_json", "json_serialization"}) {
    expect_refused(name, SetErrorCode::invalid_request);
  }
  for (const std::string& bad : {std::string(), std::string(".."), std::string("a.b.c"), std::string("\x01\x02.\xff.")}) {
    EXPECT_TRUE(std::holds_alternative<SetRefusal>(verify_set(bad, keys_, expect_)));
  }
}

TEST_F(SetVerifierTest, RefusesOversizedTokensBeforeParsing) {
  std::string big = token("good_rs256");
  big.append(kMaxSetBytes, 'A');
  const SetVerification result = verify_set(big, keys_, expect_);
  ASSERT_TRUE(std::holds_alternative<SetRefusal>(result));
  EXPECT_EQ(std::get<SetRefusal>(result).err, SetErrorCode::invalid_request);
  EXPECT_NE(std::get<SetRefusal>(result).description.find("larger"), std::string::npos);
}

TEST_F(SetVerifierTest, TrailingNewlineIsNotPartOfTheToken) {
  EXPECT_TRUE(std::holds_alternative<VerifiedSet>(verify_set(token("good_rs256") + "\r\n", keys_, expect_)));
}

TEST(SigningKeysTest, RefusesMalformedJwks) {
  EXPECT_THROW(SigningKeys::parse("{"), SigningKeysError);
  EXPECT_THROW(SigningKeys::parse("{\"keys\": {}}"), SigningKeysError);
  EXPECT_THROW(SigningKeys::parse("[]"), SigningKeysError);
  EXPECT_TRUE(SigningKeys::parse("{\"keys\": []}").keys().empty());
}

TEST(SigningKeysTest, ShortRsaKeysAreNotTrusted) {
  // A 1024-bit modulus (128 bytes, base64url 171 characters).
  const json weak = {{"kty", "RSA"}, {"kid", "weak"}, {"e", "AQAB"}, {"n", std::string(171, 'x')}};
  const SigningKeys keys = SigningKeys::parse(json{{"keys", json::array({weak})}}.dump());
  EXPECT_EQ(keys.find("weak"), nullptr);
  EXPECT_TRUE(keys.is_unusable("weak"));
}

}  // namespace
}  // namespace keywarden
