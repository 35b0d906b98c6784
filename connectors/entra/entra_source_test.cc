// EntraSource against a scripted Graph and token endpoint: complete reads
// only, token refresh, throttling, lost cursors, incremental changes and the
// subscription job.
#include "connectors/entra/entra_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "daemon/net/scripted_http_server_test.h"

namespace keywarden {
namespace {

// The source's upkeep as the daemon runs it: its state from the store, the
// state it returns stored. A named coroutine: see blocking_work.h.
boost::asio::awaitable<UpkeepResult> upkeep_into(Source& source, Store& store, Timestamp now) {
  ReadContext context;
  context.now = now;
  context.state = store.values(Store::cursor_scope(source.name()));
  auto op = source.upkeep(context);
  UpkeepResult result = co_await std::move(op);
  IdentityChanges stored;
  stored.cursors = result.cursors;
  store.apply_changes(source.name(), stored, now, false);
  co_return result;
}


namespace net = boost::asio;
using nlohmann::json;
using testing::RecordedRequest;
using testing::run_with_server;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;

const std::string kSecret = "cl13nt~s3cret&with=odd+chars";
const std::string kClientState = "client-state-value";
const std::string kUsersStart = "/v1.0/users/delta?$select=id,userPrincipalName,mail,accountEnabled,displayName";
const std::string kGroupsStart = "/v1.0/groups/delta?$select=displayName,members";
const Timestamp kNow = Timestamp(std::chrono::seconds(1795000000));

// ASSERT_* returns, which a coroutine cannot do: fail and co_return instead.
#define CO_ASSERT(cond, message)                                  \
  do {                                                            \
    if (!(cond)) {                                                \
      ADD_FAILURE() << "failed: " #cond << " " << (message);      \
      co_return;                                                  \
    }                                                             \
  } while (0)

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A Graph tenant as pages: request target -> body, "{base}" standing for the
// server's URL. Anything else is 404 ResourceNotFound.
struct FakeGraph {
  std::string base;
  std::map<std::string, std::string> pages;
  // Consulted first; nullopt lets the request through.
  std::function<std::optional<ScriptedReply>(const RecordedRequest&)> intercept;
  std::vector<RecordedRequest> graph_requests;
  std::vector<RecordedRequest> token_requests;

  ScriptedReply handle(const RecordedRequest& request) {
    if (request.target == "/tenant-1/oauth2/v2.0/token") {
      token_requests.push_back(request);
      return ScriptedReply::json(200, json{{"token_type", "Bearer"},
                                           {"expires_in", 3599},
                                           {"ext_expires_in", 3599},
                                           {"access_token", "tok-" + std::to_string(token_requests.size())}}
                                          .dump());
    }
    graph_requests.push_back(request);
    if (intercept) {
      if (auto reply = intercept(request)) return *reply;
    }
    const auto it = pages.find(request.target);
    if (it == pages.end()) {
      return ScriptedReply::json(404, R"({"error":{"code":"ResourceNotFound","message":"not found"}})");
    }
    return ScriptedReply::json(200, replace_all(it->second, "{base}", base));
  }

  void full_directory() {
    pages[kUsersStart] = R"({"@odata.context":"{base}/v1.0/$metadata#users","@odata.nextLink":"{base}/v1.0/users/delta?$skiptoken=u2","value":[
      {"id":"u-alice","userPrincipalName":"alice@example.com","mail":"alice@example.com","accountEnabled":true,"displayName":"Alice"},
      {"id":"u-bob","userPrincipalName":"bob@example.com","mail":null,"accountEnabled":true}]})";
    pages["/v1.0/users/delta?$skiptoken=u2"] = R"({"@odata.context":"{base}/v1.0/$metadata#users","@odata.deltaLink":"{base}/v1.0/users/delta?$deltatoken=u3","value":[
      {"id":"u-carol","userPrincipalName":"carol@example.com","mail":"carol@example.com","accountEnabled":true},
      {"id":"u-dave","userPrincipalName":"dave@example.com","mail":"dave@example.com","accountEnabled":true}]})";
    pages[kGroupsStart] = R"({"@odata.nextLink":"{base}/v1.0/groups/delta?$skiptoken=g2","value":[
      {"id":"g-palette","displayName":"palette-users","members@delta":[
        {"@odata.type":"#microsoft.graph.user","id":"u-alice"},{"@odata.type":"#microsoft.graph.user","id":"u-bob"}]}]})";
    pages["/v1.0/groups/delta?$skiptoken=g2"] = R"({"@odata.deltaLink":"{base}/v1.0/groups/delta?$deltatoken=g3","value":[
      {"id":"g-eng","displayName":"eng","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u-carol"}]},
      {"id":"g-palette","displayName":"palette-users","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u-carol"}]}]})";
  }
};

class EntraSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("entra-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "secret") << kSecret << "\n";
    std::ofstream(dir_ / "state") << kClientState << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SourceConfig config(const std::string& base, bool notifications = false) const {
    SourceConfig c;
    c.name = "corp-entra";
    c.type = "entra";
    c.settings["tenant_id"] = "tenant-1";
    c.settings["client_id"] = "app-1";
    c.settings["client_secret_file"] = (dir_ / "secret").string();
    c.settings["graph_url"] = base;
    c.settings["login_url"] = base + "/";
    if (notifications) {
      c.settings["notification_url"] = "https://keywarden.example/hooks/entra/corp-entra";
      c.settings["client_state_file"] = (dir_ / "state").string();
    }
    return c;
  }

  static GraphRetryPolicy fast() {
    GraphRetryPolicy p;
    p.max_attempts = 3;
    p.backoff_base = std::chrono::milliseconds(1);
    p.backoff_max = std::chrono::milliseconds(5);
    p.timeout = std::chrono::milliseconds(5000);
    return p;
  }

  // Runs `body` with a fake Graph on a scripted server.
  template <class Body>
  void with_graph(Body body) {
    run_with_server([&](ScriptedHttpServer& server) -> net::awaitable<void> {
      FakeGraph graph;
      graph.base = server.url();
      graph.full_directory();
      server.handler = [&graph](const RecordedRequest& r) { return graph.handle(r); };
      auto ex = co_await net::this_coro::executor;
      EntraSource source(config(server.url()), ex, fast());
      auto op = body(source, graph);
      co_await std::move(op);
    });
  }

  std::filesystem::path dir_;
};

const Identity* find(const std::vector<Identity>& identities, const std::string& id) {
  for (const auto& identity : identities) {
    if (identity.subject_id == id) return &identity;
  }
  return nullptr;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

struct ReadOutcome {
  std::optional<FullRead> read;
  std::string error;
};

net::awaitable<ReadOutcome> try_read_all(EntraSource& source) {
  ReadOutcome outcome;
  try {
    auto op = source.read_all(ReadContext{});
    FullRead read = co_await std::move(op);
    outcome.read = std::move(read);
  } catch (const SourceReadError& e) {
    outcome.error = e.what();
  }
  co_return outcome;
}

TEST_F(EntraSourceTest, AFullReadFollowsEveryPageWithOneToken) {
  with_graph([this](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    const FullRead& read = *outcome.read;
    EXPECT_EQ(read.identities.size(), 4u);
    const Identity* carol = find(read.identities, "u-carol");
    CO_ASSERT((carol) != (nullptr), "");
    EXPECT_TRUE(has(carol->groups, "eng"));
    EXPECT_TRUE(has(carol->groups, "g-eng"));
    EXPECT_TRUE(has(carol->groups, "palette-users")) << "the group came back on a later page";
    EXPECT_TRUE(has(carol->groups, "g-palette"));
    EXPECT_EQ(find(read.identities, "u-bob")->email, "bob@example.com");
    EXPECT_TRUE(find(read.identities, "u-dave")->groups.empty());
    EXPECT_EQ(read.cursors.at("users_delta"), graph.base + "/v1.0/users/delta?$deltatoken=u3");
    EXPECT_EQ(read.cursors.at("groups_delta"), graph.base + "/v1.0/groups/delta?$deltatoken=g3");
    EXPECT_EQ(json::parse(read.cursors.at("group_names")), json({{"g-eng", "eng"}, {"g-palette", "palette-users"}}));

    CO_ASSERT((graph.token_requests.size()) == (1u), "");
    const RecordedRequest& token = graph.token_requests[0];
    EXPECT_EQ(token.method, "POST");
    EXPECT_EQ(token.header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_NE(token.body.find("grant_type=client_credentials"), std::string::npos);
    EXPECT_NE(token.body.find("client_id=app-1"), std::string::npos);
    EXPECT_NE(token.body.find("client_secret=" + url_encode(kSecret)), std::string::npos);
    EXPECT_NE(token.body.find("scope=" + url_encode(graph.base + "/.default")), std::string::npos);
    CO_ASSERT((graph.graph_requests.size()) == (4u), "");
    for (const auto& r : graph.graph_requests) EXPECT_EQ(r.header("authorization"), "Bearer tok-1");
    EXPECT_EQ(graph.graph_requests[0].target, kUsersStart);
    EXPECT_EQ(graph.graph_requests[1].target, "/v1.0/users/delta?$skiptoken=u2");

    // The next read reuses the cached token.
    auto again = try_read_all(source);
    ReadOutcome second = co_await std::move(again);
    EXPECT_TRUE(second.read);
    EXPECT_EQ(source.tokens_issued(), 1);
  });
}

TEST_F(EntraSourceTest, ATokenThatExpiresMidReadIsRefreshedOnceAndThePageRetried) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    graph.intercept = [&graph](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.target == "/v1.0/users/delta?$skiptoken=u2" && r.header("authorization") == "Bearer tok-1") {
        auto reply = ScriptedReply::json(
            401, R"({"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}})");
        reply.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        return reply;
      }
      return std::nullopt;
    };
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    EXPECT_EQ(outcome.read->identities.size(), 4u);
    EXPECT_EQ(graph.token_requests.size(), 2u);
    EXPECT_EQ(graph.graph_requests.back().header("authorization"), "Bearer tok-2");
  });
}

