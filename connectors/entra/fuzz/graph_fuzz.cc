// libFuzzer target over what Microsoft Graph sends keywarden (scripts/fuzz.sh).
//
// The input is one or more sections separated by a line "===". Each section
// is a first line naming what the rest is:
//   "notification"  a change- or lifecycle-notification POST body, handled by
//                   handle_graph_push against an in-memory Store that knows
//                   one user, as the daemon handles a push (a 2xx answer's
//                   changes applied with Store::apply_changes), in a
//                   transaction rolled back afterwards so that every input
//                   starts from the same store;
//   "validation"    the decoded validationToken of a subscription handshake;
//   "users" / "groups"  a users/delta or groups/delta page: parse_delta_page,
//                   then each item into one UserDeltaMerge / GroupDeltaMerge
//                   for the whole input, and graph_error_code of the body.
// At the end the merged round goes through directory_from_rounds, and every
// merged user through identity_of / removed_identity_of, as a full read does.
// Seed corpus: ./corpus (shapes of Microsoft Graph's documentation, as
// tests/integration/graph_standin.py serves them).
//
// Beyond the sanitizers: the parsers throw nothing but SourceReadError; the
// hook never throws for bad input, echoes a validation token verbatim, and
// answers a notification batch 202, or 400 with no change; a parsed delta page
// has exactly one of nextLink / deltaLink.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "connectors/entra/graph_delta.h"
#include "connectors/entra/graph_notifications.h"
#include "daemon/store/store.h"

namespace {

constexpr const char* kSource = "corp-entra";
constexpr const char* kClientState = "kw-3f1e9a7c-client-state";
constexpr size_t kMaxSections = 8;
const keywarden::Timestamp kNow{keywarden::Duration{1'795'000'000}};

void check(bool ok) {
  if (!ok) std::abort();
}

// Thrown to roll the push's transaction back after it was applied.
struct RollBack {};

keywarden::Store& store() {
  static const std::unique_ptr<keywarden::Store> s = [] {
    // An in-memory store: the file does not exist, and nothing is written to it.
    auto opened = keywarden::Store::open_scratch_copy("/nonexistent/keywarden-fuzz.db");
    keywarden::Identity alice;
    alice.subject_id = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
    alice.user_name = "alice@contoso.com";
    alice.email = "alice@contoso.com";
    alice.groups = {"palette-users", "02bd9fd6-8f93-4758-87c3-1fb73740a315"};
    opened->apply_full_read(kSource, {alice}, 1, kNow);
    return opened;
  }();
  return *s;
}

keywarden::PushResponse push(const keywarden::PushRequest& request) {
  keywarden::Store& s = store();
  keywarden::PushResponse out;
  try {
    s.batch([&] {
      keywarden::SourceFacts known(s, kSource);
      keywarden::PushedResources resources(s, kSource);
      const keywarden::PushContext context{kNow, known, resources};
      out = keywarden::handle_graph_push(std::string(kClientState), request, context);
      if (out.status < 300) (void)s.apply_changes(kSource, out.changes, kNow, false);
      throw RollBack{};
    });
  } catch (const RollBack&) {
  }
  return out;
}

void fuzz_notification(std::string_view body) {
  keywarden::PushRequest request;
  request.method = "POST";
  request.headers["content-type"] = "application/json";
  request.body = std::string(body);
  const keywarden::PushResponse response = push(request);
  check(response.status == 202 || response.status == 400);
  if (response.status == 400) check(response.changes.empty() && !response.read_changes_now);
}

void fuzz_validation(std::string_view token) {
  keywarden::PushRequest request;
  request.method = "POST";
  request.query_params["validationToken"] = std::string(token);
  const keywarden::PushResponse response = push(request);
  check(response.status == 200 && response.body == token && response.changes.empty());
}

struct Round {
  keywarden::UserDeltaMerge users;
  keywarden::GroupDeltaMerge groups;
};

void fuzz_delta_page(Round& round, bool users, std::string_view body) {
  const std::string text(body);
  (void)keywarden::graph_error_code(text);
  const std::string where = users ? "users delta" : "groups delta";
  try {
    const keywarden::DeltaPage page = keywarden::parse_delta_page(text, where);
    check(page.next_link.empty() != page.delta_link.empty());
    for (const nlohmann::json& item : page.items) {
      try {
        users ? round.users.add(item, where) : round.groups.add(item, where);
      } catch (const keywarden::SourceReadError&) {
      }
    }
  } catch (const keywarden::SourceReadError&) {
  }
}

void fuzz_directory(const Round& round) {
  for (const auto& [id, user] : round.users.users()) {
    (void)(user.removed_reason ? keywarden::removed_identity_of(user) : keywarden::identity_of(user));
  }
  try {
    (void)keywarden::directory_from_rounds(round.users, round.groups, "entra fuzz");
  } catch (const keywarden::SourceReadError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Round round;
  for (size_t sections = 0; sections < kMaxSections && !input.empty(); ++sections) {
    const size_t separator = input.find("\n===\n");
    const std::string_view section = input.substr(0, separator);
    const size_t newline = section.find('\n');
    const std::string_view kind = section.substr(0, newline);
    const std::string_view body = newline == std::string_view::npos ? std::string_view() : section.substr(newline + 1);
    if (kind == "notification") fuzz_notification(body);
    else if (kind == "validation") fuzz_validation(body);
    else if (kind == "users") fuzz_delta_page(round, true, body);
    else if (kind == "groups") fuzz_delta_page(round, false, body);
    if (separator == std::string_view::npos) break;
    input.remove_prefix(separator + 5);
  }
  fuzz_directory(round);
  return 0;
}
