// OktaSource against a scripted Okta org on loopback: full reads page through
// users, deactivated users, groups and members; incremental reads follow the
// System Log cursor; rate limits are waited out; and any failed, missing or
// malformed page fails the whole read instead of returning part of it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>

#include "connectors/okta/okta_source.h"
#include "daemon/net/scripted_http_server_test.h"

namespace keywarden {
namespace {

namespace net = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;
using testing::RecordedRequest;
using testing::run_with_server;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;

// gtest's ASSERT_* return from the function, which a coroutine cannot do.
#define CO_ASSERT_TRUE(cond)                       \
  if (!(cond)) {                                   \
    ADD_FAILURE() << "expected true: " #cond;      \
    co_return;                                     \
  }
#define CO_ASSERT_EQ(a, b)                         \
  if (!((a) == (b))) {                             \
    EXPECT_EQ(a, b);                              \
    co_return;                                     \
  }

constexpr const char* kToken = "00TestToken-9f8e7d6c5b4a39281706";
constexpr const char* kDeprovisioned = "/api/v1/users?limit=200&filter=status%20eq%20%22DEPROVISIONED%22";
constexpr const char* kUsers = "/api/v1/users?limit=200";
constexpr const char* kGroups = "/api/v1/groups?limit=200";

json user(const std::string& id, const std::string& status, const std::string& login, const std::string& email = "") {
  json profile = {{"login", login}, {"firstName", "F"}, {"lastName", "L"}};
  profile["email"] = email.empty() ? json(nullptr) : json(email);
  return json{{"id", id}, {"status", status}, {"created", "2024-01-01T00:00:00.000Z"}, {"profile", profile}};
}

json group(const std::string& id, const std::string& name) {
  return json{{"id", id}, {"type", "OKTA_GROUP"}, {"profile", {{"name", name}, {"description", nullptr}}}};
}

std::string epoch_in(int seconds) {
  const auto now = std::chrono::system_clock::now() + std::chrono::seconds(seconds);
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
}

// A scripted org: replies by request target. A target with several replies
// gives them in turn and then keeps the last; an unknown target is Okta's 404.
struct FakeOrg {
  std::string base;  // "http://127.0.0.1:PORT"
  std::map<std::string, std::deque<ScriptedReply>> routes;

  ScriptedReply page(const json& items, const std::string& self, const std::string& next = "") const {
    ScriptedReply r = ScriptedReply::json(200, items.dump());
    r.headers.emplace_back("Link", "<" + base + self + ">; rel=\"self\"");
    if (!next.empty()) r.headers.emplace_back("Link", "<" + base + next + ">; rel=\"next\"");
    r.headers.emplace_back("X-Rate-Limit-Limit", "600");
    r.headers.emplace_back("X-Rate-Limit-Remaining", "599");
    r.headers.emplace_back("X-Rate-Limit-Reset", epoch_in(60));
    return r;
  }
  void serve(const std::string& target, const json& items, const std::string& next = "") {
    routes[target].push_back(page(items, target, next));
  }
  void add(const std::string& target, ScriptedReply reply) { routes[target].push_back(std::move(reply)); }

  ScriptedReply reply(const RecordedRequest& request) {
    auto it = routes.find(request.target);
    if (it == routes.end() || it->second.empty()) {
      return ScriptedReply::json(404, R"({"errorCode":"E0000007","errorSummary":"Not found: Resource not found"})");
    }
    ScriptedReply r = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    return r;
  }

