// Okta Event Hooks against a real Store in a temporary folder: the shared
// secret guards every request, a verification GET is answered, each event has
// its effect once, and bad input is a 4xx that changes nothing.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "connectors/okta/okta_hook.h"
#include "connectors/okta/okta_source.h"
#include "connectors/push_test_support.h"

namespace keywarden {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kSecret = "hook-secret-7d41c0f3a9e2";
constexpr const char* kSource = "corp-okta";

json log_event(const std::string& uuid, const std::string& type, const std::string& user_id,
               const std::string& login, const std::string& published = "2026-11-26T09:58:01.000Z",
               const std::string& group = "palette-users") {
  json targets = json::array({{{"id", user_id}, {"type", "User"}, {"alternateId", login}, {"displayName", "X Y"}}});
  if (type.rfind("group.", 0) == 0) {
    targets.push_back({{"id", "00g-" + group}, {"type", "UserGroup"}, {"alternateId", "unknown"}, {"displayName", group}});
  }
  return json{{"uuid", uuid},
              {"published", published},
              {"eventType", type},
              {"version", "0"},
              {"severity", "INFO"},
              {"outcome", {{"result", "SUCCESS"}}},
              {"actor", {{"id", "00uadmin"}, {"type", "User"}, {"alternateId", "admin@example.com"}}},
              {"target", targets}};
}

std::string delivery(const json& events) {
  return json{{"eventType", "com.okta.event_hook"},
              {"eventTypeVersion", "1.0"},
              {"cloudEventsVersion", "0.1"},
              {"contentType", "application/json"},
              {"eventId", "b5a188b9-5ece-4636-b041-482ffda96311"},
              {"eventTime", "2026-11-26T09:58:02.000Z"},
              {"source", "https://corp.okta.com/api/v1/eventHooks/who123"},
              {"data", {{"events", events}}}}
      .dump();
}

class OktaHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/okta-hook-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    store_ = Store::open(dir_ / "keywarden.db");
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  PushRequest request(const std::string& method, const std::string& body = "",
                      const char* secret = kSecret) const {
    PushRequest r;
    r.method = method;
    r.path = "";
    if (secret) r.headers["authorization"] = secret;
    if (method == "POST") {
      r.headers["content-type"] = "application/json";
      r.headers["accept"] = "application/json";
    }
    r.body = body;
    return r;
  }

  AppliedPush push_to(Source& source, const PushRequest& r) {
    return apply_push(*store_, kSource, Timestamp{},
                      [&](const PushContext& context) { return source.handle_push(r, context); });
  }

