// The tenant model and the JSON shapes it renders, checked against the
// documented examples of reference/palette-api.md.
#include "palette-sim/sim_state.h"

#include <gtest/gtest.h>

#include "palette-sim/sim_routes.h"

namespace palette_sim {
namespace {

constexpr std::int64_t kNow = 1'726'498'000'000;  // 2024-09-16

Json seed() {
  return Json::parse(R"({
    "apiKey": "secret",
    "self": {"userUid": "aaaaaaaaaaaaaaaaaaaaaaaa", "tenantUid": "tttttttttttttttttttttttt", "orgName": "acme"},
    "users": [
      {"uid": "aaaaaaaaaaaaaaaaaaaaaaaa", "email": "admin@example.com", "firstName": "Ad", "lastName": "Min", "isActive": true},
      {"uid": "bbbbbbbbbbbbbbbbbbbbbbbb", "email": "jane.doe@example.com", "firstName": "Jane", "lastName": "Doe", "isActive": false}
    ],
    "keys": [
      {"uid": "66e844c44bab2337f20c7471", "name": "remove-me-test", "ownerUid": "bbbbbbbbbbbbbbbbbbbbbbbb",
       "isActive": true, "createdAt": "2024-09-16T14:46:28.677Z", "expiry": "2024-09-23T14:46:28.164Z"},
      {"uid": "cccccccccccccccccccccccc", "name": "orphan", "ownerUid": "ffffffffffffffffffffffff"}
    ]})");
}

TEST(TimeTest, FormatsWithMilliseconds) {
  EXPECT_EQ(format_time_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_time_ms(*parse_time_ms("2024-09-16T14:46:28.677Z")), "2024-09-16T14:46:28.677Z");
  EXPECT_EQ(format_time_ms(*parse_time_ms("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00.000Z");
}

TEST(TimeTest, ParsesRfc3339Variants) {
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(parse_time_ms("1970-01-01T02:00:00+02:00"), 0);
  EXPECT_EQ(parse_time_ms("1970-01-01t00:00:00.123456z"), 123);
  for (auto bad : {"", "2024-09-16", "2024-09-16T14:46:28", "2024-13-01T00:00:00Z", "2024-09-16T14:46:28.Z",
                   "2024-09-16T14:46:28Zjunk", "2024-09-16 14:46:28Z"})
    EXPECT_FALSE(parse_time_ms(bad)) << bad;
}

TEST(SimStateTest, KeyHasTheDocumentedShape) {
  auto st = SimState::from_seed(seed(), kNow);
  SimKey* k = st.find_key("66e844c44bab2337f20c7471");
  ASSERT_NE(k, nullptr);
  Json j = st.key_json(*k);
  EXPECT_EQ(j["metadata"]["uid"], "66e844c44bab2337f20c7471");
  EXPECT_EQ(j["metadata"]["name"], "remove-me-test");
  EXPECT_EQ(j["metadata"]["creationTimestamp"], "2024-09-16T14:46:28.677Z");
  EXPECT_EQ(j["metadata"]["deletionTimestamp"], "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(j["metadata"]["annotations"]["scope"], "tenant");
  EXPECT_EQ(j["metadata"]["annotations"]["description"], "");
  EXPECT_EQ(j["metadata"]["annotations"]["ownerUid"], "bbbbbbbbbbbbbbbbbbbbbbbb");
  EXPECT_EQ(j["spec"]["expiry"], "2024-09-23T14:46:28.164Z");
  EXPECT_EQ(j["spec"]["user"], Json::parse(R"({"uid":"bbbbbbbbbbbbbbbbbbbbbbbb","firstName":"Jane","lastName":"Doe"})"));
  EXPECT_FALSE(j["spec"].contains("key"));  // deprecated, never a secret
  EXPECT_EQ(j["status"]["isActive"], true);
}

TEST(SimStateTest, UserHasTheDocumentedShape) {
  auto st = SimState::from_seed(seed(), kNow);
  const SimUser* u = st.find_user("bbbbbbbbbbbbbbbbbbbbbbbb");
  ASSERT_NE(u, nullptr);
  Json j = st.user_json(*u);
  EXPECT_EQ(j["metadata"]["name"], "Jane Doe");
  EXPECT_EQ(j["spec"]["emailId"], "jane.doe@example.com");
  EXPECT_EQ(j["spec"]["roles"], Json::array());
  EXPECT_EQ(j["status"]["isActive"], false);
  EXPECT_EQ(st.user_info(), Json::parse(R"({"orgName":"acme","tenantUid":"tttttttttttttttttttttttt",
                                             "userUid":"aaaaaaaaaaaaaaaaaaaaaaaa"})"));
}

TEST(SimStateTest, DeletedOwnerLeavesKeysBehind) {
  auto st = SimState::from_seed(seed(), kNow);
  EXPECT_TRUE(st.delete_user("bbbbbbbbbbbbbbbbbbbbbbbb"));
  EXPECT_FALSE(st.delete_user("bbbbbbbbbbbbbbbbbbbbbbbb"));
  EXPECT_EQ(st.find_user("bbbbbbbbbbbbbbbbbbbbbbbb"), nullptr);
  EXPECT_EQ(st.listed_users().size(), 1u);
  SimKey* k = st.find_key("66e844c44bab2337f20c7471");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(st.key_json(*k)["spec"]["user"]["uid"], "bbbbbbbbbbbbbbbbbbbbbbbb");
  // Re-adding the user brings them back.
  st.upsert_users(Json::parse(R"([{"uid":"bbbbbbbbbbbbbbbbbbbbbbbb","email":"j@example.com"}])"), kNow);
  EXPECT_NE(st.find_user("bbbbbbbbbbbbbbbbbbbbbbbb"), nullptr);
}

TEST(SimStateTest, DefaultsFillMissingKeyFields) {
  auto st = SimState::from_seed(seed(), kNow);
  SimKey* k = st.find_key("cccccccccccccccccccccccc");
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(k->active);
  EXPECT_EQ(k->created_ms, kNow);
  EXPECT_EQ(k->expiry_ms, kNow + 30LL * 86'400'000);
  EXPECT_EQ(st.key_json(*k)["spec"]["user"]["firstName"], "");  // owner never known
}

TEST(SimStateTest, DeletedKeyIsGoneButDumped) {
  auto st = SimState::from_seed(seed(), kNow);
  st.delete_key(*st.find_key("cccccccccccccccccccccccc"), kNow);
  EXPECT_EQ(st.find_key("cccccccccccccccccccccccc"), nullptr);
  EXPECT_EQ(st.listed_keys().size(), 1u);
  Json d = st.dump();
  ASSERT_EQ(d["keys"].size(), 2u);
  EXPECT_EQ(d["keys"][1]["deleted"], true);
}

TEST(SimStateTest, BadSeedsAreRejectedWithAReason) {
  auto expect_error = [](const char* text, const char* needle) {
    try {
      SimState::from_seed(Json::parse(text), kNow);
      ADD_FAILURE() << "accepted " << text;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(R"([])", "object");
  expect_error(R"({"users":[{"email":"a@b"}]})", "uid");
  expect_error(R"({"users":[{"uid":"1","email":"a@b"},{"uid":"1","email":"c@d"}]})", "duplicate");
  expect_error(R"({"keys":[{"uid":"k","ownerUid":"u","expiry":"tomorrow"}]})", "expiry");
  expect_error(R"({"keys":[{"uid":"k","ownerUid":"u","isActive":"yes"}]})", "isActive");
  expect_error(R"({"users":{}})", "array");
}

TEST(SimStateTest, FailedUpsertChangesNothing) {
  auto st = SimState::from_seed(seed(), kNow);
  EXPECT_THROW(st.upsert_keys(Json::parse(R"([{"uid":"new","ownerUid":"x"},{"uid":"bad"}])"), kNow),
               std::invalid_argument);
  EXPECT_EQ(st.find_key("new"), nullptr);
}

TEST(SimStateTest, TeamHasTheDocumentedShapeAndOmitsDeletedUsers) {
  Json with_teams = seed();
  with_teams["teams"] = Json::parse(R"([
    {"uid": "t1", "name": "palette-admins", "users": ["aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb"],
     "roles": ["r1"], "createdAt": "2024-09-16T14:46:28.677Z"},
    {"uid": "t2", "name": "viewers"}])");
  auto st = SimState::from_seed(with_teams, kNow);
  ASSERT_EQ(st.teams().size(), 2u);
  // v1Team {metadata, spec{users[uids], roles[uids], sources[]}, status{}} (reference §3.1).
  EXPECT_EQ(st.team_json(st.teams()[0]), Json::parse(R"({
    "metadata": {"uid": "t1", "name": "palette-admins", "creationTimestamp": "2024-09-16T14:46:28.677Z",
                 "annotations": {}},
    "spec": {"users": ["aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb"], "roles": ["r1"], "sources": []},
    "status": {}})"));
  EXPECT_EQ(st.team_json(st.teams()[1])["spec"]["users"], Json::array());
  // Deleting a user takes them out of every team (reference §3.1, DELETE /v1/users/{uid}).
  ASSERT_TRUE(st.delete_user("bbbbbbbbbbbbbbbbbbbbbbbb"));
  EXPECT_EQ(st.team_json(*st.find_team("t1"))["spec"]["users"], Json::array({"aaaaaaaaaaaaaaaaaaaaaaaa"}));
}

TEST(SimStateTest, TeamsAreReplacedAndDeletedAllOrNothing) {
  auto st = SimState::from_seed(seed(), kNow);
  st.upsert_teams(Json::parse(R"([{"uid": "t1", "name": "ops", "users": ["aaaaaaaaaaaaaaaaaaaaaaaa"]}])"), kNow);
  st.upsert_teams(Json::parse(R"([{"uid": "t1", "name": "ops", "users": []}])"), kNow);
  ASSERT_EQ(st.teams().size(), 1u);
  EXPECT_TRUE(st.teams()[0].user_uids.empty());
  EXPECT_THROW(st.upsert_teams(Json::parse(R"([{"uid": "t2", "name": "x"}, {"uid": "t3"}])"), kNow),
               std::invalid_argument);  // no name
  EXPECT_THROW(st.upsert_teams(Json::parse(R"([{"uid": "t2", "name": "x", "users": "u1"}])"), kNow),
               std::invalid_argument);
  EXPECT_EQ(st.find_team("t2"), nullptr);
  EXPECT_TRUE(st.delete_team("t1"));
  EXPECT_FALSE(st.delete_team("t1"));
  EXPECT_TRUE(st.teams().empty());
}

TEST(ContinueTokenTest, MatchesTheDocumentedExample) {
  // reference/palette-api.md §3.4: first page of 117 users.
  EXPECT_EQ(SimRoutes::encode_continue(50, 117), "eyJvZmZzZXQiOjUwLCJjb3VudCI6MTE3LCJ0b2tlbiI6IiJ9");
  EXPECT_EQ(SimRoutes::decode_continue("eyJvZmZzZXQiOjUwLCJjb3VudCI6MTE3LCJ0b2tlbiI6IiJ9"), 50u);
  for (std::size_t n : {0, 1, 7, 100, 12345}) EXPECT_EQ(SimRoutes::decode_continue(SimRoutes::encode_continue(n, n)), n);
  EXPECT_FALSE(SimRoutes::decode_continue("not base64!"));
  EXPECT_FALSE(SimRoutes::decode_continue("e30="));  // {}
}

}  // namespace
}  // namespace palette_sim
