// libFuzzer target over what the HTTP server makes of a connection's bytes
// before a handler runs (scripts/fuzz.sh). The bytes go through Beast's
// request parser set up as the server sets it up (the daemon's header and
// body limits), request after request as keep-alive and pipelining read
// them: the head first, then the server's framing verdict, then the body.
// Every complete head becomes the Request a HeaderCheck and a Handler see,
// and its query is decoded. Seed corpus: ./corpus (requests shaped as IdPs
// send them: a creation, a PATCH, a filtered GET, a hook's verification GET,
// a validation token, a signed-token push; chunked bodies, pipelining,
// smuggling attempts), on neutral routes.
//
// Beyond the sanitizers, it checks the server's contracts:
// - a head the verdict lets through has no Transfer-Encoding, or exactly
//   "chunked" on HTTP/1.1 without Content-Length, so its body's length is
//   known; a chunked body read under it stays within the body limit;
// - the Request's path holds no '?', its query is what follows the first
//   '?' (after the authority of an absolute-form target: RFC 3986 §3.2),
//   and its header names are lower case, one entry per name;
// - query_param gives, for every name in the query, its first value decoded
//   (nullopt when badly escaped).
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/ascii.h"
#include "daemon/base/percent_decode.h"
#include "daemon/server/request_head.h"

namespace {

namespace http = boost::beast::http;
using keywarden::server::Request;

constexpr std::size_t kHeaderLimit = 16 * 1024;  // Limits' default, as the daemon runs
constexpr std::size_t kBodyLimit = 1024 * 1024;  // the daemon's body_limit

void check(bool ok) {
  if (!ok) std::abort();
}

// Feeds `in` to the parser until it wants more input or stops; returns the
// bytes used. `ec` is set on a parse error.
std::size_t feed(http::request_parser<http::string_body>& parser, std::string_view in, bool header_only,
                 boost::system::error_code& ec) {
  std::size_t used = 0;
  while (used < in.size()) {
    if (header_only ? parser.is_header_done() : parser.is_done()) break;
    const std::size_t n = parser.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
    if (ec == http::error::need_more) {
      ec = {};
      // Beast asks for more without consuming: it has taken all it can.
      if (n == 0) break;
    }
    if (ec) return used + n;
    used += n;
    if (n == 0) break;
  }
  return used;
}

void check_framing(const http::request_header<>& head, int verdict) {
  check(verdict == 0 || verdict == 400 || verdict == 501);
  int encodings = 0;
  std::string value;
  for (const auto& field : head) {
    if (field.name() != http::field::transfer_encoding) continue;
    ++encodings;
    value.assign(field.value().data(), field.value().size());
  }
  if (verdict != 0 || encodings == 0) return;
  check(head.version() >= 11);
  check(head.find(http::field::content_length) == head.end());
  // Exactly one coding, "chunked", maybe with blanks and empty list elements.
  std::string codings;
  for (char c : value) {
    if (c != ' ' && c != '\t' && c != ',') codings.push_back(c);
  }
  check(keywarden::ascii_lower(codings) == "chunked");
}

void check_request(const http::request_header<>& head, const Request& r) {
  check(r.path.find('?') == std::string::npos);
  const std::string_view target(head.target().data(), head.target().size());
  check(r.target == target);
  // What follows the authority of an absolute-form target (RFC 3986 §3.2:
  // it ends at the first '/', '?' or '#'), or the whole origin-form one.
  std::string_view rest = target;
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const auto end = target.find_first_of("/?#", target.find("//") + 2);
    rest = end == std::string_view::npos || target[end] == '#' ? std::string_view() : target.substr(end);
    check(r.path.starts_with("/"));
  }
  const auto q = rest.find('?');
  check(r.query == (q == std::string_view::npos ? std::string_view() : rest.substr(q + 1)));
  check(r.path == rest.substr(0, q) || (rest.substr(0, q).empty() && r.path == "/"));
  std::size_t fields = 0;
  for (const auto& field : head) {
    ++fields;
    const std::string name = keywarden::ascii_lower(std::string_view(field.name_string().data(), field.name_string().size()));
    const auto it = r.headers.find(name);
    check(it != r.headers.end());
    check(it->second.find(std::string_view(field.value().data(), field.value().size())) != std::string::npos);
  }
  check(r.headers.size() <= fields);
  for (const auto& [name, value] : r.headers) check(name == keywarden::ascii_lower(name));
  // query_param answers for the first pair of a name: its decoded value,
  // "" without '=', nullopt when that value is badly escaped.
  rest = r.query;
  std::vector<std::string> seen;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto key = keywarden::percent_decode_strict(pair.substr(0, eq), true);
    if (!key || std::find(seen.begin(), seen.end(), *key) != seen.end()) continue;
    seen.push_back(*key);
    const std::optional<std::string> expected =
        eq == std::string_view::npos ? std::optional<std::string>("") : keywarden::percent_decode_strict(pair.substr(eq + 1), true);
    check(r.query_param(*key) == expected);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // At most a few requests per input: pipelining is covered by two or three.
  for (int request = 0; request < 8 && !in.empty(); ++request) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    parser.body_limit(kBodyLimit);
    boost::system::error_code ec;
    in.remove_prefix(feed(parser, in, /*header_only=*/true, ec));
    if (ec || !parser.is_header_done()) return 0;  // answered 4xx, or the client went quiet
    const http::request_header<>& head = parser.get().base();
    const int verdict = keywarden::server::transfer_encoding_verdict(head);
    check_framing(head, verdict);
    if (verdict != 0) return 0;  // refused and closed: nothing after it is read
    check_request(head, keywarden::server::request_of_head(head, "192.0.2.1", false));
    in.remove_prefix(feed(parser, in, /*header_only=*/false, ec));
    if (ec || !parser.is_done()) return 0;
    check(parser.get().body().size() <= kBodyLimit);
  }
  return 0;
}
