// PaletteClient against a scripted HTTP server: the paths, headers and bodies
// it sends, how it pages, and how it paces, retries and fails.
//
// Time is only ever checked as a lower bound (a slow machine must not fail a
// test); a hung test is caught by run_with_server's limit.
#include "daemon/palette/palette_client.h"

#include <gtest/gtest.h>

#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "daemon/net/scripted_http_server_test.h"

namespace keywarden {
namespace {

namespace net = boost::asio;
using nlohmann::json;
using testing::RecordedRequest;
using testing::run_with_server;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;
using Action = ScriptedReply::Action;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* kApiKey = "kw-test-SECRET-4f2a9c";

// Fast settings: a generous rate and millisecond backoff keep the suite quick.
PaletteClientOptions options_for(const ScriptedHttpServer& server) {
  PaletteClientOptions options;
  options.endpoint = server.url();
  options.api_key = kApiKey;
  options.requests_per_second = 1000;
  options.timeout = milliseconds(2000);
  options.max_attempts = 4;
  options.backoff_base = milliseconds(1);
  options.backoff_max = milliseconds(5);
  return options;
}

std::string user(const std::string& uid, const std::string& email, std::optional<bool> active = std::nullopt) {
  json u = {{"metadata", {{"uid", uid}, {"name", uid}}}, {"spec", {{"emailId", email}, {"firstName", "F"}}}};
  if (active) u["status"] = {{"isActive", *active}};
  return u.dump();
}

std::string key(const std::string& uid, const std::string& owner, const std::string& expiry, bool active = true) {
  return json{{"metadata",
               {{"uid", uid},
                {"name", "key-" + uid},
                {"creationTimestamp", "2025-03-01T10:00:00.123Z"},
                {"deletionTimestamp", "0001-01-01T00:00:00.000Z"},
                {"annotations", {{"ownerUid", "someone-else"}}}}},
              {"spec", {{"expiry", expiry}, {"user", {{"uid", owner}, {"firstName", "F"}}}}},
              {"status", {{"isActive", active}}}}
      .dump();
}

std::string list(const std::vector<std::string>& items, const std::string& continue_token = "") {
  std::string out = "{\"items\":[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  out += "],\"listmeta\":{\"continue\":" + json(continue_token).dump() + ",\"limit\":50}}";
  return out;
}

std::string team(const std::string& uid, const std::string& name, const std::vector<std::string>& users) {
  // v1Team: spec.users are uids; roles and sources are there too.
  return json{{"metadata", {{"uid", uid}, {"name", name}, {"annotations", json::object()}}},
              {"spec", {{"users", users}, {"roles", {"role-1"}}, {"sources", json::array()}}},
              {"status", json::object()}}
      .dump();
}

const std::string kUserInfo = R"({"orgName":"acme","tenantUid":"tenant-1","userUid":"self"})";

// A tenant with three pages of users and one page of keys. The first
// continue token needs URL-encoding.
ScriptedReply tenant(const RecordedRequest& request) {
  const std::string& t = request.target;
  if (request.method != "GET") return ScriptedReply::json(405, R"({"code":"MethodNotAllowed"})");
  if (t == "/v1/users/info") return ScriptedReply::json(200, kUserInfo);
  if (t == "/v1/users?limit=50") {
    return ScriptedReply::json(200, list({user("self", "admin@example.com"), user("u1", "Alice@Example.com", true)},
                                         "tok/1+=="));
  }
  if (t == "/v1/users?limit=50&continue=tok%2F1%2B%3D%3D") {
    return ScriptedReply::json(200, list({user("u2", "bob@example.com", false)}, "tok2"));
  }
  if (t == "/v1/users?limit=50&continue=tok2") {
    return ScriptedReply::json(200, list({user("u3", "  Carol@Example.COM ")}));
  }
  if (t == "/v1/teams?limit=50") {
    return ScriptedReply::json(200, list({team("t1", "palette-admins", {"u1", "u3"}), team("t2", "viewers", {})},
                                         "teams/2"));
  }
  if (t == "/v1/teams?limit=50&continue=teams%2F2") {
    return ScriptedReply::json(200, list({team("t3", "Ops", {"u1", "removed-user"})}));
  }
  if (t == "/v1/apiKeys") {
    return ScriptedReply::json(200, list({key("k1", "u1", "0001-01-01T00:00:00.000Z"),
                                          key("k2", "u2", "2026-01-02T03:04:05.678Z", false),
                                          key("k3", "gone", "2026-05-01T00:00:00Z")}));
  }
  return ScriptedReply::json(404, R"({"code":"ResourceNotFound","message":"no such path"})");
}

TEST(PaletteClient, ReadsTheInventoryPagingUsersWithContinue) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = tenant;
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const PaletteInventory inventory = co_await client.read_inventory();