  // A small directory: two pages of users, a deactivated user, two pages of
  // groups, a member listing of two pages.
  void directory() {
    serve(kDeprovisioned, json::array({user("00u4", "DEPROVISIONED", "dora@example.com", "dora@example.com")}));
    serve(kUsers,
          json::array({user("00u1", "ACTIVE", "ann.login@corp.example", "Ann@Example.com"),
                       user("00u2", "SUSPENDED", "ben@example.com", "ben@example.com")}),
          "/api/v1/users?after=00u2&limit=200");
    serve("/api/v1/users?after=00u2&limit=200", json::array({user("00u3", "STAGED", "cy@example.com")}));
    serve(kGroups, json::array({group("00g1", "palette-users"), group("00g2", "eng")}),
          "/api/v1/groups?after=00g2&limit=200");
    serve("/api/v1/groups?after=00g2&limit=200", json::array({group("00g3", "nobody-here")}));
    serve("/api/v1/groups/00g1/users?limit=200", json::array({user("00u1", "ACTIVE", "x"), user("00u4", "DEPROVISIONED", "x")}),
          "/api/v1/groups/00g1/users?after=00u4&limit=200");
    serve("/api/v1/groups/00g1/users?after=00u4&limit=200",
          json::array({user("00u2", "SUSPENDED", "x"), user("00u-created-meanwhile", "ACTIVE", "x")}));
    serve("/api/v1/groups/00g2/users?limit=200", json::array({user("00u1", "ACTIVE", "x")}));
    serve("/api/v1/groups/00g3/users?limit=200", json::array());
  }
};

SourceConfig okta_config(const std::string& url) {
  ::setenv("KW_OKTA_TEST_TOKEN", kToken, 1);
  SourceConfig config;
  config.name = "corp-okta";
  config.type = "okta";
  config.settings["url"] = url;
  config.settings["token_env"] = "KW_OKTA_TEST_TOKEN";
  return config;
}

OktaClientOptions quick() {
  OktaClientOptions o;
  o.timeout = milliseconds(5000);
  o.max_attempts = 3;
  o.backoff_base = milliseconds(1);
  o.backoff_max = milliseconds(5);
  o.max_throttled = 3;
  o.max_rate_limit_wait = milliseconds(3000);
  return o;
}

const Identity* find(const std::vector<Identity>& ids, const std::string& subject) {
  for (const auto& id : ids) {
    if (id.subject_id == subject) return &id;
  }
  return nullptr;
}

// Runs read_all and returns the error message, or "" when it succeeded.
net::awaitable<std::string> read_all_error(OktaSource& source) {
  try {
    auto read = source.read_all(ReadContext{});
    co_await std::move(read);
  } catch (const SourceReadError& e) {
    co_return std::string(e.what());
  }
  co_return std::string();
}

TEST(OktaSourceRead, ListsUsersDeactivatedUsersGroupsAndMembers) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.directory();
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    const auto before = std::chrono::system_clock::now();
    auto read = source.read_all(ReadContext{});
    const FullRead result = co_await std::move(read);

    CO_ASSERT_EQ(result.identities.size(), 4u)
    const Identity* ann = find(result.identities, "00u1");
    CO_ASSERT_TRUE(ann)
    EXPECT_EQ(ann->email, "Ann@Example.com");
    EXPECT_EQ(ann->user_name, "ann.login@corp.example");
    EXPECT_EQ(ann->status, IdentityStatus::active);
    EXPECT_EQ(ann->groups, (std::vector<std::string>{"palette-users", "eng"}));
    const Identity* ben = find(result.identities, "00u2");
    CO_ASSERT_TRUE(ben)
    EXPECT_EQ(ben->status, IdentityStatus::inactive);
    EXPECT_EQ(ben->status_detail, "status SUSPENDED");
    EXPECT_EQ(ben->groups, (std::vector<std::string>{"palette-users"}));
    const Identity* cy = find(result.identities, "00u3");
    CO_ASSERT_TRUE(cy)
    EXPECT_EQ(cy->status, IdentityStatus::active);
    EXPECT_EQ(cy->email, "cy@example.com");
    EXPECT_TRUE(cy->groups.empty());
    const Identity* dora = find(result.identities, "00u4");
    CO_ASSERT_TRUE(dora)
    EXPECT_EQ(dora->status, IdentityStatus::inactive);
    EXPECT_EQ(dora->status_detail, "status DEPROVISIONED");
    EXPECT_EQ(dora->groups, (std::vector<std::string>{"palette-users"}));
    EXPECT_FALSE(find(result.identities, "00u-created-meanwhile"));

    for (const RecordedRequest& r : server.requests()) {
      EXPECT_EQ(r.method, "GET");
      EXPECT_EQ(r.header("authorization"), std::string("SSWS ") + kToken);
      EXPECT_EQ(r.header("accept"), "application/json");
    }
    EXPECT_EQ(server.requests().size(), 9u);
    EXPECT_EQ(server.requests().front().target, kDeprovisioned);

    const std::string cursor = result.cursors.at("log_next");
    const std::string prefix = server.url() + "/api/v1/logs?since=";
    CO_ASSERT_EQ(cursor.rfind(prefix, 0), 0u)
    const std::string suffix = "&sortOrder=ASCENDING";
    CO_ASSERT_TRUE(cursor.size() > prefix.size() + suffix.size())
    EXPECT_EQ(cursor.substr(cursor.size() - suffix.size()), suffix);
    const auto since = url_decode(cursor.substr(prefix.size(), cursor.size() - prefix.size() - suffix.size()));
    CO_ASSERT_TRUE(since)
    EXPECT_NE(since->find(".000Z"), std::string::npos);
    const auto since_time = parse_rfc3339(*since);
    CO_ASSERT_TRUE(since_time)
    const auto started = std::chrono::floor<std::chrono::seconds>(before);
    EXPECT_LE(*since_time, started - std::chrono::seconds(59));
    EXPECT_GE(*since_time, started - std::chrono::seconds(61));
  });
}