TEST_F(EntraSourceTest, ATokenRefusedTwiceFailsTheRead) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    graph.intercept = [](const RecordedRequest&) -> std::optional<ScriptedReply> {
      return ScriptedReply::json(401, R"({"error":{"code":"InvalidAuthenticationToken","message":"x"}})");
    };
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    EXPECT_FALSE(outcome.read);
    EXPECT_NE(outcome.error.find("HTTP 401 InvalidAuthenticationToken"), std::string::npos) << outcome.error;
    EXPECT_EQ(graph.token_requests.size(), 2u) << "one refresh, not a loop";
    EXPECT_EQ(outcome.error.find("tok-"), std::string::npos);
  });
}

TEST_F(EntraSourceTest, AThrottledPageWaitsForRetryAfter) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    int throttled = 0;
    graph.intercept = [&throttled](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.target == "/v1.0/groups/delta?$skiptoken=g2" && throttled++ == 0) {
        auto reply = ScriptedReply::json(429, R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})");
        reply.headers.emplace_back("Retry-After", "1");
        return reply;
      }
      return std::nullopt;
    };
    const auto start = std::chrono::steady_clock::now();
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000))
        << "backoff is 1 ms here: only Retry-After explains the wait";
    EXPECT_EQ(throttled, 2);
  });
}

TEST_F(EntraSourceTest, AFailedPageFailsTheWholeRead) {
  struct Case {
    std::string name;
    int status;
    std::string body;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"lost nextLink", 404, R"({"error":{"code":"ResourceNotFound"}})", "HTTP 404 ResourceNotFound"},
      {"server error", 500, R"({"error":{"code":"generalException"}})", "giving up after 3 attempts"},
      {"bad request", 400, R"({"error":{"code":"BadRequest"}})", "HTTP 400 BadRequest"},
      {"malformed JSON", 200, R"({"value":[{"id":"u-x")", "invalid JSON"},
      {"no links", 200, R"({"value":[]})", "neither @odata.nextLink nor @odata.deltaLink"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    with_graph([&c](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
      graph.intercept = [&c](const RecordedRequest& r) -> std::optional<ScriptedReply> {
        if (r.target == "/v1.0/users/delta?$skiptoken=u2") return ScriptedReply::json(c.status, c.body);
        return std::nullopt;
      };
      auto op = try_read_all(source);
      ReadOutcome outcome = co_await std::move(op);
      EXPECT_FALSE(outcome.read) << "never a partial list";
      EXPECT_NE(outcome.error.find("users delta page 2"), std::string::npos) << outcome.error;
      EXPECT_NE(outcome.error.find(c.expect), std::string::npos) << outcome.error;
    });
  }
}

TEST_F(EntraSourceTest, ALinkOutsideGraphUrlIsRefused) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    graph.pages[kUsersStart] =
        R"({"@odata.nextLink":"http://attacker.example:9/v1.0/users/delta?$skiptoken=x","value":[]})";
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    EXPECT_FALSE(outcome.read);
    EXPECT_NE(outcome.error.find("outside graph_url"), std::string::npos) << outcome.error;
  });
}

