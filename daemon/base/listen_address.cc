#include "daemon/base/listen_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace keywarden {

namespace {

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alnum(char c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Four decimal octets 0-255 separated by dots, no leading zeros.
bool is_ipv4_literal(std::string_view s) {
  int octets = 0;
  while (true) {
    const size_t dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_ascii_digit))
      return false;
    if (part.size() > 1 && part[0] == '0') return false;
    unsigned value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    if (value > 255) return false;
    ++octets;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return octets == 4;
}

// RFC 1123: dot-separated labels of letters, digits and '-', 1-63 long, not
// starting or ending with '-'; 253 characters at most.
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  while (true) {
    const size_t dot = s.find('.');
    const std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), [](char c) { return is_ascii_alnum(c) || c == '-'; }))
      return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// An IPv6 literal as inet_pton reads it, optionally with a zone
// ("fe80::1%eth0") that names an interface.
bool is_ipv6_literal(std::string_view s) {
  const size_t percent = s.find('%');
  if (percent != std::string_view::npos) {
    const std::string_view zone = s.substr(percent + 1);
    if (zone.empty() || zone.size() > 64 ||
        !std::all_of(zone.begin(), zone.end(),
                     [](char c) { return is_ascii_alnum(c) || c == '_' || c == '-' || c == '.'; }))
      return false;
  }
  const std::string address(s.substr(0, percent));
  in6_addr parsed{};
  return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_ascii_digit)) return std::nullopt;
  unsigned port = 0;
  std::from_chars(s.data(), s.data() + s.size(), port);
  if (port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    if (!is_ipv6_literal(host)) return std::nullopt;
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    const bool looks_numeric = std::all_of(host.begin(), host.end(), [](char c) {
      return is_ascii_digit(c) || c == '.';
    });
    // All digits and dots: an IPv4 address or nothing ("999.1.1.1" is no
    // host name either: RFC 1123 keeps the top label from being numeric).
    if (looks_numeric ? !is_ipv4_literal(host) : !is_host_name(host)) return std::nullopt;
  }
  const auto port = parse_port(port_text);
  if (!port) return std::nullopt;
  return ListenAddress{std::string(host), *port};
}

}  // namespace keywarden
