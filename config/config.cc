// The loader of SPEC §3. It walks the parsed TOML once, checking every key
// against what the section (or the source type) allows, and keeps going after
// a problem so that one run of `check-config` shows every mistake.
//
// Messages never quote a value (source names aside, which are checked against
// [a-z0-9-]+ first): a secret pasted into the wrong key would otherwise end up
// on stderr and in the journal. The position says which value is meant.

#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <set>
#include <string_view>
#include <tuple>

#include <toml++/toml.h>

#include "config/toml_bounds.h"
#include "daemon/base/listen_address.h"
#include "daemon/engine/identity.h"

namespace keywarden {

std::string ConfigError::format() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::string SourceConfig::get(const std::string& key, const std::string& fallback) const {
  const auto it = settings.find(key);
  return it == settings.end() ? fallback : it->second;
}

SecretRef SourceConfig::secret(const std::string& base) const {
  SecretRef ref{get(base + "_file"), get(base + "_env")};
  const auto at = positions.find(base + (ref.file.empty() ? "_env" : "_file"));
  if (at != positions.end()) std::tie(ref.line, ref.column) = at->second;
  return ref;
}

SourceConfig with_defaults(SourceConfig config, const SourceSchema& schema) {
  for (const SourceKey& key : schema.keys) {
    if (key.kind == ValueKind::secret || key.fallback.empty()) continue;
    config.settings.emplace(std::string(key.name), std::string(key.fallback));
  }
  return config;
}

Duration SourceConfig::duration(const std::string& key, Duration fallback) const {
  const auto it = settings.find(key);
  if (it == settings.end()) return fallback;
  std::optional<Duration> parsed;
  if (!parse_duration(it->second, false, parsed) || !parsed) return fallback;
  return *parsed;
}

bool parse_duration(std::string_view text, bool allow_off, std::optional<Duration>& out) {
  if (allow_off && (text == "off" || text == "never")) {
    out = std::nullopt;
    return true;
  }
  if (text.size() < 2) return false;
  long long unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return false;
  }
  // The engine adds durations to timestamps; a cap far beyond any real
  // setting keeps that arithmetic from overflowing (an overflowed
  // "delete_after" could delete at once).
  constexpr long long kMaxSeconds = 36500LL * 86400;  // 100 years
  const std::string_view digits = text.substr(0, text.size() - 1);
  long long n = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
    if (n > kMaxSeconds / unit) return false;
  }
  out = Duration{n * unit};
  return true;
}