    EXPECT_EQ(inventory.self_user_uid, "self");
    EXPECT_EQ(inventory.tenant_uid, "tenant-1");
    EXPECT_EQ(inventory.users_by_uid.size(), 4u);
    EXPECT_EQ(inventory.users_by_uid.at("u1").email, "alice@example.com");
    EXPECT_TRUE(inventory.users_by_uid.at("u1").active);
    EXPECT_FALSE(inventory.users_by_uid.at("u2").active);
    EXPECT_EQ(inventory.users_by_uid.at("u3").email, "carol@example.com");
    EXPECT_TRUE(inventory.users_by_uid.at("u3").active);  // no status: active

    EXPECT_EQ(inventory.keys.size(), 3u);
    if (inventory.keys.size() == 3u) {
      const PaletteKey& k1 = inventory.keys[0];
      EXPECT_EQ(k1.uid, "k1");
      EXPECT_EQ(k1.name, "key-k1");
      EXPECT_EQ(k1.owner_uid, "u1");  // spec.user.uid, not annotations.ownerUid
      EXPECT_TRUE(k1.active);
      EXPECT_FALSE(k1.expiry);  // zero time: no expiry
      EXPECT_EQ(format_rfc3339(k1.created_at), "2025-03-01T10:00:00Z");
      const PaletteKey& k2 = inventory.keys[1];
      EXPECT_FALSE(k2.active);
      EXPECT_TRUE(k2.expiry && format_rfc3339(*k2.expiry) == "2026-01-02T03:04:05Z");
      EXPECT_EQ(inventory.keys[2].owner_uid, "gone");
    }

    std::vector<std::string> targets;
    for (const RecordedRequest& r : server.requests()) targets.push_back(r.target);
    EXPECT_EQ(targets, (std::vector<std::string>{"/v1/users/info", "/v1/users?limit=50",
                                                 "/v1/users?limit=50&continue=tok%2F1%2B%3D%3D",
                                                 "/v1/users?limit=50&continue=tok2", "/v1/teams?limit=50",
                                                 "/v1/teams?limit=50&continue=teams%2F2", "/v1/apiKeys"}));
    EXPECT_EQ(server.connections(), 1);  // keep-alive
  });
}

TEST(PaletteClient, ReadsEveryUsersTeamsPagingTeamsWithContinue) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = tenant;
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const PaletteInventory inventory = co_await client.read_inventory();
    EXPECT_TRUE(inventory.teams_error.empty());
    using Teams = std::optional<std::vector<std::string>>;
    EXPECT_EQ(inventory.users_by_uid.at("u1").teams, (Teams{{"Ops", "palette-admins"}}));  // both pages, sorted
    EXPECT_EQ(inventory.users_by_uid.at("u3").teams, (Teams{{"palette-admins"}}));
    EXPECT_EQ(inventory.users_by_uid.at("u2").teams, (Teams{std::vector<std::string>{}}));  // read: in no team
    for (const RecordedRequest& r : server.requests()) EXPECT_EQ(r.method, "GET") << r.target;
  });
}