TEST(OktaSourceRead, RetriesServerErrorsAndConnectionDrops) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.add(kUsers, ScriptedReply::json(503, R"({"errorCode":"E0000009","errorSummary":"Internal Server Error"})"));
    org.add(kUsers, ScriptedReply::with_action(ScriptedReply::Action::drop));
    org.directory();
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = source.read_all(ReadContext{});
    const FullRead result = co_await std::move(read);
    EXPECT_EQ(result.identities.size(), 4u);
    int user_requests = 0;
    for (const auto& r : server.requests()) user_requests += r.target == kUsers;
    EXPECT_EQ(user_requests, 3);
  });
}

TEST(OktaSourceRead, WaitsForTheRateLimitResetOn429) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    ScriptedReply throttled = ScriptedReply::json(
        429, R"({"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"oae1","errorCauses":[]})");
    throttled.headers.emplace_back("X-Rate-Limit-Limit", "600");
    throttled.headers.emplace_back("X-Rate-Limit-Remaining", "0");
    throttled.headers.emplace_back("X-Rate-Limit-Reset", epoch_in(2));
    org.add(kUsers, throttled);
    org.directory();
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = source.read_all(ReadContext{});
    const FullRead result = co_await std::move(read);
    EXPECT_EQ(result.identities.size(), 4u);
    std::vector<std::chrono::steady_clock::time_point> at;
    for (const auto& r : server.requests()) {
      if (r.target == kUsers) at.push_back(r.received_at);
    }
    CO_ASSERT_EQ(at.size(), 2u)
    EXPECT_GE(at[1] - at[0], milliseconds(900));
  });
}

TEST(OktaSourceRead, AnEmptiedBucketDelaysTheNextRequest) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    ScriptedReply last = org.page(json::array({user("00u4", "DEPROVISIONED", "dora@example.com")}), kDeprovisioned);
    for (auto& [name, value] : last.headers) {
      if (name == "X-Rate-Limit-Remaining") value = "0";
      if (name == "X-Rate-Limit-Reset") value = epoch_in(2);
    }
    org.add(kDeprovisioned, last);
    org.directory();
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = source.read_all(ReadContext{});
    co_await std::move(read);
    const auto& requests = server.requests();
    CO_ASSERT_TRUE(requests.size() >= 2u)
    EXPECT_EQ(requests[0].target, kDeprovisioned);
    EXPECT_GE(requests[1].received_at - requests[0].received_at, milliseconds(900));
  });
}

TEST(OktaSourceRead, TooMuchThrottlingFailsTheRead) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.directory();
    ScriptedReply throttled = ScriptedReply::json(429, R"({"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."})");
    throttled.headers.emplace_back("X-Rate-Limit-Reset", epoch_in(-10));  // already past: no real wait
    org.routes[kGroups] = {throttled};
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_all_error(source);
    const std::string error = co_await std::move(read);
    EXPECT_NE(error.find("E0000047"), std::string::npos) << error;
    EXPECT_NE(error.find("429"), std::string::npos) << error;
  });
}

TEST(OktaSourceRead, APageThatKeepsFailingFailsTheWholeRead) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.directory();
    org.routes["/api/v1/users?after=00u2&limit=200"] = {
        ScriptedReply::json(500, R"({"errorCode":"E0000009","errorSummary":"Internal Server Error"})")};
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_all_error(source);
    const std::string error = co_await std::move(read);
    EXPECT_NE(error.find("HTTP 500"), std::string::npos) << error;
    EXPECT_NE(error.find("after=00u2"), std::string::npos) << error;
    EXPECT_NE(error.find("3 attempts"), std::string::npos) << error;
  });
}

TEST(OktaSourceRead, ANextLinkThatLeadsNowhereFailsTheRead) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.directory();
    org.routes.erase("/api/v1/groups/00g1/users?after=00u4&limit=200");  // answers 404
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_all_error(source);
    const std::string error = co_await std::move(read);
    EXPECT_NE(error.find("HTTP 404"), std::string::npos) << error;
    EXPECT_NE(error.find("E0000007"), std::string::npos) << error;
  });
}

