// libFuzzer target for the SCIM service provider (scripts/fuzz.sh).
//
// The input is one or more sections separated by a line "===". Each section
// is a first line and a body:
//   "FILTER"            the body is a filter: parsed, then evaluated against
//                       a fixed user and group;
//   "PATCHOP"           the body is a PatchOp message applied directly to a
//                       fixed user and group;
//   "<METHOD> <target>" an HTTP request ("PATCH /Groups/id-2") sent to a
//                       ScimService over a MemoryScimRepository that starts
//                       with a user "id-1" in a group "id-2"; sections run in
//                       order against the same repository, so a sequence can
//                       create, patch and delete.
// Beyond the sanitizers, it checks that every answer is well formed (a known
// status, a JSON body or none, the SCIM error schema on errors) and that the
// identity facts agree with the SCIM resources after every request: each
// user's identity has the user's status, and its current groups are exactly
// the display names of the groups that list it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "connectors/scim/memory_scim_repository.h"
#include "connectors/scim/scim_error.h"
#include "connectors/scim/scim_filter.h"
#include "connectors/scim/scim_patch.h"
#include "connectors/scim/scim_resource.h"
#include "connectors/scim/scim_service.h"

namespace {

using keywarden::ScimError;
using nlohmann::json;

constexpr size_t kMaxSections = 8;

const json& fixed_user() {
  static const json user = json::parse(R"({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id":"id-1","userName":"alice@example.com","active":true,"externalId":"ext-1",
    "name":{"givenName":"Alice","familyName":"Smith"},
    "emails":[{"value":"alice@example.com","type":"work","primary":true}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42"}})");
  return user;
}

const json& fixed_group() {
  static const json group = json::parse(R"({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "id":"id-2","displayName":"palette-users","members":[{"value":"id-1","display":"alice"},{"value":"x"}]})");
  return group;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_filter(std::string_view text) {
  try {
    const keywarden::ScimFilter filter = keywarden::parse_scim_filter(text);
    (void)keywarden::scim_filter_matches(filter, fixed_user());
    (void)keywarden::scim_filter_matches(filter, fixed_group());
    (void)keywarden::scim_filter_mentions(filter, "members");
  } catch (const ScimError& e) {
    check(e.status() == 400 && e.scim_type() == "invalidFilter");
  }
  try {
    (void)keywarden::parse_scim_patch_path(text);
  } catch (const ScimError& e) {
    check(e.status() == 400 && e.scim_type() == "invalidPath");
  }
}

void fuzz_patch(std::string_view text) {
  // As ScimService does before parsing: nlohmann's dump and comparison recurse.
  try {
    keywarden::check_scim_json_depth(text, 32);
  } catch (const ScimError&) {
    return;
  }
  const json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) return;
  for (const json* resource : {&fixed_user(), &fixed_group()}) {
    try {
      const keywarden::ScimPatchResult result = keywarden::apply_scim_patch(*resource, body);
      check(result.resource.is_object());
      (void)result.resource.dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const ScimError& e) {
      check(e.status() == 400 && !e.scim_type().empty());
    }
  }
}

void check_response(const keywarden::ScimResponse& response) {
  const int s = response.status;
  check(s == 200 || s == 201 || s == 204 || s == 304 || s == 400 || s == 404 || s == 405 ||
        s == 409 || s == 412 || s == 501);
  check(response.content_type == "application/scim+json");
  if (s == 204 || s == 304) {
    check(response.body.empty());
    return;
  }
  const json body = json::parse(response.body, nullptr, false);
  check(body.is_object());
  if (s >= 400) {
    check(body.contains("schemas") && body.contains("detail") && body["status"] == std::to_string(s));
    check(response.affected_emails.empty() && !response.deprovisioned);
  }
}

class Harness {
 public:
  Harness()
      : service_(keywarden::ScimServiceOptions{
            .max_results = 50, .max_json_depth = 32, .new_id = [this] { return "id-" + std::to_string(++ids_); }}) {
    send("POST", "/Users", fixed_user().dump());
    send("POST", "/Groups", fixed_group().dump());
  }

  keywarden::ScimResponse send(std::string method, std::string_view target, std::string body) {
    now_ += std::chrono::seconds(1);
    keywarden::ScimRequest request =
        keywarden::make_scim_request(std::move(method), target, std::move(body), "https://kw.test/scim/v2/s");
    return service_.handle(request, repository_, now_);
  }

  void check_identities() {
    const keywarden::ScimPage users = repository_.list(keywarden::ScimResourceType::user, 0, 1 << 20);
    for (const keywarden::ScimRecord& user : users.records) {
      const std::optional<keywarden::IdentityRecord> identity = repository_.load_identity(user.id);
      check(identity.has_value());
      const json resource = json::parse(user.json);
      check(identity->status == (keywarden::scim_user_active(resource) ? keywarden::IdentityStatus::active
                                                                       : keywarden::IdentityStatus::inactive));
      std::vector<std::string> expected;
      for (const std::string& group_id : repository_.groups_with_member(user.id)) {
        const auto group = repository_.get(keywarden::ScimResourceType::group, group_id);
        check(group.has_value());
        expected.push_back(keywarden::scim_display_name(json::parse(group->json)));
      }
      std::sort(expected.begin(), expected.end());
      expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
      check(repository_.current_groups(user.id) == expected);
    }
  }

 private:
  keywarden::MemoryScimRepository repository_;
  int ids_ = 0;
  keywarden::ScimService service_;
  keywarden::Timestamp now_{keywarden::Duration{1'700'000'000}};
};

void fuzz_section(Harness& harness, std::string_view section) {
  const size_t newline = section.find('\n');
  const std::string_view first = section.substr(0, newline);
  const std::string_view body = newline == std::string_view::npos ? std::string_view() : section.substr(newline + 1);
  if (first == "FILTER") return fuzz_filter(body);
  if (first == "PATCHOP") return fuzz_patch(body);
  const size_t space = first.find(' ');
  if (space == std::string_view::npos) return;
  const std::string method(first.substr(0, space));
  const std::string_view target = first.substr(space + 1);
  check_response(harness.send(method, target, std::string(body)));
  harness.check_identities();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Harness harness;
  for (size_t sections = 0; sections < kMaxSections && !input.empty(); ++sections) {
    const size_t separator = input.find("\n===\n");
    fuzz_section(harness, input.substr(0, separator));
    if (separator == std::string_view::npos) break;
    input.remove_prefix(separator + 5);
  }
  return 0;
}