TEST(PaletteClient, AFailedTeamListingLeavesTeamsUnknownAndStillReadsKeys) {
  for (const std::string& second_page : {std::string(R"({"code":"Forbidden","message":"no"})"),
                                        std::string(R"({"items":[{"metadata":{"uid":"t9"}}]})")}) {
    run_with_server([second_page](ScriptedHttpServer& server) -> net::awaitable<void> {
      server.handler = [second_page](const RecordedRequest& r) {
        if (r.target == "/v1/teams?limit=50&continue=teams%2F2") {
          return ScriptedReply::json(second_page.find("Forbidden") != std::string::npos ? 403 : 200, second_page);
        }
        return tenant(r);
      };
      auto ex = co_await net::this_coro::executor;
      PaletteClient client(ex, options_for(server));
      const PaletteInventory inventory = co_await client.read_inventory();
      EXPECT_FALSE(inventory.teams_error.empty());
      EXPECT_EQ(inventory.teams_error.find(kApiKey), std::string::npos);
      for (const auto& [uid, user] : inventory.users_by_uid) EXPECT_FALSE(user.teams) << uid;  // not even page 1
      EXPECT_EQ(inventory.keys.size(), 3u);
    });
  }
}

TEST(PaletteClient, FollowsAContinueTokenOnTheKeyList) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest& r) {
      if (r.target == "/v1/apiKeys") return ScriptedReply::json(200, list({key("k1", "u1", "")}, "more keys"));
      if (r.target == "/v1/apiKeys?continue=more%20keys") return ScriptedReply::json(200, list({key("k2", "u1", "")}));
      return tenant(r);
    };
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const PaletteInventory inventory = co_await client.read_inventory();
    EXPECT_EQ(inventory.keys.size(), 2u);
    EXPECT_EQ(server.requests().back().target, "/v1/apiKeys?continue=more%20keys");
  });
}

TEST(PaletteClient, RefusesAPagingLoop) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest& r) {
      if (r.target.rfind("/v1/users?", 0) == 0) return ScriptedReply::json(200, list({user("u1", "a@b")}, "same"));
      return tenant(r);
    };
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    std::optional<PaletteError> error;
    try {
      co_await client.read_inventory();
    } catch (const PaletteError& e) {
      error = e;
    }
    EXPECT_TRUE(error.has_value());
    EXPECT_LT(server.requests().size(), 10u);
  });
}

TEST(PaletteClient, SendsApiKeyAndJsonHeadersButNeverProjectUid) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest& r) {
      if (r.method == "PUT" || r.method == "DELETE") return ScriptedReply::json(204, "");
      return tenant(r);
    };
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    co_await client.read_inventory();
    co_await client.set_key_active("k1", false);
    co_await client.delete_key("k1");

    EXPECT_EQ(server.requests().size(), 9u);  // info, 3 user pages, 2 team pages, keys, PUT, DELETE
    for (const RecordedRequest& r : server.requests()) {
      EXPECT_EQ(r.header("apikey"), kApiKey) << r.target;
      EXPECT_FALSE(r.has_header("projectuid")) << r.target;
      EXPECT_FALSE(r.has_header("authorization")) << r.target;
      EXPECT_EQ(r.header("accept"), "application/json") << r.target;
      EXPECT_EQ(r.target.find("ApiKey"), std::string::npos) << "key in the URL: " << r.target;
    }
    const RecordedRequest& put = server.requests().at(7);
    EXPECT_EQ(put.header("content-type"), "application/json");
  });
}

TEST(PaletteClient, RevokeWritesIsActiveFalseExplicitly) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(204, ""));
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const MutationResult revoked = co_await client.set_key_active("66e844c44bab2337f20c7471", false);
    const MutationResult reactivated = co_await client.set_key_active("66e844c44bab2337f20c7471", true);

    EXPECT_EQ(revoked.http_status, 204);
    EXPECT_EQ(revoked.attempts, 1);
    EXPECT_EQ(reactivated.http_status, 204);
    EXPECT_EQ(server.requests().size(), 2u);
    if (server.requests().size() == 2u) {
      const RecordedRequest& revoke = server.requests()[0];
      EXPECT_EQ(revoke.method, "PUT");
      EXPECT_EQ(revoke.target, "/v1/apiKeys/66e844c44bab2337f20c7471/state");
      EXPECT_EQ(revoke.body, R"({"isActive":false})");
      EXPECT_EQ(revoke.header("content-length"), "18");
      EXPECT_EQ(server.requests()[1].body, R"({"isActive":true})");
    }
  });
}

