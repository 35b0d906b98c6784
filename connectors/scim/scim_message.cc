#include "connectors/scim/scim_message.h"

namespace keywarden {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string scim_percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

ScimRequest make_scim_request(std::string method, std::string_view target, std::string body,
                              std::string base_url) {
  ScimRequest request;
  request.method = std::move(method);
  request.body = std::move(body);
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  request.base_url = std::move(base_url);

  const size_t question = target.find('?');
  request.path = scim_percent_decode(target.substr(0, question), false);
  if (question == std::string_view::npos) return request;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      std::string name = scim_percent_decode(pair.substr(0, eq), true);
      std::string value =
          eq == std::string_view::npos ? "" : scim_percent_decode(pair.substr(eq + 1), true);
      request.query.insert_or_assign(std::move(name), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return request;
}

}  // namespace keywarden