TEST_F(EntraSourceTest, ATokenErrorNamesTheProblemNeverTheSecret) {
  run_with_server([this](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) {
      return ScriptedReply::json(401, json{{"error", "invalid_client"},
                                           {"error_description", "AADSTS7000215: Invalid client secret provided. " + kSecret}}
                                          .dump());
    };
    auto ex = co_await net::this_coro::executor;
    EntraSource source(config(server.url()), ex, fast());
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    EXPECT_FALSE(outcome.read);
    EXPECT_NE(outcome.error.find("HTTP 401 invalid_client"), std::string::npos) << outcome.error;
    EXPECT_EQ(outcome.error.find(kSecret), std::string::npos);
    EXPECT_EQ(outcome.error.find("s3cret"), std::string::npos);
  });
}

struct ChangesOutcome {
  std::optional<ChangeSet> changes;
  std::string error;
};

net::awaitable<ChangesOutcome> try_read_changes(EntraSource& source, std::map<std::string, std::string> cursors) {
  ChangesOutcome outcome;
  try {
    auto op = source.read_changes(std::move(cursors));
    ChangeSet changes = co_await std::move(op);
    outcome.changes = std::move(changes);
  } catch (const SourceReadError& e) {
    outcome.error = e.what();
  }
  co_return outcome;
}

bool has_change(const ChangeSet& changes, const std::string& subject, const std::string& group, bool member) {
  return std::any_of(changes.memberships.begin(), changes.memberships.end(), [&](const MembershipChange& m) {
    return m.subject_id == subject && m.group == group && m.member == member;
  });
}

TEST_F(EntraSourceTest, AnIncrementalReadTurnsDeltaIntoChanges) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    auto full_op = try_read_all(source);
    ReadOutcome full = co_await std::move(full_op);
    CO_ASSERT(full.read, full.error);
    graph.pages["/v1.0/users/delta?$deltatoken=u3"] = R"({"@odata.nextLink":"{base}/v1.0/users/delta?$skiptoken=u4","value":[
      {"id":"u-bob","userPrincipalName":"bob@example.com","mail":null,"accountEnabled":false}]})";
    graph.pages["/v1.0/users/delta?$skiptoken=u4"] = R"({"@odata.deltaLink":"{base}/v1.0/users/delta?$deltatoken=u5","value":[
      {"id":"u-carol","@removed":{"reason":"changed"}},
      {"id":"u-erin","accountEnabled":true}]})";
    graph.pages["/v1.0/users/u-erin?$select=id,userPrincipalName,mail,accountEnabled,displayName"] =
        R"({"id":"u-erin","userPrincipalName":"erin@example.com","mail":"erin@example.com","accountEnabled":true})";
    graph.pages["/v1.0/groups/delta?$deltatoken=g3"] = R"({"@odata.deltaLink":"{base}/v1.0/groups/delta?$deltatoken=g4","value":[
      {"id":"g-palette","displayName":"palette-users","members@delta":[
        {"@odata.type":"#microsoft.graph.user","id":"u-alice","@removed":{"reason":"deleted"}},
        {"@odata.type":"#microsoft.graph.user","id":"u-erin"}]},
      {"id":"g-eng","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u-dave"}]}]})";

    auto op = try_read_changes(source, full.read->cursors);
    ChangesOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.changes, outcome.error);
    const ChangeSet& changes = *outcome.changes;
    EXPECT_FALSE(changes.resync_required);
    EXPECT_FALSE(changes.groups_known);
    CO_ASSERT((changes.identities.size()) == (3u), "");
    const Identity* bob = find(changes.identities, "u-bob");
    EXPECT_EQ(bob->status, IdentityStatus::inactive);
    EXPECT_EQ(bob->status_detail, "accountEnabled false");
    EXPECT_EQ(bob->email, "bob@example.com");
    const Identity* carol = find(changes.identities, "u-carol");
    EXPECT_EQ(carol->status, IdentityStatus::deleted);
    EXPECT_EQ(carol->status_detail, "soft-deleted");
    EXPECT_EQ(carol->email, "carol@example.com") << "named from the full read";
    EXPECT_EQ(find(changes.identities, "u-erin")->email, "erin@example.com") << "fetched: the item had no name";

    EXPECT_EQ(changes.memberships.size(), 6u);
    EXPECT_TRUE(has_change(changes, "u-alice", "palette-users", false));
    EXPECT_TRUE(has_change(changes, "u-alice", "g-palette", false));
    EXPECT_TRUE(has_change(changes, "u-erin", "palette-users", true));
    EXPECT_TRUE(has_change(changes, "u-erin", "g-palette", true));
    EXPECT_TRUE(has_change(changes, "u-dave", "eng", true)) << "named from the group_names cursor";
    EXPECT_TRUE(has_change(changes, "u-dave", "g-eng", true));
    EXPECT_EQ(changes.cursors.at("users_delta"), graph.base + "/v1.0/users/delta?$deltatoken=u5");
    EXPECT_EQ(changes.cursors.at("groups_delta"), graph.base + "/v1.0/groups/delta?$deltatoken=g4");

    // A replay of the same round states the same final facts.
    auto replay_op = try_read_changes(source, full.read->cursors);
    ChangesOutcome replay = co_await std::move(replay_op);
    CO_ASSERT(replay.changes, "");
    EXPECT_EQ(replay.changes->memberships.size(), changes.memberships.size());
  });
}

