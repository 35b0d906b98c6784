// ScimSource's word on which pushes may tell of a departure (they go ahead
// of bulk traffic in the store's queue; issue 16).
#include "connectors/scim/scim_source.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace keywarden {
namespace {

class ScimSourceUrgencyTest : public ::testing::Test {
 protected:
  static ScimSource source() {
    ::setenv("KW_SCIM_SOURCE_TEST_TOKEN", "test-token-0123456789", 1);
    SourceConfig config;
    config.name = "corp";
    config.type = "scim";
    config.settings["token_env"] = "KW_SCIM_SOURCE_TEST_TOKEN";
    return ScimSource(config);
  }
  static bool may(const std::string& method, const std::string& path) {
    PushRequest head;
    head.method = method;
    head.path = path;
    return source().may_report_departure(head);
  }
};

TEST_F(ScimSourceUrgencyTest, ACreationIsBulkTraffic) {
  EXPECT_FALSE(may("POST", "/Users"));
  EXPECT_FALSE(may("POST", "/Users/"));
  EXPECT_FALSE(may("POST", "/users"));
  EXPECT_FALSE(may("POST", "/Groups"));
}

TEST_F(ScimSourceUrgencyTest, EveryOtherWriteMayEndSomeonesAccess) {
  EXPECT_TRUE(may("PATCH", "/Users/2819c223"));  // Entra's Replace active "False"
  EXPECT_TRUE(may("PUT", "/Users/2819c223"));    // Okta's active: false
  EXPECT_TRUE(may("DELETE", "/Users/2819c223"));
  EXPECT_TRUE(may("PATCH", "/Groups/e9e30dba"));  // members removed
  EXPECT_TRUE(may("POST", "/Bulk"));              // may carry any of those
  EXPECT_TRUE(may("POST", "/Users/.search"));
}

}  // namespace
}  // namespace keywarden
