// Bounds on the config text, checked before toml++ parses it: a hostile file
// (a key or table header thousands of levels deep) crashed toml++ by
// recursion. Each test fails on a loader that hands such text to toml++.
#include "config/toml_bounds.h"

#include "config/source_schema.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace keywarden {
namespace {

namespace fs = std::filesystem;

std::string repeat(std::string_view piece, size_t n) {
  std::string out;
  out.reserve(piece.size() * n);
  for (size_t i = 0; i < n; ++i) out += piece;
  return out;
}

// "a.a.a...a" with `levels` segments.
std::string dotted(size_t levels) { return "a" + repeat(".a", levels - 1); }

// config/ knows no source type: a file-like one of the test's own.
const SourceSchema kFileLike{"file", {{"path", ValueKind::path, true, {}, {}, "identities"}}, {}, "a test type"};
const SourceSchemas kSchemas{&kFileLike};

constexpr const char* kMinimal = R"([palette]
api_key_env = "PALETTE_KEY"

[[source]]
name = "hr"
type = "file"
path = "ids.json"
)";

class TomlBoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "keywarden-bounds-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  ConfigLoadResult load(const std::string& content) {
    const fs::path p = dir_ / "keywarden.toml";
    std::ofstream(p, std::ios::binary) << content;
    return load_config(p, kSchemas);
  }

  static std::string all(const ConfigLoadResult& r) {
    std::string out;
    for (const ConfigError& e : r.errors) out += e.format() + "\n";
    return out;
  }

  static void expect_depth_error(const ConfigLoadResult& r, long line, long column) {
    EXPECT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 1u) << all(r).substr(0, 2000);
    EXPECT_EQ(r.errors[0].line, line);
    EXPECT_EQ(r.errors[0].column, column);
    EXPECT_NE(r.errors[0].message.find("nests deeper than 32 levels"), std::string::npos)
        << r.errors[0].message;
  }

  fs::path dir_;
};

// Where the 33rd segment of dotted() starts, from column `first`.
long column_of_segment_33(long first) { return first + 2 * 32; }

TEST_F(TomlBoundsTest, ADottedKeyAHundredThousandLevelsDeepIsRefusedNotACrash) {
  const std::string text = dotted(100000) + " = 1\n";  // 200 KB, as in the report
  ASSERT_GT(text.size(), 200000u);
  expect_depth_error(load(text), 1, column_of_segment_33(1));
}

TEST_F(TomlBoundsTest, ATableHeaderFiftyThousandLevelsDeepIsRefused) {
  expect_depth_error(load(std::string(kMinimal) + "[" + dotted(50000) + "]\nx = 1\n"), 8,
                     column_of_segment_33(2));
  expect_depth_error(load(std::string(kMinimal) + "[[" + dotted(50000) + "]]\n"), 8,
                     column_of_segment_33(3));
}

TEST_F(TomlBoundsTest, DeepArraysAndInlineTablesAreRefused) {
  // `a` is level 1, each array one more: the 32nd '[' is level 33.
  expect_depth_error(load("a = " + repeat("[", 5000) + repeat("]", 5000) + "\n"), 1, 5 + 31);
  // Each key inside an inline table is one more level.
  const std::string inline_tables = "a = " + repeat("{a = ", 5000) + "1" + repeat("}", 5000) + "\n";
  expect_depth_error(load(inline_tables), 1, 1 + 32 * 5);
  // Inside a table: its header's levels count too.
  expect_depth_error(load("[" + dotted(30) + "]\n" + "b.c.d = 1\n"), 2, 5);
}

TEST_F(TomlBoundsTest, ThirtyTwoLevelsAreAllowedAndThirtyThreeAreNot) {
  EXPECT_FALSE(check_toml_bounds(dotted(32) + " = 1\n", "k.toml"));
  EXPECT_FALSE(check_toml_bounds("[" + dotted(31) + "]\nb = 1\n", "k.toml"));
  EXPECT_FALSE(check_toml_bounds("a = " + repeat("[", 31) + repeat("]", 31) + "\n", "k.toml"));
  const auto e = check_toml_bounds(dotted(33) + " = 1\n", "k.toml");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->format().substr(0, 12), "k.toml:1:65:");
  EXPECT_TRUE(check_toml_bounds("[" + dotted(32) + "]\nb = 1\n", "k.toml"));
}

