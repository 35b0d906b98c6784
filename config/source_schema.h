// What a source type declares about its [[source]] table: its name and its
// keys, with their kind, default and whether they are required. The config
// loader validates every [[source]] against the declaration of its type and
// stores each default; it never names a type itself. Each connector keeps its
// declaration in its own folder (connectors/<type>/), as SSSD keeps each
// provider's option table beside the provider.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace keywarden {

// How the value of a source key is checked and stored (as text in
// SourceConfig::settings).
enum class ValueKind {
  text,      // a non-empty string
  url,       // http:// or https://
  path,      // a file path, made absolute against the config file's folder
  secret,    // `<name>_file` (a path) or `<name>_env` (a variable name), exactly one
  duration,  // "<n>s|m|h|d", positive
  header,    // an HTTP header name
  choice,    // one of `choices`
};

struct SourceKey {
  // The key as written; for a secret, its base name ("token" stands for
  // token_file and token_env).
  std::string_view name;
  ValueKind kind;
  bool required = false;
  // The default, stored in settings when the key is absent. Empty: none.
  std::string_view fallback = {};
  std::vector<std::string_view> choices = {};  // ValueKind::choice only
  std::string_view doc = {};                   // one line, for docs and the man page
};

struct SourceSchema {
  std::string_view type;  // [a-z]+, the value of `type = "..."`
  std::vector<SourceKey> keys;
  // Keys that only make sense together (a certificate and its private key).
  std::vector<std::pair<std::string_view, std::string_view>> pairs = {};
  std::string_view doc = {};  // one line: what this type of source is
};

// Every source type a build knows, in the order error messages list them.
using SourceSchemas = std::vector<const SourceSchema*>;

}  // namespace keywarden
