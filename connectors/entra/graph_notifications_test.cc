// /hooks/entra/<source>: the validation handshake, clientState checks,
// redelivered notifications and lifecycle events, against a real (in-memory)
// Store.
#include "connectors/entra/graph_notifications.h"
#include "connectors/push_test_support.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "connectors/entra/graph_subscriptions.h"

namespace keywarden {
namespace {

using nlohmann::json;

const std::string kSource = "corp-entra";
const std::string kState = "s3cret-client-state";
const Timestamp kNow = Timestamp(std::chrono::seconds(1795000000));

class GraphHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Store::open_scratch_copy("/nonexistent-keywarden-dir/keywarden.db");
    Identity alice;
    alice.subject_id = "u-alice";
    alice.user_name = "alice@example.com";
    alice.email = "Alice@example.com";
    alice.groups = {"palette-users", "g-palette"};
    store_->apply_full_read(kSource, {alice}, 1, kNow);
  }

  AppliedPush push(const std::string& method, const std::string& body,
                   std::map<std::string, std::string> query = {},
                   std::optional<std::string> client_state = kState, Timestamp now = kNow) {
    PushRequest request;
    request.method = method;
    request.query_params = std::move(query);
    request.body = body;
    return apply_push(*store_, kSource, now, [&](const PushContext& context) {
      return handle_graph_push(client_state, request, context);
    });
  }

  static json notification(const std::string& change, const std::string& user, const std::string& state = kState) {
    return json{{"subscriptionId", "sub-users"},
                {"subscriptionExpirationDateTime", "2026-12-01T10:00:00.0000000Z"},
                {"clientState", state},
                {"changeType", change},
                {"resource", "Users/" + user},
                {"tenantId", "tenant-1"},
                {"resourceData",
                 {{"@odata.type", "#Microsoft.Graph.User"}, {"@odata.id", "Users/" + user}, {"id", user}}}};
  }

  static std::string batch(std::vector<json> items) { return json{{"value", items}}.dump(); }

  std::unique_ptr<Store> store_;
};

TEST_F(GraphHookTest, ValidationEchoesTheDecodedTokenAsPlainText) {
  // PushRequest.query is already decoded: Graph sent
  // ?validationToken=Validation%3A%20Testing%20client%20application%20reachability%20for%20subscription%20Request-Id%3A%20…
  const std::string token = "Validation: Testing client application reachability for subscription Request-Id: "
                            "1a2b <script>alert(1)</script> &amp;+%";
  const AppliedPush r = push("POST", "", {{"validationToken", token}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, token) << "verbatim, never encoded or escaped";
  EXPECT_EQ(r.headers.at("X-Content-Type-Options"), "nosniff");
  EXPECT_FALSE(r.read_changes_now);
  EXPECT_EQ(push("GET", "", {{"validationToken", "abc"}}).body, "abc");
  EXPECT_EQ(push("POST", "", {{"validationToken", "abc"}}, std::nullopt).status, 200)
      << "validation needs no client_state";
}

TEST_F(GraphHookTest, MismatchedClientStateIsIgnoredWithoutFailingTheBatch) {
  const AppliedPush r = push("POST", batch({notification("updated", "u-alice", "forged"),
                                             notification("updated", "u-bob")}));
  EXPECT_EQ(r.status, 202);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["accepted"], 1);
  EXPECT_EQ(body["ignored"], 1);
  EXPECT_TRUE(r.read_changes_now);
  EXPECT_EQ(r.body.find(kState), std::string::npos);

  const AppliedPush forged = push("POST", batch({notification("deleted", "u-alice", "forged")}));
  EXPECT_EQ(forged.status, 202);
  EXPECT_FALSE(forged.read_changes_now);
  EXPECT_EQ(store_->load_identity(kSource, "u-alice")->status, IdentityStatus::active) << "a forged delete does nothing";

  json no_state = notification("deleted", "u-alice");
  no_state.erase("clientState");
  EXPECT_FALSE(push("POST", batch({no_state})).read_changes_now);
  EXPECT_FALSE(push("POST", batch({notification("updated", "u-alice")}), {}, std::nullopt).read_changes_now)
      << "without a configured client_state nothing is trusted";
}

