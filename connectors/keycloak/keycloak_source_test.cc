// KeycloakSource against a scripted Keycloak (token endpoint and Admin REST
// API as Keycloak documents them): complete reads only, paging, both group
// shapes, token renewal, retries, and admin events across restarts in both
// query forms.
#include "connectors/keycloak/keycloak_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>

#include "daemon/net/scripted_http_server_test.h"
#include "daemon/net/url.h"

namespace keywarden {
namespace {

namespace net = boost::asio;
using nlohmann::json;
using testing::RecordedRequest;
using testing::run_with_server;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;

const std::string kSecret = "kc-s3cret:with&odd=chars";
const std::string kAdmin = "/admin/realms/corp";
const std::string kTokenPath = "/realms/corp/protocol/openid-connect/token";

#define CO_ASSERT(cond, message)                             \
  do {                                                       \
    if (!(cond)) {                                           \
      ADD_FAILURE() << "failed: " #cond << " " << (message); \
      co_return;                                             \
    }                                                        \
  } while (0)

std::multimap<std::string, std::string> query_of(const std::string& target) {
  std::multimap<std::string, std::string> out;
  const size_t q = target.find('?');
  if (q == std::string::npos) return out;
  std::string rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    out.emplace(pair.substr(0, eq), eq == std::string::npos ? "" : *url_decode(pair.substr(eq + 1)));
    rest = amp == std::string::npos ? "" : rest.substr(amp + 1);
  }
  return out;
}

std::string param(const std::multimap<std::string, std::string>& q, const std::string& name, std::string fallback = "") {
  const auto it = q.find(name);
  return it == q.end() ? fallback : it->second;
}

struct FakeGroup {
  std::string id;
  std::string name;
  std::string parent;  // "" for top level
  std::vector<std::string> members;
};

struct FakeEvent {
  long long time;
  std::string id;  // "" for servers before 26.2
  std::string operation;
  std::string resource_type;
  std::string path;
};

// One realm of a Keycloak server. `modern` (23+ and 26.2+): top-level group
// listings carry subGroupCount with children under /children, and
// admin-events takes epoch-ms dateFrom and direction. Otherwise (before 23 /
// before 26.2): subgroups nested in subGroups, dateFrom only as yyyy-MM-dd
// (400 otherwise), events newest first.
struct FakeKeycloak {
  bool modern = true;
  bool admin_events_enabled = true;
  std::vector<json> users;  // UserRepresentation
  std::vector<FakeGroup> groups;
  std::vector<FakeEvent> events;
  std::optional<long long> count_override;
  int token_lifetime = 300;
  std::set<std::string> revoked_tokens;
  std::function<std::optional<ScriptedReply>(const RecordedRequest&)> intercept;
  std::vector<RecordedRequest> token_requests;
  std::vector<RecordedRequest> admin_requests;

  static ScriptedReply page(const json& all, const std::multimap<std::string, std::string>& q, int default_max) {
    const size_t first = std::stoul(param(q, "first", "0"));
    const size_t max = std::stoul(param(q, "max", std::to_string(default_max)));
    json out = json::array();
    for (size_t i = first; i < all.size() && out.size() < max; ++i) out.push_back(all[i]);
    return ScriptedReply::json(200, out.dump());
  }

  const FakeGroup* group(const std::string& id) const {
    for (const auto& g : groups) {
      if (g.id == id) return &g;
    }
    return nullptr;
  }
  std::string path_of(const FakeGroup& g) const {
    return (g.parent.empty() ? std::string() : path_of(*group(g.parent))) + "/" + g.name;
  }
  json group_json(const FakeGroup& g) const {
    json out{{"id", g.id}, {"name", g.name}, {"path", path_of(g)}};
    long long children = 0;
    json nested = json::array();
    for (const auto& c : groups) {
      if (c.parent == g.id) {
        ++children;
        nested.push_back(group_json(c));
      }
    }
    if (modern) {
      out["subGroupCount"] = children;
      out["subGroups"] = json::array();
    } else {
      out["subGroups"] = nested;
    }
    return out;
  }
  json user(const std::string& id) const {
    for (const auto& u : users) {
      if (u["id"] == id) return u;
    }
    return nullptr;
  }