// A named coroutine taking `body` by value: a capturing lambda coroutine
// would keep its captures in a closure the coroutine does not own.
net::awaitable<void> malformed_page_case(ScriptedHttpServer& server, std::string body) {
  FakeOrg org{server.url(), {}};
  org.directory();
  ScriptedReply bad = org.page(json::array(), "/api/v1/users?after=00u2&limit=200");
  bad.body = body;
  org.routes["/api/v1/users?after=00u2&limit=200"] = {bad};
  server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
  auto ex = co_await net::this_coro::executor;
  OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
  auto read = read_all_error(source);
  const std::string error = co_await std::move(read);
  EXPECT_NE(error.find("after=00u2"), std::string::npos) << body << ": " << error;
}

TEST(OktaSourceRead, MalformedPagesFailTheRead) {
  for (const std::string& body : {std::string("[{\"id\":"), std::string(R"({"id":"00u1"})"),
                                  std::string(R"([{"status":"ACTIVE"}])"), std::string("<html>oops</html>")}) {
    run_with_server([&body](ScriptedHttpServer& server) { return malformed_page_case(server, body); });
  }
}

TEST(OktaSourceRead, ANextLinkOffTheOrgGetsNoToken) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.directory();
    ScriptedReply first = org.page(json::array({user("00u1", "ACTIVE", "a@example.com")}), kUsers);
    first.headers.emplace_back("Link", "<https://attacker.example/api/v1/users?after=x>; rel=\"next\"");
    org.routes[kUsers] = {first};
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_all_error(source);
    const std::string error = co_await std::move(read);
    EXPECT_NE(error.find("attacker.example"), std::string::npos) << error;
    EXPECT_EQ(error.find(kToken), std::string::npos);
  });
}

TEST(OktaSourceRead, TheTokenIsInNoErrorMessage) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    // A server (or proxy) that echoes the credential back in its error.
    org.routes[kDeprovisioned] = {ScriptedReply::json(
        401, std::string(R"({"errorCode":"E0000011","errorSummary":"Invalid token provided: SSWS )") + kToken + "\"}")};
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_all_error(source);
    const std::string error = co_await std::move(read);
    EXPECT_NE(error.find("E0000011"), std::string::npos) << error;
    EXPECT_EQ(error.find(kToken), std::string::npos) << error;
  });
}

TEST(OktaSourceRead, AnEmptyDirectoryIsABadRead) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.serve(kDeprovisioned, json::array());
    org.serve(kUsers, json::array());
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_all_error(source);
    const std::string error = co_await std::move(read);
    EXPECT_NE(error.find("no users"), std::string::npos) << error;
  });
}

TEST(OktaSourceRead, AMissingTokenIsABadReadNamingItsSource) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    SourceConfig config = okta_config(server.url());
    config.settings["token_env"] = "KW_OKTA_TEST_TOKEN_UNSET";
    ::unsetenv("KW_OKTA_TEST_TOKEN_UNSET");
    auto ex = co_await net::this_coro::executor;
    OktaSource source(config, ex, quick(), OktaLogOptions{});
    auto read = read_all_error(source);
    const std::string error = co_await std::move(read);
    EXPECT_NE(error.find("KW_OKTA_TEST_TOKEN_UNSET"), std::string::npos) << error;
    EXPECT_TRUE(server.requests().empty());
  });
}

// ---- System Log ----------------------------------------------------------

json log_event(const std::string& uuid, const std::string& type, const std::string& user_id,
               const std::string& login, const std::string& published, const std::string& group = "") {
  json targets = json::array({{{"id", user_id}, {"type", "User"}, {"alternateId", login}, {"displayName", "X Y"}}});
  if (!group.empty()) {
    targets.push_back({{"id", "00g-" + group}, {"type", "UserGroup"}, {"alternateId", "unknown"}, {"displayName", group}});
  }
  return json{{"uuid", uuid},
              {"published", published},
              {"eventType", type},
              {"outcome", {{"result", "SUCCESS"}}},
              {"actor", {{"id", "00uadmin"}, {"type", "User"}}},
              {"target", targets}};
}

constexpr const char* kLogStart = "/api/v1/logs?since=2026-11-26T09%3A00%3A00.000Z&sortOrder=ASCENDING";
constexpr const char* kLogPage2 = "/api/v1/logs?since=2026-11-26T09%3A00%3A00.000Z&sortOrder=ASCENDING&after=1700_2";
constexpr const char* kLogPage3 = "/api/v1/logs?since=2026-11-26T09%3A00%3A00.000Z&sortOrder=ASCENDING&after=1700_4";

