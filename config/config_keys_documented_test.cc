// Every key the config loader accepts is documented in keywarden.toml(5)
// (docs/man/keywarden.toml.5.md), under the heading of its table or source type.
//
// The keys are not taken from a table in the code but from the loader's own
// behaviour, so the test holds whatever shape the key tables take: every
// lower-case string literal in config/ and connectors/ is a candidate name
// (with `_file` and `_env` appended too, for secrets); each candidate is put in
// a probe config, and a candidate the loader does not refuse as an unknown key
// (or as an inline secret) is a key.
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
using KeysByContext = std::map<std::string, std::set<std::string>>;

// The documented keys: list items "* `key` = ..." / "* `a_file` / `a_env` = ...:"
// under "## [table]", "## [[source]]" and "### type = \"t\"" headings.
KeysByContext documented_keys(const std::string& page) {
  KeysByContext keys;
  std::string context;
  const std::regex table(R"(^## \[(\w+)\]\s*$)");
  const std::regex sources(R"(^## \[\[source\]\]\s*$)");
  const std::regex type(R"(^### type = "(\w+)"\s*$)");
  const std::regex other_heading(R"(^##? )");
  const std::regex term(R"(^\* (`[a-z0-9_]+`(?: / `[a-z0-9_]+`)*) = .*:$)");
  const std::regex code(R"(`([a-z0-9_]+)`)");
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
        keys[context].insert((*it)[1]);
    }
  }
  return keys;
}

std::set<std::string> candidate_names() {
  std::set<std::string> names;
  const std::regex literal(R"lit("([a-z][a-z0-9_]{0,39})")lit");
  for (const char* folder : {"config", "connectors"}) {
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
    for (const ConfigError& e : load_config(file).errors) messages.push_back(e.message);
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

// Source types the loader accepts: those for which it does not say "type ...
// must be one of".
std::set<std::string> source_types(ConfigProbe& probe, const std::set<std::string>& candidates) {
  std::set<std::string> types;
  for (const std::string& c : candidates) {
    bool refused = false;
    for (const std::string& m : probe.errors(std::string(kPalette) + "[[source]]\nname = \"probe\"\ntype = \"" + c + "\"\n"))
      refused = refused || (m.starts_with("\"type\"") && m.find("must be one of") != std::string::npos);
    if (!refused) types.insert(c);
  }
  return types;
}

KeysByContext accepted_keys(ConfigProbe& probe, const std::set<std::string>& candidates) {
  KeysByContext keys;
  for (const char* table : {"daemon", "policy", "safety"})
    keys[table] = probe.accepted(std::string(kPalette) + kFileSource, std::string("[") + table + "]", candidates);
  std::set<std::string> palette_candidates = candidates;
  palette_candidates.erase("api_key_env");  // the probe's own key
  keys["palette"] = probe.accepted(kFileSource, std::string(kPalette), palette_candidates);
  keys["palette"].insert("api_key_env");

  std::set<std::string> source_candidates = candidates;
  source_candidates.erase("name");
  source_candidates.erase("type");
  for (const std::string& type : source_types(probe, candidates)) {
    keys["source:" + type] = probe.accepted(
        kPalette, "[[source]]\nname = \"probe\"\ntype = \"" + type + "\"", source_candidates);
  }
  keys["source"] = {"name", "type"};
  return keys;
}

TEST(ConfigKeysDocumented, EveryKeyTheLoaderAcceptsIsInTheManPage) {
  const std::string page = read_file(kSourceRoot / "docs/man/keywarden.toml.5.md");
  ASSERT_FALSE(page.empty());
  const KeysByContext documented = documented_keys(page);
  ConfigProbe probe;
  const KeysByContext accepted = accepted_keys(probe, candidate_names());

  for (const auto& [context, keys] : accepted) {
    const auto doc = documented.find(context);
    if (doc == documented.end()) {
      ADD_FAILURE() << "keywarden.toml(5) has no section for " << context
                    << (context.starts_with("source:") ? " (a heading ### type = \"" + context.substr(7) + "\")" : "");
      continue;
    }
    for (const std::string& key : keys)
      EXPECT_TRUE(doc->second.count(key)) << "the loader accepts \"" << key << "\" in " << context
                                          << " but docs/man/keywarden.toml.5.md does not document it there";
  }
}

// The probe itself: it must tell keys from non-keys, or the test above proves nothing.
TEST(ConfigKeysDocumented, TheProbeTellsKeysFromUnknownNames) {
  ConfigProbe probe;
  const std::set<std::string> candidates = {"listen", "state_dir", "no_such_key", "token", "token_file", "path"};
  const auto daemon = probe.accepted(std::string(kPalette) + kFileSource, "[daemon]", candidates);
  EXPECT_EQ(daemon, (std::set<std::string>{"listen", "state_dir"}));
  const auto scim = probe.accepted(kPalette, "[[source]]\nname = \"probe\"\ntype = \"scim\"", candidates);
  EXPECT_EQ(scim, (std::set<std::string>{"token_file"})) << "an inline \"token\" is a refusal, not a key";
  const auto types = source_types(probe, {"file", "scim", "no_such_type"});
  EXPECT_EQ(types, (std::set<std::string>{"file", "scim"}));
}

TEST(ConfigKeysDocumented, TheManPageParserFindsKeysUnderTheirHeading) {
  const KeysByContext keys = documented_keys(
      "## [daemon]\n\n* `listen` = `\"127.0.0.1:9750\"`:\n  text\n\n"
      "## [[source]]\n\n### type = \"okta\"\n\n* `token_file` / `token_env` = (required):\n  text\n\n"
      "## SEE ALSO\n\n* `not_a_key` = `1`:\n  text\n");
  EXPECT_EQ(keys.at("daemon"), (std::set<std::string>{"listen"}));
  EXPECT_EQ(keys.at("source:okta"), (std::set<std::string>{"token_file", "token_env"}));
  EXPECT_EQ(keys.size(), 2u);
}

}  // namespace
}  // namespace keywarden
