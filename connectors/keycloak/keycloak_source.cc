#include "connectors/keycloak/keycloak_source.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "daemon/net/url.h"

namespace keywarden {

namespace net = boost::asio;

namespace {

constexpr const char* kPositionKey = "admin_events_position";
constexpr const char* kStatusKey = "status_json";

long long now_epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A 200 whose body is JSON, or SourceReadError naming the request.
net::awaitable<nlohmann::json> fetch_json(KeycloakClient& client, std::string path) {
  auto op = client.get(path);
  const HttpResponse response = co_await std::move(op);
  if (response.status != 200) {
    throw SourceReadError(client.message(client.describe(path) + ": HTTP " + std::to_string(response.status)));
  }
  nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw SourceReadError(client.message(client.describe(path) + ": malformed JSON"));
  co_return doc;
}

// Every item of a first/max listing at `path` (which has a query already,
// or not), page by page; a page shorter than `max` is the last. `visit` may
// throw KeycloakFormatError for an item that is not what Keycloak documents.
// `path` is taken by value: the awaitable runs after the caller's temporaries die.
net::awaitable<void> for_each_item(KeycloakClient& client, std::string path, const KeycloakReadOptions& options,
                                   std::function<void(const nlohmann::json&)> visit) {
  const char joiner = path.find('?') == std::string::npos ? '?' : '&';
  for (long long page = 0;; ++page) {
    if (page >= options.max_pages) {
      throw SourceReadError(client.message(client.describe(path) + ": more than " + std::to_string(options.max_pages) +
                                           " pages; the listing does not end"));
    }
    const std::string page_path = path + joiner + "first=" + std::to_string(page * options.page_size) +
                                  "&max=" + std::to_string(options.page_size);
    auto op = fetch_json(client, page_path);
    const nlohmann::json items = co_await std::move(op);
    if (!items.is_array()) throw SourceReadError(client.message(client.describe(path) + ": expected a JSON array"));
    if (static_cast<long long>(items.size()) > options.page_size) {
      throw SourceReadError(client.message(client.describe(path) + ": a page longer than max=" +
                                           std::to_string(options.page_size)));
    }
    try {
      for (const auto& item : items) visit(item);
    } catch (const KeycloakFormatError& e) {
      throw SourceReadError(client.message(client.describe(path) + ": " + e.what()));
    }
    if (static_cast<long long>(items.size()) < options.page_size) co_return;
  }
}

// GET /users/count answers a bare JSON integer (UsersResource.getUsersCount).
net::awaitable<long long> fetch_user_count(KeycloakClient& client) {
  auto op = fetch_json(client, "/users/count");
  const nlohmann::json count = co_await std::move(op);
  if (!count.is_number_integer() || count.get<long long>() < 0) {
    throw SourceReadError(client.message(client.describe("/users/count") + ": not a count"));
  }
  co_return count.get<long long>();
}

// GET /events/config (RealmAdminResource.getRealmEventsConfig, which needs
// view-events): RealmEventsConfigRepresentation.adminEventsEnabled.
net::awaitable<AdminEventsRecording> fetch_recording(KeycloakClient& client) {
  const std::string path = "/events/config";
  auto op = client.get(path);
  const HttpResponse response = co_await std::move(op);
  if (response.status == 403) co_return AdminEventsRecording::unreadable;
  if (response.status != 200) {
    throw SourceReadError(client.message(client.describe(path) + ": HTTP " + std::to_string(response.status)));
  }
  const nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
  if (!doc.is_object()) throw SourceReadError(client.message(client.describe(path) + ": malformed JSON"));
  const auto enabled = doc.find("adminEventsEnabled");
  co_return enabled != doc.end() && enabled->is_boolean() && enabled->get<bool>() ? AdminEventsRecording::recorded
                                                                                 : AdminEventsRecording::not_recorded;
}

void add_group(std::vector<std::string>& groups, const std::string& name) {
  if (std::find(groups.begin(), groups.end(), name) == groups.end()) groups.push_back(name);
}

// A group's name and full path, for a member's groups.
void add_group_names(std::vector<std::string>& groups, const nlohmann::json& group) {
  const KeycloakGroup parsed = keycloak_group_from_json(group, "");
  add_group(groups, parsed.name);
  add_group(groups, parsed.path);
}

}  // namespace

std::string keycloak_status_json(AdminEventsRecording recording) {
  nlohmann::json doc;
  switch (recording) {
    case AdminEventsRecording::recorded:
      doc["admin_events"] = "recorded";
      break;
    case AdminEventsRecording::not_recorded:
      doc["admin_events"] = "not recorded by the realm; full reads every poll_interval";
      break;
    case AdminEventsRecording::unreadable:
      doc["admin_events"] =
          "events config unreadable (HTTP 403: the service account needs view-events); full reads every poll_interval";
      break;
  }
  return doc.dump();
}

KeycloakSource::KeycloakSource(SourceConfig config, net::any_io_executor executor, KeycloakRetryPolicy retry,
                               KeycloakReadOptions options)
    : Source(with_defaults(std::move(config), keycloak_source_type().schema)), executor_(std::move(executor)), retry_(retry), options_(options) {
  if (options_.page_size < 1 || options_.max_pages < 1 || options_.max_event_pages < 1) {
    throw std::invalid_argument("KeycloakReadOptions: bad bounds");
  }
}

KeycloakSettings KeycloakSource::settings() const {
  KeycloakSettings s;
  s.source = name();
  s.url = config().get("url");
  s.realm = config().get("realm");
  s.client_id = config().get("client_id");
  s.client_secret = config().secret("client_secret");
  return s;
}

net::awaitable<FullRead> KeycloakSource::read_all(const ReadContext&) {
  // Taken before the first request: a change made while the realm is
  // listed is in the admin events after this point.
  const long long started = now_epoch_ms();
  KeycloakClient client(executor_, settings(), token_, retry_);

  auto recording_op = fetch_recording(client);
  const AdminEventsRecording recording = co_await std::move(recording_op);

  // Users. No `enabled` parameter: disabled users are listed too.
  auto count_before_op = fetch_user_count(client);
  const long long count_before = co_await std::move(count_before_op);
  std::vector<Identity> identities;
  std::unordered_map<std::string, size_t> index;  // user id -> position in identities
  {
    auto add_user = [&](const nlohmann::json& user) {
      Identity identity = identity_from_keycloak_user(user);
      const auto [it, inserted] = index.try_emplace(identity.subject_id, identities.size());
      // Listed twice (offsets shifted while we paged): the later sighting wins.
      if (inserted) {
        identities.push_back(std::move(identity));
      } else {
        identities[it->second] = std::move(identity);
      }
    };
    auto listing = for_each_item(client, "/users?briefRepresentation=true", options_, add_user);
    co_await std::move(listing);
  }
  const long long listed = static_cast<long long>(identities.size());
  if (listed != count_before) {
    // A user created or deleted while we paged changes the count too: the
    // listing must match the count of one side of it.
    auto count_after_op = fetch_user_count(client);
    const long long count_after = co_await std::move(count_after_op);
    if (listed != count_after) {
      throw SourceReadError(client.message("GET /users listed " + std::to_string(listed) + " users but /users/count says " +
                                           std::to_string(count_after) + "; the listing is incomplete"));
    }
  }

  // Groups, flattened: every group with its full path.
  std::vector<KeycloakGroup> groups;
  {
    std::vector<std::pair<KeycloakGroup, int>> pending;  // group, depth
    auto add_top = [&](const nlohmann::json& g) { pending.emplace_back(keycloak_group_from_json(g, ""), 0); };
    auto listing = for_each_item(client, "/groups?briefRepresentation=true", options_, add_top);
    co_await std::move(listing);
    std::unordered_set<std::string> seen;
    while (!pending.empty()) {
      KeycloakGroup group = std::move(pending.back().first);
      const int depth = pending.back().second;
      pending.pop_back();
      if (!seen.insert(group.id).second) continue;
      if (depth > options_.max_group_depth) {
        throw SourceReadError(client.message("group " + group.path + " is nested deeper than " +
                                             std::to_string(options_.max_group_depth) + " levels"));
      }
      for (auto& child : group.nested) pending.emplace_back(std::move(child), depth + 1);
      // 23+: children are not nested; /children pages them (its `max`
      // defaults to 10, so it is always given).
      if (needs_children_listing(group)) {
        const std::string parent_path = group.path;
        auto add_child = [&](const nlohmann::json& g) {
          pending.emplace_back(keycloak_group_from_json(g, parent_path), depth + 1);
        };
        auto children = for_each_item(client, "/groups/" + url_encode(group.id) + "/children?briefRepresentation=true",
                                      options_, add_child);
        co_await std::move(children);
      }
      group.nested.clear();
      groups.push_back(std::move(group));
    }
  }

  // Direct members of every group (the source does not know the policy, so
  // every group matters: entitled_groups and Palette team names both match
  // on it).
  for (const KeycloakGroup& group : groups) {
    auto add_member = [&](const nlohmann::json& member) {
      const auto it = index.find(keycloak_id(member));
      if (it == index.end()) return;  // created after the user listing: the next read has them
      add_group(identities[it->second].groups, group.name);
      add_group(identities[it->second].groups, group.path);
    };
    auto listing = for_each_item(client, "/groups/" + url_encode(group.id) + "/members?briefRepresentation=true",
                                 options_, add_member);
    co_await std::move(listing);
  }

  AdminEventPosition position;
  position.time = std::max<long long>(started - options_.position_overlap.count(), 0);
  FullRead read;
  read.identities = std::move(identities);
  read.cursors[kPositionKey] = position.to_json();
  read.cursors[kStatusKey] = keycloak_status_json(recording);
  co_return read;
}

net::awaitable<ChangeSet> KeycloakSource::read_changes(std::map<std::string, std::string> cursors) {
  ChangeSet resync;
  resync.resync_required = true;
  const auto stored = cursors.find(kPositionKey);
  if (stored == cursors.end()) co_return resync;
  std::optional<AdminEventPosition> position = AdminEventPosition::from_json(stored->second);
  if (!position) co_return resync;

  KeycloakClient client(executor_, settings(), token_, retry_);
  auto recording_op = fetch_recording(client);
  const AdminEventsRecording recording = co_await std::move(recording_op);
  if (recording != AdminEventsRecording::recorded) co_return resync;

  // Every event after the position. 26.2+ takes dateFrom in epoch ms
  // (inclusive) and direction=asc; older servers answer 400 to a dateFrom
  // that is not yyyy-MM-dd (RealmAdminResource.getEvents) and always list
  // newest first, so they are read back until the position is passed.
  std::vector<KeycloakAdminEvent> events;
  bool complete = false;
  for (int form_attempt = 0; form_attempt < 2 && !complete; ++form_attempt) {
    events.clear();
    const std::string base = "/admin-events?resourceTypes=USER&resourceTypes=GROUP_MEMBERSHIP"
                             "&operationTypes=CREATE&operationTypes=UPDATE&operationTypes=DELETE&dateFrom=" +
                             admin_events_date_from(*position) + (position->date_only ? "" : "&direction=asc");
    bool switched = false;
    for (int page = 0;; ++page) {
      if (page >= options_.max_event_pages) break;
      const std::string path = base + "&first=" + std::to_string(static_cast<long long>(page) * options_.page_size) +
                               "&max=" + std::to_string(options_.page_size);
      auto op = client.get(path);
      const HttpResponse response = co_await std::move(op);
      if (response.status == 400 && !position->date_only) {
        position->date_only = true;  // an older server: the yyyy-MM-dd form from now on
        switched = true;
        break;
      }
      if (response.status != 200) {
        throw SourceReadError(client.message(client.describe(path) + ": HTTP " + std::to_string(response.status)));
      }
      const nlohmann::json items = nlohmann::json::parse(response.body, nullptr, false);
      if (!items.is_array()) throw SourceReadError(client.message(client.describe(path) + ": expected a JSON array"));
      std::vector<KeycloakAdminEvent> page_events;
      try {
        for (const auto& item : items) page_events.push_back(keycloak_admin_event_from_json(item));
      } catch (const KeycloakFormatError& e) {
        throw SourceReadError(client.message(client.describe(path) + ": " + e.what()));
      }
      const bool newest_first =
          page_events.size() > 1 && page_events.front().time > page_events.back().time;
      const bool passed_position = newest_first && page_events.back().time < position->time;
      events.insert(events.end(), page_events.begin(), page_events.end());
      if (static_cast<int>(items.size()) < options_.page_size || passed_position) {
        complete = true;
        break;
      }
    }
    if (!switched && !complete) {
      // Out of pages. Oldest first, what was read is a prefix in time: apply
      // it and go on from there next poll. Newest first, the oldest events
      // are still unread: only a full read is safe.
      const bool newest_first = events.size() > 1 && events.front().time > events.back().time;
      if (newest_first || position->date_only) co_return resync;
      complete = true;
    }
  }
  if (!complete) co_return resync;

  const std::vector<KeycloakAdminEvent> fresh = events_after(std::move(events), *position);
  std::vector<std::string> users;
  std::unordered_set<std::string> named;
  for (const auto& event : fresh) {
    const std::string user = event.subject_user();
    if (!user.empty() && named.insert(user).second) users.push_back(user);
  }
  if (static_cast<int>(users.size()) > options_.max_user_lookups) co_return resync;

  ChangeSet changes;
  changes.groups_known = true;
  for (const std::string& id : users) {
    // The user as Keycloak has them now: a replayed or overtaken event, or
    // a partial representation, cannot set a stale fact.
    const std::string user_path = "/users/" + url_encode(id);
    auto op = client.get(user_path);
    const HttpResponse response = co_await std::move(op);
    if (response.status == 404) {
      Identity gone;
      gone.subject_id = id;
      gone.status = IdentityStatus::deleted;
      gone.status_detail = "deleted in Keycloak";
      changes.identities.push_back(std::move(gone));
      continue;
    }
    if (response.status != 200) {
      throw SourceReadError(client.message(client.describe(user_path) + ": HTTP " + std::to_string(response.status)));
    }
    const nlohmann::json user = nlohmann::json::parse(response.body, nullptr, false);
    Identity identity;
    try {
      if (user.is_discarded()) throw KeycloakFormatError("malformed JSON");
      identity = identity_from_keycloak_user(user);
    } catch (const KeycloakFormatError& e) {
      throw SourceReadError(client.message(client.describe(user_path) + ": " + e.what()));
    }
    auto add = [&](const nlohmann::json& group) { add_group_names(identity.groups, group); };
    auto listing = for_each_item(client, user_path + "/groups?briefRepresentation=true", options_, add);
    co_await std::move(listing);
    changes.identities.push_back(std::move(identity));
  }
  changes.cursors[kPositionKey] = advance(*position, fresh).to_json();
  changes.cursors[kStatusKey] = keycloak_status_json(recording);
  co_return changes;
}

}  // namespace keywarden