TEST_F(GraphHookTest, ADuplicateNotificationHasOneEffect) {
  const std::string body = batch({notification("updated", "u-alice")});
  const AppliedPush first = push("POST", body);
  EXPECT_TRUE(first.read_changes_now);
  const AppliedPush again = push("POST", body);
  EXPECT_EQ(again.status, 202);
  EXPECT_FALSE(again.read_changes_now);
  EXPECT_EQ(json::parse(again.body)["duplicates"], 1);
  // The same item inside one batch, too.
  const AppliedPush twice = push("POST", batch({notification("updated", "u-carol"), notification("updated", "u-carol")}));
  EXPECT_EQ(json::parse(twice.body)["accepted"], 1);
  EXPECT_EQ(json::parse(twice.body)["duplicates"], 1);
  // A later real change of the same user is not swallowed for good.
  EXPECT_TRUE(push("POST", body, {}, kState, kNow + std::chrono::minutes(2)).read_changes_now);
}

TEST_F(GraphHookTest, ADeletedUserIsDeletedAtOnce) {
  const AppliedPush r = push("POST", batch({notification("deleted", "u-alice")}));
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.read_changes_now);
  EXPECT_EQ(r.affected_emails, std::set<std::string>{"alice@example.com"});
  const auto alice = store_->load_identity(kSource, "u-alice");
  EXPECT_EQ(alice->status, IdentityStatus::deleted);
  EXPECT_EQ(alice->email, "alice@example.com") << "the names are kept";
  // Again (Graph redelivers): nothing more.
  const AppliedPush again = push("POST", batch({notification("deleted", "u-alice")}));
  EXPECT_TRUE(again.affected_emails.empty());
  // An unknown user: nothing to mark, the delta read will tell.
  EXPECT_TRUE(push("POST", batch({notification("deleted", "u-nobody")})).affected_emails.empty());
  EXPECT_FALSE(store_->load_identity(kSource, "u-nobody"));
}

TEST_F(GraphHookTest, LifecycleEventsAreRememberedForTheSubscriptionJob) {
  auto lifecycle = [](const std::string& event, const std::string& subscription, const std::string& state = kState) {
    return json{{"subscriptionId", subscription},
                {"subscriptionExpirationDateTime", "2026-12-01T10:00:00.0000000Z"},
                {"tenantId", "tenant-1"},
                {"clientState", state},
                {"lifecycleEvent", event}};
  };
  const std::string scope = Store::cursor_scope(kSource);
  AppliedPush r = push("POST", batch({lifecycle("reauthorizationRequired", "sub-users")}));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(json::parse(r.body)["lifecycle"], 1);
  EXPECT_EQ(store_->get_value(scope, "reauthorize:sub-users"), "1");
  EXPECT_FALSE(r.read_changes_now);

  r = push("POST", batch({lifecycle("subscriptionRemoved", "sub-groups")}));
  EXPECT_EQ(store_->get_value(scope, "recreate:sub-groups"), "1");

  r = push("POST", batch({lifecycle("missed", "sub-users")}));
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.read_changes_now);

  r = push("POST", batch({lifecycle("subscriptionRemoved", "sub-other", "forged")}));
  EXPECT_EQ(json::parse(r.body)["ignored"], 1);
  EXPECT_FALSE(store_->get_value(scope, "recreate:sub-other"));
}

TEST_F(GraphHookTest, BadRequestsGetA4xxAndChangeNothing) {
  EXPECT_EQ(push("POST", "{\"value\":[").status, 400);
  EXPECT_EQ(push("POST", "[]").status, 400);
  EXPECT_EQ(push("POST", R"({"value":{}})").status, 400);
  EXPECT_EQ(push("POST", "").status, 400);
  EXPECT_EQ(push("PUT", batch({})).status, 405);
  EXPECT_EQ(push("GET", "").status, 405);
  const AppliedPush odd = push("POST", R"({"value":[1,"x",null]})");
  EXPECT_EQ(odd.status, 202);
  EXPECT_EQ(json::parse(odd.body)["ignored"], 3);
  EXPECT_EQ(store_->load_identity(kSource, "u-alice")->status, IdentityStatus::active);
}

TEST(ConstantTimeEqual, ComparesContent) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

}  // namespace
}  // namespace keywarden