  AppliedPush push(const PushRequest& r, Timestamp now = Timestamp(std::chrono::seconds(1'800'000'000))) {
    return apply_push(*store_, kSource, now,
                      [&](const PushContext& context) { return handle_okta_hook(r, context, settings_); });
  }

  AppliedPush post(const json& events) { return push(request("POST", delivery(events))); }

  // Alice as a full read left her: active, in palette-users, with her email.
  void seed_alice() {
    Identity alice;
    alice.subject_id = "00ualice";
    alice.user_name = "alice.login@corp.example";
    alice.email = "Alice@Example.com";
    alice.status_detail = "status ACTIVE";
    alice.groups = {"palette-users", "eng"};
    store_->apply_full_read(kSource, {alice}, 1, Timestamp(std::chrono::seconds(1'700'000'000)));
  }

  IdentityRecord alice() const { return *store_->load_identity(kSource, "00ualice"); }

  static bool current_member(const IdentityRecord& r, const std::string& group) {
    for (const auto& m : r.memberships) {
      if (m.group == group && !m.removed_at) return true;
    }
    return false;
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  OktaHookSettings settings_{"Authorization", kSecret};
};

TEST(OktaHookSecret, ComparesWholeValues) {
  EXPECT_TRUE(hook_secret_matches("abc", "abc"));
  EXPECT_FALSE(hook_secret_matches("abd", "abc"));
  EXPECT_FALSE(hook_secret_matches("ab", "abc"));
  EXPECT_FALSE(hook_secret_matches("abcd", "abc"));
  EXPECT_FALSE(hook_secret_matches("", "abc"));
  EXPECT_FALSE(hook_secret_matches("", ""));  // no configured secret never matches
  EXPECT_FALSE(hook_secret_matches("Basic abc", "abc"));
}

TEST_F(OktaHookTest, VerificationGetEchoesTheChallenge) {
  PushRequest r = request("GET");
  r.headers["x-okta-verification-challenge"] = "Mn9Wz1\"q";
  const AppliedPush response = push(r);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(json::parse(response.body), json({{"verification", "Mn9Wz1\"q"}}));
}

TEST_F(OktaHookTest, VerificationNeedsTheSecretToo) {
  PushRequest r = request("GET", "", nullptr);
  r.headers["x-okta-verification-challenge"] = "challenge";
  EXPECT_EQ(push(r).status, 401);
  r.headers["authorization"] = "not-the-secret";
  const AppliedPush response = push(r);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body.find("challenge"), std::string::npos);
}

TEST_F(OktaHookTest, VerificationWithoutChallengeIs400) { EXPECT_EQ(push(request("GET")).status, 400); }

TEST_F(OktaHookTest, WrongSecretIs401AndStoresNothing) {
  const json events = json::array({log_event("u-1", "user.lifecycle.deactivate", "00ubob", "bob@example.com")});
  EXPECT_EQ(push(request("POST", delivery(events), "wrong")).status, 401);
  EXPECT_EQ(push(request("POST", delivery(events), nullptr)).status, 401);
  EXPECT_EQ(push(request("POST", delivery(events), "hook-secret-7d41c0f3a9e")).status, 401);  // a prefix
  EXPECT_EQ(push(request("POST", delivery(events), "hook-secret-7d41c0f3a9e2 ")).status, 401);
  EXPECT_TRUE(store_->load_identities().empty());
  // Not even the uuid was remembered: the genuine delivery still has its effect.
  const AppliedPush genuine = post(events);
  EXPECT_EQ(genuine.status, 200);
  ASSERT_TRUE(store_->load_identity(kSource, "00ubob"));
  EXPECT_EQ(store_->load_identity(kSource, "00ubob")->status, IdentityStatus::inactive);
}

TEST_F(OktaHookTest, TheConfiguredHeaderIsTheOneChecked) {
  settings_.header = "X-Okta-Hook-Secret";
  const json events = json::array({log_event("u-1", "user.lifecycle.suspend", "00ubob", "bob@example.com")});
  EXPECT_EQ(push(request("POST", delivery(events))).status, 401);  // the secret in Authorization
  PushRequest r = request("POST", delivery(events), nullptr);
  r.headers["x-okta-hook-secret"] = kSecret;
  EXPECT_EQ(push(r).status, 200);
}

TEST_F(OktaHookTest, NoConfiguredSecretRefusesEverything) {
  settings_.secret = "";
  PushRequest r = request("POST", delivery(json::array()), "");
  EXPECT_EQ(push(r).status, 401);
}

TEST_F(OktaHookTest, DeactivationKeepsTheKnownEmailAndGroups) {
  seed_alice();
  const AppliedPush response =
      post(json::array({log_event("u-1", "user.lifecycle.deactivate", "00ualice", "alice.login@corp.example")}));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(response.content_type, "");
  EXPECT_EQ(response.affected_emails, std::set<std::string>{"alice@example.com"});
  const IdentityRecord r = alice();
  EXPECT_EQ(r.status, IdentityStatus::inactive);
  EXPECT_EQ(r.status_detail, "status DEPROVISIONED");
  EXPECT_EQ(r.email, "alice@example.com");
  EXPECT_EQ(r.user_name, "alice.login@corp.example");
  EXPECT_TRUE(current_member(r, "palette-users"));
  EXPECT_TRUE(current_member(r, "eng"));
}

TEST_F(OktaHookTest, EachLifecycleEventHasItsStatus) {
  seed_alice();
  const std::pair<const char*, IdentityStatus> steps[] = {
      {"user.lifecycle.suspend", IdentityStatus::inactive},
      {"user.lifecycle.unsuspend", IdentityStatus::active},
      {"user.lifecycle.deactivate", IdentityStatus::inactive},
      {"user.lifecycle.activate", IdentityStatus::active},
      {"user.lifecycle.delete.initiated", IdentityStatus::deleted},
  };
  int n = 0;
  for (const auto& [type, status] : steps) {
    const AppliedPush response =
        post(json::array({log_event("u-" + std::to_string(++n), type, "00ualice", "alice.login@corp.example")}));
    EXPECT_EQ(response.status, 200) << type;
    EXPECT_EQ(alice().status, status) << type;
  }
}

TEST_F(OktaHookTest, GroupRemovalAndAdditionChangeMemberships) {
  seed_alice();
  AppliedPush response = post(json::array(
      {log_event("u-1", "group.user_membership.remove", "00ualice", "alice.login@corp.example",
                 "2026-11-26T09:58:01.000Z", "palette-users")}));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.affected_emails, std::set<std::string>{"alice@example.com"});
  EXPECT_FALSE(current_member(alice(), "palette-users"));
  EXPECT_TRUE(current_member(alice(), "eng"));
  EXPECT_EQ(alice().status, IdentityStatus::active);
  post(json::array({log_event("u-2", "group.user_membership.add", "00ualice", "alice.login@corp.example",
                              "2026-11-26T09:59:01.000Z", "palette-users")}));
  EXPECT_TRUE(current_member(alice(), "palette-users"));
}

TEST_F(OktaHookTest, SomeoneNewIsRecordedWithTheEventsLogin) {
  const AppliedPush response = post(json::array(
      {log_event("u-1", "group.user_membership.add", "00unew", "New.Hire@example.com", "2026-11-26T09:58:01.000Z",
                 "palette-users")}));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.affected_emails, std::set<std::string>{"new.hire@example.com"});
  const auto r = store_->load_identity(kSource, "00unew");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->email, "new.hire@example.com");
  EXPECT_EQ(r->status, IdentityStatus::active);
  EXPECT_TRUE(current_member(*r, "palette-users"));
}

TEST_F(OktaHookTest, ADuplicateUuidHasNoSecondEffect) {
  seed_alice();
  const json deactivate = log_event("u-1", "user.lifecycle.deactivate", "00ualice", "alice.login@corp.example",
                                    "2026-11-26T09:58:01.000Z");
  const json reactivate = log_event("u-2", "user.lifecycle.activate", "00ualice", "alice.login@corp.example",
                                    "2026-11-26T09:59:01.000Z");
  EXPECT_EQ(post(json::array({deactivate})).status, 200);
  EXPECT_EQ(post(json::array({reactivate})).status, 200);
  EXPECT_EQ(alice().status, IdentityStatus::active);
  // Okta delivers the deactivation again (at-least-once): it changes nothing.
  const AppliedPush replay = post(json::array({deactivate}));
  EXPECT_EQ(replay.status, 200);
  EXPECT_TRUE(replay.affected_emails.empty());
  EXPECT_EQ(alice().status, IdentityStatus::active);
  // Twice in one delivery: once.
  const json suspend = log_event("u-3", "user.lifecycle.suspend", "00ualice", "alice.login@corp.example",
                                 "2026-11-26T10:00:01.000Z");
  const json unsuspend = log_event("u-4", "user.lifecycle.unsuspend", "00ualice", "alice.login@corp.example",
                                   "2026-11-26T10:01:01.000Z");
  json late_copy = suspend;
  late_copy["published"] = "2026-11-26T10:02:01.000Z";
  EXPECT_EQ(post(json::array({suspend, unsuspend, late_copy})).status, 200);
  EXPECT_EQ(alice().status, IdentityStatus::active);
}

TEST_F(OktaHookTest, EventsApplyInPublishedOrder) {
  seed_alice();
  // Delivered newest first: the unsuspension is the last word.
  const AppliedPush response = post(json::array(
      {log_event("u-2", "user.lifecycle.unsuspend", "00ualice", "a@x", "2026-11-26T09:58:01.900Z"),
       log_event("u-1", "user.lifecycle.suspend", "00ualice", "a@x", "2026-11-26T09:58:01.100Z")}));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(alice().status, IdentityStatus::active);
}

TEST_F(OktaHookTest, FailedOutcomesAndOtherEventsChangeNothing) {
  seed_alice();
  json failed = log_event("u-1", "user.lifecycle.deactivate", "00ualice", "a@x");
  failed["outcome"]["result"] = "FAILURE";
  const AppliedPush response = post(json::array(
      {failed, log_event("u-2", "application.user_membership.remove", "00ualice", "a@x"),
       log_event("u-3", "user.session.start", "00ualice", "a@x")}));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.affected_emails.empty());
  EXPECT_EQ(alice().status, IdentityStatus::active);
}

TEST_F(OktaHookTest, MalformedBodiesAre400AndChangeNothing) {
  seed_alice();
  const json good = log_event("u-1", "user.lifecycle.deactivate", "00ualice", "a@x");
  for (const std::string& body :
       {std::string("{\"data\":{\"events\":["), std::string("not json"), std::string(""), std::string("[]"),
        std::string(R"({"data":null})"), std::string(R"({"data":{"events":{}}})"), std::string(R"({"events":[]})"),
        delivery(json::array({good, 42})), delivery(json::array({good, {{"uuid", "u-9"}}})),
        delivery(json::array({good, {{"eventType", "user.lifecycle.suspend"}}}))}) {
    const AppliedPush response = push(request("POST", body));
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_TRUE(response.affected_emails.empty());
  }
  EXPECT_EQ(alice().status, IdentityStatus::active);
  // Nothing was remembered either: the good event still works.
  EXPECT_EQ(post(json::array({good})).status, 200);
  EXPECT_EQ(alice().status, IdentityStatus::inactive);
}

TEST_F(OktaHookTest, WrongContentTypeMethodOrPath) {
  const std::string body = delivery(json::array());
  PushRequest form = request("POST", body);
  form.headers["content-type"] = "application/x-www-form-urlencoded";
  EXPECT_EQ(push(form).status, 415);
  PushRequest none = request("POST", body);
  none.headers.erase("content-type");
  EXPECT_EQ(push(none).status, 415);
  PushRequest charset = request("POST", body);
  charset.headers["content-type"] = "application/json; charset=utf-8";
  EXPECT_EQ(push(charset).status, 200);
  const AppliedPush put = push(request("PUT", body));
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.headers.at("Allow"), "GET, POST");
  PushRequest deeper = request("POST", body);
  deeper.path = "/extra";
  EXPECT_EQ(push(deeper).status, 404);
  PushRequest slash = request("POST", body);
  slash.path = "/";
  EXPECT_EQ(push(slash).status, 200);
}

