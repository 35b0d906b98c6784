// Every key the config loader accepts is documented in keywarden.toml(5)
// (docs/man/keywarden.toml.5.md), under the heading of its table or source
// type, and each source key with the default its type declares.
//
// Source keys come from the declarations of the registered types
// (source_schemas()). The keys of [daemon], [palette], [policy] and [safety]
// have no table to read, so they are taken from the loader's own behaviour:
// every lower-case string literal in config/ is a candidate name (with `_file`
// and `_env` appended too, for secrets); each candidate is put in a probe
// config, and a candidate the loader does not refuse as an unknown key (or as
// an inline secret) is a key.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "connectors/source_registry.h"

namespace keywarden {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceRoot = KEYWARDEN_SOURCE_DIR;

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Context names: "daemon", "palette", "policy", "safety", "source" (keys of
// every source), "source:<type>".
struct DocumentedKey {
  std::string default_text;  // what follows " = " in the term: `"1m"`, (required), ...
};
// Context -> key -> its entry.
using DocumentedKeys = std::map<std::string, std::map<std::string, DocumentedKey>>;

// The documented keys: list items "* `key` = ...:" / "* `a_file` / `a_env` = ...:"
// under "## [table]", "## [[source]]" and "### type = \"t\"" headings.
DocumentedKeys documented_keys(const std::string& page) {
  DocumentedKeys keys;
  std::string context;
  const std::regex table(R"re(^## \[(\w+)\]\s*$)re");
  const std::regex sources(R"re(^## \[\[source\]\]\s*$)re");
  const std::regex type(R"re(^### type = "(\w+)"\s*$)re");
  const std::regex other_heading(R"re(^##? )re");
  const std::regex term(R"re(^\* (`[a-z0-9_]+`(?: / `[a-z0-9_]+`)*) = (.*):$)re");
  const std::regex code(R"re(`([a-z0-9_]+)`)re");
  std::istringstream in(page);
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, m, table)) {
      context = m[1];
    } else if (std::regex_match(line, sources)) {
      context = "source";
    } else if (std::regex_match(line, m, type)) {
      context = "source:" + m[1].str();
    } else if (std::regex_search(line, other_heading)) {
      context.clear();
    } else if (!context.empty() && std::regex_match(line, m, term)) {
      const std::string names = m[1];
      for (std::sregex_iterator it(names.begin(), names.end(), code), end; it != end; ++it)
        keys[context][(*it)[1]] = DocumentedKey{m[2]};
    }
  }
  return keys;
}

std::set<std::string> candidate_names() {
  std::set<std::string> names;
  const std::regex literal(R"lit("([a-z][a-z0-9_]{0,39})")lit");
  for (const char* folder : {"config"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kSourceRoot / folder)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
      const std::string text = read_file(entry.path());
      for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it) {
        const std::string name = (*it)[1];
        names.insert(name);
        names.insert(name + "_file");
        names.insert(name + "_env");
      }
    }
  }
  return names;
}

class ConfigProbe {
 public:
  ConfigProbe() {
    std::string pattern = (fs::temp_directory_path() / "kw-config-keys-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~ConfigProbe() { fs::remove_all(dir_); }

  // The loader's errors for `text`.
  std::vector<std::string> errors(const std::string& text) {
    const fs::path file = dir_ / "probe.toml";
    std::ofstream(file) << text;
    std::vector<std::string> messages;
    for (const ConfigError& e : load_config(file, source_schemas()).errors) messages.push_back(e.message);
    return messages;
  }

  // Which of `candidates` the loader accepts as keys of the table `header`
  // (written after `prefix`), all probed in one file: the loader reports every
  // unknown key, not just the first.
  std::set<std::string> accepted(const std::string& prefix, const std::string& header,
                                 const std::set<std::string>& candidates) {
    std::string text = prefix + header + "\n";
    for (const std::string& c : candidates) text += c + " = \"probe\"\n";
    std::set<std::string> refused;
    for (const std::string& message : errors(text)) {
      for (const std::string& c : candidates) {
        const std::string quoted = "\"" + c + "\"";
        if (message.find("unknown key " + quoted) != std::string::npos ||
            (message.starts_with(quoted + " ") && message.find("looks like an inline secret") != std::string::npos))
          refused.insert(c);
      }
    }
    std::set<std::string> keys;
    for (const std::string& c : candidates)
      if (!refused.count(c)) keys.insert(c);
    return keys;
  }

 private:
  fs::path dir_;
};

const char kPalette[] = "[palette]\napi_key_env = \"PALETTE_API_KEY\"\n";
const char kFileSource[] = "[[source]]\nname = \"probe-file\"\ntype = \"file\"\npath = \"ids.json\"\n";

// The keys of the four tables, as the loader accepts them.
std::map<std::string, std::set<std::string>> table_keys(ConfigProbe& probe, const std::set<std::string>& candidates) {
  std::map<std::string, std::set<std::string>> keys;
  for (const char* table : {"daemon", "policy", "safety"})
    keys[table] = probe.accepted(std::string(kPalette) + kFileSource, std::string("[") + table + "]", candidates);
  std::set<std::string> palette_candidates = candidates;
  palette_candidates.erase("api_key_env");  // the probe's own key
  keys["palette"] = probe.accepted(kFileSource, std::string(kPalette), palette_candidates);
  keys["palette"].insert("api_key_env");
  return keys;
}

// The names a source key is written as: a secret's base name stands for two.
std::vector<std::string> written_names(const SourceKey& key) {
  if (key.kind == ValueKind::secret) return {std::string(key.name) + "_file", std::string(key.name) + "_env"};
  return {std::string(key.name)};
}

class ConfigKeysDocumented : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string page = read_file(kSourceRoot / "docs/man/keywarden.toml.5.md");
    ASSERT_FALSE(page.empty());
    documented_ = documented_keys(page);
  }

