#include "connectors/scim/scim_message.h"

#include "daemon/base/percent_decode.h"

namespace keywarden {

ScimRequest make_scim_request(std::string method, std::string_view target, std::string body,
                              std::string base_url) {
  ScimRequest request;
  request.method = std::move(method);
  request.body = std::move(body);
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  request.base_url = std::move(base_url);

  const size_t question = target.find('?');
  request.path = percent_decode(target.substr(0, question), false);
  if (question == std::string_view::npos) return request;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      std::string name = percent_decode(pair.substr(0, eq), true);
      std::string value =
          eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true);
      request.query.insert_or_assign(std::move(name), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return request;
}

}  // namespace keywarden
