// Event mapping from the SET payloads transmitters really send (SSF 1.0's
// sub_id, Okta's subject inside the event with millisecond timestamps,
// Google's legacy subject_type) to identity facts.
#include "connectors/ssf/set_events.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

using nlohmann::json;

const std::string kDisabled = std::string(kRiscEventPrefix) + "account-disabled";
const std::string kPurged = std::string(kRiscEventPrefix) + "account-purged";
const std::string kEnabled = std::string(kRiscEventPrefix) + "account-enabled";
const std::string kCompromise = std::string(kRiscEventPrefix) + "credential-compromise";
const std::string kSessionRevoked = std::string(kCaepEventPrefix) + "session-revoked";
const std::string kCredentialChange = std::string(kCaepEventPrefix) + "credential-change";

// The SSF 1.0 example of idp-protocols.md §6.1: iss_sub in sub_id.
const json kSsfExample = json::parse(R"({
  "iss":"https://idp.example.com/","jti":"756E69717565206964656E746966696572","iat":1508184845,
  "aud":"636C69656E745F6964","txn":"8675309",
  "sub_id":{"format":"iss_sub","iss":"https://idp.example.com/","sub":"7375626A656374"},
  "events":{"https://schemas.openid.net/secevent/risc/event-type/account-disabled":{"reason":"hijacking"}}})");

// Okta's transmitter: the subject inside the event, under "user", and
// event_timestamp in milliseconds.
const json kOktaSessionRevoked = json::parse(R"({
  "iss":"https://corp.okta.com","jti":"okta-1","iat":1615305159,"aud":"https://receiver.example.com",
  "events":{"https://schemas.openid.net/secevent/caep/event-type/session-revoked":{
    "subject":{"user":{"format":"email","email":"Alice@Example.com"},
               "session":{"format":"opaque","id":"102zm2AP7mtQyKCvj6bzyh1Fg"}},
    "event_timestamp":1615304991643,"initiating_entity":"admin",
    "reason_admin":{"en":"Administrator ended the session"}}}})");

// Google's RISC: legacy subject_type with a hyphen, inside the event.
const json kGoogleDisabled = json::parse(R"({
  "iss":"https://accounts.google.com/","jti":"google-1","iat":1508184845,"aud":"123.apps.googleusercontent.com",
  "events":{"https://schemas.openid.net/secevent/risc/event-type/account-disabled":{
    "subject":{"subject_type":"iss-sub","iss":"https://accounts.google.com/","sub":"7375626A656374"},
    "reason":"hijacking"}}})");

TEST(SetEventsTest, ReadsSsfSubIdIssSub) {
  const auto events = read_set_events(kSsfExample);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SetEventKind::account_disabled);
  ASSERT_TRUE(events[0].subject);
  EXPECT_EQ(events[0].subject->join, SetSubject::Join::subject_id);
  EXPECT_EQ(events[0].subject->value, "7375626A656374");
  EXPECT_EQ(events[0].reason, "hijacking");
}

TEST(SetEventsTest, ReadsOktasSubjectInsideTheEventAndMillisecondTimestamps) {
  const auto events = read_set_events(kOktaSessionRevoked);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SetEventKind::session_revoked);
  ASSERT_TRUE(events[0].subject);
  EXPECT_EQ(events[0].subject->join, SetSubject::Join::email);
  EXPECT_EQ(events[0].subject->value, "alice@example.com");
  ASSERT_TRUE(events[0].event_time);
  EXPECT_EQ(format_rfc3339(*events[0].event_time), "2021-03-09T15:49:51Z");
  EXPECT_EQ(events[0].reason, "Administrator ended the session");
}

TEST(SetEventsTest, ReadsGooglesLegacySubjectType) {
  const auto events = read_set_events(kGoogleDisabled);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(events[0].subject);
  EXPECT_EQ(events[0].subject->join, SetSubject::Join::subject_id);
  EXPECT_EQ(events[0].subject->value, "7375626A656374");
  EXPECT_EQ(events[0].subject->format, "iss-sub");
}

TEST(SetEventsTest, CaepTimestampsInSecondsStaySeconds) {
  json claims = kOktaSessionRevoked;
  claims["events"][kSessionRevoked]["event_timestamp"] = 1615304991;
  EXPECT_EQ(format_rfc3339(*read_set_events(claims)[0].event_time), "2021-03-09T15:49:51Z");
}

TEST(SetEventsTest, SubIdWinsOverTheEventsOwnSubject) {
  json claims = kGoogleDisabled;
  claims["sub_id"] = {{"format", "email"}, {"email", "bob@example.com"}};
  EXPECT_EQ(read_set_events(claims)[0].subject->value, "bob@example.com");
}

TEST(SetEventsTest, SubjectIdentifierFormats) {
  auto read = [](const char* text) { return read_subject_identifier(json::parse(text)); };
  EXPECT_EQ(read(R"({"format":"email","email":" A@X.com "})")->value, "a@x.com");
  EXPECT_EQ(read(R"({"format":"opaque","id":"stream-7"})")->value, "stream-7");
  EXPECT_EQ(read(R"({"format":"opaque","id":"stream-7"})")->join, SetSubject::Join::subject_id);
  EXPECT_EQ(read(R"({"format":"account","uri":"acct:Carol@x.com"})")->value, "carol@x.com");
  EXPECT_EQ(read(R"({"format":"complex","user":{"format":"iss_sub","iss":"i","sub":"s1"},
                     "device":{"format":"opaque","id":"d"}})")->value, "s1");
  const auto alias = read(R"({"format":"aliases","identifiers":[{"format":"phone_number","phone_number":"+1"},
                               {"format":"opaque","id":"o1"},{"format":"email","email":"d@x.com"}]})");
  EXPECT_EQ(alias->value, "d@x.com");  // an email first, whatever the order
  EXPECT_FALSE(read(R"({"format":"phone_number","phone_number":"+12065550100"})"));
  EXPECT_FALSE(read(R"({"format":"email"})"));
  EXPECT_FALSE(read(R"({"format":"iss_sub","iss":"i"})"));
  EXPECT_FALSE(read(R"("alice@example.com")"));
  EXPECT_FALSE(read(R"({"format":"complex","device":{"format":"opaque","id":"d"}})"));
}

