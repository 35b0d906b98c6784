// The documented rate limit and the fault switches, with time as an argument.
#include "palette-sim/rate_limiter.h"

#include <gtest/gtest.h>

#include "palette-sim/sim_faults.h"

namespace palette_sim {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, BurstThenRefillAtRate) {
  RateLimiter rl(10, 50);
  auto t = Clock::time_point{} + 1h;
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(rl.allow("1.2.3.4", "/v1/users", t)) << i;
  EXPECT_FALSE(rl.allow("1.2.3.4", "/v1/users", t));
  EXPECT_FALSE(rl.allow("1.2.3.4", "/v1/users", t + 50ms));  // half a token
  EXPECT_TRUE(rl.allow("1.2.3.4", "/v1/users", t + 100ms));
  EXPECT_FALSE(rl.allow("1.2.3.4", "/v1/users", t + 100ms));
}

TEST(RateLimiterTest, PrefixSharesBudgetButResourcesAndClientsDoNot) {
  RateLimiter rl(10, 2);
  auto t = Clock::time_point{} + 1h;
  EXPECT_TRUE(rl.allow("ip", "/v1/users", t));
  EXPECT_TRUE(rl.allow("ip", "/v1/users/info", t));
  EXPECT_FALSE(rl.allow("ip", "/v1/users/abc", t));
  EXPECT_TRUE(rl.allow("ip", "/v1/apiKeys/abc/state", t));
  EXPECT_TRUE(rl.allow("other-ip", "/v1/users", t));
  rl.reset();
  EXPECT_TRUE(rl.allow("ip", "/v1/users", t));
}

TEST(RateLimiterTest, ParentPrefix) {
  EXPECT_EQ(RateLimiter::parent_prefix("/v1/apiKeys/abc/state"), "/v1/apiKeys");
  EXPECT_EQ(RateLimiter::parent_prefix("/v1/users"), "/v1/users");
  EXPECT_EQ(RateLimiter::parent_prefix("/v1"), "/v1");
  EXPECT_EQ(RateLimiter::parent_prefix("/"), "/");
}

TEST(FaultInjectorTest, SeedMakesDrawsRepeatable) {
  auto draws = [] {
    FaultInjector f;
    EXPECT_FALSE(f.configure({{"five_xx_rate", 0.5}, {"drop_rate", 0.3}, {"seed", 99}}, Clock::now()));
    std::string out;
    for (int i = 0; i < 100; ++i) {
      out += f.should_drop() ? 'D' : '.';
      auto s = f.server_error();
      out += s ? std::to_string(*s) : "ok";
    }
    return out;
  };
  std::string a = draws();
  EXPECT_EQ(a, draws());
  EXPECT_NE(a.find('D'), std::string::npos);
  EXPECT_NE(a.find("503"), std::string::npos);
}

TEST(FaultInjectorTest, EmptyConfigClearsEverything) {
  FaultInjector f;
  auto now = Clock::now();
  EXPECT_FALSE(f.configure({{"five_xx_rate", 1}, {"drop_rate", 1}, {"storm_429", 1.5}, {"retry_after", 2},
                            {"latency_ms", 20}},
                           now));
  EXPECT_TRUE(f.in_storm(now + 1s));
  EXPECT_FALSE(f.in_storm(now + 1600ms));
  EXPECT_EQ(f.retry_after(), 2);
  EXPECT_EQ(f.latency(), 20ms);
  EXPECT_TRUE(f.should_drop());
  EXPECT_TRUE(f.server_error());
  EXPECT_FALSE(f.configure(nlohmann::json::object(), now));
  EXPECT_FALSE(f.in_storm(now));
  EXPECT_FALSE(f.should_drop());
  EXPECT_FALSE(f.server_error());
  EXPECT_EQ(f.latency(), 0ms);
  EXPECT_FALSE(f.retry_after());
}

TEST(FaultInjectorTest, RejectsBadValuesWithoutChangingAnything) {
  FaultInjector f;
  auto now = Clock::now();
  EXPECT_FALSE(f.configure({{"drop_rate", 1}}, now));
  EXPECT_TRUE(f.configure({{"drop_rate", 1.5}}, now));
  EXPECT_TRUE(f.configure({{"five_xx_rate", "lots"}}, now));
  EXPECT_TRUE(f.configure({{"no_such_fault", 1}}, now));
  EXPECT_TRUE(f.configure(nlohmann::json::array(), now));
  EXPECT_TRUE(f.should_drop());  // still the earlier configuration
}

}  // namespace
}  // namespace palette_sim
