#include "daemon/palette/retry_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace keywarden {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(BackoffDelay, StaysWithinTheGrowingCap) {
  std::mt19937_64 rng(42);
  for (int retry = 0; retry < 70; ++retry) {
    const long long cap = std::min<long long>(30000, retry < 20 ? 250LL << retry : 30000);
    for (int i = 0; i < 200; ++i) {
      const milliseconds d = backoff_delay(retry, milliseconds(250), milliseconds(30000), rng);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), cap) << "retry " << retry;
    }
  }
}

TEST(BackoffDelay, IsJittered) {
  std::mt19937_64 rng(7);
  std::set<long long> seen;
  for (int i = 0; i < 50; ++i) seen.insert(backoff_delay(3, milliseconds(100), milliseconds(10000), rng).count());
  EXPECT_GT(seen.size(), 10u);
}

TEST(BackoffDelay, ZeroBaseMeansNoWait) {
  std::mt19937_64 rng(1);
  EXPECT_EQ(backoff_delay(5, milliseconds(0), milliseconds(100), rng), milliseconds(0));
}

TEST(ParseRetryAfter, DeltaSeconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(parse_retry_after("0", now), milliseconds(0));
  EXPECT_EQ(parse_retry_after("5", now), seconds(5));
  EXPECT_EQ(parse_retry_after(" 120 ", now), seconds(120));
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), std::chrono::hours(24));  // clamped, no overflow
}

TEST(ParseRetryAfter, HttpDateInAllThreeForms) {
  const auto now = std::chrono::sys_days{std::chrono::year{1994} / 11 / 6} + std::chrono::hours(8) +
                   std::chrono::minutes(49) + seconds(30);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(7));
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), seconds(7));
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), seconds(7));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), milliseconds(0));  // already past
}

TEST(ParseRetryAfter, RejectsGarbage) {
  const auto now = std::chrono::system_clock::now();
  for (const char* bad : {"", "  ", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37", "Sun, 32 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, now)) << bad;
  }
}

}  // namespace
}  // namespace keywarden
