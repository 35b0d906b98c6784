#include "daemon/palette/palette_json.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

// The list response from the delete-api-key doc (reference §2.2), verbatim
// apart from the masked uids.
constexpr const char* kDocumentedKeyList = R"({ "items": [ {
  "metadata": {
    "annotations": { "description": "", "ownerUid": "owner-1", "permissions": "apiKey.create,apiKey.delete,apiKey.get,apiKey.list,apiKey.update,tag.update",
                     "scope": "tenant", "scopeVisibility": "20", "tenantUid": "tenant-1" },
    "creationTimestamp": "2024-09-16T14:46:28.677Z",
    "deletionTimestamp": "0001-01-01T00:00:00.000Z",
    "lastModifiedTimestamp": "2024-09-16T14:46:29.079Z",
    "name": "remove-me-test",
    "uid": "66e844c44bab2337f20c7471" },
  "spec":   { "expiry": "2024-09-23T14:46:28.164Z",
              "user": { "firstName": "example", "lastName": "example", "uid": "user-1" } },
  "status": { "isActive": true } } ] })";

TEST(ParseKeysPage, ReadsTheDocumentedListResponse) {
  const PaletteKeysPage page = parse_keys_page(kDocumentedKeyList);
  ASSERT_EQ(page.keys.size(), 1u);
  const PaletteKey& key = page.keys[0];
  EXPECT_EQ(key.uid, "66e844c44bab2337f20c7471");
  EXPECT_EQ(key.name, "remove-me-test");
  EXPECT_EQ(key.owner_uid, "user-1");  // spec.user.uid, not annotations.ownerUid
  EXPECT_TRUE(key.active);
  EXPECT_EQ(format_rfc3339(key.created_at), "2024-09-16T14:46:28Z");
  ASSERT_TRUE(key.expiry);
  EXPECT_EQ(format_rfc3339(*key.expiry), "2024-09-23T14:46:28Z");
  EXPECT_EQ(page.continue_token, "");
}

TEST(ParseKeysPage, ZeroTimeOrAbsentExpiryIsNoExpiry) {
  const PaletteKeysPage page = parse_keys_page(R"({"items":[
    {"metadata":{"uid":"a","creationTimestamp":"2025-01-01T00:00:00Z"},"spec":{"expiry":"0001-01-01T00:00:00.000Z"}},
    {"metadata":{"uid":"b","creationTimestamp":"2025-01-01T00:00:00Z"},"spec":{}},
    {"metadata":{"uid":"c","creationTimestamp":"2025-01-01T00:00:00Z"},"spec":{"expiry":null}},
    {"metadata":{"uid":"d","creationTimestamp":"2025-01-01T00:00:00Z"},"spec":{"expiry":""}},
    {"metadata":{"uid":"e","creationTimestamp":"2025-01-01T00:00:00Z"},"spec":{"expiry":"2026-02-03T04:05:06Z"}}
  ]})");
  ASSERT_EQ(page.keys.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(page.keys[i].expiry) << page.keys[i].uid;
  ASSERT_TRUE(page.keys[4].expiry);  // no fractional seconds is fine too
  EXPECT_EQ(format_rfc3339(*page.keys[4].expiry), "2026-02-03T04:05:06Z");
}

TEST(ParseKeysPage, ReadsRevokedKeysAndDefaults) {
  const PaletteKeysPage page = parse_keys_page(R"({"items":[
    {"metadata":{"uid":"a","creationTimestamp":"2025-01-01T00:00:00Z"},"status":{"isActive":false}},
    {"metadata":{"uid":"b","creationTimestamp":"2025-01-01T00:00:00Z"}}
  ], "listmeta": {"continue": "next"}})");
  ASSERT_EQ(page.keys.size(), 2u);
  EXPECT_FALSE(page.keys[0].active);
  EXPECT_TRUE(page.keys[1].active);
  EXPECT_EQ(page.keys[1].owner_uid, "");
  EXPECT_EQ(page.keys[1].name, "");
  EXPECT_EQ(page.continue_token, "next");
}

TEST(ParseKeysPage, NullItemsIsAnEmptyList) {
  EXPECT_TRUE(parse_keys_page(R"({"items":null})").keys.empty());
  EXPECT_TRUE(parse_keys_page(R"({"items":[]})").keys.empty());
}

TEST(ParseKeysPage, RejectsMalformedBodies) {
  for (const char* bad : {
           "",
           "not json",
           "<html>502 Bad Gateway</html>",
           "[]",
           "{}",                                    // no items
           R"({"items":{}})",                       // items not a list
           R"({"items":[42]})",                     // item not an object
           R"({"items":[{"metadata":{"name":"n","creationTimestamp":"2025-01-01T00:00:00Z"}}]})",  // no uid
           R"({"items":[{"metadata":{"uid":"","creationTimestamp":"2025-01-01T00:00:00Z"}}]})",   // empty uid
           R"({"items":[{"metadata":{"uid":7,"creationTimestamp":"2025-01-01T00:00:00Z"}}]})",    // uid not a string
           R"({"items":[{"metadata":{"uid":"a"}}]})",                                              // no creation time
           R"({"items":[{"metadata":{"uid":"a","creationTimestamp":"yesterday"}}]})",
           R"({"items":[{"metadata":{"uid":"a","creationTimestamp":"2025-01-01T00:00:00Z"},"spec":{"expiry":"soon"}}]})",
           R"({"items":[{"metadata":{"uid":"a","creationTimestamp":"2025-01-01T00:00:00Z"},"status":{"isActive":"no"}}]})",
           R"({"items":[{"metadata":{"uid":"a","creationTimestamp":"2025-01-01T00:00:00Z"},"spec":"x"}]})",
           R"({"items":[], "listmeta": {"continue": 5}})",
           R"({"items":[{"metadata":{"uid":"a","creationTimestamp":"2025-01-01T00:00:00Z"}})",   // truncated
       }) {
    EXPECT_THROW(parse_keys_page(bad), PaletteFormatError) << bad;
  }
}

