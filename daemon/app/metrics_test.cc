#include "daemon/app/metrics.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

TEST(MetricsTest, DeclaredFamilyIsRenderedWithItsHelpTypeAndSamples) {
  Metrics metrics;
  metrics.declare("keywarden_test_sets_total", "counter", "SETs.");
  metrics.set("keywarden_test_sets_total", {{"source", "a"}, {"err", "invalid_key"}}, 3);
  const std::string out = metrics.render();
  EXPECT_NE(out.find("# HELP keywarden_test_sets_total SETs.\n# TYPE keywarden_test_sets_total counter\n"),
            std::string::npos);
  EXPECT_NE(out.find("keywarden_test_sets_total{err=\"invalid_key\",source=\"a\"} 3\n"), std::string::npos);
}

TEST(MetricsTest, ADeclaredFamilyKeepsItsFirstTypeAndHelp) {
  Metrics metrics;
  metrics.declare("keywarden_test_state", "gauge", "First.");
  metrics.declare("keywarden_test_state", "counter", "Second.");
  metrics.declare("keywarden_actions_total", "gauge", "Not the daemon's own.");
  const std::string out = metrics.render();
  EXPECT_NE(out.find("# TYPE keywarden_test_state gauge"), std::string::npos);
  EXPECT_EQ(out.find("Second."), std::string::npos);
  EXPECT_NE(out.find("# TYPE keywarden_actions_total counter"), std::string::npos);
  EXPECT_EQ(out.find("Not the daemon's own."), std::string::npos);
}

TEST(MetricsTest, ALabelValueIsEscaped) {
  Metrics metrics;
  metrics.declare("keywarden_test_state", "gauge", "State.");
  metrics.set("keywarden_test_state", {{"source", "a\"b\\c\nd"}}, 1);
  EXPECT_NE(metrics.render().find(R"(keywarden_test_state{source="a\"b\\c\nd"} 1)"), std::string::npos);
}

}  // namespace
}  // namespace keywarden
