// A parsed absolute http(s) URL, enough for our clients.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keywarden {

struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;    // without brackets for IPv6
  std::string port;    // always set: explicit, or 80/443
  std::string target;  // path + query, at least "/"

  bool tls() const { return scheme == "https"; }
  // "scheme://host:port" as given (for logs; a URL never holds a secret here).
  std::string origin() const;
};

// Parses "http://host[:port][/path][?query]" and the https form. Returns
// nullopt for anything else (no userinfo, no fragment kept).
std::optional<Url> parse_url(std::string_view text);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);
// Decodes %XX and, when `plus_is_space`, '+'. Returns nullopt on a bad escape.
std::optional<std::string> url_decode(std::string_view text, bool plus_is_space = true);

}  // namespace keywarden
