#include "daemon/base/backoff.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsExponentiallyUpToTheCap) {
  Backoff b{milliseconds(100), milliseconds(1000), 1.0};  // no jitter: the exact curve
  std::mt19937_64 rng(1);
  EXPECT_EQ(b.delay(0, rng), milliseconds(100));
  EXPECT_EQ(b.delay(1, rng), milliseconds(200));
  EXPECT_EQ(b.delay(3, rng), milliseconds(800));
  EXPECT_EQ(b.delay(4, rng), milliseconds(1000));
  EXPECT_EQ(b.delay(1000000, rng), milliseconds(1000)) << "a huge retry count neither overflows nor passes the cap";
}

TEST(Backoff, FullJitterStaysBetweenZeroAndTheCurve) {
  Backoff b{milliseconds(100), milliseconds(1000), 0.0};
  std::mt19937_64 rng(7);
  bool below_half = false;
  for (int i = 0; i < 1000; ++i) {
    const auto d = b.delay(2, rng);
    ASSERT_GE(d, milliseconds(0));
    ASSERT_LE(d, milliseconds(400));
    below_half = below_half || d < milliseconds(200);
  }
  EXPECT_TRUE(below_half) << "full jitter must be able to pick short waits";
}

TEST(Backoff, FloorShareKeepsThatPartOfTheWait) {
  Backoff b{milliseconds(100), milliseconds(1000), 0.5};
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const auto d = b.delay(2, rng);
    ASSERT_GE(d, milliseconds(200));
    ASSERT_LE(d, milliseconds(400));
  }
}

TEST(Backoff, NegativeSettingsGiveNoWait) {
  Backoff b{milliseconds(-5), milliseconds(-1), 0.0};
  std::mt19937_64 rng(1);
  EXPECT_EQ(b.delay(3, rng), milliseconds(0));
}

}  // namespace
}  // namespace keywarden
