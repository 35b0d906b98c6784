#include "daemon/base/percent_decode.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

TEST(PercentDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(percent_decode("a%40b.c%2Fx%2fy", false), "a@b.c/x/y");
  EXPECT_EQ(percent_decode_strict("%E2%82%AC", false), "\xE2\x82\xAC");
}

TEST(PercentDecode, PlusIsASpaceOnlyWhenAsked) {
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
}

TEST(PercentDecode, LenientKeepsMalformedEscapesStrictRefusesThem) {
  for (const char* bad : {"%", "%4", "%zz", "ab%4", "%%41"}) {
    EXPECT_EQ(percent_decode_strict(bad, false), std::nullopt) << bad;
  }
  EXPECT_EQ(percent_decode("%zz", false), "%zz");
  EXPECT_EQ(percent_decode("ab%4", false), "ab%4");
  EXPECT_EQ(percent_decode("%%41", false), "%A");
  EXPECT_EQ(percent_decode("100%", false), "100%");
}

TEST(PercentDecode, DecodesAnEscapeAtTheVeryEnd) {
  EXPECT_EQ(percent_decode("x%41", false), "xA");
  EXPECT_EQ(percent_decode_strict("x%41", false), "xA");
}

}  // namespace
}  // namespace keywarden
