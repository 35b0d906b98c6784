#include "daemon/base/retry_after.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace keywarden {

namespace {

using std::chrono::milliseconds;

// A cursor over an HTTP-date; each read_* consumes what it matched or fails.
class DateReader {
 public:
  explicit DateReader(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }

  bool literal(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }

  bool number(size_t min_digits, size_t max_digits, int& out) {
    size_t n = 0;
    int value = 0;
    while (n < max_digits && pos_ + n < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_ + n]))) {
      value = value * 10 + (text_[pos_ + n] - '0');
      ++n;
    }
    if (n < min_digits) return false;
    pos_ += n;
    out = value;
    return true;
  }

  bool letters(std::string& out) {
    size_t n = 0;
    while (pos_ + n < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_ + n]))) ++n;
    if (n == 0) return false;
    out = std::string(text_.substr(pos_, n));
    pos_ += n;
    return true;
  }

  bool month(unsigned& out) {
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (unsigned i = 0; i < kMonths.size(); ++i) {
      if (literal(kMonths[i])) {
        out = i + 1;
        return true;
      }
    }
    return false;
  }

  bool time_of_day(int& h, int& m, int& s) {
    return number(2, 2, h) && literal(":") && number(2, 2, m) && literal(":") && number(2, 2, s);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

struct DateFields {
  int year = 0;
  unsigned month = 0;
  int day = 0, hour = 0, minute = 0, second = 0;
};

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<DateFields> read_imf_fixdate(std::string_view text) {
  DateReader r(text);
  DateFields f;
  std::string weekday;
  if (r.letters(weekday) && weekday.size() == 3 && r.literal(", ") && r.number(2, 2, f.day) && r.literal(" ") &&
      r.month(f.month) && r.literal(" ") && r.number(4, 4, f.year) && r.literal(" ") &&
      r.time_of_day(f.hour, f.minute, f.second) && r.literal(" GMT") && r.done()) {
    return f;
  }
  return std::nullopt;
}

// Obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT".
std::optional<DateFields> read_rfc850_date(std::string_view text) {
  DateReader r(text);
  DateFields f;
  std::string weekday;
  int yy = 0;
  if (r.letters(weekday) && r.literal(", ") && r.number(2, 2, f.day) && r.literal("-") && r.month(f.month) &&
      r.literal("-") && r.number(2, 2, yy) && r.literal(" ") && r.time_of_day(f.hour, f.minute, f.second) &&
      r.literal(" GMT") && r.done()) {
    f.year = yy < 70 ? 2000 + yy : 1900 + yy;
    return f;
  }
  return std::nullopt;
}

// asctime: "Sun Nov  6 08:49:37 1994".
std::optional<DateFields> read_asctime_date(std::string_view text) {
  DateReader r(text);
  DateFields f;
  std::string weekday;
  if (r.letters(weekday) && weekday.size() == 3 && r.literal(" ") && r.month(f.month) && r.literal(" ") &&
      (r.literal(" ") ? r.number(1, 1, f.day) : r.number(2, 2, f.day)) && r.literal(" ") &&
      r.time_of_day(f.hour, f.minute, f.second) && r.literal(" ") && r.number(4, 4, f.year) && r.done()) {
    return f;
  }
  return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> to_time_point(const DateFields& f) {
  using namespace std::chrono;
  const year_month_day ymd{year{f.year}, month{f.month}, day{static_cast<unsigned>(f.day)}};
  if (!ymd.ok() || f.hour > 23 || f.minute > 59 || f.second > 60) return std::nullopt;
  return sys_days{ymd} + hours{f.hour} + minutes{f.minute} + seconds{f.second};
}

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;

  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    // Anything past a day is as good as "much later"; clamping keeps the arithmetic safe.
    constexpr long long kMaxSeconds = 24 * 3600;
    long long seconds = 0;
    for (char c : value) {
      seconds = seconds * 10 + (c - '0');
      if (seconds > kMaxSeconds) {
        seconds = kMaxSeconds;
        break;
      }
    }
    return std::chrono::seconds(seconds);
  }

  std::optional<DateFields> fields = read_imf_fixdate(value);
  if (!fields) fields = read_rfc850_date(value);
  if (!fields) fields = read_asctime_date(value);
  if (!fields) return std::nullopt;
  const auto when = to_time_point(*fields);
  if (!when) return std::nullopt;
  if (*when <= now) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(*when - now);
}

}  // namespace keywarden