namespace {

using Position = toml::source_position;

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Names that hold a credential when written inline. A key like this is an
// error even where it would merely be unknown, because the fix is different:
// move the value out of the file, don't rename the key.
bool looks_like_inline_secret(std::string_view key) {
  if (ends_with(key, "_file") || ends_with(key, "_env")) return false;
  for (std::string_view word : {"secret", "token", "password", "passwd", "apikey", "api_key",
                                "credential", "client_state"})
    if (key.find(word) != std::string_view::npos) return true;
  return ends_with(key, "_key") || key == "key";
}

bool is_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

bool is_http_url(std::string_view s) {
  std::string_view rest;
  if (s.starts_with("https://")) rest = s.substr(8);
  else if (s.starts_with("http://")) rest = s.substr(7);
  else return false;
  if (rest.empty() || rest[0] == '/' || rest[0] == '?' || rest[0] == '#') return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

// RFC 9110 token characters.
bool is_header_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_source_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string_view type_name(const toml::node& v) {
  switch (v.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// One key of a table with the code that reads its value.
struct Field {
  std::string_view key;
  std::function<void(const toml::key&, const toml::node&)> read;
};

// Reads one file's tables into a Config, collecting errors as it goes.
class ConfigReader {
 public:
  ConfigReader(std::string file_label, std::filesystem::path base_dir, const SourceSchemas& schemas)
      : label_(std::move(file_label)), base_dir_(std::move(base_dir)), schemas_(schemas) {}

  std::vector<ConfigError> take_errors() { return std::move(errors_); }

  void read_document(const toml::table& root, Config& config) {
    const toml::table* palette = nullptr;
    const toml::node* sources = nullptr;
    read_fields(root, "the top level",
                {{"daemon", [&](const toml::key& k, const toml::node& v) {
                    if (const auto* t = as_section(k, v, "[daemon]")) read_daemon(*t, config.daemon);
                  }},
                 {"palette", [&](const toml::key& k, const toml::node& v) {
                    palette = as_section(k, v, "[palette]");
                  }},
                 {"policy", [&](const toml::key& k, const toml::node& v) {
                    if (const auto* t = as_section(k, v, "[policy]")) read_policy(*t, config.policy);
                  }},
                 {"safety", [&](const toml::key& k, const toml::node& v) {
                    if (const auto* t = as_section(k, v, "[safety]")) read_safety(*t, config.safety);
                  }},
                 {"source", [&](const toml::key&, const toml::node& v) { sources = &v; }}});

    if (palette) {
      read_palette(*palette, config.palette);
    } else if (!root.contains("palette")) {
      error(root.source().begin,
            "missing [palette]: keywarden needs api_key_file or api_key_env to reach Palette");
    }

    // Without a source keywarden knows nobody, so it could never find a leaver.
    if (!sources) {
      error(root.source().begin,
            "no [[source]]: at least one identity source is required");
    } else {
      read_sources(*sources, config.sources);
    }
  }

 private:
  void error(const Position& at, std::string message) {
    errors_.push_back(ConfigError{label_, static_cast<long>(at.line),
                                  static_cast<long>(at.column), std::move(message)});
  }

  // Where a complaint about a key belongs: the key itself when toml++ knows
  // where it is, else its value.
  static Position position_of(const toml::key& k, const toml::node& v) {
    return k.source().begin.line ? k.source().begin : v.source().begin;
  }

  static void remember_position(SecretRef& ref, const toml::key& k, const toml::node& v) {
    const Position at = position_of(k, v);
    ref.line = static_cast<long>(at.line);
    ref.column = static_cast<long>(at.column);
  }

  static std::string describe(std::string_view key, std::string_view where) {
    return in_quotes(key) + " in " + std::string(where);
  }

  // `allowed` tells whether a key exists where this one was found, so that the
  // hint only names `*_file` / `*_env` keys that would actually work there.
  // Returns true when the key is an inline form of a secret that this table
  // takes as `<key>_file` / `<key>_env`: the caller then skips "needs
  // <key>_file or <key>_env", which would only repeat the advice.
  bool report_unknown_key(const toml::key& k, const toml::node& v, std::string_view where,
                          const std::function<bool(std::string_view)>& allowed) {
    if (!looks_like_inline_secret(k.str())) {
      error(position_of(k, v), "unknown key " + in_quotes(k.str()) +
                                   (where.starts_with("[") ? " in " : " at ") + std::string(where));
      return false;
    }
    const std::string base(k.str());
    const bool has_secret_keys = allowed(base + "_file") && allowed(base + "_env");
    const std::string hint =
        has_secret_keys
            ? "secrets come from " + base + "_file or " + base + "_env, never from the config file"
            : "secrets are read from a *_file or *_env key, never from the config file";
    error(position_of(k, v), describe(base, where) + " looks like an inline secret: " + hint);
    return has_secret_keys;
  }

  // Returns the keys reported as inline secrets (see report_unknown_key).
  std::set<std::string> read_fields(const toml::table& table, std::string_view where,
                                    std::vector<Field> fields) {
    std::set<std::string> inline_secrets;
    for (auto&& [k, v] : table) {
      const std::string_view name = k.str();  // clang 14 cannot capture a structured binding
      const auto field = std::find_if(fields.begin(), fields.end(),
                                      [&](const Field& f) { return f.key == name; });
      if (field == fields.end()) {
        if (report_unknown_key(k, v, where, [&](std::string_view key) {
              return std::any_of(fields.begin(), fields.end(),
                                 [&](const Field& f) { return f.key == key; });
            }))
          inline_secrets.emplace(k.str());
      } else {
        field->read(k, v);
      }
    }
    return inline_secrets;
  }

  const toml::table* as_section(const toml::key& k, const toml::node& v, std::string_view name) {
    if (const auto* t = v.as_table()) return t;
    error(position_of(k, v), std::string(name) + " must be a table, not " +
                                 std::string(type_name(v)));
    return nullptr;
  }

  void report_type(const toml::node& v, std::string_view key, std::string_view where,
                   std::string_view expected) {
    error(v.source().begin, describe(key, where) + " must be " + std::string(expected) +
                                ", not " + std::string(type_name(v)));
  }

  std::optional<std::string> read_string(const toml::node& v, std::string_view key,
                                         std::string_view where, bool allow_empty = false) {
    const auto* s = v.as_string();
    if (!s) {
      report_type(v, key, where, "a string");
      return std::nullopt;
    }
    if (!allow_empty && s->get().empty()) {
      error(v.source().begin, describe(key, where) + " must not be empty; leave the key out instead");
      return std::nullopt;
    }
    return s->get();
  }

  std::optional<bool> read_bool(const toml::node& v, std::string_view key, std::string_view where) {
    if (const auto* b = v.as_boolean()) return b->get();
    report_type(v, key, where, "true or false");
    return std::nullopt;
  }

  std::optional<double> read_number(const toml::node& v, std::string_view key,
                                    std::string_view where) {
    if (const auto* i = v.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = v.as_floating_point(); f && std::isfinite(f->get())) return f->get();
    report_type(v, key, where, "a finite number");
    return std::nullopt;
  }

  std::optional<double> read_percent(const toml::node& v, std::string_view key,
                                     std::string_view where) {
    const auto n = read_number(v, key, where);
    if (n && (*n < 0 || *n > 100)) {
      error(v.source().begin, describe(key, where) + " must be a percentage from 0 to 100");
      return std::nullopt;
    }
    return n;
  }

  enum class DurationRule { non_negative, positive, positive_or_off };

  // Returns nullopt on error; an engaged nullopt inside means "off".
  std::optional<std::optional<Duration>> read_duration(const toml::node& v, std::string_view key,
                                                       std::string_view where, DurationRule rule,
                                                       std::string_view off_word = "") {
    const auto text = read_string(v, key, where, true);
    if (!text) return std::nullopt;
    const bool allow_off = rule == DurationRule::positive_or_off;
    std::optional<Duration> d;
    if (!parse_duration(*text, allow_off, d)) {
      std::string message = describe(key, where) +
                            " must be a duration: a whole number followed by s, m, h or d";
      if (allow_off) message += ", or " + in_quotes(off_word);
      error(v.source().begin, message);
      return std::nullopt;
    }
    if (d && d->count() == 0 && rule != DurationRule::non_negative) {
      std::string message = describe(key, where) + " must be longer than 0s";
      if (allow_off) message += "; write " + in_quotes(off_word) + " to turn it off";
      error(v.source().begin, message);
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::string> read_url(const toml::node& v, std::string_view key,
                                      std::string_view where) {
    const auto s = read_string(v, key, where);
    if (s && !is_http_url(*s)) {
      error(v.source().begin,
            describe(key, where) + " must be an http:// or https:// URL with a host");
      return std::nullopt;
    }
    return s;
  }

  std::filesystem::path resolve(const std::filesystem::path& p) const {
    return (p.is_absolute() ? p : base_dir_ / p).lexically_normal();
  }

  // An empty string means "not set" for the optional paths whose SPEC example is "".
  std::optional<std::filesystem::path> read_path(const toml::node& v, std::string_view key,
                                                 std::string_view where, bool allow_empty) {
    const auto s = read_string(v, key, where, allow_empty);
    if (!s) return std::nullopt;
    if (s->empty()) return std::filesystem::path{};
    if (s->find('\0') != std::string::npos) {
      error(v.source().begin, describe(key, where) + " must not contain a NUL character");
      return std::nullopt;
    }
    return resolve(*s);
  }

  // The value of a `*_env` key may be the secret itself, pasted in the wrong
  // place, so the message does not repeat it.
  std::optional<std::string> read_env_name(const toml::node& v, std::string_view key,
                                           std::string_view where) {
    const auto s = read_string(v, key, where);
    if (s && !is_env_name(*s)) {
      error(v.source().begin, describe(key, where) +
                                  " must name an environment variable (letters, digits, _)");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::vector<std::string>> read_string_list(const toml::node& v,
                                                           std::string_view key,
                                                           std::string_view where) {
    const auto* array = v.as_array();
    if (!array) {
      report_type(v, key, where, "an array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (const toml::node& element : *array) {
      const auto* s = element.as_string();
      if (!s) {
        report_type(element, key, where, "an array of strings");
        ok = false;
      } else if (s->get().find_first_not_of(" \t") == std::string::npos) {
        error(element.source().begin, describe(key, where) + " must not hold an empty string");
        ok = false;
      } else {
        out.push_back(s->get());
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  template <typename Enum>
  std::optional<Enum> read_choice(const toml::node& v, std::string_view key, std::string_view where,
                                  std::initializer_list<std::pair<std::string_view, Enum>> choices) {
    const auto s = read_string(v, key, where, true);
    if (!s) return std::nullopt;
    std::string names;
    for (const auto& [name, value] : choices) {
      if (*s == name) return value;
      names += (names.empty() ? "" : " | ") + std::string(name);
    }
    error(v.source().begin, describe(key, where) + " must be one of " + names);
    return std::nullopt;
  }

  std::optional<OwnerPolicy> read_owner_policy(const toml::node& v, std::string_view key) {
    return read_choice<OwnerPolicy>(v, key, "[policy]",
                                    {{"revoke", OwnerPolicy::revoke},
                                     {"report", OwnerPolicy::report},
                                     {"ignore", OwnerPolicy::ignore}});
  }

  // `<base>_file` / `<base>_env`: exactly one, reported at the later key.
  struct SecretKeys {
    const toml::key* file_key = nullptr;
    const toml::key* env_key = nullptr;
  };

  void check_secret_pair(const SecretKeys& keys, std::string_view base, std::string_view where,
                         const toml::table& table, bool required) {
    if (keys.file_key && keys.env_key) {
      const toml::key* later =
          keys.file_key->source().begin < keys.env_key->source().begin ? keys.env_key : keys.file_key;
      error(later->source().begin, std::string(where) + " sets both " + std::string(base) +
                                       "_file and " + std::string(base) + "_env; keep exactly one");
    } else if (required && !keys.file_key && !keys.env_key) {
      error(table.source().begin, std::string(where) + " needs " + std::string(base) + "_file or " +
                                      std::string(base) + "_env");
    }
  }

  void read_daemon(const toml::table& t, DaemonConfig& d) {
    constexpr std::string_view where = "[daemon]";
    const toml::key* cert_key = nullptr;
    const toml::key* key_key = nullptr;
    read_fields(
        t, where,
        {{"state_dir",
          [&](const toml::key&, const toml::node& v) {
            if (auto p = read_path(v, "state_dir", where, false)) d.state_dir = *p;
          }},
         {"listen",
          [&](const toml::key&, const toml::node& v) {
            const auto s = read_string(v, "listen", where, true);
            if (!s) return;
            if (!parse_listen_address(*s)) {
              error(v.source().begin, describe("listen", where) +
                                          " must be HOST:PORT (an IPv4 address or a host name) or "
                                          "[IPV6]:PORT, with a port from 0 to 65535; every "
                                          "interface is 0.0.0.0:PORT or [::]:PORT");
              return;
            }
            d.listen = *s;
          }},
         {"tls_cert",
          [&](const toml::key& k, const toml::node& v) {
            if (auto p = read_path(v, "tls_cert", where, true)) {
              d.tls_cert = *p;
              if (!p->empty()) cert_key = &k;
            }
          }},
         {"tls_key",
          [&](const toml::key& k, const toml::node& v) {
            if (auto p = read_path(v, "tls_key", where, true)) {
              d.tls_key = *p;
              if (!p->empty()) key_key = &k;
            }
          }},
         {"reconcile_interval",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_duration(v, "reconcile_interval", where, DurationRule::positive))
              d.reconcile_interval = **x;
          }},
         {"log_level",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_choice<std::string_view>(
                    v, "log_level", where,
                    {{"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}}))
              d.log_level = *x;
          }},
         {"log_format", [&](const toml::key&, const toml::node& v) {
            if (auto x = read_choice<std::string_view>(v, "log_format", where,
                                                       {{"text", "text"}, {"json", "json"}}))
              d.log_format = *x;
          }}});
    // HTTPS needs both halves; one alone is a half-finished edit, not plain HTTP.
    if (cert_key && !key_key)
      error(cert_key->source().begin, "[daemon] sets tls_cert without tls_key; set both or neither");
    if (key_key && !cert_key)
      error(key_key->source().begin, "[daemon] sets tls_key without tls_cert; set both or neither");
  }

  void read_palette(const toml::table& t, PaletteConfig& p) {
    constexpr std::string_view where = "[palette]";
    SecretKeys keys;
    const auto inline_secrets = read_fields(
        t, where,
        {{"endpoint",
          [&](const toml::key&, const toml::node& v) {
            if (auto s = read_url(v, "endpoint", where)) p.endpoint = *s;
          }},
         {"api_key_file",
          [&](const toml::key& k, const toml::node& v) {
            keys.file_key = &k;
            if (auto f = read_path(v, "api_key_file", where, false)) p.api_key.file = *f;
            remember_position(p.api_key, k, v);
          }},
         {"api_key_env",
          [&](const toml::key& k, const toml::node& v) {
            keys.env_key = &k;
            if (auto e = read_env_name(v, "api_key_env", where)) p.api_key.env = *e;
            remember_position(p.api_key, k, v);
          }},
         {"ca_file",
          [&](const toml::key&, const toml::node& v) {
            if (auto f = read_path(v, "ca_file", where, true)) p.ca_file = *f;
          }},
         {"requests_per_second",
          [&](const toml::key&, const toml::node& v) {
            const auto n = read_number(v, "requests_per_second", where);
            if (!n) return;
            if (*n <= 0) {
              error(v.source().begin, describe("requests_per_second", where) +
                                          " must be greater than 0");
              return;
            }
            p.requests_per_second = *n;
          }},
         {"timeout", [&](const toml::key&, const toml::node& v) {
            if (auto x = read_duration(v, "timeout", where, DurationRule::positive))
              p.timeout = **x;
          }}});
    check_secret_pair(keys, "api_key", where, t, !inline_secrets.count("api_key"));
  }

  void read_policy(const toml::table& t, Policy& p) {
    constexpr std::string_view where = "[policy]";
    read_fields(
        t, where,
        {{"entitled_groups",
          [&](const toml::key&, const toml::node& v) {
            // Kept as written: Palette team names and IdP group names are case-sensitive.
            if (auto list = read_string_list(v, "entitled_groups", where)) p.entitled_groups = *list;
          }},
         {"revoke_after",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_duration(v, "revoke_after", where, DurationRule::non_negative))
              p.revoke_after = **x;
          }},
         {"delete_after",
          [&](const toml::key&, const toml::node& v) {
            if (auto x =
                    read_duration(v, "delete_after", where, DurationRule::positive_or_off, "never"))
              p.delete_after = *x;
          }},
         {"reactivate_on_return",
          [&](const toml::key&, const toml::node& v) {
            if (auto b = read_bool(v, "reactivate_on_return", where)) p.reactivate_on_return = *b;
          }},
         {"owner_missing",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_owner_policy(v, "owner_missing")) p.owner_missing = *x;
          }},
         {"unknown_owner",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_owner_policy(v, "unknown_owner")) p.unknown_owner = *x;
          }},
         {"never_entitled",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_owner_policy(v, "never_entitled")) p.never_entitled = *x;
          }},
         {"stale_teams",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_owner_policy(v, "stale_teams")) p.stale_teams = *x;
          }},
         {"max_key_age",
          [&](const toml::key&, const toml::node& v) {
            if (auto x = read_duration(v, "max_key_age", where, DurationRule::positive_or_off, "off"))
              p.max_key_age = *x;
          }},
         {"exempt_users",
          [&](const toml::key&, const toml::node& v) {
            auto list = read_string_list(v, "exempt_users", where);
            if (!list) return;
            p.exempt_users.clear();
            for (const std::string& email : *list) p.exempt_users.push_back(normalize_email(email));
          }},
         {"exempt_keys", [&](const toml::key&, const toml::node& v) {
            if (auto list = read_string_list(v, "exempt_keys", where)) p.exempt_keys = *list;
          }}});
  }

  void read_safety(const toml::table& t, SafetyLimits& s) {
    constexpr std::string_view where = "[safety]";
    read_fields(
        t, where,
        {{"max_revocations",
          [&](const toml::key&, const toml::node& v) {
            const auto* i = v.as_integer();
            if (!i) {
              report_type(v, "max_revocations", where, "a whole number");
              return;
            }
            if (i->get() < 0) {
              error(v.source().begin, describe("max_revocations", where) + " must be 0 or more");
              return;
            }
            s.max_revocations = static_cast<long>(i->get());
          }},
         {"max_revocations_percent",
          [&](const toml::key&, const toml::node& v) {
            if (auto n = read_percent(v, "max_revocations_percent", where))
              s.max_revocations_percent = *n;
          }},
         {"max_shrink_percent", [&](const toml::key&, const toml::node& v) {
            if (auto n = read_percent(v, "max_shrink_percent", where)) s.max_shrink_percent = *n;
          }}});
  }

  void read_sources(const toml::node& node, std::vector<SourceConfig>& out) {
    const auto* array = node.as_array();
    if (array && array->empty()) {
      error(node.source().begin, "no [[source]]: at least one identity source is required");
      return;
    }
    if (!array || !array->is_array_of_tables()) {
      error(node.source().begin, "source must be an array of tables: write each one as [[source]]");
      return;
    }
    std::map<std::string, Position> seen;
    size_t index = 0;
    for (const toml::node& element : *array) {
      ++index;
      SourceConfig source;
      if (read_source(*element.as_table(), index, seen, source)) out.push_back(std::move(source));
    }
  }

  // Returns false when the source has errors (they are already recorded).
  bool read_source(const toml::table& t, size_t index, std::map<std::string, Position>& seen,
                   SourceConfig& source) {
    const size_t errors_before = errors_.size();
    std::string where = "[[source]] #" + std::to_string(index);

    if (const toml::node* name = t.get("name")) {
      if (auto s = read_string(*name, "name", where, true)) {
        if (!is_source_name(*s)) {
          error(name->source().begin,
                describe("name", where) + " must match [a-z0-9-]+ (it appears in URLs and metrics)");
        } else {
          where = "[[source]] " + in_quotes(*s);
          const auto [first, inserted] = seen.emplace(*s, name->source().begin);
          if (!inserted)
            error(name->source().begin, "duplicate source name " + in_quotes(*s) +
                                            " (first defined at line " +
                                            std::to_string(first->second.line) + ")");
          source.name = *s;
        }
      }
    } else {
      error(t.source().begin, where + " needs a name");
    }

    const SourceSchema* type = nullptr;
    if (const toml::node* type_node = t.get("type")) {
      if (auto s = read_string(*type_node, "type", where, true)) {
        type = find_schema(*s);
        if (!type) {
          std::string names;
          for (const SourceSchema* st : schemas_)
            names += (names.empty() ? "" : " | ") + std::string(st->type);
          error(type_node->source().begin, describe("type", where) + " must be one of " + names);
        } else {
          source.type = *s;
        }
      }
    } else {
      error(t.source().begin, where + " needs a type");
    }

    std::map<std::string_view, SecretKeys> secrets;
    std::map<std::string_view, const toml::key*> present;
    std::set<std::string_view> inline_secrets;
    for (auto&& [k, v] : t) {
      const std::string_view key = k.str();
      if (key == "name" || key == "type") continue;
      const Position at = position_of(k, v);
      source.positions[std::string(key)] = {static_cast<long>(at.line), static_cast<long>(at.column)};
      const SourceKey* spec = type ? find_source_key(*type, key) : nullptr;
      if (!spec) {
        // With an unknown type there is no list to check against; only
        // inline secrets are worth reporting then.
        if ((type || looks_like_inline_secret(key)) &&
            report_unknown_key(k, v, where, [&](std::string_view candidate) {
              return type && find_source_key(*type, candidate);
            }))
          inline_secrets.emplace(key);
        continue;
      }
      present[spec->kind == ValueKind::secret ? key : spec->name] = &k;
      if (spec->kind == ValueKind::secret) {
        SecretKeys& pair = secrets[spec->name];
        if (ends_with(key, "_file")) {
          pair.file_key = &k;
          if (auto p = read_path(v, key, where, false)) source.settings[std::string(key)] = p->string();
        } else {
          pair.env_key = &k;
          if (auto e = read_env_name(v, key, where)) source.settings[std::string(key)] = *e;
        }
        continue;
      }
      if (auto value = read_source_value(*spec, v, where))
        source.settings[std::string(key)] = *value;
    }

    if (type) {
      for (const SourceKey& spec : type->keys) {
        if (spec.kind == ValueKind::secret) {
          check_secret_pair(secrets[spec.name], spec.name, where, t,
                            spec.required && !inline_secrets.count(spec.name));
          if (!secrets[spec.name].file_key && !secrets[spec.name].env_key) continue;
          source.secrets.emplace_back(spec.name);
        } else if (!present.count(spec.name)) {
          if (spec.required)
            error(t.source().begin, where + " (type " + std::string(type->type) + ") needs " +
                                        std::string(spec.name));
        }
      }
      source = with_defaults(std::move(source), *type);
      for (const auto& [a, b] : type->pairs) {
        const bool has_a = present.count(a), has_b = present.count(b);
        if (has_a != has_b) {
          const toml::key* set = has_a ? present[a] : present[b];
          error(set->source().begin, where + " sets " + std::string(has_a ? a : b) + " without " +
                                         std::string(has_a ? b : a) + "; set both or neither");
        }
      }
    }
    return errors_.size() == errors_before;
  }

  // Secrets are listed once by their base name and match both `_file` and `_env`.
  const SourceSchema* find_schema(std::string_view type) const {
    for (const SourceSchema* schema : schemas_)
      if (schema->type == type) return schema;
    return nullptr;
  }

  static const SourceKey* find_source_key(const SourceSchema& type, std::string_view key) {
    for (const SourceKey& spec : type.keys) {
      if (spec.kind == ValueKind::secret) {
        if (key.size() > spec.name.size() && key.starts_with(spec.name) &&
            (key.substr(spec.name.size()) == "_file" || key.substr(spec.name.size()) == "_env"))
          return &spec;
      } else if (spec.name == key) {
        return &spec;
      }
    }
    return nullptr;
  }

  std::optional<std::string> read_source_value(const SourceKey& spec, const toml::node& v,
                                               std::string_view where) {
    switch (spec.kind) {
      case ValueKind::text: return read_string(v, spec.name, where);
      case ValueKind::url: return read_url(v, spec.name, where);
      case ValueKind::path: {
        auto p = read_path(v, spec.name, where, false);
        if (!p) return std::nullopt;
        return p->string();
      }
      case ValueKind::duration: {
        if (!read_duration(v, spec.name, where, DurationRule::positive)) return std::nullopt;
        return v.as_string()->get();
      }
      case ValueKind::header: {
        auto s = read_string(v, spec.name, where);
        if (s && !is_header_name(*s)) {
          error(v.source().begin, describe(spec.name, where) + " must be an HTTP header name");
          return std::nullopt;
        }
        return s;
      }
      case ValueKind::choice: {
        auto s = read_string(v, spec.name, where, true);
        if (!s) return std::nullopt;
        std::string names;
        for (std::string_view choice : spec.choices) {
          if (*s == choice) return s;
          names += (names.empty() ? "" : " | ") + std::string(choice);
        }
        error(v.source().begin, describe(spec.name, where) + " must be one of " + names);
        return std::nullopt;
      }
      case ValueKind::secret: break;  // handled by the caller: it spans two keys
    }
    return std::nullopt;
  }

  std::string label_;
  std::filesystem::path base_dir_;
  const SourceSchemas& schemas_;
  std::vector<ConfigError> errors_;
};

// Reads the whole file so that a failure carries errno; toml::parse_file
// only says "could not be opened". Stops one byte past `limit`: the caller
// refuses that much anyway, and /dev/zero would never end.
std::optional<std::string> read_file(const std::filesystem::path& file, size_t limit, int& err) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) {
    err = errno;
    return std::nullopt;
  }
  std::string content;
  char buf[65536];
  size_t n;
  while (content.size() <= limit && (n = std::fread(buf, 1, sizeof buf, f.get())) > 0)
    content.append(buf, n);
  if (std::ferror(f.get())) {
    err = errno ? errno : EIO;
    return std::nullopt;
  }
  return content;
}

}  // namespace