TEST(PaletteClient, EscapesKeyUidsInPaths) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(204, ""));
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    co_await client.set_key_active("a/../b?c", false);
    co_await client.delete_key("x y#z");
    EXPECT_EQ(server.requests().at(0).target, "/v1/apiKeys/a%2F..%2Fb%3Fc/state");
    EXPECT_EQ(server.requests().at(1).target, "/v1/apiKeys/x%20y%23z");
  });
}

TEST(PaletteClient, NotFoundOnDeleteOrRevokeCountsAsDone) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(404, R"({"code":"ResourceNotFound","message":"api key not found"})"));
    server.enqueue(ScriptedReply::json(404, ""));
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const MutationResult deleted = co_await client.delete_key("k1");
    const MutationResult revoked = co_await client.set_key_active("k2", false);
    const MutationResult deleted_now = co_await client.delete_key("k3");
    EXPECT_EQ(deleted.http_status, 404);
    EXPECT_EQ(deleted.attempts, 1);
    EXPECT_EQ(revoked.http_status, 404);
    EXPECT_EQ(deleted_now.http_status, 204);
    EXPECT_EQ(server.requests().at(0).method, "DELETE");
    EXPECT_EQ(server.requests().at(0).target, "/v1/apiKeys/k1");
    EXPECT_EQ(client.stats().retries, 0);
  });
}

TEST(PaletteClient, RetriesA429AndHonoursRetryAfter) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    auto throttled = ScriptedReply::json(429, R"({"code":"TooManyRequests","message":"slow down"})");
    throttled.headers.emplace_back("Retry-After", "1");
    server.enqueue(throttled);
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const auto start = steady_clock::now();
    const MutationResult result = co_await client.delete_key("k1");
    const auto elapsed = steady_clock::now() - start;

    EXPECT_EQ(result.http_status, 204);
    EXPECT_EQ(result.attempts, 2);
    EXPECT_GE(elapsed, milliseconds(1000));  // backoff_max is 5 ms: only Retry-After explains this
    EXPECT_EQ(server.requests().size(), 2u);
    EXPECT_EQ(client.stats().requests, 2);
    EXPECT_EQ(client.stats().throttled, 1);
    EXPECT_EQ(client.stats().retries, 1);
  });
}

TEST(PaletteClient, RetryAfterAsAnHttpDateIsHonoured) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    // Two seconds ahead, so that at least one full second remains after rounding.
    const auto when = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) +
                      std::chrono::seconds(2);
    const std::time_t t = std::chrono::system_clock::to_time_t(when);
    char date[64];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    auto unavailable = ScriptedReply::json(503, "");
    unavailable.headers.emplace_back("Retry-After", date);
    server.enqueue(unavailable);
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const auto start = steady_clock::now();
    co_await client.delete_key("k1");
    EXPECT_GE(steady_clock::now() - start, milliseconds(1000));
  });
}

TEST(PaletteClient, RetriesServerErrors) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(500, R"({"code":"InternalError","message":"boom"})"));
    server.enqueue(ScriptedReply::json(503, "<html>Service Unavailable</html>"));
    server.enqueue(ScriptedReply::json(502, ""));
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const MutationResult result = co_await client.set_key_active("k1", false);
    EXPECT_EQ(result.http_status, 204);
    EXPECT_EQ(result.attempts, 4);
    EXPECT_EQ(client.stats().server_errors, 3);
    EXPECT_EQ(client.stats().retries, 3);
    for (const RecordedRequest& r : server.requests()) EXPECT_EQ(r.body, R"({"isActive":false})");
  });
}

TEST(PaletteClient, RetriesADroppedConnection) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::with_action(Action::drop));
    server.enqueue(ScriptedReply::with_action(Action::partial));
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    const MutationResult result = co_await client.delete_key("k1");
    EXPECT_EQ(result.http_status, 204);
    EXPECT_EQ(result.attempts, 3);
    EXPECT_EQ(client.stats().connection_errors, 2);
    EXPECT_EQ(server.connections(), 3);
  });
}

