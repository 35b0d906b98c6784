// SCIM PATCH (RFC 7644 §3.5.2) applied to a User or Group resource, in every
// dialect the IdPs send (reference/idp-protocols.md §1.4–1.5):
// - "op" in any case ("Add", "Replace", "Remove");
// - "active" as true/false or "True"/"False" strings;
// - path-less add/replace whose object value has dotted ("name.givenName")
//   or URN-prefixed ("urn:…:enterprise:2.0:User:employeeNumber") keys, or an
//   extension object keyed by its schema URN;
// - member removal by value array ({"op":"Remove","path":"members",
//   "value":[{"value":"id","$ref":null}]}), by filter
//   ("members[value eq \"id\"]"), or by replacing "members" wholesale;
// - add/replace through a filter that matches nothing
//   ("emails[type eq \"work\"].value") creates the element, as Entra expects.
// Removing what is not there is a no-op, so a retried deprovisioning succeeds.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace keywarden {

struct ScimPatchResult {
  nlohmann::json resource;                   // the resource after every operation
  bool active_written = false;               // an operation set "active"
  bool active_changed = false;               // scim_user_active differs before/after
  std::vector<std::string> members_added;    // member values, sorted
  std::vector<std::string> members_removed;  // member values, sorted
};

// Applies the PatchOp message `patch` ({"schemas":[…],"Operations":[…]}) to
// `resource` (a User or Group object; a Group with its "members"). All or
// nothing: throws ScimError(400, scimType) and changes nothing when any
// operation is malformed:
// - invalidSyntax: no "Operations" array, an operation not an object, an
//   unknown "op";
// - invalidPath: a "path" that is not a string or not a valid path;
// - noTarget: "remove" without a path; add/replace through a filter that
//   matches nothing and cannot create an element;
// - invalidValue: a missing or ill-typed "value" (e.g. "active":"maybe");
// - mutability: changing "id" (setting it to its current value is a no-op,
//   as Okta does); "meta" is read-only and silently ignored.
// The result is not yet validated as a User or Group: the caller normalizes
// it (normalize_scim_user/normalize_scim_group).
ScimPatchResult apply_scim_patch(const nlohmann::json& resource, const nlohmann::json& patch);

// The group members a PATCH can add, remove or change, when it names each of
// them by value: "add" of "members" whose elements all have a string
// "value"; "remove" of "members" with a value list of such elements (or of
// id strings); any operation on members[value eq "id"]; operations on other
// attributes touch no member. For such a PATCH, apply_scim_patch on the group
// listing only the members in scope that it has adds and removes exactly the
// members, and leaves the member objects in scope exactly as, apply_scim_patch
// on the whole group would; so a large group need not be read whole to apply
// the PATCHes IdPs send. nullopt when the PATCH may touch members it does
// not name (replace of "members", remove of every member, a pattern without
// "value", another filter or a sub-attribute of "members"), and for anything
// malformed (apply_scim_patch reports it). The ids come sorted, each once.
std::optional<std::vector<std::string>> scim_patch_member_scope(const nlohmann::json& patch);

// Cuts a PATCH whose every operation adds or removes members by a value
// list ("op" add or remove, "path" "members", "value" an array, each element
// naming its member as scim_patch_member_scope requires) into PATCHes of at
// most `max_members` values each, with the PATCH's other keys ("schemas").
// Applied one after the other, they do what the whole did: additions and
// removals by value are idempotent, and no member is both added and removed
// (such a PATCH is not cut: the member would be out of the group between
// two parts). `patch` is consumed. Empty, and `patch`
// untouched, when it has `max_members` values or fewer, or another shape
// (it is applied whole). Each operation's values are sorted by member id
// (the values naming one member keep their order), so that a part reaches
// one slice of the ids: a group's members have no order, and its stored rows
// are kept by id.
std::vector<nlohmann::json> split_scim_member_patch(nlohmann::json& patch, size_t max_members);

}  // namespace keywarden
