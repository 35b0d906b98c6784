#include "daemon/server/request_head.h"

#include <vector>

#include "daemon/base/ascii.h"
#include "daemon/base/percent_decode.h"

namespace keywarden::server {

namespace http = boost::beast::http;

namespace {

// Beast 1.74 uses boost::string_view.
std::string_view std_view(boost::beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

int transfer_encoding_verdict(const http::request_header<>& head) {
  std::vector<std::string> codings;
  bool present = false;
  for (const auto& field : head) {
    if (field.name() != http::field::transfer_encoding) continue;
    present = true;
    std::string_view rest = std_view(field.value());
    while (true) {
      const auto comma = rest.find(',');
      std::string_view element = rest.substr(0, comma);
      const auto first = element.find_first_not_of(" \t");
      const auto last = element.find_last_not_of(" \t");
      if (first != std::string_view::npos) codings.push_back(ascii_lower(element.substr(first, last - first + 1)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (!present) return 0;
  if (head.version() < 11 || head.find(http::field::content_length) != head.end()) return 400;
  if (codings.empty() || codings.back() != "chunked") return 400;
  for (std::size_t i = 0; i + 1 < codings.size(); ++i)
    if (codings[i] == "chunked") return 400;
  return codings.size() == 1 ? 0 : 501;
}

Request request_of_head(const http::request_header<>& head, std::string remote_address, bool tls) {
  Request r;
  r.method = std::string(head.method_string());
  r.target = std::string(head.target());
  std::string_view t = r.target;
  bool absolute = false;
  if (t.starts_with("http://") || t.starts_with("https://")) {  // absolute-form
    // The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2), so
    // "http://host?x/metrics" asks for "/" with the query "x/metrics", as
    // any proxy in front of us reads it, not for /metrics.
    absolute = true;
    const auto end = t.find_first_of("/?#", t.find("//") + 2);
    t = end == std::string_view::npos || t[end] == '#' ? std::string_view() : t.substr(end);
  }
  auto q = t.find('?');
  r.path = std::string(t.substr(0, q));
  if (absolute && r.path.empty()) r.path = "/";
  if (q != std::string_view::npos) r.query = std::string(t.substr(q + 1));
  for (const auto& field : head) {
    std::string name = ascii_lower(std_view(field.name_string()));
    auto [it, inserted] = r.headers.emplace(name, std::string(std_view(field.value())));
    if (!inserted) {
      it->second += ", ";
      it->second += std_view(field.value());
    }
  }
  r.remote_address = std::move(remote_address);
  r.tls = tls;
  return r;
}

// ---- Request -----------------------------------------------------------------

std::optional<std::string> Request::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    auto eq = pair.find('=');
    auto key = percent_decode_strict(pair.substr(0, eq), /*plus_is_space=*/true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return percent_decode_strict(pair.substr(eq + 1), /*plus_is_space=*/true);
  }
  return std::nullopt;
}

}  // namespace keywarden::server
