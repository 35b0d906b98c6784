// What keywarden reads from, and checks in, SCIM User and Group resources
// (RFC 7643 §4): whether a user is active, its email, a group's members, and
// the Identity a User becomes.
//
// Resources are nlohmann::json objects as a client sent them; attribute names
// are matched case-insensitively (find_scim_member).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/identity.h"

namespace keywarden {

// A SCIM boolean as clients really send it: true/false, or the strings
// "true"/"false" in any case (Entra's default "False"). nullopt for anything
// else.
std::optional<bool> scim_boolean(const nlohmann::json& value);

// A user's "active": absent or null means active (RFC 7643 leaves it to the
// provider; keywarden assumes a user exists to be used).
bool scim_user_active(const nlohmann::json& user);

// The user's string "userName", or "" when absent or not a string.
std::string scim_user_name(const nlohmann::json& user);

// What userName uniqueness compares (and the user_name lookup key): the name
// trimmed and ASCII lower-cased as the email join does (normalize_email), so
// " Alice@corp.example " and "alice@corp.example" are one name, as they are
// one owner.
std::string scim_user_name_key(std::string_view user_name);

// True when `text` holds a control character: C0 (NUL included), DEL, or C1
// (U+0080–U+009F as UTF-8). No userName may hold one: it would make two names
// look alike in every log and listing, or cut one short in a C string.
bool contains_control_character(std::string_view text);

// The email keywarden joins on: the primary email, else the "work" email,
// else the first email, else userName when it contains '@', else "".
// As the client spelled it (not normalized).
std::string scim_user_email(const nlohmann::json& user);

// Every email "value" of the user, normalized (normalize_email), each once.
std::vector<std::string> scim_user_emails(const nlohmann::json& user);

// A group's string "displayName", or "".
std::string scim_display_name(const nlohmann::json& group);

// The "value" of each member of a group, each once.
std::set<std::string> scim_member_ids(const nlohmann::json& group);

// The Identity a User resource describes (SCIM id = subject id); `groups`
// are the display names of the groups that list it.
Identity scim_identity(const nlohmann::json& user, std::vector<std::string> groups);

// Makes a client's User body into what keywarden stores, or throws
// ScimError(400, …):
// - the body must be an object with a non-empty string userName
//   (invalidValue otherwise);
// - "active" becomes a JSON boolean (invalidValue when not a boolean or
//   "true"/"false");
// - read-only or computed attributes ("id", "meta", "groups") and "password"
//   (keywarden never keeps one) are dropped; `id` is set;
// - "schemas" keeps what the client sent (legacy URNs such as OneLogin's
//   "urn:scim:schemas:core:1.0" included) and gains the core User URN.
void normalize_scim_user(nlohmann::json& user, const std::string& id);

// The same for a Group body: a non-empty string displayName; "members" an
// array of objects each with a non-empty string "value" (invalidValue
// otherwise), null-valued keys dropped ("$ref": null), the first of each
// value kept; "id" and "meta" dropped; `id` set; core Group URN added.
void normalize_scim_group(nlohmann::json& group, const std::string& id);

// Throws ScimError(400, "invalidSyntax") when `body` nests arrays and objects
// deeper than `max_depth`, before nlohmann::json (whose dump and comparison
// recurse) ever sees it.
void check_scim_json_depth(std::string_view body, int max_depth);

}  // namespace keywarden