  // The documented entry of `key` in `context`, or nullptr (with a failure).
  const DocumentedKey* find(const std::string& context, const std::string& key) {
    const auto c = documented_.find(context);
    if (c == documented_.end()) {
      ADD_FAILURE() << "keywarden.toml(5) has no section for " << context
                    << (context.starts_with("source:") ? " (a heading ### type = \"" + context.substr(7) + "\")" : "");
      return nullptr;
    }
    const auto k = c->second.find(key);
    if (k == c->second.end()) {
      ADD_FAILURE() << "the loader accepts \"" << key << "\" in " << context
                    << " but docs/man/keywarden.toml.5.md does not document it there";
      return nullptr;
    }
    return &k->second;
  }

  DocumentedKeys documented_;
};

TEST_F(ConfigKeysDocumented, EveryTableKeyTheLoaderAcceptsIsInTheManPage) {
  ConfigProbe probe;
  for (const auto& [table, keys] : table_keys(probe, candidate_names())) {
    EXPECT_FALSE(keys.empty()) << table;
    for (const std::string& key : keys) find(table, key);
  }
}

TEST_F(ConfigKeysDocumented, EverySourceKeyIsInTheManPageWithItsDefault) {
  ASSERT_FALSE(source_schemas().empty());
  find("source", "name");
  find("source", "type");
  for (const SourceSchema* schema : source_schemas()) {
    const std::string context = "source:" + std::string(schema->type);
    for (const SourceKey& key : schema->keys) {
      for (const std::string& name : written_names(key)) {
        const DocumentedKey* doc = find(context, name);
        if (!doc) continue;
        if (!key.fallback.empty()) {
          EXPECT_EQ(doc->default_text, "`\"" + std::string(key.fallback) + "\"`")
              << context << " " << name << ": the man page's default differs from the type's declaration";
        } else {
          EXPECT_TRUE(doc->default_text.starts_with("("))
              << context << " " << name << " has no default, but the man page gives " << doc->default_text;
        }
      }
    }
  }
}

// The source keys the schemas declare are exactly the ones the loader takes:
// the probe above and the declarations agree, so a key cannot hide from both.
TEST_F(ConfigKeysDocumented, TheLoaderTakesExactlyTheDeclaredSourceKeys) {
  ConfigProbe probe;
  std::set<std::string> candidates = candidate_names();
  for (const SourceSchema* schema : source_schemas()) {
    std::set<std::string> declared;
    for (const SourceKey& key : schema->keys)
      for (const std::string& name : written_names(key)) declared.insert(name);
    std::set<std::string> probe_names = candidates;
    probe_names.insert(declared.begin(), declared.end());
    probe_names.erase("name");
    probe_names.erase("type");
    const auto accepted = probe.accepted(
        kPalette, "[[source]]\nname = \"probe\"\ntype = \"" + std::string(schema->type) + "\"", probe_names);
    EXPECT_EQ(accepted, declared) << schema->type;
  }
}

// The probe itself: it must tell keys from non-keys, or the tests above prove nothing.
TEST(ConfigProbe, TellsKeysFromUnknownNames) {
  ConfigProbe probe;
  const std::set<std::string> candidates = {"listen", "state_dir", "no_such_key", "token", "token_file", "path"};
  const auto daemon = probe.accepted(std::string(kPalette) + kFileSource, "[daemon]", candidates);
  EXPECT_EQ(daemon, (std::set<std::string>{"listen", "state_dir"}));
  const auto scim = probe.accepted(kPalette, "[[source]]\nname = \"probe\"\ntype = \"scim\"", candidates);
  EXPECT_EQ(scim, (std::set<std::string>{"token_file"})) << "an inline \"token\" is a refusal, not a key";
}

TEST(ManPageParser, FindsKeysUnderTheirHeadingWithTheirDefault) {
  const DocumentedKeys keys = documented_keys(
      "## [daemon]\n\n* `listen` = `\"127.0.0.1:9750\"`:\n  text\n\n"
      "## [[source]]\n\n### type = \"okta\"\n\n* `token_file` / `token_env` = (required):\n  text\n\n"
      "## SEE ALSO\n\n* `not_a_key` = `1`:\n  text\n");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys.at("daemon").at("listen").default_text, "`\"127.0.0.1:9750\"`");
  EXPECT_EQ(keys.at("source:okta").size(), 2u);
  EXPECT_EQ(keys.at("source:okta").at("token_env").default_text, "(required)");
}

}  // namespace
}  // namespace keywarden
