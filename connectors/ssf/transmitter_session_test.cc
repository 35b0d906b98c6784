// The conversation with a transmitter over loopback HTTP: discovery with its
// RISC fallback, the stream set-up of SSF 1.0 §8, and RFC 8936 polling with
// acknowledgements that wait for the next poll (that is, for the commit).
// SETs here are signed with cjose and a fresh key; set_verifier_test checks
// the verifier against the independent npm jose.
#include "connectors/ssf/transmitter_session.h"

#include <cjose/cjose.h>
#include <gtest/gtest.h>

#include <boost/asio/this_coro.hpp>
#include <deque>

#include "daemon/net/scripted_http_server_test.h"

namespace keywarden {
namespace {

namespace net = boost::asio;
using nlohmann::json;
using testing::RecordedRequest;
using testing::run_with_server;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;

#define CO_ASSERT_TRUE(cond)                  \
  if (!(cond)) {                              \
    ADD_FAILURE() << "expected true: " #cond; \
    co_return;                                \
  }

const std::string kDisabled = std::string(kRiscEventPrefix) + "account-disabled";
const Timestamp kNow(Duration(1800000000));

// An RSA signing key made by cjose, with its public JWK.
class TestSigner {
 public:
  explicit TestSigner(std::string kid) : kid_(std::move(kid)) {
    cjose_err err{};
    static const uint8_t kExponent[] = {0x01, 0x00, 0x01};
    key_ = cjose_jwk_create_RSA_random(2048, kExponent, sizeof kExponent, &err);
    cjose_jwk_set_kid(key_, kid_.data(), kid_.size(), &err);
  }
  ~TestSigner() { cjose_jwk_release(key_); }

  json public_jwk() const {
    cjose_err err{};
    char* text = cjose_jwk_to_json(key_, false, &err);
    json out = json::parse(text);
    cjose_get_dealloc()(text);
    out["use"] = "sig";
    return out;
  }

  std::string sign(const json& claims) const {
    cjose_err err{};
    cjose_header_t* header = cjose_header_new(&err);
    cjose_header_set(header, CJOSE_HDR_ALG, CJOSE_HDR_ALG_RS256, &err);
    cjose_header_set(header, CJOSE_HDR_KID, kid_.c_str(), &err);
    cjose_header_set(header, "typ", "secevent+jwt", &err);
    const std::string payload = claims.dump();
    cjose_jws_t* jws = cjose_jws_sign(key_, header, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &err);
    const char* compact = nullptr;
    cjose_jws_export(jws, &compact, &err);
    std::string out = compact;
    cjose_jws_release(jws);
    cjose_header_release(header);
    return out;
  }

 private:
  std::string kid_;
  cjose_jwk_t* key_ = nullptr;
};

// A transmitter as SSF 1.0 and RFC 8936 describe it, just enough of one.
struct FakeTransmitter {
  std::string base;  // the server's origin; the issuer is base + "/"
  bool risc_only = false;
  std::string metadata_issuer;  // empty: the right one
  std::string default_subjects = "ALL";
  std::vector<json> jwks_keys;
  int jwks_fetches = 0;
  json streams = json::array();
  std::vector<json> created, verifications, subjects_added, polls;
  std::string status = "enabled";
  std::deque<json> batches;  // each: {"jti": "token", ...}

  std::string issuer() const { return base + "/"; }