  ScriptedReply handle(const RecordedRequest& r) {
    if (r.target == kTokenPath) {
      token_requests.push_back(r);
      if (r.header("authorization") != client_secret_basic("keywarden", kSecret) ||
          r.body != "grant_type=client_credentials") {
        return ScriptedReply::json(401, R"({"error":"unauthorized_client","error_description":"Invalid client credentials"})");
      }
      return ScriptedReply::json(200, json{{"access_token", "tok-" + std::to_string(token_requests.size())},
                                           {"expires_in", token_lifetime},
                                           {"token_type", "Bearer"}}
                                          .dump());
    }
    admin_requests.push_back(r);
    if (intercept) {
      if (auto reply = intercept(r)) return *reply;
    }
    const std::string auth = r.header("authorization");
    if (auth.rfind("Bearer tok-", 0) != 0 || revoked_tokens.count(auth.substr(7))) {
      return ScriptedReply::json(401, R"({"error":"HTTP 401 Unauthorized"})");
    }
    if (r.target.rfind(kAdmin, 0) != 0) return ScriptedReply::json(404, R"({"error":"Not Found"})");
    const std::string target = r.target.substr(kAdmin.size());
    const std::string path = target.substr(0, target.find('?'));
    const auto q = query_of(target);
    if (path == "/events/config") {
      return ScriptedReply::json(200, json{{"eventsEnabled", false}, {"adminEventsEnabled", admin_events_enabled},
                                           {"adminEventsDetailsEnabled", true}}
                                          .dump());
    }
    if (path == "/users/count") return ScriptedReply::json(200, std::to_string(count_override.value_or(users.size())));
    if (path == "/users") return page(json(users), q, 100);
    if (path == "/groups") {
      json top = json::array();
      for (const auto& g : groups) {
        if (g.parent.empty()) top.push_back(group_json(g));
      }
      return page(top, q, 100);
    }
    if (path == "/admin-events") return admin_events(q);
    if (path.rfind("/groups/", 0) == 0) {
      const std::string rest = path.substr(8);
      const std::string id = rest.substr(0, rest.find('/'));
      const std::string sub = rest.substr(id.size());
      const FakeGroup* g = group(id);
      if (!g) return ScriptedReply::json(404, R"({"error":"Could not find group by id"})");
      if (sub == "/children" && modern) {
        json children = json::array();
        for (const auto& c : groups) {
          if (c.parent == id) children.push_back(group_json(c));
        }
        return page(children, q, 10);
      }
      if (sub == "/members") {
        json members = json::array();
        for (const auto& m : g->members) {
          if (!user(m).is_null()) members.push_back(user(m));  // a deleted user leaves every group
        }
        return page(members, q, 100);
      }
    }
    if (path.rfind("/users/", 0) == 0) {
      const std::string rest = path.substr(7);
      const std::string id = rest.substr(0, rest.find('/'));
      const std::string sub = rest.substr(id.size());
      const json u = user(id);
      if (u.is_null()) return ScriptedReply::json(404, R"({"error":"User not found"})");
      if (sub.empty()) return ScriptedReply::json(200, u.dump());
      if (sub == "/groups") {
        json mine = json::array();
        for (const auto& g : groups) {
          if (std::find(g.members.begin(), g.members.end(), id) != g.members.end()) {
            mine.push_back(json{{"id", g.id}, {"name", g.name}, {"path", path_of(g)}});
          }
        }
        return page(mine, q, 100);
      }
    }
    return ScriptedReply::json(404, R"({"error":"Not Found"})");
  }

  ScriptedReply admin_events(const std::multimap<std::string, std::string>& q) {
    const std::string from = param(q, "dateFrom");
    long long from_ms = 0;
    if (!from.empty()) {
      const bool date = from.size() == 10 && from[4] == '-' && from[7] == '-';
      if (date) {
        // Parsed at midnight UTC (this fake's time zone).
        std::tm tm{};
        tm.tm_year = std::stoi(from.substr(0, 4)) - 1900;
        tm.tm_mon = std::stoi(from.substr(5, 2)) - 1;
        tm.tm_mday = std::stoi(from.substr(8, 2));
        from_ms = static_cast<long long>(timegm(&tm)) * 1000;
      } else if (modern) {
        from_ms = std::stoll(from);
      } else {
        return ScriptedReply::json(400, R"({"error":"Invalid value for 'Date(From)', expected format is yyyy-MM-dd"})");
      }
    }
    std::set<std::string> types, ops;
    for (auto [it, end] = q.equal_range("resourceTypes"); it != end; ++it) types.insert(it->second);
    for (auto [it, end] = q.equal_range("operationTypes"); it != end; ++it) ops.insert(it->second);
    std::vector<FakeEvent> chosen;
    for (const auto& e : events) {
      if (e.time < from_ms) continue;
      if (!types.empty() && !types.count(e.resource_type)) continue;
      if (!ops.empty() && !ops.count(e.operation)) continue;
      chosen.push_back(e);
    }
    const bool ascending = modern && param(q, "direction") == "asc";
    // Keycloak's store keeps insertion order within a millisecond.
    std::stable_sort(chosen.begin(), chosen.end(), [](const FakeEvent& a, const FakeEvent& b) { return a.time < b.time; });
    if (!ascending) std::reverse(chosen.begin(), chosen.end());
    json all = json::array();
    for (const auto& e : chosen) {
      json item{{"time", e.time}, {"realmId", "corp-id"}, {"operationType", e.operation},
                {"resourceType", e.resource_type}, {"resourcePath", e.path},
                {"authDetails", {{"realmId", "master"}, {"clientId", "admin-cli"}, {"userId", "admin-1"}}},
                {"representation", R"({"enabled":false})"}};
      if (modern && !e.id.empty()) item["id"] = e.id;
      all.push_back(item);
    }
    return page(all, q, 100);
  }

