// type = "entra": Microsoft Entra ID through Microsoft Graph (SPEC §3), with
// an app-only token (client credentials), delta queries for users and groups,
// and change notifications on /hooks/entra/<source> (SPEC §6).
//
// Identities: subject_id = the user's object id, user_name =
// userPrincipalName, email = mail (userPrincipalName when mail is null),
// active iff accountEnabled (else inactive, "accountEnabled false"), deleted
// when delta says @removed ("soft-deleted" for reason changed,
// "hard-deleted" for deleted). groups = each group's display name AND its
// object id: entitled_groups may name either. Only direct user members
// count (Graph does not expand nested groups in members@delta).
//
// Cursors (the source's stored values, written with each read):
//   "users_delta", "groups_delta"  the whole @odata.deltaLink URLs
//   "group_names"                  {"<group id>":"<display name>",…}, so that
//                                  an incremental read can name a group whose
//                                  item lacks displayName and notice a rename
//                                  or deletion (the source also keeps these
//                                  names in memory from its last reads, for a
//                                  caller that passes only the two links)
//
// Threading: read_all, read_changes and upkeep run on the
// thread of `executor`; each opens its own connections and they may overlap,
// sharing the cached access token. handle_push may run on another thread
// (the daemon's store worker): it touches only the client state, which is
// guarded.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "connectors/entra/graph_client.h"
#include "connectors/entra/graph_delta.h"
#include "connectors/entra/graph_subscriptions.h"
#include "connectors/source.h"
#include "connectors/source_type.h"

namespace keywarden {

// The declaration of type "entra": keys, push route, factory.
const SourceType& entra_source_type();

class EntraSource final : public Source {
 public:
  // Reads no secret yet: the client secret is read for each token request,
  // the client state on the first push. `retry` and `subscriptions` exist
  // for tests; the defaults are the production bounds.
  EntraSource(SourceConfig config, boost::asio::any_io_executor executor, GraphRetryPolicy retry = {},
              SubscriptionPolicy subscriptions = {});

  bool polls() const override { return true; }

  // A complete initial delta round of users
  // (GET /v1.0/users/delta?$select=id,userPrincipalName,mail,accountEnabled,displayName)
  // and then of groups (GET /v1.0/groups/delta?$select=displayName,members),
  // each followed through every @odata.nextLink to its @odata.deltaLink.
  // Returns every user (see directory_from_rounds) and the cursors above.
  // Throws SourceReadError, never a partial list, when any page fails: a
  // 4xx (a nextLink that 404s included), a 5xx or 429 still there after the
  // retries, a timeout, a malformed page, no token, or no users at all.
  boost::asio::awaitable<FullRead> read_all(const ReadContext& context) override;

  bool reads_incrementally() const override { return true; }

  // Follows the stored deltaLinks to new ones. Returns upserts of users that
  // changed (whole facts; a user whose item lacks a name or accountEnabled is
  // fetched with GET /v1.0/users/{id}), deleted users (@removed), and one
  // MembershipChange per members@delta entry for the group's display name
  // and one for its object id. groups_known is false. Replays are harmless:
  // every change is stated as a final fact.
  //
  // resync_required (nothing else set) when a cursor is missing, Graph
  // answers 410 Gone or an error code syncStateNotFound / resyncRequired,
  // and also when delta cannot say enough to apply the change safely: a
  // deleted or renamed group (its members are not listed) or a removed user
  // whose email this process never saw (an update without one would unlink
  // the user from their keys). Throws SourceReadError on other failures.
  boost::asio::awaitable<ChangeSet> read_changes(std::map<std::string, std::string> cursors) override;

  bool accepts_pushes() const override { return true; }
  // See handle_graph_push (graph_notifications.h), with the configured
  // client_state.
  PushResponse handle_push(const PushRequest& request, const PushContext& context) override;

  // True when notification_url is set: upkeep then keeps the subscriptions.
  bool has_upkeep() const override { return !notification_url_.empty(); }

  // Keeps the "users" and "groups" subscriptions alive (see
  // maintain_graph_subscriptions): creates, renews (PATCH when less than a
  // day remains) and reauthorizes them as lifecycle notifications asked,
  // from and into the source's stored values. Does nothing without
  // notification_url. A failure (Graph refuses, client_state not configured)
  // is a `warning`: delta polling, the source of truth, goes on untouched.
  // Awaits Graph, which calls back /hooks/entra/<source> to validate the
  // URL: the daemon's HTTP server must be serving meanwhile.
  boost::asio::awaitable<UpkeepResult> upkeep(const ReadContext& context) override;

  // Access tokens fetched so far (tests).
  int tokens_issued() const { return token_.issued; }

 private:
  struct KnownUser {
    std::string user_principal_name;
    std::string mail;
  };

  // A full read's rounds turned into what read_all returns and remembers.
  struct Assembled {
    std::vector<Identity> identities;
    std::string group_names;  // the "group_names" cursor: object id -> display name, JSON
    std::unordered_map<std::string, std::string> known_groups;
    std::unordered_map<std::string, KnownUser> known_users;
  };
  // Pure; runs on the blocking pool.
  static Assembled assemble(UserDeltaMerge users, GroupDeltaMerge groups, const std::string& context);
  static std::unordered_map<std::string, KnownUser> known_users_of(const UserDeltaMerge& users);

  std::optional<std::string> client_state();

  boost::asio::any_io_executor executor_;
  GraphSettings settings_;
  GraphRetryPolicy retry_;
  SubscriptionPolicy subscription_policy_;
  std::string notification_url_;
  GraphToken token_;
  std::mutex client_state_mutex_;
  std::optional<std::optional<std::string>> client_state_;  // outer: loaded yet? Guarded by the mutex.
  // The names of every user the last reads listed, to name a user that delta
  // later reports only as {"id","@removed"}.
  std::unordered_map<std::string, KnownUser> known_users_;
  // Group object id -> display name, from the last reads.
  std::unordered_map<std::string, std::string> known_groups_;
};

}  // namespace keywarden