TEST_F(EntraSourceTest, TheTwoLinksAreEnoughAfterAFullReadInThisProcess) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    auto full_op = try_read_all(source);
    ReadOutcome full = co_await std::move(full_op);
    CO_ASSERT(full.read, full.error);
    // What the daemon passes: the deltaLinks only.
    const std::map<std::string, std::string> links = {{"users_delta", full.read->cursors.at("users_delta")},
                                                      {"groups_delta", full.read->cursors.at("groups_delta")}};
    graph.pages["/v1.0/users/delta?$deltatoken=u3"] =
        R"({"@odata.deltaLink":"{base}/v1.0/users/delta?$deltatoken=u4","value":[]})";
    graph.pages["/v1.0/groups/delta?$deltatoken=g3"] = R"({"@odata.deltaLink":"{base}/v1.0/groups/delta?$deltatoken=g4","value":[
      {"id":"g-eng","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u-carol","@removed":{"reason":"deleted"}}]}]})";
    auto op = try_read_changes(source, links);
    ChangesOutcome named = co_await std::move(op);
    CO_ASSERT(named.changes, named.error);
    EXPECT_FALSE(named.changes->resync_required);
    EXPECT_TRUE(has_change(*named.changes, "u-carol", "eng", false));
    EXPECT_TRUE(has_change(*named.changes, "u-carol", "g-eng", false));
    EXPECT_EQ(graph.graph_requests.back().target, "/v1.0/groups/delta?$deltatoken=g3") << "no GET of the group";

    graph.pages["/v1.0/groups/delta?$deltatoken=g3"] =
        R"({"@odata.deltaLink":"{base}/v1.0/groups/delta?$deltatoken=g4","value":[{"id":"g-palette","@removed":{"reason":"deleted"}}]})";
    auto deleted_op = try_read_changes(source, links);
    ChangesOutcome deleted = co_await std::move(deleted_op);
    CO_ASSERT(deleted.changes, deleted.error);
    EXPECT_TRUE(deleted.changes->resync_required) << "a known group was deleted";
  });
}

TEST_F(EntraSourceTest, ALostCursorAsksForAFullRead) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    const std::map<std::string, std::string> cursors = {
        {"users_delta", graph.base + "/v1.0/users/delta?$deltatoken=old"},
        {"groups_delta", graph.base + "/v1.0/groups/delta?$deltatoken=old"}};
    graph.intercept = [&graph](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.target == "/v1.0/users/delta?$deltatoken=old") {
        ScriptedReply gone = ScriptedReply::json(410, R"({"error":{"code":"resyncRequired","message":"Resync required."}})");
        gone.headers.emplace_back("Location", graph.base + "/v1.0/users/delta?$deltatoken=");
        return gone;
      }
      return std::nullopt;
    };
    auto op = try_read_changes(source, cursors);
    ChangesOutcome gone = co_await std::move(op);
    CO_ASSERT(gone.changes, gone.error);
    EXPECT_TRUE(gone.changes->resync_required);
    EXPECT_TRUE(gone.changes->identities.empty());
    EXPECT_TRUE(gone.changes->memberships.empty());
    EXPECT_TRUE(gone.changes->cursors.empty());

    graph.intercept = [](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.target.find("deltatoken=old") != std::string::npos) {
        return ScriptedReply::json(400, R"({"error":{"code":"syncStateNotFound","message":"expired"}})");
      }
      return std::nullopt;
    };
    auto expired_op = try_read_changes(source, cursors);
    ChangesOutcome expired = co_await std::move(expired_op);
    CO_ASSERT(expired.changes, expired.error);
    EXPECT_TRUE(expired.changes->resync_required);

    auto none_op = try_read_changes(source, {});
    ChangesOutcome none = co_await std::move(none_op);
    CO_ASSERT(none.changes, "");
    EXPECT_TRUE(none.changes->resync_required);
  });
}