  void realm() {
    users = {json{{"id", "u-alice"}, {"username", "alice"}, {"email", "alice@example.com"}, {"enabled", true}},
             json{{"id", "u-bob"}, {"username", "bob"}, {"email", "bob@example.com"}, {"enabled", true}},
             json{{"id", "u-carol"}, {"username", "carol"}, {"email", "carol@example.com"}, {"enabled", false}},
             json{{"id", "u-dave"}, {"username", "dave"}, {"email", "dave@example.com"}, {"enabled", true}},
             json{{"id", "u-erin"}, {"username", "erin"}, {"enabled", true}}};
    groups = {FakeGroup{"g-eng", "engineering", "", {"u-dave"}},
              FakeGroup{"g-pal", "palette-users", "g-eng", {"u-alice", "u-bob", "u-carol"}},
              FakeGroup{"g-ops", "ops", "", {"u-bob"}},
              FakeGroup{"g-oncall", "oncall", "g-ops", {}},
              FakeGroup{"g-deep", "palette-admins", "g-oncall", {"u-erin"}},
              FakeGroup{"g-x1", "x1", "g-eng", {}},
              FakeGroup{"g-x2", "x2", "g-eng", {}}};
  }
};

class KeycloakSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("keycloak-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "secret") << kSecret << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SourceConfig config(const std::string& base) const {
    SourceConfig c;
    c.name = "corp-kc";
    c.type = "keycloak";
    c.settings["url"] = base + "/";
    c.settings["realm"] = "corp";
    c.settings["client_id"] = "keywarden";
    c.settings["client_secret_file"] = (dir_ / "secret").string();
    return c;
  }

  static KeycloakRetryPolicy fast() {
    KeycloakRetryPolicy p;
    p.max_attempts = 3;
    p.backoff = Backoff{std::chrono::milliseconds(1), std::chrono::milliseconds(5), 0.5};
    p.timeout = std::chrono::milliseconds(5000);
    return p;
  }
  static KeycloakReadOptions small_pages() {
    KeycloakReadOptions o;
    o.page_size = 2;
    return o;
  }

  template <class Body>
  void with_keycloak(Body body, bool modern = true, KeycloakReadOptions options = small_pages()) {
    run_with_server([&](ScriptedHttpServer& server) -> net::awaitable<void> {
      FakeKeycloak kc;
      kc.modern = modern;
      kc.realm();
      server.handler = [&kc](const RecordedRequest& r) { return kc.handle(r); };
      auto ex = co_await net::this_coro::executor;
      KeycloakSource source(config(server.url()), ex, fast(), options);
      auto op = body(source, kc, server);
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

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

struct ReadOutcome {
  std::optional<FullRead> read;
  std::string error;
};

net::awaitable<ReadOutcome> try_read_all(KeycloakSource& source) {
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

struct ChangesOutcome {
  std::optional<ChangeSet> changes;
  std::string error;
};

net::awaitable<ChangesOutcome> try_read_changes(KeycloakSource& source, std::map<std::string, std::string> state) {
  ChangesOutcome outcome;
  try {
    auto op = source.read_changes(std::move(state));
    ChangeSet changes = co_await std::move(op);
    outcome.changes = std::move(changes);
  } catch (const SourceReadError& e) {
    outcome.error = e.what();
  }
  co_return outcome;
}

int count_requests(const FakeKeycloak& kc, const std::string& prefix) {
  return static_cast<int>(std::count_if(kc.admin_requests.begin(), kc.admin_requests.end(), [&](const RecordedRequest& r) {
    return r.target.rfind(kAdmin + prefix, 0) == 0;
  }));
}

void expect_full_directory(const FullRead& read) {
  EXPECT_EQ(read.identities.size(), 5u);
  const Identity* alice = find(read.identities, "u-alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->email, "alice@example.com");
  EXPECT_EQ(alice->user_name, "alice");
  EXPECT_EQ(alice->status, IdentityStatus::active);
  EXPECT_EQ(sorted(alice->groups), sorted({"palette-users", "/engineering/palette-users"}));
  const Identity* carol = find(read.identities, "u-carol");
  ASSERT_NE(carol, nullptr) << "a disabled user is listed too";
  EXPECT_EQ(carol->status, IdentityStatus::inactive);
  EXPECT_EQ(carol->status_detail, "enabled false in Keycloak");
  EXPECT_EQ(sorted(find(read.identities, "u-bob")->groups),
            sorted({"palette-users", "/engineering/palette-users", "ops", "/ops"}));
  // Membership is direct: a member of a subgroup is not in the parent, and
  // the parent's member is not in the subgroup.
  EXPECT_EQ(sorted(find(read.identities, "u-dave")->groups), sorted({"engineering", "/engineering"}));
  EXPECT_EQ(sorted(find(read.identities, "u-erin")->groups),
            sorted({"palette-admins", "/ops/oncall/palette-admins"}))
      << "a group three levels down is found and named by its full path";
  EXPECT_EQ(find(read.identities, "u-erin")->email, "");
}

TEST_F(KeycloakSourceTest, AFullReadOfAModernServerFollowsChildrenListings) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    expect_full_directory(*outcome.read);
    // engineering has three children over two pages of /children.
    EXPECT_EQ(count_requests(kc, "/groups/g-eng/children"), 2);
    EXPECT_EQ(count_requests(kc, "/groups/g-oncall/children"), 1);
    const auto position = AdminEventPosition::from_json(outcome.read->cursors.at("admin_events_position"));
    CO_ASSERT(position, "");
    EXPECT_FALSE(position->date_only);
    EXPECT_EQ(json::parse(outcome.read->cursors.at("status_json")), json({{"admin_events", "recorded"}}));
    EXPECT_EQ(kc.token_requests.size(), 1u);
    for (const auto& r : kc.admin_requests) EXPECT_EQ(r.header("authorization"), "Bearer tok-1");
  });
}

TEST_F(KeycloakSourceTest, AFullReadOfAnOlderServerTakesNestedSubgroups) {
  with_keycloak(
      [](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
        auto op = try_read_all(source);
        ReadOutcome outcome = co_await std::move(op);
        CO_ASSERT(outcome.read, outcome.error);
        expect_full_directory(*outcome.read);
        EXPECT_EQ(count_requests(kc, "/groups/g-eng/children"), 0) << "nested subgroups need no /children";
      },
      /*modern=*/false);
}

TEST_F(KeycloakSourceTest, APageShorterThanMaxEndsAListing) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    std::vector<std::string> user_pages;
    for (const auto& r : kc.admin_requests) {
      if (r.target.rfind(kAdmin + "/users?", 0) == 0) user_pages.push_back(query_of(r.target).find("first")->second);
    }
    // Five users, max=2: pages at 0, 2 and 4; the third (one user) ends it.
    EXPECT_EQ(user_pages, (std::vector<std::string>{"0", "2", "4"}));
    for (const auto& r : kc.admin_requests) {
      if (r.target.rfind(kAdmin + "/users?", 0) == 0) {
        EXPECT_EQ(param(query_of(r.target), "max"), "2");
        EXPECT_EQ(param(query_of(r.target), "enabled"), "") << "no filter: disabled users are needed";
      }
    }
    // Four users: a full last page, so one more (empty) page ends it.
    kc.users.pop_back();
    kc.admin_requests.clear();
    auto again = try_read_all(source);
    ReadOutcome second = co_await std::move(again);
    CO_ASSERT(second.read, second.error);
    EXPECT_EQ(count_requests(kc, "/users?"), 3);
  });
}

