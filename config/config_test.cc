// The loader's rules for [[source]] tables, against a schema of the test's
// own: config/ knows no source type, so whatever a type declares is what it
// checks. (connectors/source_config_test.cc loads the registered types.)
#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace keywarden {
namespace {

namespace fs = std::filesystem;

const SourceSchema kWidget{
    "widget",
    {{"url", ValueKind::url, true, {}, {}, "where"},
     {"token", ValueKind::secret, true, {}, {}, "a secret"},
     {"mode", ValueKind::choice, false, "fast", {"fast", "slow"}, "how"},
     {"poll_interval", ValueKind::duration, false, "5m", {}, "how often"},
     {"cert_file", ValueKind::path, false, {}, {}, "a certificate"},
     {"key_file", ValueKind::path, false, {}, {}, "its key"}},
    {{"cert_file", "key_file"}},
    "a test type"};
const SourceSchema kGadget{"gadget", {{"name_of_thing", ValueKind::text, false, {}, {}, "text"}}, {}, "another"};
const SourceSchemas kSchemas{&kWidget, &kGadget};

class SourceSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kw-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  ConfigLoadResult load_source(const std::string& body) {
    const fs::path file = dir_ / "keywarden.toml";
    std::ofstream(file) << "[palette]\napi_key_env = \"K\"\n\n[[source]]\nname = \"w\"\n" << body;
    return load_config(file, kSchemas);
  }
  static std::string all(const ConfigLoadResult& r) {
    std::string s;
    for (const auto& e : r.errors) s += e.format() + "\n";
    return s;
  }

  fs::path dir_;
};

TEST_F(SourceSchemaTest, DefaultsOfTheSchemaAreStoredWhenAbsent) {
  const auto r = load_source("type = \"widget\"\nurl = \"https://w\"\ntoken_env = \"T\"\n");
  ASSERT_TRUE(r.config) << all(r);
  const SourceConfig& s = r.config->sources[0];
  EXPECT_EQ(s.get("mode"), "fast");
  EXPECT_EQ(s.get("poll_interval"), "5m");
  EXPECT_EQ(s.settings.count("cert_file"), 0u) << "no default, no value";
  EXPECT_EQ(s.secrets, std::vector<std::string>{"token"});
}

TEST_F(SourceSchemaTest, WithDefaultsFillsWhatIsMissingAndKeepsWhatIsSet) {
  SourceConfig c;
  c.settings["mode"] = "slow";
  c = with_defaults(std::move(c), kWidget);
  EXPECT_EQ(c.get("mode"), "slow");
  EXPECT_EQ(c.get("poll_interval"), "5m");
  EXPECT_EQ(c.settings.count("token"), 0u) << "secrets have no default";
}

TEST_F(SourceSchemaTest, RequiredKeysAndSecretsAreEnforced) {
  auto r = load_source("type = \"widget\"\ntoken_env = \"T\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << all(r);
  EXPECT_NE(r.errors[0].message.find("(type widget) needs url"), std::string::npos) << all(r);
  r = load_source("type = \"widget\"\nurl = \"https://w\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << all(r);
  EXPECT_NE(r.errors[0].message.find("needs token_file or token_env"), std::string::npos) << all(r);
}

TEST_F(SourceSchemaTest, ChoicesAreCheckedAtTheValue) {
  const auto r = load_source("type = \"widget\"\nurl = \"https://w\"\ntoken_env = \"T\"\nmode = \"warp\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << all(r);
  EXPECT_EQ(r.errors[0].line, 9);
  EXPECT_NE(r.errors[0].message.find("must be one of fast | slow"), std::string::npos) << all(r);
}

TEST_F(SourceSchemaTest, PairsMustComeTogether) {
  const auto r = load_source("type = \"widget\"\nurl = \"https://w\"\ntoken_env = \"T\"\ncert_file = \"c.pem\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << all(r);
  EXPECT_NE(r.errors[0].message.find("sets cert_file without key_file"), std::string::npos) << all(r);
}

TEST_F(SourceSchemaTest, KeysOfAnotherTypeAreUnknownHere) {
  const auto r = load_source("type = \"gadget\"\nurl = \"https://w\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << all(r);
  EXPECT_NE(r.errors[0].message.find("unknown key \"url\""), std::string::npos) << all(r);
}

TEST_F(SourceSchemaTest, ATypeNoSchemaDeclaresIsRefusedWithTheKnownOnesListed) {
  const auto r = load_source("type = \"okay\"\n");
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("must be one of widget | gadget"), std::string::npos) << all(r);
}

}  // namespace
}  // namespace keywarden