  ScriptedReply reply(const RecordedRequest& r) {
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/.well-known/ssf-configuration" || path == "/.well-known/risc-configuration") {
      if (risc_only && path == "/.well-known/ssf-configuration") return ScriptedReply::json(404, "{}");
      json metadata = {{"spec_version", "1_0"},
                       {"issuer", metadata_issuer.empty() ? issuer() : metadata_issuer},
                       {"jwks_uri", base + "/jwks"},
                       {"delivery_methods_supported", {"urn:ietf:rfc:8935", "urn:ietf:rfc:8936"}},
                       {"configuration_endpoint", base + "/streams"},
                       {"status_endpoint", base + "/status"},
                       {"add_subject_endpoint", base + "/subjects:add"},
                       {"verification_endpoint", base + "/verify"},
                       {"default_subjects", default_subjects}};
      return ScriptedReply::json(200, metadata.dump());
    }
    if (path == "/jwks") {
      ++jwks_fetches;
      return ScriptedReply::json(200, json{{"keys", jwks_keys}}.dump());
    }
    if (r.header("authorization") != "Bearer mgmt-token") return ScriptedReply::json(401, "{}");
    if (path == "/streams" && r.method == "GET") return ScriptedReply::json(200, streams.dump());
    if (path == "/streams" && r.method == "POST") {
      json request = json::parse(r.body);
      created.push_back(request);
      json stream = {{"stream_id", "stream-" + std::to_string(created.size())},
                     {"iss", issuer()},
                     {"aud", "kw"},
                     {"events_requested", request["events_requested"]},
                     {"events_delivered", {kDisabled}}};
      stream["delivery"] = request["delivery"];
      if (!stream["delivery"].contains("endpoint_url")) stream["delivery"]["endpoint_url"] = base + "/poll";
      streams.push_back(stream);
      return ScriptedReply::json(201, stream.dump());
    }
    if (path == "/verify") {
      verifications.push_back(json::parse(r.body));
      return ScriptedReply::json(204, "");
    }
    if (path == "/subjects:add") {
      subjects_added.push_back(json::parse(r.body));
      return ScriptedReply::json(204, "");
    }
    if (path == "/status") return ScriptedReply::json(200, json{{"stream_id", "stream-1"}, {"status", status}}.dump());
    if (path == "/poll") {
      polls.push_back(json::parse(r.body));
      json sets = json::object();
      if (!batches.empty()) {
        sets = batches.front();
        batches.pop_front();
      }
      return ScriptedReply::json(200, json{{"sets", sets}, {"moreAvailable", !batches.empty()}}.dump());
    }
    return ScriptedReply::json(404, "{}");
  }
};

json claims(const FakeTransmitter& t, const std::string& jti, const std::string& email,
            const std::string& audience = "kw") {
  return {{"iss", t.issuer()},
          {"aud", audience},
          {"iat", kNow.time_since_epoch().count() - 5},
          {"jti", jti},
          {"sub_id", {{"format", "email"}, {"email", email}}},
          {"events", {{kDisabled, json::object()}}}};
}

// Built outside the coroutines: GCC 12 cannot keep the backing array of a
// std::initializer_list of non-trivial values in a coroutine frame.
std::vector<std::string> split(const std::string& csv) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < csv.size()) {
    const size_t comma = csv.find(',', at);
    out.push_back(csv.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}
json jtis(const std::string& csv) { return json(split(csv)); }
json batch(const std::string& jti, const std::string& token, const std::string& jti2 = "",
           const std::string& token2 = "") {
  json out = json::object();
  out[jti] = token;
  if (!jti2.empty()) out[jti2] = token2;
  return out;
}
json delivery_method(const std::string& method) { return json{{"method", method}}; }
json email_subject(const std::string& email) { return json{{"format", "email"}, {"email", email}}; }
std::map<std::string, std::string> poll_state(const FakeTransmitter& t, const std::string& recent_jtis = "") {
  std::map<std::string, std::string> state;
  state[ssf_state::kPollEndpoint] = t.base + "/poll";
  if (!recent_jtis.empty()) state[ssf_state::kRecentJtis] = jtis(recent_jtis).dump();
  return state;
}

TransmitterSettings poll_settings(const FakeTransmitter& t) {
  TransmitterSettings s;
  s.issuer = t.issuer();
  s.audience = "kw";
  s.push = false;
  s.token = "mgmt-token";
  s.description = "keywarden test";
  s.timeout = std::chrono::milliseconds(5000);
  return s;
}

template <class Test>
void with_transmitter(Test test) {
  run_with_server([&](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeTransmitter transmitter;
    transmitter.base = server.url();
    server.handler = [&](const RecordedRequest& r) { return transmitter.reply(r); };
    auto executor = co_await net::this_coro::executor;
    auto running = test(transmitter, executor);
    co_await std::move(running);
  });
}

TEST(TransmitterSessionTest, DiscoveryFallsBackToRiscConfigurationOn404) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    t.risc_only = true;
    TransmitterSession session(ex, poll_settings(t));
    auto pending_1 = session.discover();
    const TransmitterMetadata metadata = co_await std::move(pending_1);
    EXPECT_EQ(metadata.jwks_uri, t.base + "/jwks");
  });
}

TEST(TransmitterSessionTest, MetadataOfAnotherIssuerMakesTheSourceUnhealthyAndTrustsNoKey) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner signer("k1");
    t.jwks_keys.push_back(signer.public_jwk());
    t.metadata_issuer = "https://evil.example.com/";
    TransmitterSession session(ex, poll_settings(t));
    auto pending_2 = session.upkeep({}, {}, kNow);
    const StreamUpkeep upkeep = co_await std::move(pending_2);
    CO_ASSERT_TRUE(upkeep.unhealthy.has_value());
    EXPECT_NE(upkeep.unhealthy->find("evil.example.com"), std::string::npos);
    EXPECT_EQ(session.keys().current(), nullptr);
    EXPECT_EQ(t.jwks_fetches, 0);
  });
}