net::awaitable<ChangeSet> read_changes_from(OktaSource& source, std::string cursor) {
  std::map<std::string, std::string> cursors{{"log_next", std::move(cursor)}};
  auto read = source.read_changes(std::move(cursors));
  ChangeSet changes = co_await std::move(read);
  co_return changes;
}

TEST(OktaSourceLog, FollowsTheCursorAndMapsEvents) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    // Out of order within the page, as Okta warns.
    org.serve(kLogStart,
              json::array({log_event("e2", "user.lifecycle.unsuspend", "00u1", "ann@example.com", "2026-11-26T09:10:00.500Z"),
                           log_event("e1", "user.lifecycle.suspend", "00u1", "ann@example.com", "2026-11-26T09:10:00.100Z")}),
              kLogPage2);
    org.serve(kLogPage2,
              json::array({log_event("e3", "group.user_membership.remove", "00u2", "ben@example.com",
                                     "2026-11-26T09:11:00.000Z", "palette-users"),
                           log_event("e4", "user.lifecycle.delete.initiated", "00u3", "cy@example.com",
                                     "2026-11-26T09:12:00.000Z"),
                           log_event("e5", "user.lifecycle.deactivate", "00u5", "gone.login", "2026-11-26T09:13:00.000Z"),
                           log_event("e6", "application.user_membership.remove", "00u2", "ben@example.com",
                                     "2026-11-26T09:14:00.000Z")}),
              kLogPage3);
    org.serve(kLogPage3, json::array(), kLogPage3);
    // Ann's suspension was lifted: her current state is what counts.
    org.serve("/api/v1/users/00u1", user("00u1", "ACTIVE", "ann.login@corp", "ann@example.com"));
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_changes_from(source, server.url() + kLogStart);
    const ChangeSet changes = co_await std::move(read);

    EXPECT_FALSE(changes.resync_required);
    EXPECT_FALSE(changes.groups_known);
    EXPECT_EQ(changes.cursors.at("log_next"), server.url() + kLogPage3);
    CO_ASSERT_EQ(changes.identities.size(), 3u)
    const Identity* ann = find(changes.identities, "00u1");
    CO_ASSERT_TRUE(ann)
    EXPECT_EQ(ann->status, IdentityStatus::active);
    EXPECT_EQ(ann->email, "ann@example.com");
    EXPECT_EQ(ann->user_name, "ann.login@corp");
    const Identity* cy = find(changes.identities, "00u3");
    CO_ASSERT_TRUE(cy)
    EXPECT_EQ(cy->status, IdentityStatus::deleted);
    EXPECT_EQ(cy->email, "cy@example.com");
    const Identity* gone = find(changes.identities, "00u5");  // GET answers 404
    CO_ASSERT_TRUE(gone)
    EXPECT_EQ(gone->status, IdentityStatus::deleted);
    EXPECT_EQ(gone->email, "");  // a login that is no email is not taken for one
    EXPECT_EQ(gone->user_name, "gone.login");
    CO_ASSERT_EQ(changes.memberships.size(), 1u)
    EXPECT_EQ(changes.memberships[0].subject_id, "00u2");
    EXPECT_EQ(changes.memberships[0].group, "palette-users");
    EXPECT_FALSE(changes.memberships[0].member);

    std::vector<std::string> targets;
    for (const auto& r : server.requests()) targets.push_back(r.target);
    EXPECT_EQ(targets, (std::vector<std::string>{kLogStart, kLogPage2, kLogPage3, "/api/v1/users/00u1",
                                                 "/api/v1/users/00u5"}));
    for (const auto& r : server.requests()) EXPECT_EQ(r.header("authorization"), std::string("SSWS ") + kToken);
  });
}

TEST(OktaSourceLog, TheLastWordPerMembershipWins) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.serve(kLogStart,
              json::array({log_event("e2", "group.user_membership.add", "00u2", "b@x", "2026-11-26T09:11:00.900Z", "g"),
                           log_event("e1", "group.user_membership.remove", "00u2", "b@x", "2026-11-26T09:11:00.100Z", "g"),
                           log_event("e3", "group.user_membership.remove", "00u2", "b@x", "2026-11-26T09:11:00.500Z", "h")}),
              kLogPage2);
    org.serve(kLogPage2, json::array(), kLogPage2);
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_changes_from(source, server.url() + kLogStart);
    const ChangeSet changes = co_await std::move(read);
    CO_ASSERT_EQ(changes.memberships.size(), 2u)
    EXPECT_EQ(changes.memberships[0].group, "g");
    EXPECT_TRUE(changes.memberships[0].member);
    EXPECT_EQ(changes.memberships[1].group, "h");
    EXPECT_FALSE(changes.memberships[1].member);
    EXPECT_TRUE(changes.identities.empty());
    EXPECT_EQ(changes.cursors.at("log_next"), server.url() + kLogPage2);
  });
}