TEST_F(KeycloakSourceTest, ACutOffOrFailedPageFailsTheWholeRead) {
  struct Case {
    std::string name;
    ScriptedReply reply;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"cut off", ScriptedReply::with_action(ScriptedReply::Action::partial), "giving up after 3 attempts"},
      {"dropped", ScriptedReply::with_action(ScriptedReply::Action::drop), "giving up after 3 attempts"},
      {"server error", ScriptedReply::json(500, R"({"error":"unknown_error"})"), "HTTP 500"},
      {"forbidden", ScriptedReply::json(403, R"({"error":"HTTP 403 Forbidden"})"), "HTTP 403"},
      {"malformed", ScriptedReply::json(200, R"([{"id":"u-x")"), "malformed JSON"},
      {"not a user", ScriptedReply::json(200, R"([{"username":"x","enabled":true}])"), "no \"id\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (const std::string where : {"/users?briefRepresentation=true&first=2", "/groups/g-eng/children",
                                    "/groups/g-pal/members?briefRepresentation=true&first=2"}) {
      SCOPED_TRACE(where);
      with_keycloak([&](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
        kc.intercept = [&](const RecordedRequest& r) -> std::optional<ScriptedReply> {
          if (r.target.rfind(kAdmin + where, 0) == 0) return c.reply;
          return std::nullopt;
        };
        auto op = try_read_all(source);
        ReadOutcome outcome = co_await std::move(op);
        EXPECT_FALSE(outcome.read) << "never a partial directory";
        EXPECT_NE(outcome.error.find(c.expect), std::string::npos) << outcome.error;
        EXPECT_NE(outcome.error.find("keycloak source \"corp-kc\""), std::string::npos) << outcome.error;
        EXPECT_EQ(outcome.error.find("tok-"), std::string::npos) << outcome.error;
      });
    }
  }
}

TEST_F(KeycloakSourceTest, AUsersListingThatDisagreesWithTheCountFailsTheRead) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    kc.count_override = 6;
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    EXPECT_FALSE(outcome.read);
    EXPECT_NE(outcome.error.find("listed 5 users but /users/count says 6"), std::string::npos) << outcome.error;
    // A user created while the listing ran: the count after it agrees.
    int counts = 0;
    kc.count_override.reset();
    kc.intercept = [&](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.target == kAdmin + "/users/count" && counts++ == 0) return ScriptedReply::json(200, "4");
      return std::nullopt;
    };
    auto again = try_read_all(source);
    ReadOutcome second = co_await std::move(again);
    EXPECT_TRUE(second.read) << second.error;
  });
}

TEST_F(KeycloakSourceTest, ATokenClientAuthenticatesWithClientSecretBasic) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    CO_ASSERT(kc.token_requests.size() == 1u, "");
    const RecordedRequest& token = kc.token_requests[0];
    EXPECT_EQ(token.method, "POST");
    EXPECT_EQ(token.header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(token.body, "grant_type=client_credentials") << "the secret travels only in the Basic header";
    // RFC 6749 §2.3.1: form-urlencoded id and secret, then base64.
    EXPECT_EQ(client_secret_basic("keywarden", kSecret),
              "Basic a2V5d2FyZGVuOmtjLXMzY3JldCUzQXdpdGglMjZvZGQlM0RjaGFycw==");
    EXPECT_EQ(token.header("authorization"), client_secret_basic("keywarden", kSecret));
  });
}