TEST(TransmitterSessionTest, UpkeepCreatesAPollStreamAsksVerificationAndAddsOwners) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner signer("k1");
    t.jwks_keys.push_back(signer.public_jwk());
    t.default_subjects = "NONE";
    TransmitterSession session(ex, poll_settings(t));
    auto pending_3 = session.upkeep({}, split("alice@example.com,bob@example.com"), kNow);
    const StreamUpkeep upkeep = co_await std::move(pending_3);
    EXPECT_FALSE(upkeep.unhealthy.has_value());
    CO_ASSERT_TRUE(t.created.size() == 1u);
    EXPECT_EQ(t.created[0]["delivery"], delivery_method("urn:ietf:rfc:8936"));
    EXPECT_EQ(upkeep.state.at(ssf_state::kStreamId), "stream-1");
    EXPECT_EQ(upkeep.state.at(ssf_state::kPollEndpoint), t.base + "/poll");
    CO_ASSERT_TRUE(t.verifications.size() == 1u);
    EXPECT_EQ(t.verifications[0]["state"], upkeep.state.at(ssf_state::kVerificationState));
    CO_ASSERT_TRUE(t.subjects_added.size() == 2u);
    EXPECT_EQ(t.subjects_added[1]["subject"], email_subject("bob@example.com"));
    EXPECT_EQ(session.keys().current()->keys().size(), 1u);
    const json status = json::parse(upkeep.state.at(ssf_state::kStatusJson));
    EXPECT_EQ(status["stream"]["id"], "stream-1");
    EXPECT_EQ(status["stream"]["status"], "enabled");
    EXPECT_EQ(status["stream"]["verified"], false);
    EXPECT_FALSE(status["stream"]["missing_events"].empty());  // the fake delivers account-disabled only

    // The next upkeep reuses the stream and adds only new owners.
    std::map<std::string, std::string> state = upkeep.state;
    auto pending_4 = session.upkeep(state, split("alice@example.com,carol@example.com"), kNow);
    const StreamUpkeep again = co_await std::move(pending_4);
    EXPECT_EQ(t.created.size(), 1u);
    EXPECT_EQ(t.verifications.size(), 1u);
    CO_ASSERT_TRUE(t.subjects_added.size() == 3u);
    EXPECT_EQ(t.subjects_added[2]["subject"]["email"], "carol@example.com");
    EXPECT_EQ(again.state.at(ssf_state::kStreamId), "stream-1");
  });
}

TEST(TransmitterSessionTest, PausedStreamIsUnhealthy) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner signer("k1");
    t.jwks_keys.push_back(signer.public_jwk());
    t.status = "paused";
    TransmitterSession session(ex, poll_settings(t));
    auto pending_5 = session.upkeep({}, {}, kNow);
    const StreamUpkeep upkeep = co_await std::move(pending_5);
    CO_ASSERT_TRUE(upkeep.unhealthy.has_value());
    EXPECT_NE(upkeep.unhealthy->find("paused"), std::string::npos);
    EXPECT_EQ(upkeep.state.at(ssf_state::kStreamStatus), "paused");
  });
}

TEST(TransmitterSessionTest, PollAcknowledgesOnlyInTheNextPollAndReportsRefusals) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner signer("k1");
    t.jwks_keys.push_back(signer.public_jwk());
    t.batches.push_back(batch("j1", signer.sign(claims(t, "j1", "alice@example.com")),
                              "j2", signer.sign(claims(t, "j2", "bob@example.com", "someone-else"))));
    TransmitterSession session(ex, poll_settings(t));
    std::map<std::string, std::string> state = poll_state(t);
    auto pending_6 = session.poll(state, kNow);
    const PollOutcome first = co_await std::move(pending_6);
    CO_ASSERT_TRUE(t.polls.size() == 1u);
    EXPECT_EQ(t.polls[0]["ack"], jtis(""));
    EXPECT_EQ(t.polls[0]["returnImmediately"], true);
    CO_ASSERT_TRUE(first.identities.size() == 1u);
    EXPECT_EQ(first.identities[0].email, "alice@example.com");
    EXPECT_EQ(first.event_ids, std::vector<std::string>{"j1"});
    EXPECT_EQ(first.refused.at("invalid_audience"), 1);

    // What the caller committed comes back as state: now, and only now, j1 is
    // acknowledged and j2 reported.
    for (const auto& [name, value] : first.state) state[name] = value;
    auto pending_7 = session.poll(state, kNow);
    const PollOutcome second = co_await std::move(pending_7);
    CO_ASSERT_TRUE(t.polls.size() == 2u);
    EXPECT_EQ(t.polls[1]["ack"], jtis("j1"));
    EXPECT_EQ(t.polls[1]["setErrs"]["j2"]["err"], "invalid_audience");
    EXPECT_TRUE(second.identities.empty());
    EXPECT_EQ(json::parse(second.state.at(ssf_state::kPendingAcks)), jtis(""));
  });
}