ConfigLoadResult load_config(const std::filesystem::path& file, const SourceSchemas& schemas) {
  ConfigLoadResult result;
  const std::string label = file.string();

  int err = 0;
  const TomlBounds bounds;
  const auto content = read_file(file, bounds.max_bytes, err);
  if (!content) {
    result.errors.push_back(ConfigError{label, 0, 0, std::string("cannot read: ") + std::strerror(err)});
    return result;
  }
  // toml++ recurses without a limit on dotted keys and table headers.
  if (auto too_big = check_toml_bounds(*content, label, bounds)) {
    result.errors.push_back(std::move(*too_big));
    return result;
  }

  toml::table root;
  try {
    root = toml::parse(*content, std::string_view(label));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    result.errors.push_back(ConfigError{label, static_cast<long>(at.line),
                                        static_cast<long>(at.column),
                                        std::string(e.description())});
    return result;
  }

  Config config;
  std::error_code ec;
  config.file = std::filesystem::absolute(file, ec).lexically_normal();
  if (ec) {
    result.errors.push_back(ConfigError{label, 0, 0, "cannot resolve path: " + ec.message()});
    return result;
  }

  ConfigReader reader(label, config.file.parent_path(), schemas);
  reader.read_document(root, config);
  result.errors = reader.take_errors();
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace keywarden