TEST_F(OktaHookTest, EmptyDeliveryIsAccepted) {
  EXPECT_EQ(post(json::array()).status, 200);
}

TEST_F(OktaHookTest, SourceReadsTheHookSecretAndHeaderFromItsConfig) {
  SourceConfig config;
  config.name = kSource;
  config.type = "okta";
  config.settings["url"] = "https://corp.okta.com";
  config.settings["token_env"] = "KW_OKTA_HOOK_TEST_TOKEN";
  config.settings["hook_header"] = "X-Okta-Secret";
  {
    boost::asio::io_context io;
    OktaSource without(config, io.get_executor());
    EXPECT_FALSE(without.accepts_pushes());
    EXPECT_EQ(push_to(without, request("GET")).status, 404);
  }
  config.settings["hook_secret_env"] = "KW_OKTA_HOOK_TEST_SECRET";
  boost::asio::io_context io;
  OktaSource source(config, io.get_executor());
  EXPECT_TRUE(source.accepts_pushes());
  ::unsetenv("KW_OKTA_HOOK_TEST_SECRET");
  EXPECT_EQ(push_to(source, request("GET")).status, 503);
  ASSERT_TRUE(source.authorize(request("GET")));
  EXPECT_EQ(source.authorize(request("GET"))->status, 503);
  ::setenv("KW_OKTA_HOOK_TEST_SECRET", kSecret, 1);
  PushRequest r = request("GET", "", nullptr);
  r.headers["x-okta-secret"] = kSecret;
  r.headers["x-okta-verification-challenge"] = "c1";
  EXPECT_FALSE(source.authorize(r)) << "the right header passes the check on headers";
  const PushResponse response = push_to(source, r);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"verification":"c1"})");
  PushRequest wrong = request("POST", "", "not-the-secret");
  wrong.headers["x-okta-secret"] = "not-the-secret";
  ASSERT_TRUE(source.authorize(wrong)) << "a wrong secret is refused on the headers, before any body";
  EXPECT_EQ(source.authorize(wrong)->status, 401);
}

}  // namespace
}  // namespace keywarden
