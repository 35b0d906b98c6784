// A one-pass scanner that measures how deep a TOML text nests. It must never
// stop early on TOML that toml++ accepts (toml++ would then read on, past
// what was measured), so wherever it cannot be sure it errs on the side of
// reading on: any byte that is not TOML punctuation counts as part of a bare
// key, and a value is whatever runs up to the next delimiter. It stops only on
// text that is not TOML, where toml++ stops with its own error.

#include "config/toml_bounds.h"

namespace keywarden {

namespace {

class DepthScanner {
 public:
  DepthScanner(std::string_view text, int max_depth) : text_(text), max_depth_(max_depth) {}

  // Where the text first nests deeper than max_depth, if it does.
  struct Breach {
    long line = 0;
    long column = 0;
  };

  std::optional<Breach> scan() {
    if (text_.starts_with("\xEF\xBB\xBF")) i_ = 3;  // toml++ skips a UTF-8 byte order mark
    while (go_on()) {
      skip_blank(/*newlines=*/true);
      if (at_end()) break;
      if (peek() == '[') {
        header();
      } else {
        key_value(0 + header_depth_);
      }
      if (!go_on()) break;
      // A header or a key/value pair ends its line.
      skip_blank(/*newlines=*/false);
      if (!at_end() && peek() != '\n') stop();
    }
    return breach_;
  }

 private:
  bool go_on() const { return !stopped_ && !breach_; }
  bool at_end() const { return i_ >= text_.size(); }
  char peek(size_t ahead = 0) const { return i_ + ahead < text_.size() ? text_[i_ + ahead] : '\0'; }
  bool looking_at(std::string_view s) const { return text_.substr(i_).starts_with(s); }
  // Not TOML here: toml++ reports it, and reads nothing after it.
  void stop() { stopped_ = true; }

  // Moves over `n` bytes, keeping the position as toml++ reports it (columns
  // count characters, not bytes).
  void advance(size_t n = 1) {
    for (; n > 0 && i_ < text_.size(); --n, ++i_) {
      const auto c = static_cast<unsigned char>(text_[i_]);
      if (c == '\n') {
        ++line_;
        column_ = 1;
      } else if ((c & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
        ++column_;
      }
    }
  }

  // True (and the breach recorded here) when `depth` is too deep.
  bool too_deep(int depth) {
    if (depth <= max_depth_) return false;
    breach_ = Breach{line_, column_};
    return true;
  }

  // Spaces, tabs and comments; newlines too when `newlines`.
  void skip_blank(bool newlines) {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        advance();
      } else if (c == '#') {
        while (!at_end() && peek() != '\n') advance();
      } else {
        return;
      }
    }
  }

  static bool ends_bare_key(char c) {
    switch (c) {
      case ' ': case '\t': case '\r': case '\n': case '.': case '=': case '[': case ']':
      case '{': case '}': case '"': case '\'': case '#': case ',':
        return true;
      default:
        return false;
    }
  }

  // A dotted key whose first segment sits at depth `base + 1`. Returns how
  // many segments it has (0 after stop() or a breach).
  int key(int base) {
    int segments = 0;
    while (go_on()) {
      skip_blank(false);
      if (too_deep(base + ++segments)) return 0;
      if (peek() == '"') {
        basic_string();
      } else if (peek() == '\'') {
        literal_string();
      } else {
        const size_t start = i_;
        while (!at_end() && !ends_bare_key(peek())) advance();
        if (i_ == start) stop();
      }
      if (!go_on()) return 0;
      skip_blank(false);
      if (peek() != '.') return segments;
      advance();
    }
    return 0;
  }

  // `[a.b]` or `[[a.b]]`: the keys after it start at its depth.
  void header() {
    advance();
    const bool array_of_tables = peek() == '[';
    if (array_of_tables) advance();
    const int segments = key(0);
    if (!go_on()) return;
    if (peek() != ']') return stop();
    advance();
    if (array_of_tables) {
      if (peek() != ']') return stop();
      advance();
    }
    header_depth_ = segments;
  }

