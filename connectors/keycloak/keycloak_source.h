// type = "keycloak" (SPEC §3, §8.3): one realm of a Keycloak server, read
// through the Admin REST API with a service account, and followed between
// full reads through the realm's admin events.
//
// Identities: subject_id = the user's id, user_name = username, email =
// email, active iff enabled (else inactive, "enabled false in Keycloak"),
// deleted when a re-read answers 404. groups = for each group the user is a
// DIRECT member of, its name AND its full path ("palette-users" and
// "/engineering/palette-users"), so that entitled_groups (and Palette team
// names, SPEC §9) match either. A member of a subgroup is not thereby a
// member of its parent.
//
// State (stored with each read; all of it is handed back to read_changes;
// `status` merges status_json's members into the source's entry):
//   "admin_events_position"  see AdminEventPosition (keycloak_directory.h)
//   "status_json"            {"admin_events": "<what the realm records>"},
//                            merged into `status` by the daemon
//
// Threading: read_all and read_changes run on the thread of `executor` and
// must not overlap on one source (the daemon's loop serializes them). They
// share the cached token.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "connectors/keycloak/keycloak_client.h"
#include "connectors/keycloak/keycloak_directory.h"
#include "connectors/source.h"
#include "connectors/source_type.h"

namespace keywarden {

// Paging and bounds. Every listing is paged with first/max; every loop is
// bounded. Tests shrink the pages.
struct KeycloakReadOptions {
  int page_size = 100;           // `max` of every listing
  int max_pages = 100000;        // per listing; beyond it the server is looping
  int max_group_depth = 64;      // subgroup nesting followed
  int max_event_pages = 50;      // admin-event pages one read_changes reads
  int max_user_lookups = 200;    // users one read_changes re-reads; more: a full read
  // How far before the start of a full read its admin-event position
  // begins: covers clock skew between this host and Keycloak. Events
  // replayed from that window are harmless (read_changes re-reads current
  // state rather than trusting an event's word).
  std::chrono::milliseconds position_overlap{60000};
};

class KeycloakSource final : public Source {
 public:
  KeycloakSource(SourceConfig config, boost::asio::any_io_executor executor, KeycloakRetryPolicy retry = {},
                 KeycloakReadOptions options = {});

  bool polls() const override { return true; }

  // GET /events/config (whether the realm records admin events), then
  // GET /users/count and every page of GET /users?briefRepresentation=true
  // (disabled users included: no `enabled` filter), every page of
  // GET /groups with subgroups either nested or under /groups/{id}/children,
  // and every page of each group's GET /groups/{id}/members. A page shorter
  // than `max` ends a listing.
  //
  // Throws SourceReadError, never a partial directory, when any page fails
  // (4xx, 5xx or 429 after retries, a connection cut mid-body, malformed
  // JSON), the token cannot be had, or the users listed (distinct ids) are
  // neither the /users/count taken before the listing nor the one after.
  // The context is not used: the realm is listed whole.
  boost::asio::awaitable<FullRead> read_all(const ReadContext& context) override;

  bool reads_incrementally() const override { return true; }

  // Reads the admin events (resource types USER and GROUP_MEMBERSHIP,
  // operations CREATE, UPDATE, DELETE) after the stored position, and
  // re-reads every user they name: GET /users/{id} (404: deleted) and every
  // page of GET /users/{id}/groups. Returns those users as whole facts
  // (groups_known true), the advanced position and status_json. An event's
  // representation is never trusted (it may be partial, and a disable is a
  // plain UPDATE); a replayed event only re-reads current state.
  //
  // The query is dateFrom=<position ms>&direction=asc (26.2+); a 400 to
  // that switches the position to the yyyy-MM-dd form of older servers,
  // which answer newest first, and are read back to the position.
  //
  // resync_required (and nothing else) when the position is missing or
  // unreadable, when the realm does not record admin events (a full read
  // every poll_interval then keeps keywarden current), when a newest-first
  // listing is longer than max_event_pages, or when more than
  // max_user_lookups users changed. Throws SourceReadError on any failure;
  // the position then stays where it was.
  boost::asio::awaitable<ChangeSet> read_changes(std::map<std::string, std::string> cursors) override;

  // Access tokens fetched so far (tests).
  int tokens_issued() const { return token_.issued; }

 private:
  KeycloakSettings settings() const;

  boost::asio::any_io_executor executor_;
  KeycloakRetryPolicy retry_;
  KeycloakReadOptions options_;
  KeycloakToken token_;
};

// type = "keycloak": its config keys (url, realm, client_id, client_secret,
// poll_interval) and its factory, for connectors/source_registry.cc.
const SourceType& keycloak_source_type();

// What GET /events/config told about the realm's admin events.
enum class AdminEventsRecording { recorded, not_recorded, unreadable };

// The "status_json" state value for it, e.g.
// {"admin_events":"not recorded by the realm; full reads every poll_interval"}.
std::string keycloak_status_json(AdminEventsRecording recording);

}  // namespace keywarden
