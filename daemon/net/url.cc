#include "daemon/net/url.h"

#include <cctype>

#include "daemon/base/ascii.h"
#include "daemon/base/percent_decode.h"

namespace keywarden {

namespace {

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Characters allowed in a registered name (RFC 3986 reg-name, without
// percent-escapes: nothing we talk to needs them).
bool is_host_char(unsigned char c) {
  return is_unreserved(c) || c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
         c == '*' || c == '+' || c == ',' || c == ';' || c == '=';
}

bool is_ipv6_char(unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; }

// Rejects whitespace and control characters: a target goes verbatim into the
// request line, so they would let a caller split or smuggle a request.
bool is_target_char(unsigned char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

std::string Url::origin() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = scheme + "://";
  out += ipv6 ? "[" + host + "]" : host;
  out += ":" + port;
  return out;
}

std::optional<Url> parse_url(std::string_view text) {
  Url url;
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  url.scheme = ascii_lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  text.remove_prefix(scheme_end + 3);

  const size_t authority_end = text.find_first_of("/?#");
  std::string_view authority = text.substr(0, authority_end);
  std::string_view rest = authority_end == std::string_view::npos ? std::string_view{} : text.substr(authority_end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    const std::string_view host = authority.substr(1, close - 1);
    for (unsigned char c : host) {
      if (!is_ipv6_char(c)) return std::nullopt;
    }
    if (host.find(':') == std::string_view::npos) return std::nullopt;
    url.host = ascii_lower(host);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (host.empty()) return std::nullopt;
    for (unsigned char c : host) {
      if (!is_host_char(c)) return std::nullopt;
    }
    url.host = std::string(host);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
  }

  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (unsigned char c : port_text) {
      if (!std::isdigit(c)) return std::nullopt;
      value = value * 10 + (c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    url.port = std::to_string(value);
  } else {
    url.port = url.tls() ? "443" : "80";
  }

  const size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  for (unsigned char c : rest) {
    if (!is_target_char(c)) return std::nullopt;
  }
  if (rest.empty()) {
    url.target = "/";
  } else if (rest.front() == '?') {
    url.target = "/" + std::string(rest);
  } else {
    url.target = std::string(rest);
  }
  return url;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (is_unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0f];
    }
  }
  return out;
}

std::optional<std::string> url_decode(std::string_view text, bool plus_is_space) {
  return percent_decode_strict(text, plus_is_space);
}

}  // namespace keywarden
