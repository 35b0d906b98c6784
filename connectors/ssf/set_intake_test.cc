// One SET in, pushed or polled: the RFC 8935 answers, de-duplication by jti,
// the bearer check, and the JWKS re-fetch limit.
#include "connectors/ssf/set_intake.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
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

class SetIntakeTest : public ::testing::Test {
 protected:
  SetIntakeTest() : keys_(SigningKeys::parse(fixtures().at("jwks").dump())) {
    settings_.expect = {fixtures().at("issuer"), fixtures().at("audience"),
                        Timestamp(Duration(fixtures().at("now").get<long long>()))};
  }
  std::string token(const std::string& name) { return fixtures().at("tokens").at(name).get<std::string>(); }
  PushAnswer push(const std::string& name, const std::string& content_type = "application/secevent+jwt") {
    return answer_push(content_type, token(name), &keys_, settings_,
                       [&](const std::string& jti) { return seen_.count(jti) > 0; });
  }

  SigningKeys keys_;
  IntakeSettings settings_;
  std::set<std::string> seen_;
};

TEST_F(SetIntakeTest, GoodSetIsAcceptedWithItsFacts) {
  const PushAnswer answer = push("good_rs256");
  EXPECT_EQ(answer.status, 202);
  EXPECT_TRUE(answer.body.empty());
  EXPECT_FALSE(answer.outcome.jti.empty());
  EXPECT_FALSE(answer.outcome.duplicate);
  ASSERT_EQ(answer.outcome.facts.identities.size(), 1u);
  EXPECT_EQ(answer.outcome.facts.identities[0].email, "alice@example.com");
  EXPECT_EQ(answer.outcome.facts.identities[0].status, IdentityStatus::inactive);
}

TEST_F(SetIntakeTest, ReplayedJtiIsAcceptedButCarriesNoFacts) {
  const PushAnswer first = push("good_rs256");
  seen_.insert(first.outcome.jti);
  const PushAnswer again = push("good_rs256");
  EXPECT_EQ(again.status, 202);
  EXPECT_TRUE(again.outcome.duplicate);
  EXPECT_TRUE(again.outcome.facts.identities.empty());
}

TEST_F(SetIntakeTest, RefusalsAre400WithTheRfcErrorCode) {
  const std::map<std::string, std::string> cases = {
      {"tampered_payload", "invalid_key"}, {"alg_none", "invalid_key"},          {"unknown_kid", "invalid_key"},
      {"wrong_iss", "invalid_issuer"},     {"wrong_aud", "invalid_audience"},    {"expired", "invalid_request"},
      {"missing_jti", "invalid_request"},  {"malformed_garbage", "invalid_request"}};
  for (const auto& [name, err] : cases) {
    const PushAnswer answer = push(name);
    EXPECT_EQ(answer.status, 400) << name;
    EXPECT_EQ(answer.content_type, "application/json") << name;
    const json body = json::parse(answer.body);
    EXPECT_EQ(body["err"], err) << name;
    EXPECT_FALSE(body["description"].get<std::string>().empty());
    EXPECT_TRUE(answer.outcome.facts.identities.empty()) << name;
  }
}

TEST_F(SetIntakeTest, WrongContentTypeIsInvalidRequest) {
  const PushAnswer answer = push("good_rs256", "application/json");
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(json::parse(answer.body)["err"], "invalid_request");
  EXPECT_EQ(push("good_rs256", "Application/SecEvent+JWT; charset=utf-8").status, 202);
}

TEST_F(SetIntakeTest, NoKeysYetIs503NotAGuess) {
  const PushAnswer answer = answer_push("application/secevent+jwt", token("good_rs256"), nullptr, settings_,
                                        [](const std::string&) { return false; });
  EXPECT_EQ(answer.status, 503);
  EXPECT_TRUE(answer.outcome.facts.identities.empty());
}