TEST(SetEventsTest, AccountEventsBecomeStatuses) {
  json claims = {{"jti", "j1"},
                 {"sub_id", {{"format", "email"}, {"email", "alice@example.com"}}},
                 {"events", {{kDisabled, json::object()}}}};
  auto facts = facts_from_events(read_set_events(claims), CompromisePolicy::report, "j1");
  ASSERT_EQ(facts.identities.size(), 1u);
  EXPECT_EQ(facts.identities[0].subject_id, "email:alice@example.com");
  EXPECT_EQ(facts.identities[0].email, "alice@example.com");
  EXPECT_EQ(facts.identities[0].status, IdentityStatus::inactive);
  EXPECT_NE(facts.identities[0].status_detail.find("account-disabled"), std::string::npos);
  EXPECT_NE(facts.identities[0].status_detail.find("j1"), std::string::npos);

  claims["events"] = {{kPurged, json::object()}};
  EXPECT_EQ(facts_from_events(read_set_events(claims), CompromisePolicy::report, "j2").identities[0].status,
            IdentityStatus::deleted);
  claims["events"] = {{kEnabled, json::object()}};
  EXPECT_EQ(facts_from_events(read_set_events(claims), CompromisePolicy::report, "j3").identities[0].status,
            IdentityStatus::active);
}

TEST(SetEventsTest, IssSubSubjectsBecomeSubjectReferences) {
  const auto facts = facts_from_events(read_set_events(kGoogleDisabled), CompromisePolicy::report, "google-1");
  ASSERT_EQ(facts.identities.size(), 1u);
  EXPECT_EQ(facts.identities[0].subject_id, subject_reference("7375626A656374"));
  EXPECT_TRUE(facts.identities[0].email.empty());
}

TEST(SetEventsTest, CompromiseRevokesOnlyWhenThePolicySaysSo) {
  const auto reported = facts_from_events(read_set_events(kOktaSessionRevoked), CompromisePolicy::report, "okta-1");
  EXPECT_TRUE(reported.identities.empty());
  ASSERT_EQ(reported.notes.size(), 1u);
  EXPECT_NE(reported.notes[0].find("reported only"), std::string::npos);

  const auto revoked = facts_from_events(read_set_events(kOktaSessionRevoked), CompromisePolicy::revoke, "okta-1");
  ASSERT_EQ(revoked.identities.size(), 1u);
  EXPECT_EQ(revoked.identities[0].status, IdentityStatus::compromised);
  EXPECT_EQ(revoked.identities[0].email, "alice@example.com");

  json risc = {{"sub_id", {{"format", "email"}, {"email", "bob@example.com"}}},
               {"events", {{kCompromise, {{"credential_type", "password"}}}}}};
  EXPECT_EQ(facts_from_events(read_set_events(risc), CompromisePolicy::revoke, "r").identities[0].status,
            IdentityStatus::compromised);
}

TEST(SetEventsTest, OtherEventsAreNotedAndChangeNothing) {
  json claims = {{"sub_id", {{"format", "email"}, {"email", "alice@example.com"}}},
                 {"events", {{kCredentialChange, {{"change_type", "update"}}},
                             {"https://example.com/event-type/custom", json::object()}}}};
  const auto facts = facts_from_events(read_set_events(claims), CompromisePolicy::revoke, "j");
  EXPECT_TRUE(facts.identities.empty());
  ASSERT_EQ(facts.notes.size(), 2u);
  EXPECT_NE(facts.notes[0].find("ignored"), std::string::npos);
}

TEST(SetEventsTest, VerificationAndStreamUpdatesAreStreamFactsNotIdentities) {
  json claims = {{"sub_id", {{"format", "opaque"}, {"id", "stream-1"}}},
                 {"events", {{std::string(kSsfEventPrefix) + "verification", {{"state", "st-42"}}}}}};
  auto facts = facts_from_events(read_set_events(claims), CompromisePolicy::revoke, "v");
  EXPECT_TRUE(facts.identities.empty());
  EXPECT_EQ(facts.verification_state, "st-42");

  claims["events"] = {{std::string(kSsfEventPrefix) + "stream-updated", {{"status", "paused"}, {"reason", "maintenance"}}}};
  facts = facts_from_events(read_set_events(claims), CompromisePolicy::revoke, "s");
  EXPECT_TRUE(facts.identities.empty());
  EXPECT_EQ(facts.stream_status, "paused");
}

TEST(SetEventsTest, AccountEventWithoutAJoinableSubjectIsNotedOnly) {
  json claims = {{"sub_id", {{"format", "phone_number"}, {"phone_number", "+12065550100"}}},
                 {"events", {{kDisabled, json::object()}}}};
  const auto facts = facts_from_events(read_set_events(claims), CompromisePolicy::revoke, "p");
  EXPECT_TRUE(facts.identities.empty());
  ASSERT_EQ(facts.notes.size(), 1u);
}

TEST(SetEventsTest, RequestsTheEventsItActsOn) {
  const auto types = requested_event_types();
  for (const auto& wanted : {kDisabled, kPurged, kEnabled, kCompromise, kSessionRevoked}) {
    EXPECT_NE(std::find(types.begin(), types.end(), wanted), types.end()) << wanted;
  }
}

}  // namespace
}  // namespace keywarden