TEST(ParseKeysPage, OneBadItemSpoilsThePage) {
  EXPECT_THROW(parse_keys_page(R"({"items":[
    {"metadata":{"uid":"good","creationTimestamp":"2025-01-01T00:00:00Z"}},
    {"metadata":{"name":"no-uid","creationTimestamp":"2025-01-01T00:00:00Z"}}]})"),
               PaletteFormatError);
}

TEST(ParseUsersPage, NormalizesEmailsAndDefaultsToActive) {
  const PaletteUsersPage page = parse_users_page(R"({"items":[
    {"metadata":{"uid":"u1","name":"Jane"},"spec":{"emailId":"  Jane.Doe@Example.COM "},"status":{"isActive":true}},
    {"metadata":{"uid":"u2"},"spec":{"emailId":"bob@example.com"},"status":{"isActive":false}},
    {"metadata":{"uid":"u3"},"spec":{"emailId":"carol@example.com"}}
  ], "listmeta":{"continue":"eyJvZmZzZXQiOjUwfQ==","count":117,"limit":50,"offset":50}})");
  ASSERT_EQ(page.users.size(), 3u);
  EXPECT_EQ(page.users[0].uid, "u1");
  EXPECT_EQ(page.users[0].email, "jane.doe@example.com");
  EXPECT_TRUE(page.users[0].active);
  EXPECT_FALSE(page.users[1].active);
  EXPECT_TRUE(page.users[2].active);
  EXPECT_EQ(page.continue_token, "eyJvZmZzZXQiOjUwfQ==");
}

TEST(ParseUsersPage, RejectsMalformedBodies) {
  EXPECT_THROW(parse_users_page("{}"), PaletteFormatError);
  EXPECT_THROW(parse_users_page(R"({"items":[{"spec":{"emailId":"x@y"}}]})"), PaletteFormatError);
  EXPECT_THROW(parse_users_page(R"({"items":[{"metadata":{"uid":"u"},"spec":{"emailId":1}}]})"), PaletteFormatError);
}

TEST(ParseTeamsPage, ReadsNamesAndMemberUids) {
  const PaletteTeamsPage page = parse_teams_page(R"({"items":[
    {"metadata":{"uid":"t1","name":"palette-admins","annotations":{"x":"y"}},
     "spec":{"users":["u1","u2"],"roles":["r1"],"sources":["sso"]},"status":{}},
    {"metadata":{"uid":"t2","name":"empty"},"spec":{"users":null}},
    {"metadata":{"uid":"t3","name":"no-spec"}}
  ],"listmeta":{"continue":"next","count":3,"limit":50,"offset":0}})");
  ASSERT_EQ(page.teams.size(), 3u);
  EXPECT_EQ(page.teams[0].uid, "t1");
  EXPECT_EQ(page.teams[0].name, "palette-admins");
  EXPECT_EQ(page.teams[0].user_uids, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_TRUE(page.teams[1].user_uids.empty());
  EXPECT_TRUE(page.teams[2].user_uids.empty());
  EXPECT_EQ(page.continue_token, "next");
}

TEST(ParseTeamsPage, RejectsMalformedTeams) {
  EXPECT_THROW(parse_teams_page("{}"), PaletteFormatError);
  EXPECT_THROW(parse_teams_page(R"({"items":[{"metadata":{"uid":"t1"}}]})"), PaletteFormatError);  // no name
  EXPECT_THROW(parse_teams_page(R"({"items":[{"metadata":{"uid":"t1","name":"a"},"spec":{"users":"u1"}}]})"),
               PaletteFormatError);
  EXPECT_THROW(parse_teams_page(R"({"items":[{"metadata":{"uid":"t1","name":"a"},"spec":{"users":[{"uid":"u1"}]}}]})"),
               PaletteFormatError);
}

TEST(ParseUserInfo, NeedsUserAndTenant) {
  const PaletteUserInfo info = parse_user_info(R"({"orgName":"acme","tenantUid":"t1","userUid":"me"})");
  EXPECT_EQ(info.org_name, "acme");
  EXPECT_EQ(info.tenant_uid, "t1");
  EXPECT_EQ(info.user_uid, "me");
  EXPECT_THROW(parse_user_info(R"({"orgName":"acme","tenantUid":"t1"})"), PaletteFormatError);
  EXPECT_THROW(parse_user_info(R"({"userUid":"me"})"), PaletteFormatError);
  EXPECT_THROW(parse_user_info("nope"), PaletteFormatError);
}

TEST(ParseApiError, ReadsV1Error) {
  auto error = parse_api_error(R"({"code":"ResourceNotFound","message":"key not found","ref":"r1","details":{}})");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "ResourceNotFound");
  EXPECT_EQ(error->message, "key not found");
  EXPECT_EQ(error->ref, "r1");
  EXPECT_FALSE(parse_api_error("<html>oops</html>"));
  EXPECT_FALSE(parse_api_error(""));
  EXPECT_FALSE(parse_api_error(R"({"items":[]})"));
}

TEST(KeyStateBody, AlwaysWritesIsActive) {
  EXPECT_EQ(key_state_body(false), R"({"isActive":false})");
  EXPECT_EQ(key_state_body(true), R"({"isActive":true})");
}

}  // namespace
}  // namespace keywarden