TEST_F(SetIntakeTest, EachPushCountsAsWhatBecameOfIt) {
  const PushAnswer good = push("good_rs256");
  EXPECT_EQ(counts_of(good).to_json(),
            json::parse(R"({"received":1,"applied":1,"duplicate":0,"noted":0,"refused":{}})"));
  seen_.insert(good.outcome.jti);
  EXPECT_EQ(counts_of(push("good_rs256")).duplicate, 1);
  EXPECT_EQ(counts_of(push("good_rs256")).applied, 0);
  const SetCounts refused = counts_of(push("wrong_aud"));
  EXPECT_EQ(refused.received, 1);
  EXPECT_EQ(refused.refused, (std::map<std::string, long>{{"invalid_audience", 1}}));
  EXPECT_EQ(counts_of(push("good_rs256", "text/plain")).refused.at("invalid_request"), 1);
  const PushAnswer no_keys = answer_push("application/secevent+jwt", token("good_rs256"), nullptr, settings_,
                                         [](const std::string&) { return false; });
  EXPECT_EQ(counts_of(no_keys).received, 0);  // the transmitter retries it: not taken in yet
}

TEST(SetTallyTest, StoredTotalsAreReadOnceThenCountedOn) {
  SetTally tally;
  SetCounts refused;
  refused.received = 1;
  refused.refused["invalid_key"] = 1;
  tally.count(refused);  // before anything stored was read (a refused push writes nothing)
  const std::string stored = R"({"received":10,"applied":7,"duplicate":1,"noted":2,"refused":{"invalid_key":2}})";
  SetCounts totals = tally.totals(stored);
  EXPECT_EQ(totals.received, 11);
  EXPECT_EQ(totals.applied, 7);
  EXPECT_EQ(totals.refused.at("invalid_key"), 3);
  // What is stored now is what this tally wrote: not added again.
  totals = tally.totals(totals.to_json().dump());
  EXPECT_EQ(totals.received, 11);
  SetTally fresh;
  EXPECT_EQ(fresh.totals(std::nullopt).received, 0);
  EXPECT_EQ(fresh.totals(stored).received, 0) << "nothing was stored when it first looked";
  EXPECT_EQ(SetCounts::from_json("not json").received, 0);
}

TEST(SetTallyTest, SinceStartLeavesTheStoredTotalsOut) {
  SetTally tally;
  SetCounts one;
  one.received = 1;
  one.refused["invalid_audience"] = 1;
  tally.count(one);
  tally.totals(R"({"received":10,"refused":{"invalid_audience":5}})");
  tally.count(one);
  const SetCounts since = tally.since_start();
  EXPECT_EQ(since.received, 2);
  EXPECT_EQ(since.refused.at("invalid_audience"), 2);
  EXPECT_EQ(tally.totals(std::nullopt).received, 12);
}

TEST(BearerTest, MatchesOnlyTheExactToken) {
  EXPECT_TRUE(bearer_matches("Bearer s3cret-token", "s3cret-token"));
  EXPECT_TRUE(bearer_matches("bearer s3cret-token", "s3cret-token"));
  EXPECT_FALSE(bearer_matches("Bearer s3cret-tokeN", "s3cret-token"));
  EXPECT_FALSE(bearer_matches("Bearer s3cret-token-and-more", "s3cret-token"));
  EXPECT_FALSE(bearer_matches("Basic s3cret-token", "s3cret-token"));
  EXPECT_FALSE(bearer_matches("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(bearer_matches("", "s3cret-token"));
  EXPECT_FALSE(bearer_matches("Bearer ", ""));  // no token configured: nothing matches
}

TEST(TransmitterKeysTest, RefetchAtMostOnceAMinute) {
  TransmitterKeys keys;
  const Timestamp t0(Duration(1000));
  EXPECT_TRUE(keys.refetch_wanted());  // none yet
  EXPECT_TRUE(keys.may_fetch(t0));
  keys.replace(std::make_shared<const SigningKeys>(), t0);
  EXPECT_FALSE(keys.refetch_wanted());
  keys.want_refetch();
  EXPECT_TRUE(keys.refetch_wanted());
  EXPECT_FALSE(keys.may_fetch(t0 + Duration(59)));
  EXPECT_TRUE(keys.may_fetch(t0 + Duration(60)));
}

}  // namespace
}  // namespace keywarden