TEST(PaletteClient, GivesUpAfterMaxAttemptsWithATransientError) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) {
      return ScriptedReply::json(503, R"({"code":"ServiceUnavailable","message":"maintenance"})");
    };
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    std::optional<PaletteError> error;
    try {
      co_await client.delete_key("k1");
    } catch (const PaletteError& e) {
      error = e;
    }
    EXPECT_TRUE(error.has_value());
    if (error) {
      EXPECT_TRUE(error->transient());
      EXPECT_EQ(error->http_status(), 503);
      EXPECT_EQ(error->code(), "ServiceUnavailable");
      EXPECT_EQ(error->attempts(), 4);
    }
    EXPECT_EQ(server.requests().size(), 4u);
  });
}

TEST(PaletteClient, ABadRequestIsNotRetriedAndItsErrorNamesTheCodeButNotTheKey) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    // A server that echoes the key back must not get it into our message.
    server.enqueue(ScriptedReply::json(
        400, std::string(R"({"code":"InvalidArgument","message":"bad state for key )") + kApiKey + R"(","ref":"r-9"})"));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    std::optional<PaletteError> error;
    try {
      co_await client.set_key_active("k1", false);
    } catch (const PaletteError& e) {
      error = e;
    }
    EXPECT_TRUE(error.has_value());
    if (error) {
      const std::string what = error->what();
      EXPECT_NE(what.find("InvalidArgument"), std::string::npos) << what;
      EXPECT_NE(what.find("400"), std::string::npos) << what;
      EXPECT_NE(what.find("/v1/apiKeys/k1/state"), std::string::npos) << what;
      EXPECT_EQ(what.find(kApiKey), std::string::npos) << what;
      EXPECT_FALSE(error->transient());
      EXPECT_EQ(error->http_status(), 400);
      EXPECT_EQ(error->code(), "InvalidArgument");
      EXPECT_EQ(error->attempts(), 1);
    }
    EXPECT_EQ(server.requests().size(), 1u);
  });
}

TEST(PaletteClient, UnauthorizedSaysTheKeyMustBelongToATenantAdmin) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(401, R"({"code":"Unauthorized","message":"invalid api key"})"));
    server.enqueue(ScriptedReply::json(403, ""));
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options_for(server));
    for (int i = 0; i < 2; ++i) {
      std::optional<PaletteError> error;
      try {
        co_await client.read_inventory();
      } catch (const PaletteError& e) {
        error = e;
      }
      EXPECT_TRUE(error && std::string(error->what()).find("tenant admin") != std::string::npos);
      EXPECT_TRUE(error && !error->transient());
    }
    EXPECT_EQ(server.requests().size(), 2u);
  });
}

TEST(PaletteClient, PacesRequestsAtTheConfiguredRate) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) { return ScriptedReply::json(204, ""); };
    PaletteClientOptions options = options_for(server);
    options.requests_per_second = 20;
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options);
    constexpr int kRequests = 6;
    const auto start = steady_clock::now();
    for (int i = 0; i < kRequests; ++i) co_await client.delete_key("k" + std::to_string(i));
    // N requests at R per second span at least (N-1)/R.
    EXPECT_GE(steady_clock::now() - start, milliseconds((kRequests - 1) * 1000 / 20));
    EXPECT_EQ(server.requests().size(), static_cast<size_t>(kRequests));
  });
}

TEST(PaletteClient, RetriesArePacedToo) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(503, ""));
    server.enqueue(ScriptedReply::json(503, ""));
    server.enqueue(ScriptedReply::json(204, ""));
    PaletteClientOptions options = options_for(server);
    options.requests_per_second = 10;
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options);
    const auto start = steady_clock::now();
    co_await client.delete_key("k1");
    EXPECT_GE(steady_clock::now() - start, milliseconds(200));
  });
}

// Callers that overlap on one client share its connection one at a time and
// its rate as a whole.
TEST(PaletteClient, ConcurrentCallersAreSerializedAndPacedTogether) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) { return ScriptedReply::json(204, ""); };
    PaletteClientOptions options = options_for(server);
    options.requests_per_second = 20;
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options);
    int done = 0;
    const auto start = steady_clock::now();
    for (int worker = 0; worker < 3; ++worker) {
      net::co_spawn(
          ex,
          [&client, &done, worker]() -> net::awaitable<void> {
            for (int i = 0; i < 2; ++i) {
              const std::string uid = "w" + std::to_string(worker) + "-" + std::to_string(i);
              co_await client.delete_key(uid);
            }
            ++done;
          },
          net::detached);
    }
    net::steady_timer poll(ex);
    while (done < 3) {
      poll.expires_after(milliseconds(5));
      co_await poll.async_wait(net::use_awaitable);
    }
    EXPECT_GE(steady_clock::now() - start, milliseconds(5 * 1000 / 20));
    EXPECT_EQ(server.requests().size(), 6u);
    EXPECT_EQ(server.connections(), 1);
  });
}

