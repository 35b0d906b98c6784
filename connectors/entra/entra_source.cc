#include "connectors/entra/entra_source.h"

#include <malloc.h>  // malloc_trim

#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>

#include "connectors/blocking_work.h"
#include "connectors/entra/graph_notifications.h"
#include "daemon/base/ascii.h"

namespace keywarden {

namespace net = boost::asio;
using nlohmann::json;

namespace {

constexpr const char* kUserSelect = "id,userPrincipalName,mail,accountEnabled,displayName";
constexpr const char* kUsersDelta = "/v1.0/users/delta?$select=id,userPrincipalName,mail,accountEnabled,displayName";
constexpr const char* kGroupsDelta = "/v1.0/groups/delta?$select=displayName,members";
// Graph pages users by the hundred; this many pages is far past any tenant.
// Beyond it the chain of nextLinks is looping.
constexpr int kMaxPages = 1000000;
constexpr size_t kTrimAfterPageBytes = 1 << 20;  // 1 MiB: a groups page with members in the thousands

// Graph says the delta cursor is gone: 410 Gone, or syncStateNotFound /
// resyncRequired. Internal: read_changes turns it into resync_required.
struct DeltaCursorLost {};

std::string trimmed_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

using ItemSink = std::function<void(const json& item, const std::string& where)>;

// Follows one delta round from `start` (a path or a whole link) through its
// nextLinks, handing every item to `add`, and returns the closing deltaLink.
// Any page that is not a good 2xx page fails the whole round.
net::awaitable<std::string> follow_round(GraphClient& graph, std::string start, ItemSink add, std::string what) {
  std::string link = std::move(start);
  for (int page = 1; page <= kMaxPages; ++page) {
    const std::string where = graph.message(what + " page " + std::to_string(page) + " (" + path_for_message(link) + ")");
    GraphResponse response;
    std::string failure;
    try {
      auto op = graph.send("GET", link);
      GraphResponse answer = co_await std::move(op);
      response = std::move(answer);
    } catch (const SourceReadError& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      const std::string prefix = graph.message("");
      if (failure.rfind(prefix, 0) == 0) failure.erase(0, prefix.size());
      throw SourceReadError(where + ": " + failure);
    }
    if (response.status == 410) throw DeltaCursorLost{};
    if (response.status / 100 != 2) {
      const std::string code = ascii_lower(graph_error_code(response.body));
      if (response.status / 100 == 4 && (code == "syncstatenotfound" || code == "resyncrequired")) throw DeltaCursorLost{};
      throw SourceReadError(graph_http_failure(where, response));
    }
    // A groups page can carry hundreds of thousands of members@delta
    // entries: parsing and merging it is up to a second of CPU, done on the
    // blocking pool so that the I/O thread keeps serving. Pages are handled
    // one at a time, so `add` never runs on two threads at once.
    auto handle_page = run_blocking([&add, body = std::move(response.body), where] {
      std::pair<std::string, std::string> links;
      {
        DeltaPage parsed = parse_delta_page(body, where);
        for (const auto& item : parsed.items) add(item, where);
        links = {std::move(parsed.delta_link), std::move(parsed.next_link)};
      }
      // Such a page's parsed form is tens of MB, freed into this pool
      // thread's malloc arena, which the next page (on the other thread)
      // would not reuse: hand it back, or a first round holds several
      // pages' worth of freed memory (issue 14: 400 MB at 100,000 users).
      if (body.size() >= kTrimAfterPageBytes) ::malloc_trim(0);
      return links;
    });
    std::pair<std::string, std::string> links = co_await std::move(handle_page);
    if (!links.first.empty()) co_return links.first;
    link = std::move(links.second);
  }
  throw SourceReadError(graph.message(what + ": more than " + std::to_string(kMaxPages) + " pages; the nextLinks loop"));
}

// The users round, then the groups round, each merged.
struct Rounds {
  UserDeltaMerge users;
  GroupDeltaMerge groups;
  std::string users_link;   // the closing deltaLinks
  std::string groups_link;
  bool lost = false;        // Graph reset a round (410 Gone, syncStateNotFound): start over
};

// Follows both rounds from their starts (the initial paths, or stored deltaLinks).
net::awaitable<Rounds> follow_rounds(GraphClient& graph, std::string users_start, std::string groups_start) {
  Rounds rounds;
  try {
    auto users_op = follow_round(
        graph, std::move(users_start),
        [&rounds](const json& item, const std::string& where) { rounds.users.add(item, where); }, "users delta");
    rounds.users_link = co_await std::move(users_op);
    auto groups_op = follow_round(
        graph, std::move(groups_start),
        [&rounds](const json& item, const std::string& where) { rounds.groups.add(item, where); }, "groups delta");
    rounds.groups_link = co_await std::move(groups_op);
  } catch (const DeltaCursorLost&) {
    rounds.lost = true;
  }
  co_return rounds;
}

ChangeSet resync() {
  ChangeSet changes;
  changes.resync_required = true;
  return changes;
}

}  // namespace

const SourceType& entra_source_type() {
  static const SourceType type{
      {"entra",
       {{"tenant_id", ValueKind::text, true, {}, {}, "the directory (tenant) id"},
        {"client_id", ValueKind::text, true, {}, {}, "the app registration's application (client) id"},
        {"client_secret", ValueKind::secret, true, {}, {}, "the app registration's client secret"},
        {"graph_url", ValueKind::url, false, "https://graph.microsoft.com", {}, "Microsoft Graph"},
        {"login_url", ValueKind::url, false, "https://login.microsoftonline.com", {}, "the token endpoint's host"},
        {"notification_url", ValueKind::url, false, {}, {},
         "the public URL of /hooks/entra/<source>; set, keywarden keeps change-notification subscriptions"},
        {"client_state", ValueKind::secret, false, {}, {}, "the clientState Graph sends back with each notification"},
        {"poll_interval", ValueKind::duration, false, "1m", {}, "how often delta queries run between full reads"}},
       {},
       "Microsoft Entra ID through Microsoft Graph delta queries and change notifications"},
      "/hooks/entra/", "entra_hook",
      [](const SourceConfig& config, net::any_io_executor executor) -> std::unique_ptr<Source> {
        return std::make_unique<EntraSource>(config, std::move(executor));
      },
  };
  return type;
}

EntraSource::EntraSource(SourceConfig config, net::any_io_executor executor, GraphRetryPolicy retry,
                         SubscriptionPolicy subscriptions)
    : Source(with_defaults(std::move(config), entra_source_type().schema)),
      executor_(std::move(executor)),
      retry_(retry),
      subscription_policy_(subscriptions) {
  const SourceConfig& c = this->config();
  settings_.source = c.name;
  settings_.tenant_id = c.get("tenant_id");
  settings_.client_id = c.get("client_id");
  settings_.client_secret = c.secret("client_secret");
  settings_.graph_url = trimmed_url(c.get("graph_url"));
  settings_.login_url = trimmed_url(c.get("login_url"));
  notification_url_ = c.get("notification_url");
}

std::optional<std::string> EntraSource::client_state() {
  const std::lock_guard<std::mutex> lock(client_state_mutex_);
  if (client_state_) return *client_state_;
  const SecretRef ref = config().secret("client_state");
  if (ref.empty()) {
    client_state_.emplace(std::nullopt);
    return std::nullopt;
  }
  try {
    std::string value = read_secret(ref);
    client_state_.emplace(value);
    return value;
  } catch (const std::exception&) {
    return std::nullopt;  // not cached: a file that appears later is picked up
  }
}

std::unordered_map<std::string, EntraSource::KnownUser> EntraSource::known_users_of(const UserDeltaMerge& users) {
  std::unordered_map<std::string, KnownUser> known;
  known.reserve(users.users().size());
  for (const auto& entry : users.users()) {
    const GraphUser& user = entry.second;
    if (!user.user_principal_name && !(user.mail && !user.mail->empty())) continue;
    known[entry.first] = KnownUser{user.user_principal_name.value_or(""), user.mail.value_or("")};
  }
  return known;
}

EntraSource::Assembled EntraSource::assemble(UserDeltaMerge users, GroupDeltaMerge groups,
                                             const std::string& context) {
  Assembled out;
  out.identities = directory_from_rounds(users, groups, context);
  json names = json::object();
  for (const auto& entry : groups.groups()) {
    if (!entry.second.removed && entry.second.display_name) {
      names[entry.first] = *entry.second.display_name;
      out.known_groups[entry.first] = *entry.second.display_name;
    }
  }
  out.group_names = names.dump();
  out.known_users = known_users_of(users);
  return out;  // the merges, hundreds of MB at 100,000 users, are freed here
}

net::awaitable<FullRead> EntraSource::read_all(const ReadContext&) {
  GraphClient graph(executor_, settings_, token_, retry_);
  auto follow = follow_rounds(graph, kUsersDelta, kGroupsDelta);
  Rounds rounds = co_await std::move(follow);
  if (rounds.lost) throw SourceReadError(graph.message("Graph reset the delta round (410 Gone or syncStateNotFound) during a full read"));

  // Turning the rounds into identities is seconds of CPU at 100,000 users:
  // off the I/O thread, which keeps serving pushes and health checks.
  auto op = run_blocking([users = std::move(rounds.users), groups = std::move(rounds.groups),
                          context = graph.message("full read")]() mutable {
    return assemble(std::move(users), std::move(groups), context);
  });
  Assembled assembled = co_await std::move(op);
  known_groups_ = std::move(assembled.known_groups);
  known_users_ = std::move(assembled.known_users);
  FullRead read;
  read.identities = std::move(assembled.identities);
  read.cursors["users_delta"] = rounds.users_link;
  read.cursors["groups_delta"] = rounds.groups_link;
  read.cursors["group_names"] = std::move(assembled.group_names);
  co_return read;
}

net::awaitable<ChangeSet> EntraSource::read_changes(std::map<std::string, std::string> cursors) {
  const auto users_cursor = cursors.find("users_delta");
  const auto groups_cursor = cursors.find("groups_delta");
  if (users_cursor == cursors.end() || users_cursor->second.empty() || groups_cursor == cursors.end() ||
      groups_cursor->second.empty()) {
    co_return resync();
  }
  GraphClient graph(executor_, settings_, token_, retry_);
  auto follow = follow_rounds(graph, users_cursor->second, groups_cursor->second);
  Rounds rounds = co_await std::move(follow);
  if (rounds.lost) co_return resync();

  ChangeSet changes;
  changes.groups_known = false;
  std::unordered_map<std::string, KnownUser> learned;
  for (const auto& entry : rounds.users.users()) {
    GraphUser user = entry.second;
    if (const auto known = known_users_.find(user.id); known != known_users_.end()) {
      if (!user.user_principal_name) user.user_principal_name = known->second.user_principal_name;
      if (!user.mail) user.mail = known->second.mail;
    }
    const bool named = user.user_principal_name || (user.mail && !user.mail->empty());
    if (user.removed_reason) {
      // Without a name the update would blank the stored email and unlink
      // the user from their keys; a full read marks them deleted instead.
      if (!named) co_return resync();
      changes.identities.push_back(removed_identity_of(user));
      continue;
    }
    if (!named || !user.account_enabled) {
      const std::string where = graph.message("GET user " + user.id);
      auto op = graph.send("GET", "/v1.0/users/" + url_encode(user.id) + "?$select=" + kUserSelect);
      GraphResponse response = co_await std::move(op);
      if (response.status == 404) continue;  // gone meanwhile: delta will say @removed
      if (response.status / 100 != 2) throw SourceReadError(graph_http_failure(where, response));
      const json doc = json::parse(response.body, nullptr, false);
      if (!doc.is_object()) throw SourceReadError(where + ": the answer is not a JSON object");
      UserDeltaMerge fetched;
      fetched.add(doc, where);
      const GraphUser& full = fetched.users().begin()->second;
      if (full.user_principal_name) user.user_principal_name = full.user_principal_name;
      if (full.mail) user.mail = full.mail;
      if (full.account_enabled) user.account_enabled = full.account_enabled;
    }
    Identity identity = identity_of(user);
    if (!user.account_enabled || identity.email.empty()) {
      throw SourceReadError(graph.message("user " + user.id + " has no accountEnabled or no name"));
    }
    learned[user.id] = KnownUser{user.user_principal_name.value_or(""), user.mail.value_or("")};
    changes.identities.push_back(std::move(identity));
  }

  json names = json::parse(cursors.count("group_names") ? cursors["group_names"] : "{}", nullptr, false);
  if (!names.is_object()) names = json::object();
  for (const auto& entry : known_groups_) {
    if (!names.contains(entry.first)) names[entry.first] = entry.second;
  }
  for (const auto& entry : rounds.groups.groups()) {
    const GraphGroup& group = entry.second;
    const auto known = names.find(group.id);
    const bool known_name = known != names.end() && known->is_string();
    // Delta lists no members for a deleted group, and a rename moves every
    // membership: only a full read can state those.
    if (group.removed) {
      if (known_name) co_return resync();
      continue;
    }
    std::string name;
    if (group.display_name) {
      if (known_name && known->get<std::string>() != *group.display_name) co_return resync();
      name = *group.display_name;
    } else if (known_name) {
      name = known->get<std::string>();
    } else {
      const std::string where = graph.message("GET group " + group.id);
      auto op = graph.send("GET", "/v1.0/groups/" + url_encode(group.id) + "?$select=id,displayName");
      GraphResponse response = co_await std::move(op);
      if (response.status / 100 != 2) throw SourceReadError(graph_http_failure(where, response));
      const json doc = json::parse(response.body, nullptr, false);
      if (!doc.is_object() || !doc.contains("displayName") || !doc["displayName"].is_string()) {
        throw SourceReadError(where + ": the answer has no displayName");
      }
      name = doc["displayName"].get<std::string>();
    }
    for (const auto& [number, present] : GroupDeltaMerge::last_words(group)) {
      const std::string& member = rounds.groups.member_id(number);
      if (!name.empty()) changes.memberships.push_back(MembershipChange{member, name, present});
      changes.memberships.push_back(MembershipChange{member, group.id, present});
    }
    names[group.id] = name;
  }

  for (auto& [id, user] : learned) known_users_[id] = std::move(user);
  for (const auto& [id, name] : names.items()) {
    if (name.is_string()) known_groups_[id] = name.get<std::string>();
  }
  changes.cursors["users_delta"] = rounds.users_link;
  changes.cursors["groups_delta"] = rounds.groups_link;
  changes.cursors["group_names"] = names.dump();
  co_return changes;
}

PushResponse EntraSource::handle_push(const PushRequest& request, const PushContext& context) {
  return handle_graph_push(client_state(), request, context);
}

net::awaitable<UpkeepResult> EntraSource::upkeep(const ReadContext& context) {
  UpkeepResult result;
  if (notification_url_.empty()) co_return result;
  const std::optional<std::string> state = client_state();
  if (!state) {
    result.warning = "entra source \"" + name() +
                     "\": notification_url needs client_state_file or client_state_env (readable)";
    co_return result;
  }
  GraphClient graph(executor_, settings_, token_, retry_);
  auto op = maintain_graph_subscriptions(graph, context.state, notification_url_, *state, context.now,
                                         subscription_policy_);
  SubscriptionUpkeep done = co_await std::move(op);
  result.cursors = std::move(done.cursors);
  if (!done.error.empty()) result.warning = std::move(done.error);
  co_return result;
}

}  // namespace keywarden