TEST_F(KeycloakSourceTest, ATokenRevokedMidReadIsRenewedAndThePageRetried) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    kc.intercept = [&](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      // The session ends (an admin logs the service account out) in the
      // middle of the group members.
      if (r.target.find("/groups/g-pal/members") != std::string::npos) kc.revoked_tokens.insert("tok-1");
      return std::nullopt;
    };
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    expect_full_directory(*outcome.read);
    EXPECT_EQ(kc.token_requests.size(), 2u);
    EXPECT_EQ(kc.admin_requests.back().header("authorization"), "Bearer tok-2");
  });
}

TEST_F(KeycloakSourceTest, ATokenRefusedTwiceFailsTheReadWithoutLooping) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    kc.intercept = [](const RecordedRequest&) -> std::optional<ScriptedReply> {
      return ScriptedReply::json(401, R"({"error":"HTTP 401 Unauthorized"})");
    };
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    EXPECT_FALSE(outcome.read);
    EXPECT_NE(outcome.error.find("HTTP 401"), std::string::npos) << outcome.error;
    EXPECT_EQ(kc.token_requests.size(), 2u);
  });
}

TEST_F(KeycloakSourceTest, ATokenIsRenewedBeforeItExpires) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    kc.token_lifetime = 4;  // renewed after half of it (the margin is capped at lifetime / 2)
    auto first = try_read_all(source);
    ReadOutcome one = co_await std::move(first);
    CO_ASSERT(one.read, one.error);
    auto second = try_read_all(source);
    ReadOutcome two = co_await std::move(second);
    CO_ASSERT(two.read, two.error);
    EXPECT_EQ(kc.token_requests.size(), 1u) << "a valid token is reused";
    auto ex = co_await net::this_coro::executor;
    net::steady_timer timer(ex, std::chrono::milliseconds(2100));
    auto wait_op = timer.async_wait(net::use_awaitable);
    co_await std::move(wait_op);
    const size_t before = kc.admin_requests.size();
    auto third = try_read_all(source);
    ReadOutcome three = co_await std::move(third);
    CO_ASSERT(three.read, three.error);
    EXPECT_EQ(kc.token_requests.size(), 2u);
    for (size_t i = before; i < kc.admin_requests.size(); ++i) {
      EXPECT_EQ(kc.admin_requests[i].header("authorization"), "Bearer tok-2") << "renewed before use, not after a 401";
    }
  });
}

TEST_F(KeycloakSourceTest, ThrottlingAndServerErrorsAreRetriedHonouringRetryAfter) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    int throttled = 0, failed = 0;
    kc.intercept = [&](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.target.find("/users?briefRepresentation=true&first=2") != std::string::npos && throttled++ == 0) {
        auto reply = ScriptedReply::json(429, R"({"error":"too_many_requests"})");
        reply.headers.emplace_back("Retry-After", "1");
        return reply;
      }
      if (r.target.find("/groups/g-ops/members") != std::string::npos && failed++ < 2) {
        return ScriptedReply::json(503, "");
      }
      return std::nullopt;
    };
    const auto start = std::chrono::steady_clock::now();
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    expect_full_directory(*outcome.read);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950))
        << "backoff is at most 5 ms here: only Retry-After explains the wait";
    EXPECT_EQ(throttled, 2);
    EXPECT_EQ(failed, 3);
  });
}

TEST_F(KeycloakSourceTest, ATokenErrorNamesTheProblemNeverTheSecret) {
  run_with_server([this](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) {
      return ScriptedReply::json(401, json{{"error", "unauthorized_client"},
                                           {"error_description", "Invalid client secret " + kSecret}}
                                          .dump());
    };
    auto ex = co_await net::this_coro::executor;
    KeycloakSource source(config(server.url()), ex, fast(), small_pages());
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    EXPECT_FALSE(outcome.read);
    EXPECT_NE(outcome.error.find("HTTP 401 unauthorized_client"), std::string::npos) << outcome.error;
    EXPECT_EQ(outcome.error.find("s3cret"), std::string::npos) << outcome.error;
  });
}

// ---- Admin events -----------------------------------------------------------

const long long kDay = 1795000000000LL - 1795000000000LL % 86400000LL + 43200000LL;  // noon UTC of some day

std::map<std::string, std::string> state_at(long long time, bool date_only = false) {
  AdminEventPosition position;
  position.time = time;
  position.date_only = date_only;
  return {{"admin_events_position", position.to_json()}, {"status_json", keycloak_status_json(AdminEventsRecording::recorded)}};
}

std::vector<std::string> reread_users(const FakeKeycloak& kc) {
  std::vector<std::string> ids;
  for (const auto& r : kc.admin_requests) {
    const std::string target = r.target.substr(kAdmin.size());
    if (target.rfind("/users/u-", 0) == 0 && target.find("/groups") == std::string::npos) ids.push_back(target.substr(7));
  }
  return ids;
}

