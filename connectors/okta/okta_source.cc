#include "connectors/okta/okta_source.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "connectors/okta/okta_events.h"
#include "connectors/okta/okta_hook.h"
#include "connectors/okta/okta_users.h"
#include "daemon/base/ascii.h"
#include "daemon/engine/time_point.h"
#include "daemon/net/url.h"

namespace keywarden {

namespace net = boost::asio;

namespace {

// Far past any org (200 users a page: 20 million users); beyond it the
// server is looping.
constexpr int kMaxPagesPerListing = 100000;

struct OktaPage {
  nlohmann::json items;  // a JSON array
  std::optional<std::string> next;
};

std::string status_problem(const HttpResponse& response) {
  const std::string error = describe_okta_error(response.body);
  return "HTTP " + std::to_string(response.status) + (error.empty() ? "" : " " + error);
}

// One page of a listing: a 200 whose body is a JSON array, or SourceReadError.
net::awaitable<OktaPage> fetch_page(OktaClient& client, std::string url) {
  auto exchange = client.get(url);
  const HttpResponse response = co_await std::move(exchange);
  if (response.status != 200) throw SourceReadError("Okta GET " + url + ": " + status_problem(response));
  OktaPage page;
  page.items = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (page.items.is_discarded()) throw SourceReadError("Okta GET " + url + ": malformed JSON");
  if (!page.items.is_array()) throw SourceReadError("Okta GET " + url + ": expected a JSON array");
  page.next = next_link(response.header("link"));
  co_return page;
}

// Every item of a paged listing, page by page, following rel="next" exactly
// as Okta gives it. `visit` may throw OktaFormatError for a malformed item.
net::awaitable<void> for_each_item(OktaClient& client, std::string url,
                                   std::function<void(const nlohmann::json&)> visit) {
  std::unordered_set<std::string> seen;
  for (int page = 0;; ++page) {
    if (page >= kMaxPagesPerListing || !seen.insert(url).second) {
      throw SourceReadError("Okta GET " + url + ": paging does not advance (a next link repeats)");
    }
    if (!client.same_org(url)) {
      throw SourceReadError("Okta listing: a next link leads off the configured org: " + url);
    }
    auto fetch = fetch_page(client, url);
    OktaPage current = co_await std::move(fetch);
    try {
      for (const auto& item : current.items) visit(item);
    } catch (const OktaFormatError& e) {
      throw SourceReadError("Okta GET " + url + ": " + e.what());
    }
    if (!current.next) co_return;
    url = std::move(*current.next);
  }
}

std::string email_from_login(const std::string& login) {
  return login.find('@') != std::string::npos ? login : std::string();
}

// "2026-11-26T10:00:00.000Z": the form Okta's documentation uses for `since`.
std::string okta_time(Timestamp t) {
  std::string text = format_rfc3339(t);
  if (!text.empty() && text.back() == 'Z') text.insert(text.size() - 1, ".000");
  return text;
}

Identity identity_from_event(const OktaEventEffect& effect) {
  Identity identity;
  identity.subject_id = effect.subject_id;
  identity.user_name = effect.subject_login;
  identity.email = email_from_login(effect.subject_login);
  identity.status = effect.status;
  identity.status_detail = effect.status_detail;
  return identity;
}

}  // namespace

const SourceType& okta_source_type() {
  static const SourceType type{
      {"okta",
       {{"url", ValueKind::url, true, {}, {}, "the Okta org, e.g. https://corp.okta.com"},
        {"token", ValueKind::secret, true, {}, {}, "an SSWS API token (read-only admin)"},
        {"hook_secret", ValueKind::secret, false, {}, {}, "the value of the Event Hook's authentication header"},
        {"hook_header", ValueKind::header, false, "Authorization", {}, "the Event Hook's authentication header"},
        {"poll_interval", ValueKind::duration, false, "1m", {}, "how often the System Log is read between full reads"}},
       {},
       "an Okta org through its Management API, System Log and Event Hooks"},
      "/hooks/okta/", "okta_hook",
      [](const SourceConfig& config, net::any_io_executor executor) -> std::unique_ptr<Source> {
        return std::make_unique<OktaSource>(config, std::move(executor));
      },
  };
  return type;
}

OktaSource::OktaSource(SourceConfig config, net::any_io_executor executor)
    : OktaSource(std::move(config), std::move(executor), OktaClientOptions{}, OktaLogOptions{}) {}

OktaSource::OktaSource(SourceConfig config, net::any_io_executor executor, OktaClientOptions client_options,
                       OktaLogOptions log_options)
    : Source(with_defaults(std::move(config), okta_source_type().schema)),
      executor_(std::move(executor)),
      client_options_(client_options),
      log_options_(log_options) {}

std::string OktaSource::read_token() const {
  try {
    return read_secret(config().secret("token"));
  } catch (const std::exception& e) {
    // read_secret names the file or variable, never the value.
    throw SourceReadError("Okta API token: " + std::string(e.what()));
  }
}

net::awaitable<FullRead> OktaSource::read_all(const ReadContext&) {
  // Taken before the first request: whatever changes while the directory is
  // listed is in the System Log after this point.
  const Timestamp started = now_utc();
  std::unique_ptr<OktaClient> client;
  try {
    client = std::make_unique<OktaClient>(executor_, config().get("url"), read_token(), client_options_, gate_);
  } catch (const std::invalid_argument& e) {
    throw SourceReadError(e.what());
  }

  // Messages quote what the server sent back; the token must not ride along.
  try {
    auto read = read_directory(*client, started);
    FullRead result = co_await std::move(read);
    co_return result;
  } catch (const SourceReadError& e) {
    throw SourceReadError(client->redact(e.what()));
  }
}

net::awaitable<FullRead> OktaSource::read_directory(OktaClient& client, Timestamp started) {
  std::vector<Identity> identities;
  std::unordered_map<std::string, size_t> index;  // subject id → position in identities
  auto add_user = [&](const nlohmann::json& user) {
    Identity identity = identity_from_okta_user(user);
    const auto [it, inserted] = index.try_emplace(identity.subject_id, identities.size());
    // A user listed twice (changed while we paged) is taken as last seen.
    if (inserted) {
      identities.push_back(std::move(identity));
    } else {
      identities[it->second] = std::move(identity);
    }
  };
  // Deactivated users first: someone reactivated while we list is then seen
  // twice (the later, active sighting wins) rather than not at all, which
  // would read as "deleted". Someone deactivated meanwhile is seen in
  // neither listing, and read as deleted: a departure either way.
  {
    const std::string url =
        client.url("/api/v1/users?limit=200&filter=" + url_encode("status eq \"DEPROVISIONED\""));
    auto listing = for_each_item(client, url, add_user);
    co_await std::move(listing);
  }
  {
    const std::string url = client.url("/api/v1/users?limit=200");
    auto listing = for_each_item(client, url, add_user);
    co_await std::move(listing);
  }
  if (identities.empty()) {
    // An org always has at least the user who owns the API token.
    throw SourceReadError("Okta GET " + client.url("/api/v1/users") +
                          ": no users at all (an empty directory is never a real org)");
  }

  std::vector<OktaGroup> groups;
  {
    const std::string url = client.url("/api/v1/groups?limit=200");
    auto listing = for_each_item(client, url, [&](const nlohmann::json& g) { groups.push_back(okta_group_from_json(g)); });
    co_await std::move(listing);
  }
  for (const OktaGroup& group : groups) {
    const std::string url = client.url("/api/v1/groups/" + url_encode(group.id) + "/users?limit=200");
    auto add_member = [&](const nlohmann::json& member) {
      const auto it = index.find(okta_user_id(member));
      if (it == index.end()) return;  // created after the user listing: the next read has them
      auto& names = identities[it->second].groups;
      if (std::find(names.begin(), names.end(), group.name) == names.end()) names.push_back(group.name);
    };
    auto listing = for_each_item(client, url, add_member);
    co_await std::move(listing);
  }

  FullRead read;
  read.identities = std::move(identities);
  read.cursors["log_next"] = client.url("/api/v1/logs?since=" + url_encode(okta_time(started - log_options_.cursor_overlap)) +
                                         "&sortOrder=ASCENDING");
  co_return read;
}

net::awaitable<ChangeSet> OktaSource::read_changes(std::map<std::string, std::string> cursors) {
  ChangeSet resync;
  resync.resync_required = true;
  const auto stored = cursors.find("log_next");
  if (stored == cursors.end() || stored->second.empty()) co_return resync;

  std::unique_ptr<OktaClient> client;
  try {
    client = std::make_unique<OktaClient>(executor_, config().get("url"), read_token(), client_options_, gate_);
  } catch (const std::invalid_argument& e) {
    throw SourceReadError(e.what());
  }
  if (!client->same_org(stored->second)) co_return resync;  // a cursor of another org (the url changed)
  try {
    auto read = read_log(*client, stored->second);
    ChangeSet changes = co_await std::move(read);
    co_return changes;
  } catch (const SourceReadError& e) {
    throw SourceReadError(client->redact(e.what()));
  }
}

net::awaitable<ChangeSet> OktaSource::read_log(OktaClient& client, std::string url) {
  ChangeSet resync;
  resync.resync_required = true;

  std::vector<OktaLogEvent> events;
  std::string cursor;
  for (int page = 0;; ++page) {
    auto exchange = client.get(url);
    const HttpResponse response = co_await std::move(exchange);
    if (response.status == 400 || response.status == 404 || response.status == 410) co_return resync;
    if (response.status != 200) throw SourceReadError("Okta GET " + url + ": " + status_problem(response));
    const nlohmann::json items = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (items.is_discarded() || !items.is_array()) {
      throw SourceReadError("Okta GET " + url + ": malformed JSON (expected an array of events)");
    }
    const std::optional<std::string> next = next_link(response.header("link"));
    // Okta always sends a next link from the System Log; without one there
    // is nowhere to continue from, so nothing is taken from this read.
    if (!next) throw SourceReadError("Okta GET " + url + ": System Log page without a next link");
    try {
      for (const auto& item : items) events.push_back(parse_log_event(item));
    } catch (const OktaFormatError& e) {
      throw SourceReadError("Okta GET " + url + ": " + e.what());
    }
    cursor = *next;
    if (items.empty() || page + 1 >= log_options_.max_pages || *next == url) break;
    if (!client.same_org(*next)) {
      throw SourceReadError("Okta GET " + url + ": the next link leads off the configured org: " + *next);
    }
    url = *next;
  }

  sort_by_published(events);
  // The last word per user (lifecycle) and per (user, group) (membership),
  // in the order first seen.
  std::vector<std::string> subjects;
  std::unordered_map<std::string, OktaEventEffect> last_status;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::map<std::pair<std::string, std::string>, bool> last_membership;
  for (const OktaLogEvent& event : events) {
    if (!event.effect) continue;
    const OktaEventEffect& effect = *event.effect;
    if (effect.kind == OktaEventEffect::Kind::status) {
      if (!last_status.count(effect.subject_id)) subjects.push_back(effect.subject_id);
      last_status.insert_or_assign(effect.subject_id, effect);
    } else {
      auto key = std::make_pair(effect.subject_id, effect.group);
      if (!last_membership.count(key)) pairs.push_back(key);
      last_membership.insert_or_assign(std::move(key), effect.member);
    }
  }

  ChangeSet changes;
  changes.groups_known = false;
  int lookups = 0;
  for (const std::string& subject : subjects) {
    const OktaEventEffect& effect = last_status.at(subject);
    if (effect.status == IdentityStatus::deleted || lookups >= log_options_.max_user_lookups) {
      changes.identities.push_back(identity_from_event(effect));
      continue;
    }
    // The user as Okta has them now: an event replayed or overtaken by a
    // later one cannot set a stale status.
    ++lookups;
    const std::string user_url = client.url("/api/v1/users/" + url_encode(subject));
    auto exchange = client.get(user_url);
    const HttpResponse response = co_await std::move(exchange);
    if (response.status == 404) {
      Identity gone = identity_from_event(effect);
      gone.status = IdentityStatus::deleted;
      gone.status_detail = "deleted in Okta";
      changes.identities.push_back(std::move(gone));
      continue;
    }
    if (response.status != 200) throw SourceReadError("Okta GET " + user_url + ": " + status_problem(response));
    const nlohmann::json user = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    try {
      if (user.is_discarded()) throw OktaFormatError("malformed JSON");
      changes.identities.push_back(identity_from_okta_user(user));
    } catch (const OktaFormatError& e) {
      throw SourceReadError("Okta GET " + user_url + ": " + e.what());
    }
  }
  for (const auto& key : pairs) {
    changes.memberships.push_back(MembershipChange{key.first, key.second, last_membership.at(key), "", ""});
  }
  changes.cursors["log_next"] = cursor;
  co_return changes;
}

bool OktaSource::accepts_pushes() const { return !config().secret("hook_secret").empty(); }

std::optional<std::string> OktaSource::hook_secret() const {
  const std::lock_guard<std::mutex> lock(hook_secret_mutex_);
  if (!hook_secret_) {
    const SecretRef ref = config().secret("hook_secret");
    if (ref.empty()) return std::nullopt;
    try {
      hook_secret_ = read_secret(ref);
    } catch (const std::exception&) {
      return std::nullopt;  // not kept: a file that appears later is picked up
    }
  }
  return hook_secret_;
}

namespace {

PushResponse secret_unreadable() {
  PushResponse r;
  r.status = 503;
  r.body = R"({"error":"the hook secret cannot be read"})";
  return r;
}

}  // namespace

std::optional<PushResponse> OktaSource::authorize(const PushRequest& head) const {
  const std::optional<std::string> secret = hook_secret();
  if (!secret) return secret_unreadable();
  const std::string header = config().get("hook_header");
  const auto it = head.headers.find(ascii_lower(header));
  if (it == head.headers.end() || !hook_secret_matches(it->second, *secret)) {
    PushResponse r;
    r.status = 401;
    r.body = nlohmann::json{{"error", "missing or wrong " + header + " header"}}.dump();
    return r;
  }
  return std::nullopt;
}

PushResponse OktaSource::handle_push(const PushRequest& request, const PushContext& context) {
  if (config().secret("hook_secret").empty()) return Source::handle_push(request, context);
  const std::optional<std::string> secret = hook_secret();
  if (!secret) return secret_unreadable();
  const OktaHookSettings settings{config().get("hook_header"), *secret};
  return handle_okta_hook(request, context, settings);
}

}  // namespace keywarden