  void key_value(int base) {
    const int segments = key(base);
    if (!go_on()) return;
    if (peek() != '=') return stop();
    advance();
    skip_blank(false);
    value(base + segments);
  }

  // A value whose key sits at `depth`.
  void value(int depth) {
    if (looking_at("\"\"\"")) return multiline_string("\"\"\"", true);
    if (looking_at("'''")) return multiline_string("'''", false);
    switch (peek()) {
      case '"': return basic_string();
      case '\'': return literal_string();
      case '[': return array(depth);
      case '{': return inline_table(depth);
      default: break;
    }
    // A number, boolean or date-time (which may hold a space): up to the
    // next delimiter.
    const size_t start = i_;
    while (!at_end()) {
      const char c = peek();
      if (c == ',' || c == ']' || c == '}' || c == '#' || c == '\n') break;
      advance();
    }
    if (i_ == start) stop();
  }

  void array(int depth) {
    if (too_deep(depth + 1)) return;
    advance();
    while (go_on()) {
      skip_blank(true);
      if (peek() == ']') return advance();
      value(depth + 1);
      if (!go_on()) return;
      skip_blank(true);
      if (peek() == ',') {
        advance();
      } else if (peek() == ']') {
        return advance();
      } else {
        return stop();
      }
    }
  }

  // `{ k = v, ... }`: its keys nest below the key that holds it.
  void inline_table(int depth) {
    advance();
    while (go_on()) {
      skip_blank(true);  // newlines are not TOML 1.0 here; toml++ says so, not us
      if (peek() == '}') return advance();
      key_value(depth);
      if (!go_on()) return;
      skip_blank(true);
      if (peek() == ',') {
        advance();
      } else if (peek() == '}') {
        return advance();
      } else {
        return stop();
      }
    }
  }

  // "..." with backslash escapes, on one line.
  void basic_string() {
    advance();
    while (!at_end() && peek() != '\n') {
      if (peek() == '\\') {
        advance(2);
      } else if (peek() == '"') {
        return advance();
      } else {
        advance();
      }
    }
    stop();
  }

  // '...' without escapes, on one line.
  void literal_string() {
    advance();
    while (!at_end() && peek() != '\n') {
      if (peek() == '\'') return advance();
      advance();
    }
    stop();
  }

  // """...""" or '''...'''. Up to two more quotes right before the closing
  // ones belong to the string ("""a""""" is `a""`).
  void multiline_string(std::string_view quotes, bool escapes) {
    advance(3);
    while (!at_end()) {
      if (escapes && peek() == '\\') {
        advance(2);
      } else if (looking_at(quotes)) {
        advance(3);
        for (int extra = 0; extra < 2 && peek() == quotes[0]; ++extra) advance();
        return;
      } else {
        advance();
      }
    }
    stop();
  }

  std::string_view text_;
  int max_depth_;
  size_t i_ = 0;
  long line_ = 1;
  long column_ = 1;
  int header_depth_ = 0;
  bool stopped_ = false;
  std::optional<Breach> breach_;
};

}  // namespace

std::optional<ConfigError> check_toml_bounds(std::string_view text, const std::string& file_label,
                                             const TomlBounds& bounds) {
  if (text.size() > bounds.max_bytes)
    return ConfigError{file_label, 0, 0,
                       "larger than " + std::to_string(bounds.max_bytes) +
                           " bytes, far more than any keywarden config; refused unread"};
  if (const auto breach = DepthScanner(text, bounds.max_depth).scan())
    return ConfigError{file_label, breach->line, breach->column,
                       "nests deeper than " + std::to_string(bounds.max_depth) +
                           " levels (each segment of a key or table header and each array is "
                           "one); keywarden's own keys need 2; refused unread"};
  return std::nullopt;
}

}  // namespace keywarden