TEST_F(KeycloakSourceTest, AdminEventsReReadTheUsersTheyName) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    // alice disabled (a plain UPDATE whose representation is partial), bob
    // deleted, dave removed from engineering, erin added to palette-users.
    kc.users[0]["enabled"] = false;
    kc.users.erase(kc.users.begin() + 1);
    kc.groups[0].members.clear();
    kc.groups[1].members.push_back("u-erin");
    kc.events = {{kDay + 10, "e1", "UPDATE", "USER", "users/u-alice"},
                 {kDay + 20, "e2", "DELETE", "USER", "users/u-bob"},
                 {kDay + 30, "e3", "DELETE", "GROUP_MEMBERSHIP", "users/u-dave/groups/g-eng"},
                 {kDay + 40, "e4", "CREATE", "GROUP_MEMBERSHIP", "users/u-erin/groups/g-pal"},
                 {kDay - 10, "e0", "UPDATE", "USER", "users/u-carol"}};
    auto op = try_read_changes(source, state_at(kDay));
    ChangesOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.changes, outcome.error);
    const ChangeSet& changes = *outcome.changes;
    EXPECT_FALSE(changes.resync_required);
    EXPECT_TRUE(changes.groups_known);
    CO_ASSERT(changes.identities.size() == 4u, changes.identities.size());
    EXPECT_EQ(changes.identities[0].subject_id, "u-alice");
    EXPECT_EQ(changes.identities[0].status, IdentityStatus::inactive);
    EXPECT_EQ(sorted(changes.identities[0].groups), sorted({"palette-users", "/engineering/palette-users"}));
    EXPECT_EQ(changes.identities[1].subject_id, "u-bob");
    EXPECT_EQ(changes.identities[1].status, IdentityStatus::deleted);
    EXPECT_EQ(changes.identities[2].subject_id, "u-dave");
    EXPECT_TRUE(changes.identities[2].groups.empty());
    EXPECT_EQ(changes.identities[3].subject_id, "u-erin");
    EXPECT_EQ(sorted(changes.identities[3].groups),
              sorted({"palette-users", "/engineering/palette-users", "palette-admins", "/ops/oncall/palette-admins"}));
    const auto position = AdminEventPosition::from_json(changes.cursors.at("admin_events_position"));
    CO_ASSERT(position, "");
    EXPECT_EQ(position->time, kDay + 40);
    EXPECT_EQ(position->seen, std::set<std::string>{"e4"});
    // The query: both resource types, epoch-ms dateFrom, oldest first.
    bool asked = false;
    for (const auto& r : kc.admin_requests) {
      if (r.target.find("/admin-events?") == std::string::npos) continue;
      asked = true;
      const auto q = query_of(r.target);
      EXPECT_EQ(param(q, "dateFrom"), std::to_string(kDay));
      EXPECT_EQ(param(q, "direction"), "asc");
      EXPECT_EQ(q.count("resourceTypes"), 2u);
    }
    EXPECT_TRUE(asked);
  });
}

TEST_F(KeycloakSourceTest, EventsAtTheSameMillisecondAreAppliedOnceAcrossRestarts) {
  run_with_server([this](ScriptedHttpServer& server) -> net::awaitable<void> {
    FakeKeycloak kc;
    kc.realm();
    server.handler = [&kc](const RecordedRequest& r) { return kc.handle(r); };
    auto ex = co_await net::this_coro::executor;
    kc.events = {{kDay + 5, "e1", "UPDATE", "USER", "users/u-alice"},
                 {kDay + 5, "e2", "UPDATE", "USER", "users/u-bob"}};
    std::map<std::string, std::string> state = state_at(kDay);
    {
      KeycloakSource source(config(server.url()), ex, fast(), small_pages());
      auto op = try_read_changes(source, state);
      ChangesOutcome outcome = co_await std::move(op);
      CO_ASSERT(outcome.changes, outcome.error);
      EXPECT_EQ(reread_users(kc), (std::vector<std::string>{"u-alice", "u-bob"}));
      for (const auto& [k, v] : outcome.changes->cursors) state[k] = v;
    }
    // keywarden restarts; meanwhile carol changes in the very same millisecond.
    kc.events.push_back({kDay + 5, "e3", "UPDATE", "USER", "users/u-carol"});
    kc.admin_requests.clear();
    {
      KeycloakSource source(config(server.url()), ex, fast(), small_pages());
      auto op = try_read_changes(source, state);
      ChangesOutcome outcome = co_await std::move(op);
      CO_ASSERT(outcome.changes, outcome.error);
      EXPECT_EQ(reread_users(kc), (std::vector<std::string>{"u-carol"})) << "e1 and e2 are not applied again, e3 not lost";
      for (const auto& [k, v] : outcome.changes->cursors) state[k] = v;
    }
    kc.admin_requests.clear();
    {
      KeycloakSource source(config(server.url()), ex, fast(), small_pages());
      auto op = try_read_changes(source, state);
      ChangesOutcome outcome = co_await std::move(op);
      CO_ASSERT(outcome.changes, outcome.error);
      EXPECT_TRUE(outcome.changes->identities.empty());
      EXPECT_TRUE(reread_users(kc).empty());
    }
  });
}