TEST(OktaSourceLog, AnEmptyFirstPageKeepsItsNextLink) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.serve(kLogPage3, json::array(), kLogPage3);
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    auto read = read_changes_from(source, server.url() + kLogPage3);
    const ChangeSet changes = co_await std::move(read);
    EXPECT_FALSE(changes.resync_required);
    EXPECT_TRUE(changes.identities.empty());
    EXPECT_EQ(changes.cursors.at("log_next"), server.url() + kLogPage3);
    EXPECT_EQ(server.requests().size(), 1u);
  });
}

TEST(OktaSourceLog, StopsAfterMaxPagesAndResumesThere) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.serve(kLogStart, json::array({log_event("e1", "user.lifecycle.suspend", "00u1", "a@x", "2026-11-26T09:10:00Z")}),
              kLogPage2);
    org.serve(kLogPage2, json::array({log_event("e2", "user.lifecycle.suspend", "00u2", "b@x", "2026-11-26T09:10:01Z")}),
              kLogPage3);
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaLogOptions log;
    log.max_pages = 2;
    log.max_user_lookups = 0;  // the events' own word
    OktaSource source(okta_config(server.url()), ex, quick(), log);
    auto read = read_changes_from(source, server.url() + kLogStart);
    const ChangeSet changes = co_await std::move(read);
    EXPECT_EQ(changes.cursors.at("log_next"), server.url() + kLogPage3);
    CO_ASSERT_EQ(changes.identities.size(), 2u)
    EXPECT_EQ(changes.identities[0].status, IdentityStatus::inactive);
    EXPECT_EQ(changes.identities[0].status_detail, "status SUSPENDED");
    EXPECT_EQ(changes.identities[0].email, "a@x");
    EXPECT_EQ(server.requests().size(), 2u);
  });
}

TEST(OktaSourceLog, ALostCursorAsksForAFullRead) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.add(kLogStart, ScriptedReply::json(400, R"({"errorCode":"E0000001","errorSummary":"Api validation failed: since"})"));
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    {
      auto read = read_changes_from(source, server.url() + kLogStart);
      const ChangeSet changes = co_await std::move(read);
      EXPECT_TRUE(changes.resync_required);
      EXPECT_TRUE(changes.cursors.empty());
    }
    {
      auto read = read_changes_from(source, server.url() + "/api/v1/logs?after=gone");  // 404
      const ChangeSet changes = co_await std::move(read);
      EXPECT_TRUE(changes.resync_required);
    }
    {
      auto read = source.read_changes({});  // never had one
      const ChangeSet changes = co_await std::move(read);
      EXPECT_TRUE(changes.resync_required);
    }
    {
      auto read = read_changes_from(source, "https://other-org.okta.com" + std::string(kLogStart));
      const ChangeSet changes = co_await std::move(read);
      EXPECT_TRUE(changes.resync_required);
    }
    EXPECT_EQ(server.requests().size(), 2u);
  });
}

TEST(OktaSourceLog, APageWithoutNextLinkOrWithBadJsonFails) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeOrg org{server.url(), {}};
    org.serve(kLogStart, json::array());  // no next link
    ScriptedReply bad = org.page(json::array(), kLogPage2, kLogPage3);
    bad.body = R"({"not":"an array"})";
    org.add(kLogPage2, bad);
    org.add(kLogPage3, ScriptedReply::json(500, "{}"));
    server.handler = [&org](const RecordedRequest& r) { return org.reply(r); };
    auto ex = co_await net::this_coro::executor;
    OktaSource source(okta_config(server.url()), ex, quick(), OktaLogOptions{});
    for (const char* start : {kLogStart, kLogPage2, kLogPage3}) {
      std::string error;
      try {
        auto read = read_changes_from(source, server.url() + start);
        co_await std::move(read);
      } catch (const SourceReadError& e) {
        error = e.what();
      }
      EXPECT_NE(error.find(start), std::string::npos) << start << ": " << error;
    }
  });
}

}  // namespace
}  // namespace keywarden