TEST_F(EntraSourceTest, ChangesDeltaCannotStateSafelyAskForAFullRead) {
  with_graph([](EntraSource& source, FakeGraph& graph) -> net::awaitable<void> {
    // A fresh process: no full read, so no names for a removed user.
    const std::map<std::string, std::string> cursors = {
        {"users_delta", graph.base + "/v1.0/users/delta?$deltatoken=u3"},
        {"groups_delta", graph.base + "/v1.0/groups/delta?$deltatoken=g3"},
        {"group_names", R"({"g-palette":"palette-users"})"}};
    graph.pages["/v1.0/users/delta?$deltatoken=u3"] =
        R"({"@odata.deltaLink":"{base}/v1.0/users/delta?$deltatoken=u4","value":[{"id":"u-zed","@removed":{"reason":"deleted"}}]})";
    graph.pages["/v1.0/groups/delta?$deltatoken=g3"] =
        R"({"@odata.deltaLink":"{base}/v1.0/groups/delta?$deltatoken=g4","value":[]})";
    auto op = try_read_changes(source, cursors);
    ChangesOutcome unnamed = co_await std::move(op);
    CO_ASSERT(unnamed.changes, unnamed.error);
    EXPECT_TRUE(unnamed.changes->resync_required);

    // A renamed group moves every membership.
    graph.pages["/v1.0/users/delta?$deltatoken=u3"] =
        R"({"@odata.deltaLink":"{base}/v1.0/users/delta?$deltatoken=u4","value":[]})";
    graph.pages["/v1.0/groups/delta?$deltatoken=g3"] =
        R"({"@odata.deltaLink":"{base}/v1.0/groups/delta?$deltatoken=g4","value":[{"id":"g-palette","displayName":"palette-people"}]})";
    auto rename_op = try_read_changes(source, cursors);
    ChangesOutcome renamed = co_await std::move(rename_op);
    CO_ASSERT(renamed.changes, renamed.error);
    EXPECT_TRUE(renamed.changes->resync_required);

    // A deleted group lists no members.
    graph.pages["/v1.0/groups/delta?$deltatoken=g3"] =
        R"({"@odata.deltaLink":"{base}/v1.0/groups/delta?$deltatoken=g4","value":[{"id":"g-palette","@removed":{"reason":"changed"}}]})";
    auto deleted_op = try_read_changes(source, cursors);
    ChangesOutcome deleted = co_await std::move(deleted_op);
    CO_ASSERT(deleted.changes, deleted.error);
    EXPECT_TRUE(deleted.changes->resync_required);
  });
}