TEST_F(KeycloakSourceTest, AnOlderServerIsReadWithADateOnlyDateFromNewestFirst) {
  with_keycloak(
      [](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
        // No event ids before 26.2: same-millisecond events are told apart
        // by their content. 2 a page, newest first: 3 pages back.
        kc.events = {{kDay - 2 * 86400000LL, "", "UPDATE", "USER", "users/u-erin"},
                     {kDay - 100, "", "UPDATE", "USER", "users/u-dave"},
                     {kDay + 7, "", "UPDATE", "USER", "users/u-alice"},
                     {kDay + 7, "", "DELETE", "GROUP_MEMBERSHIP", "users/u-bob/groups/g-ops"},
                     {kDay + 9, "", "UPDATE", "USER", "users/u-carol"}};
        std::map<std::string, std::string> state = state_at(kDay);
        auto op = try_read_changes(source, state);
        ChangesOutcome outcome = co_await std::move(op);
        CO_ASSERT(outcome.changes, outcome.error);
        EXPECT_EQ(reread_users(kc), (std::vector<std::string>{"u-alice", "u-bob", "u-carol"}))
            << "oldest first, and nothing before the position (dave's event is earlier that day)";
        std::vector<std::string> date_froms;
        for (const auto& r : kc.admin_requests) {
          if (r.target.find("/admin-events?") != std::string::npos) date_froms.push_back(param(query_of(r.target), "dateFrom"));
        }
        CO_ASSERT(date_froms.size() >= 2u, date_froms.size());
        EXPECT_EQ(date_froms[0], std::to_string(kDay)) << "epoch ms first";
        EXPECT_EQ(date_froms[1], utc_date_of(kDay - 86400000LL)) << "then the day before, as yyyy-MM-dd";
        const auto position = AdminEventPosition::from_json(outcome.changes->cursors.at("admin_events_position"));
        CO_ASSERT(position, "");
        EXPECT_TRUE(position->date_only) << "the form is remembered";
        EXPECT_EQ(position->time, kDay + 9);
        for (const auto& [k, v] : outcome.changes->cursors) state[k] = v;

        // Next poll: one more event in the same millisecond as carol's.
        kc.events.push_back({kDay + 9, "", "DELETE", "USER", "users/u-erin"});
        kc.users.pop_back();
        kc.admin_requests.clear();
        auto again = try_read_changes(source, state);
        ChangesOutcome second = co_await std::move(again);
        CO_ASSERT(second.changes, second.error);
        EXPECT_EQ(reread_users(kc), (std::vector<std::string>{"u-erin"}));
        CO_ASSERT(second.changes->identities.size() == 1u, "");
        EXPECT_EQ(second.changes->identities[0].status, IdentityStatus::deleted);
        for (const auto& r : kc.admin_requests) {
          if (r.target.find("/admin-events?") != std::string::npos) {
            EXPECT_EQ(param(query_of(r.target), "dateFrom"), utc_date_of(kDay - 86400000LL)) << "no epoch retry";
          }
        }
      },
      /*modern=*/false);
}

TEST_F(KeycloakSourceTest, ARealmThatRecordsNoAdminEventsAsksForFullReads) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    kc.admin_events_enabled = false;
    auto op = try_read_all(source);
    ReadOutcome outcome = co_await std::move(op);
    CO_ASSERT(outcome.read, outcome.error);
    EXPECT_EQ(json::parse(outcome.read->cursors.at("status_json")),
              json({{"admin_events", "not recorded by the realm; full reads every poll_interval"}}));
    auto changes_op = try_read_changes(source, outcome.read->cursors);
    ChangesOutcome changes = co_await std::move(changes_op);
    CO_ASSERT(changes.changes, changes.error);
    EXPECT_TRUE(changes.changes->resync_required);
    EXPECT_EQ(count_requests(kc, "/admin-events"), 0);
  });
}

TEST_F(KeycloakSourceTest, AFailedEventsPageFailsTheIncrementalReadAndKeepsThePosition) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak& kc, ScriptedHttpServer&) -> net::awaitable<void> {
    kc.events = {{kDay + 1, "e1", "UPDATE", "USER", "users/u-alice"},
                 {kDay + 2, "e2", "UPDATE", "USER", "users/u-bob"},
                 {kDay + 3, "e3", "UPDATE", "USER", "users/u-carol"}};
    kc.intercept = [](const RecordedRequest& r) -> std::optional<ScriptedReply> {
      if (r.target.find("/admin-events?") != std::string::npos && r.target.find("first=2") != std::string::npos) {
        return ScriptedReply::with_action(ScriptedReply::Action::partial);
      }
      return std::nullopt;
    };
    auto op = try_read_changes(source, state_at(kDay));
    ChangesOutcome outcome = co_await std::move(op);
    EXPECT_FALSE(outcome.changes);
    EXPECT_NE(outcome.error.find("admin-events"), std::string::npos) << outcome.error;
  });
}

