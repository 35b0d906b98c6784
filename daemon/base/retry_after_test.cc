#include "daemon/base/retry_after.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace keywarden {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

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
