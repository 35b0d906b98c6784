#include "daemon/app/log.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "daemon/engine/time_point.h"

namespace keywarden {

namespace {

std::string_view level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

// syslog priorities: err 3, warning 4, info 6, debug 7.
int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return 7;
    case LogLevel::info: return 6;
    case LogLevel::warn: return 4;
    case LogLevel::error: return 3;
  }
  return 6;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

}  // namespace

void Logger::configure(std::string_view level, std::string_view format) {
  level_ = level == "debug" ? LogLevel::debug
           : level == "warn" ? LogLevel::warn
           : level == "error" ? LogLevel::error
                              : LogLevel::info;
  json_ = format == "json";
}

void Logger::add_secret(std::string secret) {
  if (secret.size() >= 4) secrets_.push_back(std::move(secret));
}

std::string Logger::redact(std::string text) const {
  for (const auto& s : secrets_) {
    for (size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos)) {
      text.replace(pos, s.size(), "[redacted]");
    }
  }
  return text;
}

void Logger::log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  std::string line;
  if (json_) {
    nlohmann::json j;
    j["time"] = format_rfc3339(now_utc());
    j["level"] = level_name(level);
    j["msg"] = message;
    for (const auto& f : fields) j[f.key] = f.value;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line.append(level_name(level)).append(": ").append(message);
    for (const auto& f : fields) {
      line.append(" ").append(f.key).append("=");
      if (needs_quotes(f.value)) {
        line.append(nlohmann::json(f.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      } else {
        line.append(f.value);
      }
    }
  }
  line = redact(std::move(line));
  static const bool under_journald = std::getenv("JOURNAL_STREAM") != nullptr;
  if (under_journald) line = "<" + std::to_string(syslog_priority(level)) + ">" + line;
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

Logger& logger() {
  static Logger instance;
  return instance;
}

}  // namespace keywarden
