// Log lines that journald reads well: one line per event with a level; under
// systemd (JOURNAL_STREAM set) each line starts with the syslog priority
// "<N>" so journald files it at the right level. log_format = "json" writes
// one JSON object per line instead.
//
// Secrets registered with add_secret() are replaced by "[redacted]" in every
// line, as a second line of defence: callers never pass them knowingly.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keywarden {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

struct LogField {
  std::string key;
  std::string value;
};

class Logger {
 public:
  // `level` and `format` as in [daemon]; unknown words fall back to info/text.
  void configure(std::string_view level, std::string_view format);
  void add_secret(std::string secret);

  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
  void debug(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::debug, m, f); }
  void info(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::info, m, f); }
  void warn(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::warn, m, f); }
  void error(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::error, m, f); }

  bool enabled(LogLevel level) const { return level >= level_; }

 private:
  std::string redact(std::string text) const;

  LogLevel level_ = LogLevel::info;
  bool json_ = false;
  std::vector<std::string> secrets_;
};

// The process-wide logger.
Logger& logger();

}  // namespace keywarden