TEST_F(TomlBoundsTest, DotsAndBracketsInsideStringsAndCommentsAreNotLevels) {
  const std::string deep = dotted(200);
  for (const std::string& text : {
           "\"" + deep + "\" = 1\n",                            // a quoted key is one segment
           "'" + deep + "' = 1\n",                              // so is a literal one
           "x = \"" + deep + "\"\n",                            // a string value
           "x = '" + deep + "'\n",
           "x = \"\"\"\n[" + deep + "]\n" + deep + " = 1\n\"\"\"\n",  // multi-line strings
           "x = '''\n[" + deep + "]\n'''\n",
           "x = \"\\\"[" + deep + "]\"\n",                       // an escaped quote does not end it
           "# " + deep + " = 1\n[" + deep.substr(0, 9) + "] # [" + deep + "]\n",
           "x = [\"" + repeat("[", 100) + "\", '" + repeat("{", 100) + "']\n",
           "x = 1979-05-27 07:32:00Z\ny = 1.5e3\nz = [1.5, 2.5,\n  3.5, # " + deep + "\n]\n",
       }) {
    EXPECT_FALSE(check_toml_bounds(text, "k.toml")) << text.substr(0, 120);
  }
}

TEST_F(TomlBoundsTest, StringsThatWouldMisleadANaiveScannerDoNotHideADeepKey) {
  const std::string deep = dotted(40) + " = 1\n";
  for (const std::string& before : {
           std::string("x = \"it's\"\n"),            // an apostrophe in a basic string
           std::string("x = 'say \"hi'\n"),          // a quote in a literal string
           std::string("x = \"\"\"a\"\"\"\"\"\n"),   // """a""""" ends with two quotes of its own
           std::string("x = '''a'''''\n"),
           std::string("x = \"\"\"a\\\"\"\"\"\n"),   // an escaped quote before the end
           std::string("x = \"a\\\\\"\n"),           // an escaped backslash, then the end
           std::string("\xEF\xBB\xBFx = 1\n"),       // a byte order mark, which toml++ skips
           std::string("x = 1\r\n"),                 // CRLF
           std::string("x = { y = \"}\", z = ['#'] }\n"),
       }) {
    const auto e = check_toml_bounds(before + deep, "k.toml");
    EXPECT_TRUE(e) << before;
    if (e) {
      EXPECT_EQ(e->line, 2) << before;
    }
  }
}

TEST_F(TomlBoundsTest, ARealConfigWithDeepLookingStringsLoads) {
  const std::string deep = dotted(500);
  const auto r = load(std::string(kMinimal) + "\n# [" + deep + "]\n[policy]\nexempt_keys = [\"" + deep +
                      "\", '''\n[" + deep + "]\n''']\n");
  EXPECT_TRUE(r.config) << all(r);
}

TEST_F(TomlBoundsTest, AFileLargerThanOneMebibyteIsRefusedUnread) {
  const std::string padding = "# " + std::string(1024 * 1024, 'x') + "\n";
  const auto r = load(std::string(kMinimal) + padding);
  ASSERT_EQ(r.errors.size(), 1u) << all(r).substr(0, 500);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_NE(r.errors[0].message.find("larger than 1048576 bytes"), std::string::npos) << r.errors[0].message;

  // Up to the limit is fine.
  std::string at_limit = kMinimal;
  at_limit += "# " + std::string(1024 * 1024 - at_limit.size() - 3, 'x') + "\n";
  ASSERT_EQ(at_limit.size(), 1024u * 1024u);
  EXPECT_TRUE(load(at_limit).config);
}

TEST_F(TomlBoundsTest, AnEndlessConfigFileIsNotReadToTheEnd) {
  // /dev/zero never ends: the loader stops one byte past the limit.
  const auto r = load_config("/dev/zero", kSchemas);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("larger than"), std::string::npos) << r.errors[0].message;
}

}  // namespace
}  // namespace keywarden