TEST(TransmitterSessionTest, PollKeepsGoingWhileMoreAvailable) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner signer("k1");
    t.jwks_keys.push_back(signer.public_jwk());
    for (int i = 0; i < 3; ++i) {
      const std::string jti = "j" + std::to_string(i);
      t.batches.push_back(batch(jti, signer.sign(claims(t, jti, "u" + std::to_string(i) + "@example.com"))));
    }
    TransmitterSession session(ex, poll_settings(t));
    auto pending_8 = session.poll(poll_state(t), kNow);
    const PollOutcome outcome = co_await std::move(pending_8);
    EXPECT_EQ(t.polls.size(), 3u);
    EXPECT_EQ(outcome.identities.size(), 3u);
    EXPECT_EQ(json::parse(outcome.state.at(ssf_state::kPendingAcks)), jtis("j0,j1,j2"));
  });
}

TEST(TransmitterSessionTest, ReplayedJtiIsAcknowledgedButNotAppliedAgain) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner signer("k1");
    t.jwks_keys.push_back(signer.public_jwk());
    t.batches.push_back(batch("j1", signer.sign(claims(t, "j1", "alice@example.com"))));
    TransmitterSession session(ex, poll_settings(t));
    const std::map<std::string, std::string> state = poll_state(t, "j1");
    auto pending_9 = session.poll(state, kNow);
    const PollOutcome outcome = co_await std::move(pending_9);
    EXPECT_TRUE(outcome.identities.empty());
    EXPECT_TRUE(outcome.event_ids.empty());
    EXPECT_EQ(json::parse(outcome.state.at(ssf_state::kPendingAcks)), jtis("j1"));
  });
}

TEST(TransmitterSessionTest, RotatedKeyIsFetchedOnceAndTheSetAccepted) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner old_key("k1");
    TestSigner new_key("k2");
    t.jwks_keys.push_back(old_key.public_jwk());
    TransmitterSession session(ex, poll_settings(t));
    auto pending_10 = session.refresh_keys(kNow - Duration(120));
    co_await std::move(pending_10);
    EXPECT_EQ(t.jwks_fetches, 1);
    t.jwks_keys.push_back(new_key.public_jwk());  // the transmitter rotates, keeping the old key
    t.batches.push_back(batch("j1", new_key.sign(claims(t, "j1", "alice@example.com")),
                              "j2", new_key.sign(claims(t, "j2", "bob@example.com"))));
    auto pending_11 = session.poll(poll_state(t), kNow);
    const PollOutcome outcome = co_await std::move(pending_11);
    EXPECT_EQ(t.jwks_fetches, 2);  // once, not once per SET
    EXPECT_EQ(outcome.identities.size(), 2u);
  });
}

TEST(TransmitterSessionTest, UnknownKidWithinTheMinuteIsLeftForRedelivery) {
  with_transmitter([](FakeTransmitter& t, net::any_io_executor ex) -> net::awaitable<void> {
    TestSigner old_key("k1");
    TestSigner stranger("k9");
    t.jwks_keys.push_back(old_key.public_jwk());
    TransmitterSession session(ex, poll_settings(t));
    auto pending_12 = session.refresh_keys(kNow - Duration(10));
    co_await std::move(pending_12);  // fetched ten seconds ago
    t.batches.push_back(batch("j1", stranger.sign(claims(t, "j1", "alice@example.com"))));
    auto pending_13 = session.poll(poll_state(t), kNow);
    const PollOutcome outcome = co_await std::move(pending_13);
    EXPECT_EQ(t.jwks_fetches, 1);
    EXPECT_TRUE(outcome.identities.empty());
    EXPECT_EQ(json::parse(outcome.state.at(ssf_state::kPendingAcks)), jtis(""));
    EXPECT_TRUE(json::parse(outcome.state.at(ssf_state::kPendingSetErrs)).empty());
  });
}

}  // namespace
}  // namespace keywarden
