// libFuzzer target over what Okta sends keywarden (scripts/fuzz.sh):
// - every input is POSTed to the Event Hook handler (handle_okta_hook) with
//   the right secret and a JSON content type, against an in-memory Store that
//   knows one user, the way the daemon handles a push: the handler reads the
//   store's facts, and a 2xx answer's changes are applied with
//   Store::apply_changes, in one transaction that is then rolled back so
//   that every input starts from the same store;
// - an input that is a JSON array is also read as a page of the polled APIs:
//   each item as a System Log event (parse_log_event, then sort_by_published,
//   as the System Log poll does), as a user (identity_from_okta_user) and as
//   a group (okta_group_from_json).
// Seed corpus: ./corpus (Event Hook deliveries and LogEvent/User/Group pages
// shaped as Okta's documentation shows them).
//
// Beyond the sanitizers: the handler never throws for bad input (only a
// StoreError may escape, and none is expected from an in-memory store), it
// answers 200 or 400, a 200 has no body, a 400 carries no change; the
// parsers throw nothing but OktaFormatError.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/okta/okta_events.h"
#include "connectors/okta/okta_hook.h"
#include "connectors/okta/okta_users.h"
#include "daemon/store/store.h"

namespace {

constexpr const char* kSource = "corp-okta";
constexpr const char* kSecret = "hook-secret-7d41c0f3a9e2";
const keywarden::Timestamp kNow{keywarden::Duration{1'800'000'000}};

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
    alice.subject_id = "00u1abcd2EFGHIJK3lm4";
    alice.email = "alice@example.com";
    alice.user_name = "alice@example.com";
    alice.status = keywarden::IdentityStatus::active;
    alice.groups = {"palette-users"};
    opened->apply_full_read(kSource, {alice}, 1, kNow);
    return opened;
  }();
  return *s;
}

void fuzz_hook(const std::string& body) {
  keywarden::PushRequest request;
  request.method = "POST";
  request.headers["authorization"] = kSecret;
  request.headers["content-type"] = "application/json";
  request.body = body;
  const keywarden::OktaHookSettings settings{"Authorization", kSecret};
  keywarden::Store& s = store();
  try {
    s.batch([&] {
      keywarden::SourceFacts known(s, kSource);
      keywarden::PushedResources resources(s, kSource);
      const keywarden::PushContext context{kNow, known, resources};
      const keywarden::PushResponse response = keywarden::handle_okta_hook(request, context, settings);
      check(response.status == 200 || response.status == 400);
      if (response.status == 200) {
        check(response.body.empty());
        (void)s.apply_changes(kSource, response.changes, kNow, false);
      } else {
        check(response.changes.empty());
      }
      throw RollBack{};
    });
  } catch (const RollBack&) {
  }
}

void fuzz_polled_page(const nlohmann::json& items) {
  std::vector<keywarden::OktaLogEvent> events;
  for (const nlohmann::json& item : items) {
    try {
      events.push_back(keywarden::parse_log_event(item));
    } catch (const keywarden::OktaFormatError&) {
    }
    try {
      (void)keywarden::identity_from_okta_user(item);
    } catch (const keywarden::OktaFormatError&) {
    }
    try {
      (void)keywarden::okta_group_from_json(item);
    } catch (const keywarden::OktaFormatError&) {
    }
  }
  keywarden::sort_by_published(events);
  for (size_t i = 1; i < events.size(); ++i) {
    // Readable times come first, in order.
    if (events[i].published_ms) check(events[i - 1].published_ms && *events[i - 1].published_ms <= *events[i].published_ms);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  fuzz_hook(body);
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_array()) fuzz_polled_page(doc);
  return 0;
}