TEST_F(EntraSourceTest, SubscriptionsAreCreatedRenewedAndReauthorized) {
  run_with_server([this](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeGraph graph;
    graph.base = server.url();
    int created = 0;
    std::map<std::string, int> patched;
    std::vector<std::string> reauthorized;
    bool patch_404 = false;
    graph.intercept = [&](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.method == "POST" && r.target == "/v1.0/subscriptions") {
        json body = json::parse(r.body);
        body["id"] = "sub-" + std::to_string(++created);
        return ScriptedReply::json(201, body.dump());
      }
      if (r.method == "PATCH") {
        if (patch_404) return ScriptedReply::json(404, R"({"error":{"code":"ResourceNotFound"}})");
        ++patched[r.target];
        json body = json::parse(r.body);
        body["id"] = r.target.substr(r.target.rfind('/') + 1);
        return ScriptedReply::json(200, body.dump());
      }
      if (r.method == "POST" && r.target.size() > 12 && r.target.substr(r.target.size() - 12) == "/reauthorize") {
        reauthorized.push_back(r.target);
        ScriptedReply reply;
        reply.status = 204;
        return reply;
      }
      return std::nullopt;
    };
    server.handler = [&graph](const RecordedRequest& r) { return graph.handle(r); };
    auto ex = co_await net::this_coro::executor;
    auto store = Store::open_scratch_copy("/nonexistent-keywarden-dir/keywarden.db");
    EntraSource source(config(server.url(), true), ex, fast());
    const std::string scope = Store::cursor_scope("corp-entra");

    auto create_op = upkeep_into(source, *store, kNow);
    co_await std::move(create_op);
    CO_ASSERT((created) == (2), "");
    std::vector<json> bodies;
    for (const auto& r : graph.graph_requests) bodies.push_back(json::parse(r.body));
    EXPECT_EQ(bodies[0]["resource"], "users");
    EXPECT_EQ(bodies[1]["resource"], "groups");
    for (const json& b : bodies) {
      EXPECT_EQ(b["changeType"], "updated,deleted");
      EXPECT_EQ(b["notificationUrl"], "https://keywarden.example/hooks/entra/corp-entra");
      EXPECT_EQ(b["lifecycleNotificationUrl"], "https://keywarden.example/hooks/entra/corp-entra");
      EXPECT_EQ(b["clientState"], kClientState);
      const auto expires = parse_rfc3339(b["expirationDateTime"].get<std::string>());
      CO_ASSERT(expires, "");
      EXPECT_EQ(*expires, kNow + std::chrono::hours(96));
      EXPECT_LT(*expires - kNow, std::chrono::minutes(41760));
    }
    EXPECT_EQ(json::parse(*store->get_value(scope, "subscription:users"))["id"], "sub-1");
    EXPECT_EQ(json::parse(*store->get_value(scope, "subscription:groups"))["id"], "sub-2");

    // A day later nothing is due.
    auto quiet_op = upkeep_into(source, *store, kNow + std::chrono::hours(24));
    co_await std::move(quiet_op);
    EXPECT_EQ(graph.graph_requests.size(), 2u);

    // A lifecycle notification asked to reauthorize the users subscription.
    store->set_value(scope, "reauthorize:sub-1", "1");
    auto reauth_op = upkeep_into(source, *store, kNow + std::chrono::hours(25));
    co_await std::move(reauth_op);
    EXPECT_EQ(reauthorized, std::vector<std::string>{"/v1.0/subscriptions/sub-1/reauthorize"});
    EXPECT_EQ(store->get_value(scope, "reauthorize:sub-1"), "");

    // Under a day left: both renewed with PATCH.
    const Timestamp later = kNow + std::chrono::hours(80);
    auto renew_op = upkeep_into(source, *store, later);
    co_await std::move(renew_op);
    EXPECT_EQ(patched["/v1.0/subscriptions/sub-1"], 1);
    EXPECT_EQ(patched["/v1.0/subscriptions/sub-2"], 1);
    const json users_sub = json::parse(*store->get_value(scope, "subscription:users"));
    EXPECT_EQ(*parse_rfc3339(users_sub["expires"].get<std::string>()), later + std::chrono::hours(96));

    // Graph removed the groups subscription: created anew.
    store->set_value(scope, "recreate:sub-2", "1");
    auto recreate_op = upkeep_into(source, *store, later);
    co_await std::move(recreate_op);
    EXPECT_EQ(created, 3);
    EXPECT_EQ(json::parse(*store->get_value(scope, "subscription:groups"))["id"], "sub-3");

    // A renewal Graph no longer knows: created anew too.
    patch_404 = true;
    auto lost_op = upkeep_into(source, *store, later + std::chrono::hours(80));
    co_await std::move(lost_op);
    EXPECT_EQ(created, 5);
  });
}

TEST_F(EntraSourceTest, NoNotificationUrlMeansNoSubscriptions) {
  run_with_server([this](ScriptedHttpServer& server) -> net::awaitable<void> {
    auto ex = co_await net::this_coro::executor;
    auto store = Store::open_scratch_copy("/nonexistent-keywarden-dir/keywarden.db");
    EntraSource source(config(server.url()), ex, fast());
    EXPECT_FALSE(source.has_upkeep());
    auto op = upkeep_into(source, *store, kNow);
    co_await std::move(op);
    EXPECT_TRUE(server.requests().empty());
    EXPECT_EQ(source.poll_interval(), Duration(60)) << "the schema's default, with no poll_interval in the config";
  });
}

}  // namespace
}  // namespace keywarden
