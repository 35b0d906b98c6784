#include "daemon/engine/time_point.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

TEST(TimePoint, ParsesPaletteMillisecondTimes) {
  auto t = parse_rfc3339("2024-09-16T14:46:28.677Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2024-09-16T14:46:28Z");
}

TEST(TimePoint, ParsesTimesWithoutFractionAndWithOffsets) {
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2026-11-26T10:00:00Z")), "2026-11-26T10:00:00Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2026-11-26T12:00:00+02:00")), "2026-11-26T10:00:00Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2026-11-26T05:30:00-04:30")), "2026-11-26T10:00:00Z");
}

TEST(TimePoint, RejectsMalformedTimes) {
  for (const char* bad : {"", "2026-11-26", "2026-11-26T10:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-26T10:00:00.Z", "2026-11-26T10:00:00Zjunk",
                          "x026-11-26T10:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(TimePoint, RecognisesPaletteZeroTime) {
  EXPECT_TRUE(is_zero_time(*parse_rfc3339("0001-01-01T00:00:00.000Z")));
  EXPECT_FALSE(is_zero_time(*parse_rfc3339("2024-09-23T14:46:28.164Z")));
}

}  // namespace
}  // namespace keywarden