TEST_F(KeycloakSourceTest, AMissingOrUnreadablePositionAsksForAFullRead) {
  with_keycloak([](KeycloakSource& source, FakeKeycloak&, ScriptedHttpServer&) -> net::awaitable<void> {
    std::vector<std::map<std::string, std::string>> states = {
        {}, {{"admin_events_position", "{}"}}, {{"admin_events_position", R"({"time":5,"seen":[],"form":"x"})"}}};
    for (const auto& state : states) {
      auto op = try_read_changes(source, state);
      ChangesOutcome outcome = co_await std::move(op);
      CO_ASSERT(outcome.changes, outcome.error);
      EXPECT_TRUE(outcome.changes->resync_required);
    }
  });
}

// ---- Pure position logic ------------------------------------------------------

KeycloakAdminEvent event(long long time, std::string id, std::string path = "users/u-1") {
  KeycloakAdminEvent e;
  e.time = time;
  e.id = std::move(id);
  e.operation = "UPDATE";
  e.resource_type = "USER";
  e.resource_path = std::move(path);
  return e;
}

std::vector<std::string> ids(const std::vector<KeycloakAdminEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

TEST(AdminEventPositionTest, NewestFirstPagesAreAppliedOldestFirstWithTiesInServerOrderReversed) {
  AdminEventPosition position;
  position.time = 100;
  position.seen = {"a"};
  const auto fresh = events_after({event(300, "d"), event(200, "c2"), event(200, "c1"), event(100, "b"),
                                   event(100, "a"), event(50, "old")},
                                  position);
  EXPECT_EQ(ids(fresh), (std::vector<std::string>{"b", "c1", "c2", "d"}));
  const AdminEventPosition next = advance(position, fresh);
  EXPECT_EQ(next.time, 300);
  EXPECT_EQ(next.seen, std::set<std::string>{"d"});
}

TEST(AdminEventPositionTest, SeenKeysAccumulateWithinOneMillisecond) {
  AdminEventPosition position;
  position.time = 100;
  position.seen = {"a"};
  const auto fresh = events_after({event(100, "a"), event(100, "b"), event(100, "b")}, position);
  EXPECT_EQ(ids(fresh), (std::vector<std::string>{"b"})) << "a shifted page shows b twice: once";
  EXPECT_EQ(advance(position, fresh).seen, (std::set<std::string>{"a", "b"}));
}

TEST(AdminEventPositionTest, EventsWithoutIdsAreToldApartByContent) {
  EXPECT_NE(event(1, "", "users/a").key(), event(1, "", "users/b").key());
  KeycloakAdminEvent create = event(1, "", "users/a/groups/g");
  create.operation = "CREATE";
  KeycloakAdminEvent remove = create;
  remove.operation = "DELETE";
  EXPECT_NE(create.key(), remove.key());
  EXPECT_EQ(create.subject_user(), "a");
  EXPECT_EQ(event(1, "", "groups/g").subject_user(), "");
}

TEST(AdminEventPositionTest, RoundTripsAndRefusesGarbage) {
  AdminEventPosition position;
  position.time = 1795000000123;
  position.seen = {"x", "y"};
  position.date_only = true;
  const auto back = AdminEventPosition::from_json(position.to_json());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->time, position.time);
  EXPECT_EQ(back->seen, position.seen);
  EXPECT_TRUE(back->date_only);
  EXPECT_FALSE(AdminEventPosition::from_json("not json"));
  EXPECT_FALSE(AdminEventPosition::from_json(R"({"time":"1","seen":[],"form":"epoch"})"));
  EXPECT_FALSE(AdminEventPosition::from_json(R"({"time":1,"seen":[],"form":"other"})"));
}

TEST(AdminEventPositionTest, DateFromIsEpochMillisecondsOrTheUtcDayBefore) {
  AdminEventPosition position;
  position.time = 1795000000123;  // 2026-11-18T11:06:40.123Z
  EXPECT_EQ(admin_events_date_from(position), "1795000000123");
  position.date_only = true;
  EXPECT_EQ(admin_events_date_from(position), "2026-11-17");
  EXPECT_EQ(utc_date_of(0), "1970-01-01");
  EXPECT_EQ(utc_date_of(951782400000), "2000-02-29");
}

TEST(KeycloakGroupTest, PathIsBuiltWhenAbsentAndChildrenAreListedOnlyWhenCountedButNotNested) {
  const KeycloakGroup nested = keycloak_group_from_json(
      json::parse(R"({"id":"p","name":"eng","subGroups":[{"id":"c","name":"pal","subGroups":[]}]})"), "");
  EXPECT_EQ(nested.path, "/eng");
  ASSERT_EQ(nested.nested.size(), 1u);
  EXPECT_EQ(nested.nested[0].path, "/eng/pal");
  EXPECT_FALSE(needs_children_listing(nested));
  const KeycloakGroup counted =
      keycloak_group_from_json(json::parse(R"({"id":"p","name":"eng","path":"/eng","subGroupCount":3,"subGroups":[]})"), "");
  EXPECT_TRUE(needs_children_listing(counted));
  const KeycloakGroup leaf =
      keycloak_group_from_json(json::parse(R"({"id":"p","name":"eng","path":"/eng","subGroupCount":0})"), "");
  EXPECT_FALSE(needs_children_listing(leaf));
  EXPECT_THROW(keycloak_group_from_json(json::parse(R"({"id":"p"})"), ""), KeycloakFormatError);
}

}  // namespace
}  // namespace keywarden