TEST(PaletteClient, TimesOutOnAServerThatNeverAnswers) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) { return ScriptedReply::with_action(Action::hang); };
    PaletteClientOptions options = options_for(server);
    options.timeout = milliseconds(150);
    options.max_attempts = 2;
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options);
    std::optional<PaletteError> error;
    const auto start = steady_clock::now();
    try {
      co_await client.read_inventory();
    } catch (const PaletteError& e) {
      error = e;
    }
    EXPECT_GE(steady_clock::now() - start, milliseconds(300));
    EXPECT_TRUE(error.has_value());
    if (error) {
      EXPECT_TRUE(error->transient());
      EXPECT_EQ(error->http_status(), 0);
      EXPECT_EQ(error->attempts(), 2);
      EXPECT_EQ(std::string(error->what()).find(kApiKey), std::string::npos);
    }
    EXPECT_EQ(client.stats().connection_errors, 2);
  });
}

TEST(PaletteClient, AMalformedKeyListIsAnErrorNotAPartialInventory) {
  for (const std::string& bad : {std::string("<html>gateway</html>"), std::string("{}"),
                                std::string(R"({"items":[{"metadata":{"name":"no-uid"}}]})"),
                                list({key("k1", "u1", ""), R"({"metadata":{"name":"no-uid"}})"})}) {
    run_with_server([&bad](ScriptedHttpServer& server) -> net::awaitable<void> {
      server.handler = [&bad](const RecordedRequest& r) {
        if (r.target == "/v1/apiKeys") return ScriptedReply::json(200, bad);
        return tenant(r);
      };
      auto ex = co_await net::this_coro::executor;
      PaletteClient client(ex, options_for(server));
      std::optional<PaletteError> error;
      try {
        co_await client.read_inventory();
      } catch (const PaletteError& e) {
        error = e;
      }
      EXPECT_TRUE(error.has_value()) << bad;
      if (error) {
        EXPECT_NE(std::string(error->what()).find("malformed"), std::string::npos) << error->what();
        EXPECT_FALSE(error->transient());
      }
    });
  }
}

TEST(PaletteClient, EndpointMayCarryAPathPrefix) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(204, ""));
    PaletteClientOptions options = options_for(server);
    options.endpoint = server.url() + "/palette/";
    auto ex = co_await net::this_coro::executor;
    PaletteClient client(ex, options);
    co_await client.delete_key("k1");
    EXPECT_EQ(server.requests().at(0).target, "/palette/v1/apiKeys/k1");
  });
}

TEST(PaletteClient, RejectsBadOptionsUpFront) {
  net::io_context io;
  PaletteClientOptions good;
  good.endpoint = "api.spectrocloud.com";  // https by default
  good.api_key = kApiKey;
  EXPECT_NO_THROW(PaletteClient(io.get_executor(), good));

  for (auto change : std::vector<std::function<void(PaletteClientOptions&)>>{
           [](PaletteClientOptions& o) { o.endpoint = "ftp://palette.example.com"; },
           [](PaletteClientOptions& o) { o.endpoint = "https://palette.example.com/?x=1"; },
           [](PaletteClientOptions& o) { o.api_key = ""; },
           [](PaletteClientOptions& o) { o.api_key += "\r\nProjectUid: p"; },
           [](PaletteClientOptions& o) { o.requests_per_second = 0; },
           [](PaletteClientOptions& o) { o.max_attempts = 0; },
           [](PaletteClientOptions& o) { o.timeout = milliseconds(0); },
       }) {
    PaletteClientOptions bad = good;
    change(bad);
    try {
      PaletteClient client(io.get_executor(), bad);
      ADD_FAILURE() << "accepted bad options";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).find(kApiKey), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace keywarden
