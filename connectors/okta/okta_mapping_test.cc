// Okta's wire formats as keywarden reads them: user statuses, LogEvents, Link
// headers, rate-limit headers. Each test guards one misreading that would
// either revoke a key on a guess or miss a departure.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "connectors/okta/okta_client.h"
#include "connectors/okta/okta_events.h"
#include "connectors/okta/okta_users.h"

namespace keywarden {
namespace {

using nlohmann::json;

TEST(OktaStatus, LeaverStatusesAreInactive) {
  EXPECT_EQ(map_okta_status("SUSPENDED", "").status, IdentityStatus::inactive);
  EXPECT_EQ(map_okta_status("SUSPENDED", "").detail, "status SUSPENDED");
  EXPECT_EQ(map_okta_status("DEPROVISIONED", "").status, IdentityStatus::inactive);
  EXPECT_EQ(map_okta_status("DEPROVISIONED", "").detail, "status DEPROVISIONED");
}

TEST(OktaStatus, EmployedStatusesAreActive) {
  for (const char* s : {"ACTIVE", "PROVISIONED", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED", "STAGED"}) {
    const OktaStatusMapping m = map_okta_status(s, "");
    EXPECT_EQ(m.status, IdentityStatus::active) << s;
    EXPECT_EQ(m.detail, std::string("status ") + s);
  }
}

TEST(OktaStatus, UnknownStatusIsNeverReadAsADeparture) {
  EXPECT_EQ(map_okta_status("ACTIVATING", "").status, IdentityStatus::active);
  EXPECT_EQ(map_okta_status("SOMETHING_NEW", "").status, IdentityStatus::active);
}

TEST(OktaStatus, DeactivationInProgressIsInactiveAtOnce) {
  const OktaStatusMapping m = map_okta_status("ACTIVE", "DEPROVISIONED");
  EXPECT_EQ(m.status, IdentityStatus::inactive);
  EXPECT_NE(m.detail.find("DEPROVISIONED"), std::string::npos);
  EXPECT_EQ(map_okta_status("STAGED", "ACTIVE").status, IdentityStatus::active);
}

TEST(OktaUser, MapsIdLoginEmailAndStatus) {
  const json user = json::parse(R"({"id":"00u1","status":"SUSPENDED","transitioningToStatus":null,
    "profile":{"login":"alice.login@corp.example","email":"Alice@Example.com","firstName":"Alice"}})");
  const Identity id = identity_from_okta_user(user);
  EXPECT_EQ(id.subject_id, "00u1");
  EXPECT_EQ(id.user_name, "alice.login@corp.example");
  EXPECT_EQ(id.email, "Alice@Example.com");
  EXPECT_EQ(id.status, IdentityStatus::inactive);
  EXPECT_EQ(id.status_detail, "status SUSPENDED");
  EXPECT_TRUE(id.groups.empty());
}

TEST(OktaUser, EmailFallsBackToLogin) {
  const Identity id =
      identity_from_okta_user(json::parse(R"({"id":"00u2","status":"ACTIVE","profile":{"login":"bob@example.com"}})"));
  EXPECT_EQ(id.email, "bob@example.com");
  const Identity empty_email = identity_from_okta_user(
      json::parse(R"({"id":"00u3","status":"ACTIVE","profile":{"login":"c@example.com","email":""}})"));
  EXPECT_EQ(empty_email.email, "c@example.com");
}

TEST(OktaUser, MalformedUsersAreErrorsNotGuesses) {
  EXPECT_THROW(identity_from_okta_user(json::parse(R"({"status":"ACTIVE"})")), OktaFormatError);
  EXPECT_THROW(identity_from_okta_user(json::parse(R"({"id":"00u1"})")), OktaFormatError);
  EXPECT_THROW(identity_from_okta_user(json::parse(R"({"id":7,"status":"ACTIVE"})")), OktaFormatError);
  EXPECT_THROW(identity_from_okta_user(json::parse(R"({"id":"00u1","status":"ACTIVE","profile":"x"})")),
               OktaFormatError);
  EXPECT_THROW(identity_from_okta_user(json::parse(R"(["00u1"])")), OktaFormatError);
}

TEST(OktaGroup, NameIsTheProfileName) {
  const OktaGroup g = okta_group_from_json(
      json::parse(R"({"id":"00g1","type":"OKTA_GROUP","profile":{"name":"palette-users","description":null}})"));
  EXPECT_EQ(g.id, "00g1");
  EXPECT_EQ(g.name, "palette-users");
  EXPECT_THROW(okta_group_from_json(json::parse(R"({"id":"00g1","profile":{}})")), OktaFormatError);
  EXPECT_THROW(okta_group_from_json(json::parse(R"({"profile":{"name":"x"}})")), OktaFormatError);
}

json event(const std::string& type, const std::string& result = "SUCCESS") {
  return json{{"uuid", "e-" + type},
              {"published", "2026-11-26T09:58:01.123Z"},
              {"eventType", type},
              {"outcome", {{"result", result}}},
              {"actor", {{"id", "00uadmin"}, {"type", "User"}}},
              {"target",
               json::array({{{"id", "00u9"}, {"type", "User"}, {"alternateId", "dana@example.com"},
                             {"displayName", "Dana Scully"}},
                            {{"id", "00g5"}, {"type", "UserGroup"}, {"alternateId", "unknown"},
                             {"displayName", "palette-users"}}})}};
}

TEST(OktaEvent, LifecycleEventsMapToStatuses) {
  struct Case {
    const char* type;
    IdentityStatus status;
    const char* detail;
  };
  for (const Case& c : {Case{"user.lifecycle.deactivate", IdentityStatus::inactive, "status DEPROVISIONED"},
                        Case{"user.lifecycle.suspend", IdentityStatus::inactive, "status SUSPENDED"},
                        Case{"user.lifecycle.unsuspend", IdentityStatus::active, "status ACTIVE"},
                        Case{"user.lifecycle.activate", IdentityStatus::active, "status ACTIVE"},
                        Case{"user.lifecycle.reactivate", IdentityStatus::active, "reactivated"},
                        Case{"user.lifecycle.delete.initiated", IdentityStatus::deleted, "deleted in Okta"},
                        Case{"user.lifecycle.delete.completed", IdentityStatus::deleted, "deleted in Okta"}}) {
    const OktaLogEvent e = parse_log_event(event(c.type));
    ASSERT_TRUE(e.effect) << c.type;
    EXPECT_EQ(e.effect->kind, OktaEventEffect::Kind::status);
    EXPECT_EQ(e.effect->status, c.status) << c.type;
    EXPECT_EQ(e.effect->status_detail, c.detail);
    EXPECT_EQ(e.effect->subject_id, "00u9");
    EXPECT_EQ(e.effect->subject_login, "dana@example.com");
    EXPECT_EQ(e.uuid, std::string("e-") + c.type);
  }
}

TEST(OktaEvent, GroupMembershipEventsNameTheGroup) {
  const OktaLogEvent removed = parse_log_event(event("group.user_membership.remove"));
  ASSERT_TRUE(removed.effect);
  EXPECT_EQ(removed.effect->kind, OktaEventEffect::Kind::membership);
  EXPECT_EQ(removed.effect->group, "palette-users");
  EXPECT_FALSE(removed.effect->member);
  EXPECT_EQ(removed.effect->subject_id, "00u9");
  const OktaLogEvent added = parse_log_event(event("group.user_membership.add"));
  ASSERT_TRUE(added.effect);
  EXPECT_TRUE(added.effect->member);
}

TEST(OktaEvent, FailedOutcomesAndOtherTypesHaveNoEffect) {
  EXPECT_FALSE(parse_log_event(event("user.lifecycle.deactivate", "FAILURE")).effect);
  EXPECT_FALSE(parse_log_event(event("user.lifecycle.suspend", "DENY")).effect);
  EXPECT_FALSE(parse_log_event(event("application.user_membership.remove")).effect);
  EXPECT_FALSE(parse_log_event(event("user.session.start")).effect);
  json no_outcome = event("user.lifecycle.deactivate");
  no_outcome.erase("outcome");
  EXPECT_FALSE(parse_log_event(no_outcome).effect);
}

TEST(OktaEvent, MissingTargetsHaveNoEffect) {
  json no_user = event("user.lifecycle.deactivate");
  no_user["target"].erase(0);
  EXPECT_FALSE(parse_log_event(no_user).effect);
  json no_group = event("group.user_membership.remove");
  no_group["target"].erase(1);
  EXPECT_FALSE(parse_log_event(no_group).effect);
  json no_targets = event("user.lifecycle.suspend");
  no_targets.erase("target");
  EXPECT_FALSE(parse_log_event(no_targets).effect);
}

TEST(OktaEvent, NonObjectsAndEventsWithoutTypeAreMalformed) {
  EXPECT_THROW(parse_log_event(json::parse("[]")), OktaFormatError);
  EXPECT_THROW(parse_log_event(json::parse(R"({"uuid":"x"})")), OktaFormatError);
}

TEST(OktaEvent, PublishedKeepsMilliseconds) {
  EXPECT_EQ(parse_published_millis("1970-01-01T00:00:01.234Z"), 1234);
  EXPECT_EQ(parse_published_millis("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(parse_published_millis("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_FALSE(parse_published_millis("yesterday"));
  EXPECT_LT(*parse_published_millis("2026-11-26T09:58:01.100Z"), *parse_published_millis("2026-11-26T09:58:01.900Z"));
}

TEST(OktaEvent, SortByPublishedIsStableAndPutsUnreadableLast) {
  std::vector<OktaLogEvent> events(4);
  events[0].uuid = "late";
  events[0].published_ms = 3000;
  events[1].uuid = "unknown";
  events[2].uuid = "early";
  events[2].published_ms = 1000;
  events[3].uuid = "late-too";
  events[3].published_ms = 3000;
  sort_by_published(events);
  EXPECT_EQ(events[0].uuid, "early");
  EXPECT_EQ(events[1].uuid, "late");
  EXPECT_EQ(events[2].uuid, "late-too");
  EXPECT_EQ(events[3].uuid, "unknown");
}

TEST(OktaLink, FindsNextAmongOktasLinks) {
  // Okta sends two Link fields; the HTTP client joins them with ", ".
  EXPECT_EQ(next_link(R"(<https://corp.okta.com/api/v1/users?limit=200>; rel="self", )"
                      R"(<https://corp.okta.com/api/v1/users?after=00ud4tVDDXYVKPXKVLCO&limit=200>; rel="next")"),
            "https://corp.okta.com/api/v1/users?after=00ud4tVDDXYVKPXKVLCO&limit=200");
  EXPECT_EQ(next_link(R"(<https://a/n?x=1,2>; rel="next", <https://a/s>; rel="self")"), "https://a/n?x=1,2");
  EXPECT_EQ(next_link(R"(<https://a/n>;rel=next)"), "https://a/n");
  EXPECT_EQ(next_link(R"(<https://a/n>; title="a, b"; rel="prev next")"), "https://a/n");
  EXPECT_EQ(next_link(R"(<https://a/n>; REL="Next")"), "https://a/n");
}

TEST(OktaLink, NoNextMeansTheLastPage) {
  EXPECT_FALSE(next_link(""));
  EXPECT_FALSE(next_link(R"(<https://corp.okta.com/api/v1/users?limit=200>; rel="self")"));
  EXPECT_FALSE(next_link(R"(<https://a/n>; rel="nextpage")"));
  EXPECT_FALSE(next_link("<https://a/n"));
}

TEST(OktaRateLimit, ResetIsEpochSeconds) {
  const auto reset = parse_rate_limit_reset("1609459200");
  ASSERT_TRUE(reset);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(reset->time_since_epoch()).count(), 1609459200);
  EXPECT_FALSE(parse_rate_limit_reset(""));
  EXPECT_FALSE(parse_rate_limit_reset("soon"));
  EXPECT_FALSE(parse_rate_limit_reset("-5"));
}

TEST(OktaRateLimit, WaitIsBoundedAndNeverNegative) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const std::chrono::system_clock::time_point now(seconds(1000));
  EXPECT_EQ(rate_limit_wait(now + seconds(5), now, milliseconds(60000)), milliseconds(5000));
  EXPECT_EQ(rate_limit_wait(now + seconds(3600), now, milliseconds(60000)), milliseconds(60000));
  EXPECT_EQ(rate_limit_wait(now - seconds(5), now, milliseconds(60000)), milliseconds(0));
}

TEST(OktaError, DescribesOktaErrorBodies) {
  EXPECT_EQ(describe_okta_error(R"({"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"oae1","errorCauses":[]})"),
            "Okta E0000047: API call exceeded rate limit due to too many requests.");
  EXPECT_EQ(describe_okta_error("<html>bad\ngateway</html>"), "<html>bad gateway</html>");
  EXPECT_EQ(describe_okta_error(""), "");
}

}  // namespace
}  // namespace keywarden
