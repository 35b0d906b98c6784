#include "connectors/scim/scim_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/scim/scim_attribute.h"
#include "connectors/scim/scim_discovery.h"
#include "connectors/scim/scim_error.h"
#include "connectors/scim/scim_filter.h"
#include "connectors/scim/scim_patch.h"
#include "connectors/scim/scim_projection.h"
#include "connectors/scim/scim_resource.h"

namespace keywarden {
namespace {

using nlohmann::json;

constexpr std::string_view kListResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
constexpr std::string_view kErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error";
constexpr int64_t kScanPage = 500;

// Output never fails on a byte sequence that is not UTF-8 (a decoded URL
// path quoted in an error): it is replaced, not thrown.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string etag(const ScimRecord& record) { return "W/\"" + std::to_string(record.version) + "\""; }

std::string_view strip_weak(std::string_view tag) {
  while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
  while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

// True when an If-Match / If-None-Match header value names `record`.
bool tag_matches(std::string_view header, const ScimRecord& record) {
  const std::string current = etag(record);
  while (!header.empty()) {
    const size_t comma = header.find(',');
    const std::string_view tag = header.substr(0, comma);
    if (strip_weak(tag) == "*" || strip_weak(tag) == strip_weak(current)) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

std::string short_text(std::string_view text) {
  constexpr size_t kMax = 80;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "…";
}

json parse_stored(const ScimRecord& record) {
  json value = json::parse(record.json, nullptr, false);
  if (!value.is_object()) {
    // Only keywarden writes these rows: this is damage, not a client error.
    throw std::runtime_error("scim: stored " + std::string(to_string(record.type)) + " " +
                             short_text(record.id) + " is not a JSON object");
  }
  return value;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (!segment.empty()) segments.emplace_back(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

// One request being answered: the request, the repository, and what the
// answer has gathered so far.
class Exchange {
 public:
  Exchange(const ScimServiceOptions& options, const ScimRequest& request, ScimRepository& repository,
           Timestamp now)
      : options_(options), request_(request), repo_(repository), now_(now) {}

  ScimResponse run() {
    const std::vector<std::string> segments = split_path(request_.path);
    if (segments.empty()) throw ScimError(404, "", "no SCIM resource at \"" + short_text(request_.path) + "\"");
    const std::string& head = segments[0];
    if (segments.size() > 2) not_found();
    if (iequals(head, "Users")) return resource_endpoint(ScimResourceType::user, segments);
    if (iequals(head, "Groups")) return resource_endpoint(ScimResourceType::group, segments);
    if (iequals(head, "ServiceProviderConfig")) {
      if (segments.size() != 1) not_found();
      require_method("GET");
      return json_response(200, scim_service_provider_config(request_.base_url, options_.max_results));
    }
    if (iequals(head, "ResourceTypes")) {
      return discovery_endpoint(scim_resource_types(request_.base_url), segments);
    }
    if (iequals(head, "Schemas")) return discovery_endpoint(scim_schemas(request_.base_url), segments);
    if (iequals(head, "Bulk") || iequals(head, "Me")) {
      throw ScimError(501, "", "/" + head + " is not supported by this service provider");
    }
    not_found();
  }

 private:
  // ---- Routing ---------------------------------------------------------------

  [[noreturn]] void not_found() {
    throw ScimError(404, "", "no SCIM resource at \"" + short_text(request_.path) + "\"");
  }

  bool method_is(std::string_view method) const { return iequals(request_.method, method); }

  void require_method(std::string_view allowed) {
    if (!method_is(allowed)) method_not_allowed(allowed);
  }

  [[noreturn]] void method_not_allowed(std::string_view allowed) {
    allow_ = std::string(allowed);
    throw ScimError(405, "", "method " + short_text(request_.method) + " is not allowed here (allowed: " +
                                 std::string(allowed) + ")");
  }

  ScimResponse resource_endpoint(ScimResourceType type, const std::vector<std::string>& segments) {
    if (segments.size() == 1) {
      if (method_is("GET")) return list(type, query_view());
      if (method_is("POST")) return type == ScimResourceType::user ? create_user() : create_group();
      method_not_allowed("GET, POST");
    }
    const std::string& id = segments[1];
    if (id == ".search") {
      require_method("POST");
      return search(type);
    }
    if (method_is("GET")) return get_one(type, id);
    if (method_is("PUT")) return type == ScimResourceType::user ? replace_user(id) : replace_group(id);
    if (method_is("PATCH")) return type == ScimResourceType::user ? patch_user(id) : patch_group(id);
    if (method_is("DELETE")) return type == ScimResourceType::user ? delete_user(id) : delete_group(id);
    method_not_allowed("GET, PUT, PATCH, DELETE");
  }

  ScimResponse discovery_endpoint(const json& resources, const std::vector<std::string>& segments) {
    require_method("GET");
    if (segments.size() == 2) {
      for (const json& resource : resources) {
        if (iequals(resource["id"].get_ref<const std::string&>(), segments[1])) return json_response(200, resource);
      }
      not_found();
    }
    json body = {{"schemas", {kListResponseSchema}},
                 {"totalResults", resources.size()},
                 {"startIndex", 1},
                 {"itemsPerPage", resources.size()},
                 {"Resources", resources}};
    return json_response(200, body);
  }

  // ---- Request parts ---------------------------------------------------------

  using Query = std::map<std::string, std::string>;

  const Query& query_view() const { return request_.query; }

  static std::optional<std::string> query_param(const Query& query, std::string_view name) {
    for (const auto& [key, value] : query) {
      if (iequals(key, name)) return value;
    }
    return std::nullopt;
  }

  static int64_t integer_param(const Query& query, std::string_view name, int64_t fallback) {
    const std::optional<std::string> text = query_param(query, name);
    if (!text || text->empty()) return fallback;
    int64_t value = 0;
    const char* begin = text->data();
    const char* end = begin + text->size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc::result_out_of_range && ptr == end) {
      return text->front() == '-' ? INT64_MIN : INT64_MAX;
    }
    if (ec != std::errc() || ptr != end) {
      throw ScimError(400, "invalidValue", "\"" + std::string(name) + "\" must be an integer");
    }
    return value;
  }

  json parse_body() {
    if (request_.body.empty()) throw ScimError(400, "invalidSyntax", "the request needs a JSON body");
    check_scim_json_depth(request_.body, options_.max_json_depth);
    json body = json::parse(request_.body, nullptr, false);
    if (body.is_discarded()) throw ScimError(400, "invalidSyntax", "the body is not valid JSON");
    if (!body.is_object()) throw ScimError(400, "invalidSyntax", "the body must be a JSON object");
    return body;
  }

  std::string new_id() const {
    std::string id = options_.new_id ? options_.new_id() : random_scim_id();
    if (id.empty()) throw std::logic_error("scim: the id generator returned an empty id");
    return id;
  }

  std::string location(ScimResourceType type, const std::string& id) const {
    return request_.base_url + (type == ScimResourceType::user ? "/Users/" : "/Groups/") + id;
  }

  ScimRecord existing(ScimResourceType type, const std::string& id) {
    std::optional<ScimRecord> record = repo_.get(type, id);
    if (!record) {
      throw ScimError(404, "", std::string(to_string(type)) + " \"" + short_text(id) + "\" not found");
    }
    return std::move(*record);
  }

  void check_if_match(const ScimRecord& record) {
    if (!request_.if_match.empty() && !tag_matches(request_.if_match, record)) {
      throw ScimError(412, "", "the resource changed: its version is " + etag(record));
    }
  }

  // ---- Responses -------------------------------------------------------------

  ScimResponse json_response(int status, const json& body) {
    response_.status = status;
    response_.body = dump(body);
    return finish();
  }

  ScimResponse empty_response(int status) {
    response_.status = status;
    response_.body.clear();
    return finish();
  }

  ScimResponse finish() { return std::move(response_); }

  // The resource as a client sees it: stored attributes, meta, and the
  // relations kept outside the stored JSON (a user's groups, a group's
  // members), unless the projection leaves them out.
  json render(const ScimRecord& record, const ScimProjection& projection) {
    return render(record, parse_stored(record), projection);
  }

  // As above, from `resource`: the JSON stored as record.json, which a write
  // has at hand (saves parsing what it has just written).
  json render(const ScimRecord& record, json resource, const ScimProjection& projection) {
    resource["id"] = record.id;
    resource["meta"] = {{"resourceType", to_string(record.type)},
                        {"created", format_rfc3339(record.created)},
                        {"lastModified", format_rfc3339(record.modified)},
                        {"location", location(record.type, record.id)},
                        {"version", etag(record)}};
    if (record.type == ScimResourceType::user && projection.wants("groups")) {
      json groups = json::array();
      for (const std::string& group_id : repo_.groups_with_member(record.id)) {
        const std::optional<ScimRecord> group = repo_.get(ScimResourceType::group, group_id);
        if (!group) continue;
        groups.push_back({{"value", group_id},
                          {"display", scim_display_name(parse_stored(*group))},
                          {"$ref", location(ScimResourceType::group, group_id)},
                          {"type", "direct"}});
      }
      if (!groups.empty()) resource["groups"] = std::move(groups);
    }
    if (record.type == ScimResourceType::group && projection.wants("members")) {
      resource["members"] = member_array(record.id);
    }
    return projection.apply(resource);
  }

  ScimResponse resource_response(int status, const ScimRecord& record) {
    return resource_response(status, record, parse_stored(record));
  }

  // `stored` is the JSON stored as record.json.
  ScimResponse resource_response(int status, const ScimRecord& record, json stored) {
    response_.headers.emplace_back("ETag", etag(record));
    if (status == 201) response_.headers.emplace_back("Location", location(record.type, record.id));
    const ScimProjection projection = ScimProjection::parse(
        query_param(request_.query, "attributes").value_or(""),
        query_param(request_.query, "excludedAttributes").value_or(""));
    return json_response(status, render(record, std::move(stored), projection));
  }

  // ---- Reads -----------------------------------------------------------------

  ScimResponse get_one(ScimResourceType type, const std::string& id) {
    const ScimRecord record = existing(type, id);
    if (!request_.if_none_match.empty() && tag_matches(request_.if_none_match, record)) {
      response_.headers.emplace_back("ETag", etag(record));
      return empty_response(304);
    }
    return resource_response(200, record);
  }

  ScimResponse search(ScimResourceType type) {
    const json body = parse_body();
    Query query;
    for (const char* name : {"filter", "startIndex", "count", "attributes", "excludedAttributes"}) {
      const json* value = find_scim_member(body, name);
      if (value == nullptr || value->is_null()) continue;
      if (value->is_string()) {
        query[name] = value->get<std::string>();
      } else if (value->is_number_integer()) {
        query[name] = std::to_string(value->get<int64_t>());
      } else if (value->is_array()) {
        std::string joined;
        for (const json& item : *value) {
          if (!item.is_string()) continue;
          if (!joined.empty()) joined += ",";
          joined += item.get<std::string>();
        }
        query[name] = joined;
      } else {
        throw ScimError(400, "invalidValue", "\"" + std::string(name) + "\" has the wrong type");
      }
    }
    return list(type, query);
  }

  // Candidates for `filter` from an index, when the filter pins one: a
  // superset of the matches (the caller still evaluates the whole filter).
  std::optional<std::vector<ScimRecord>> indexed(ScimResourceType type, const ScimFilter& filter) {
    if (filter.kind == ScimFilter::Kind::all_of) {
      for (const ScimFilter& child : filter.children) {
        if (auto found = indexed(type, child)) return found;
      }
      return std::nullopt;
    }
    const bool is_user = type == ScimResourceType::user;
    if (filter.kind == ScimFilter::Kind::value_path && filter.path.is_core() && !filter.children.empty()) {
      // emails[type eq "work" and value eq "x"], members[value eq "id"]
      const ScimFilter& inner = filter.children[0];
      std::vector<const ScimFilter*> terms;
      if (inner.kind == ScimFilter::Kind::all_of) {
        for (const ScimFilter& child : inner.children) terms.push_back(&child);
      } else {
        terms.push_back(&inner);
      }
      for (const ScimFilter* term : terms) {
        if (term->kind != ScimFilter::Kind::compare || term->op != ScimCompareOp::eq ||
            !term->value.is_string() || !iequals(term->path.attribute, "value") ||
            !term->path.sub_attribute.empty()) {
          continue;
        }
        const std::string& value = term->value.get_ref<const std::string&>();
        if (is_user && iequals(filter.path.attribute, "emails")) {
          return repo_.find(type, ScimLookup::email, normalize_email(value));
        }
        if (!is_user && iequals(filter.path.attribute, "members")) return groups_listing(value);
      }
      return std::nullopt;
    }
    if (filter.kind != ScimFilter::Kind::compare || filter.op != ScimCompareOp::eq ||
        !filter.value.is_string() || !filter.path.is_core()) {
      return std::nullopt;
    }
    const std::string& value = filter.value.get_ref<const std::string&>();
    const std::string& attribute = filter.path.attribute;
    const std::string& sub = filter.path.sub_attribute;
    if (sub.empty() && iequals(attribute, "id")) {
      std::vector<ScimRecord> out;
      if (auto record = repo_.get(type, value)) out.push_back(std::move(*record));
      return out;
    }
    if (sub.empty() && iequals(attribute, "externalId")) return repo_.find(type, ScimLookup::external_id, value);
    if (is_user && sub.empty() && iequals(attribute, "userName")) {
      return repo_.find(type, ScimLookup::user_name, scim_user_name_key(value));
    }
    if (!is_user && sub.empty() && iequals(attribute, "displayName")) {
      return repo_.find(type, ScimLookup::display_name, ascii_lower(value));
    }
    if (is_user && iequals(attribute, "emails") && (sub.empty() || iequals(sub, "value"))) {
      return repo_.find(type, ScimLookup::email, normalize_email(value));
    }
    if (!is_user && iequals(attribute, "members") && (sub.empty() || iequals(sub, "value"))) {
      return groups_listing(value);
    }
    return std::nullopt;
  }

  std::vector<ScimRecord> groups_listing(const std::string& member_id) {
    std::vector<ScimRecord> out;
    for (const std::string& group_id : repo_.groups_with_member(member_id)) {
      if (auto group = repo_.get(ScimResourceType::group, group_id)) out.push_back(std::move(*group));
    }
    std::sort(out.begin(), out.end(), [](const ScimRecord& a, const ScimRecord& b) {
      return std::tie(a.created, a.id) < std::tie(b.created, b.id);
    });
    return out;
  }

  ScimResponse list(ScimResourceType type, const Query& query) {
    const int64_t max = options_.max_results;
    const int64_t start_index = std::max<int64_t>(1, integer_param(query, "startIndex", 1));
    const int64_t count = std::clamp<int64_t>(integer_param(query, "count", max), 0, max);
    const ScimProjection projection =
        ScimProjection::parse(query_param(query, "attributes").value_or(""),
                              query_param(query, "excludedAttributes").value_or(""));
    const std::optional<std::string> filter_text = query_param(query, "filter");

    json resources = json::array();
    int64_t total = 0;
    if (filter_text && !filter_text->empty()) {
      const ScimFilter filter = parse_scim_filter(*filter_text);
      // Evaluate against what a client would see, relations included when
      // the filter names them.
      ScimProjection evaluation;
      if (!scim_filter_mentions(filter, "members")) evaluation.excluded.push_back({"", "members", ""});
      if (!scim_filter_mentions(filter, "groups")) evaluation.excluded.push_back({"", "groups", ""});
      std::vector<ScimRecord> matches;
      const auto consider = [&](const ScimRecord& record) {
        if (scim_filter_matches(filter, render(record, evaluation))) matches.push_back(record);
      };
      if (std::optional<std::vector<ScimRecord>> candidates = indexed(type, filter)) {
        for (const ScimRecord& record : *candidates) consider(record);
      } else {
        for (int64_t offset = 0;; offset += kScanPage) {
          const ScimPage page = repo_.list(type, offset, kScanPage);
          for (const ScimRecord& record : page.records) consider(record);
          if (static_cast<int64_t>(page.records.size()) < kScanPage) break;
        }
      }
      total = static_cast<int64_t>(matches.size());
      for (int64_t i = start_index - 1; i < total && static_cast<int64_t>(resources.size()) < count; ++i) {
        resources.push_back(render(matches[static_cast<size_t>(i)], projection));
      }
    } else if (count > 0) {
      const ScimPage page = repo_.list(type, start_index - 1, count);
      total = page.total;
      for (const ScimRecord& record : page.records) resources.push_back(render(record, projection));
    } else {
      total = repo_.list(type, 0, 0).total;
    }
    const json body = {{"schemas", {kListResponseSchema}},
                       {"totalResults", total},
                       {"startIndex", start_index},
                       {"itemsPerPage", resources.size()},
                       {"Resources", std::move(resources)}};
    return json_response(200, body);
  }

  // ---- Users -----------------------------------------------------------------

  // Refuses a userName that holds a control character (400 invalidValue) or
  // that another user already has, compared by scim_user_name_key (409
  // uniqueness). `old` is the user before this request (nullptr for a new
  // one): a name it already had passes as it is (and one with the same key
  // is not compared again), so that a user stored before these rules can
  // still be deactivated.
  void check_user_name(const json& user, const std::string& id, const json* old) {
    const std::string user_name = scim_user_name(user);
    const std::string old_name = old != nullptr ? scim_user_name(*old) : "";
    const std::string key = scim_user_name_key(user_name);
    if (old == nullptr || user_name != old_name) {
      if (contains_control_character(user_name)) {
        throw ScimError(400, "invalidValue", "userName must not contain control characters");
      }
      if (key.empty()) throw ScimError(400, "invalidValue", "userName must not be blank");
    }
    if (old != nullptr && scim_user_name_key(old_name) == key) return;
    for (const ScimRecord& other : repo_.find(ScimResourceType::user, ScimLookup::user_name, key)) {
      if (other.id != id) {
        throw ScimError(409, "uniqueness", "userName \"" + short_text(user_name) + "\" is already taken");
      }
    }
  }

  static ScimLookupKeys user_keys(const json& user) {
    ScimLookupKeys keys;
    keys.user_name = scim_user_name_key(scim_user_name(user));
    if (const json* external = find_scim_member(user, "externalId"); external != nullptr && external->is_string()) {
      keys.external_id = external->get<std::string>();
    }
    keys.display_name = ascii_lower(scim_display_name(user));
    keys.emails = scim_user_emails(user);
    return keys;
  }

  static ScimLookupKeys group_keys(const json& group) {
    ScimLookupKeys keys;
    if (const json* external = find_scim_member(group, "externalId"); external != nullptr && external->is_string()) {
      keys.external_id = external->get<std::string>();
    }
    keys.display_name = ascii_lower(scim_display_name(group));
    return keys;
  }

  void affect(const std::string& email) {
    const std::string normalized = normalize_email(email);
    if (!normalized.empty()) response_.affected_emails.insert(normalized);
  }

  // Writes a validated user and the identity it describes. `old` is the user
  // before this request (nullptr for a new one); `asserted_inactive` when the
  // request itself said active=false.
  ScimRecord store_user(const json* old, const json& user, bool asserted_inactive) {
    const std::string id = user["id"].get<std::string>();
    ScimRecord record = repo_.put(ScimResourceType::user, id, dump(user), user_keys(user), now_);
    std::vector<std::string> groups;
    for (const std::string& group_id : repo_.groups_with_member(id)) {
      if (auto group = repo_.get(ScimResourceType::group, group_id)) {
        groups.push_back(scim_display_name(parse_stored(*group)));
      }
    }
    const Identity identity = scim_identity(user, std::move(groups));
    repo_.apply_identity_update(identity, /*groups_known=*/true, now_);
    if (old != nullptr) affect(scim_user_email(*old));
    affect(identity.email);
    if (identity.status == IdentityStatus::inactive && (asserted_inactive || old == nullptr || scim_user_active(*old))) {
      response_.deprovisioned = true;
    }
    return record;
  }

  static bool says_inactive(const json& user) { return !scim_user_active(user); }

  ScimResponse create_user() {
    json user = parse_body();
    const std::string id = new_id();
    normalize_scim_user(user, id);
    check_user_name(user, id, nullptr);
    const ScimRecord record = store_user(nullptr, user, says_inactive(user));
    return resource_response(201, record, std::move(user));
  }

  ScimResponse replace_user(const std::string& id) {
    const ScimRecord current = existing(ScimResourceType::user, id);
    check_if_match(current);
    const json old = parse_stored(current);
    json user = parse_body();
    // Okta's AIW PUTs everything; a body without userName keeps the old one
    // rather than failing a deactivation.
    if (user.is_object() && find_scim_member(user, "userName") == nullptr) user["userName"] = scim_user_name(old);
    normalize_scim_user(user, id);
    check_user_name(user, id, &old);
    const ScimRecord record = store_user(&old, user, says_inactive(user));
    return resource_response(200, record, std::move(user));
  }

  ScimResponse patch_user(const std::string& id) {
    const ScimRecord current = existing(ScimResourceType::user, id);
    check_if_match(current);
    json old = parse_stored(current);
    old["id"] = id;
    ScimPatchResult result = apply_scim_patch(old, parse_body());
    normalize_scim_user(result.resource, id);
    check_user_name(result.resource, id, &old);
    const ScimRecord record = store_user(&old, result.resource, result.active_written);
    return resource_response(200, record, std::move(result.resource));
  }

  ScimResponse delete_user(const std::string& id) {
    const ScimRecord current = existing(ScimResourceType::user, id);
    check_if_match(current);
    const json old = parse_stored(current);
    // Referential integrity (RFC 7644 §3.6): the user leaves every group.
    for (const std::string& group_id : repo_.groups_with_member(id)) {
      repo_.remove_member(group_id, id);
      if (auto group = repo_.get(ScimResourceType::group, group_id)) {
        repo_.put(ScimResourceType::group, group_id, group->json, group_keys(parse_stored(*group)), now_);
      }
    }
    repo_.remove(ScimResourceType::user, id);
    Identity identity = scim_identity(old, {});
    identity.subject_id = id;
    identity.status = IdentityStatus::deleted;
    identity.status_detail = "SCIM DELETE";
    repo_.apply_identity_update(identity, /*groups_known=*/true, now_);
    affect(identity.email);
    response_.deprovisioned = true;
    return empty_response(204);
  }

  // ---- Groups ----------------------------------------------------------------

  static std::vector<std::string> ids_of(const std::vector<ScimUserEmail>& users) {
    std::vector<std::string> ids;
    ids.reserve(users.size());
    for (const ScimUserEmail& user : users) ids.push_back(user.id);
    return ids;
  }

  // `members` joined the group named `group_name`. Only users of this source
  // get an identity fact; other ids (a nested group, a dangling reference)
  // get none.
  void join_all(const std::vector<std::string>& members, const std::string& group_name) {
    if (members.empty()) return;
    const std::vector<ScimUserEmail> users = repo_.user_emails(members);
    for (const ScimUserEmail& user : users) affect(user.email);
    repo_.set_memberships(users, group_name, true, now_);
  }

  // `members` left the group `group_id` named `group_name`. Group names need
  // not be unique: membership by that name ends only for the members no
  // other group of that name still lists.
  void leave_all(const std::vector<std::string>& members, const std::string& group_name,
                 const std::string& group_id) {
    if (members.empty()) return;
    std::vector<ScimUserEmail> leaving = repo_.user_emails(members);
    if (leaving.empty()) return;
    for (const ScimUserEmail& user : leaving) affect(user.email);
    const std::vector<std::string> leaving_ids = ids_of(leaving);
    std::set<std::string> still_named;  // listed by another group of that name
    for (const ScimRecord& other :
         repo_.find(ScimResourceType::group, ScimLookup::display_name, ascii_lower(group_name))) {
      if (other.id == group_id || scim_display_name(parse_stored(other)) != group_name) continue;
      for (const ScimMemberRecord& member : repo_.members_among(other.id, leaving_ids)) {
        still_named.insert(member.member_id);
      }
    }
    std::erase_if(leaving, [&](const ScimUserEmail& user) { return still_named.contains(user.id); });
    if (leaving.empty()) return;
    repo_.set_memberships(leaving, group_name, false, now_);
    response_.deprovisioned = true;
  }

  // What a member row keeps of a member object: nothing for the usual
  // {"value": id} alone (what Entra and Okta send), since member_array puts
  // the value back. A large group's rows are then half the size, and cost
  // neither a dump nor a parse.
  static std::string stored_member_json(const json& member) {
    return member.size() == 1 ? std::string() : dump(member);
  }

  // The group's stored members as member objects with their "value".
  static json member_array(const std::vector<ScimMemberRecord>& records) {
    json members = json::array();
    for (const ScimMemberRecord& member : records) {
      json value = member.json.empty() ? json::object() : json::parse(member.json, nullptr, false);
      if (!value.is_object()) value = json::object();
      value["value"] = member.member_id;
      members.push_back(std::move(value));
    }
    return members;
  }

  json member_array(const std::string& group_id) { return member_array(repo_.members(group_id)); }

  // Writes a validated group (with its "members") and fans the membership
  // changes out to identities. `old` is the group before (nullptr: new) and
  // `before` its stored members; when `whole` is false, `before` and the new
  // "members" hold only the members a PATCH could touch, and every other
  // member stays as it is.
  ScimRecord store_group(const json* old, json group, const std::vector<ScimMemberRecord>& before, bool whole) {
    const std::string id = group["id"].get<std::string>();
    // The members after and before, each sorted by id and listed once (the
    // first listing of an id counts), then merged: sorted vectors, not maps,
    // for the 20,000 members of a large PATCH.
    std::vector<ScimMemberRecord> members;
    if (json* list = find_scim_member(group, "members"); list != nullptr) {
      // normalize_scim_group made each member an object with a string "value".
      members.reserve(list->size());
      for (const json& member : *list) members.push_back({member.at("value").get<std::string>(), stored_member_json(member)});
    }
    erase_scim_member(group, "members");
    const auto by_id = [](const ScimMemberRecord& a, const ScimMemberRecord& b) { return a.member_id < b.member_id; };
    std::stable_sort(members.begin(), members.end(), by_id);
    members.erase(std::unique(members.begin(), members.end(),
                              [](const ScimMemberRecord& a, const ScimMemberRecord& b) { return a.member_id == b.member_id; }),
                  members.end());
    // `before` is the repository's answer, ordered by member id (ScimRepository);
    // the merge below depends on it.
    if (!std::is_sorted(before.begin(), before.end(), by_id)) {
      throw std::logic_error("scim: a group's members before a change are not ordered by id");
    }

    const ScimRecord record = repo_.put(ScimResourceType::group, id, dump(group), group_keys(group), now_);
    std::vector<std::string> removed, added, kept;
    std::vector<ScimMemberRecord> written;
    size_t s = 0;  // the first member of `before` not yet passed
    for (ScimMemberRecord& member : members) {
      for (; s < before.size() && before[s].member_id < member.member_id; ++s) removed.push_back(before[s].member_id);
      const bool was_member = s < before.size() && before[s].member_id == member.member_id;
      (was_member ? kept : added).push_back(member.member_id);
      if (!was_member || before[s].json != member.json) written.push_back(std::move(member));
      if (was_member) ++s;
    }
    for (; s < before.size(); ++s) removed.push_back(before[s].member_id);
    repo_.remove_members(id, removed);
    repo_.put_members(id, written);

    const std::string old_name = old != nullptr ? scim_display_name(*old) : "";
    const std::string new_name = scim_display_name(group);
    leave_all(removed, old_name, id);
    join_all(added, new_name);
    if (old != nullptr && old_name != new_name) {
      if (!whole) {
        // A rename moves every member from one name to the other, not only
        // those the PATCH named.
        kept.clear();
        const std::set<std::string> just_added(added.begin(), added.end());
        for (ScimMemberRecord& member : repo_.members(id)) {
          if (!just_added.contains(member.member_id)) kept.push_back(std::move(member.member_id));
        }
      }
      leave_all(kept, old_name, id);
      join_all(kept, new_name);
    }
    return record;
  }

  ScimResponse create_group() {
    json group = parse_body();
    const std::string id = new_id();
    normalize_scim_group(group, id);
    return resource_response(201, store_group(nullptr, std::move(group), {}, true));
  }

  ScimResponse replace_group(const std::string& id) {
    const ScimRecord current = existing(ScimResourceType::group, id);
    check_if_match(current);
    const json old = parse_stored(current);
    json group = parse_body();
    // A full replace: a PUT without "members" empties the group (RFC 7644
    // §3.5.1), which is how Okta's AIW apps remove the last member.
    normalize_scim_group(group, id);
    if (find_scim_member(group, "members") == nullptr) group["members"] = json::array();
    return resource_response(200, store_group(&old, std::move(group), repo_.members(id), true));
  }

  ScimResponse patch_group(const std::string& id) {
    const ScimRecord current = existing(ScimResourceType::group, id);
    check_if_match(current);
    json patch = parse_body();
    std::vector<json> parts = split_scim_member_patch(patch, options_.members_per_step);
    if (parts.empty()) return patch_group_step(current, std::move(patch), {});
    ScimPatchRest rest{id, std::deque<json>(std::make_move_iterator(parts.begin()), std::make_move_iterator(parts.end()))};
    return next_step(current, std::move(rest));
  }

 public:
  // The next step of a PATCH that patch_group left unfinished.
  ScimResponse continue_patch(ScimPatchRest& rest) {
    try {
      const ScimRecord current = existing(ScimResourceType::group, rest.group_id);
      return next_step(current, std::move(rest));
    } catch (const ScimError& e) {
      return error(e);
    }
  }

 private:
  // Applies the first of `rest`'s parts; the others are left in the answer.
  ScimResponse next_step(const ScimRecord& current, ScimPatchRest rest) {
    json part = std::move(rest.parts.front());
    rest.parts.pop_front();
    std::shared_ptr<ScimPatchRest> left;
    if (!rest.parts.empty()) left = std::make_shared<ScimPatchRest>(std::move(rest));
    return patch_group_step(current, std::move(part), std::move(left));
  }

  ScimResponse patch_group_step(const ScimRecord& current, json patch, std::shared_ptr<ScimPatchRest> rest) {
    const std::string& id = current.id;
    json old = parse_stored(current);
    old["id"] = id;
    // A PATCH that names the members it adds or removes (what Entra and Okta
    // send) reads only those: adding 20,000 members to a group of 80,000
    // then costs the 20,000, not the 100,000.
    const std::optional<std::vector<std::string>> scope = scim_patch_member_scope(patch);
    const std::vector<ScimMemberRecord> before = scope ? repo_.members_among(id, *scope) : repo_.members(id);
    old["members"] = member_array(before);
    ScimPatchResult result = apply_scim_patch(old, patch);
    normalize_scim_group(result.resource, id);
    if (find_scim_member(result.resource, "members") == nullptr) result.resource["members"] = json::array();
    const ScimRecord record = store_group(&old, std::move(result.resource), before, !scope.has_value());
    // Entra and Okta both expect 204 for a group PATCH; the body of a large
    // group would only cost time.
    response_.headers.emplace_back("ETag", etag(record));
    response_.rest = std::move(rest);
    return empty_response(204);
  }

 private:
  ScimResponse delete_group(const std::string& id) {
    const ScimRecord current = existing(ScimResourceType::group, id);
    check_if_match(current);
    const std::string name = scim_display_name(parse_stored(current));
    std::vector<std::string> members;
    for (ScimMemberRecord& member : repo_.members(id)) members.push_back(std::move(member.member_id));
    repo_.remove(ScimResourceType::group, id);
    leave_all(members, name, id);
    return empty_response(204);
  }

 public:
  // The error answer, keeping what the exchange gathered that still applies
  // (an Allow header).
  ScimResponse error(const ScimError& e) {
    ScimResponse response;
    response.status = e.status();
    json body = {{"schemas", {kErrorSchema}}, {"status", std::to_string(e.status())}, {"detail", e.detail()}};
    if (!e.scim_type().empty()) body["scimType"] = e.scim_type();
    response.body = dump(body);
    if (!allow_.empty()) response.headers.emplace_back("Allow", allow_);
    return response;
  }

 private:
  const ScimServiceOptions& options_;
  const ScimRequest& request_;
  ScimRepository& repo_;
  const Timestamp now_;
  ScimResponse response_;
  std::string allow_;
};

}  // namespace

bool scim_creates_resource(std::string_view method, std::string_view path) {
  if (method != "POST") return false;
  const std::vector<std::string> segments = split_path(path);
  return segments.size() == 1 && (iequals(segments[0], "Users") || iequals(segments[0], "Groups"));
}

std::string random_scim_id() {
  static thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  // RFC 9562 version 7: 48 bits of Unix milliseconds, then 74 random bits.
  // Ids made one after another sort together, so a new resource lands on the
  // last pages of the store's indexes instead of on a random page of each:
  // a group commit of many creations then writes a few pages, not one per row.
  const uint64_t millis = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const uint64_t high = (millis << 16) | (generator() & 0xffff);
  const uint64_t low = generator();
  unsigned char bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(high >> (56 - 8 * i));
    bytes[8 + i] = static_cast<unsigned char>(low >> (56 - 8 * i));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x70);  // version 7
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[bytes[i] >> 4]);
    id.push_back(kHex[bytes[i] & 0x0f]);
  }
  return id;
}

ScimService::ScimService(ScimServiceOptions options) : options_(std::move(options)) {
  if (options_.max_results < 1) options_.max_results = 1;
}

ScimResponse ScimService::handle(const ScimRequest& request, ScimRepository& repository,
                                 Timestamp now) const {
  Exchange exchange(options_, request, repository, now);
  try {
    return exchange.run();
  } catch (const ScimError& e) {
    return exchange.error(e);
  }
}

ScimResponse ScimService::continue_patch(ScimPatchRest rest, ScimRepository& repository,
                                         Timestamp now) const {
  const ScimRequest request{.method = "PATCH", .path = "/Groups/" + rest.group_id};
  Exchange exchange(options_, request, repository, now);
  return exchange.continue_patch(rest);
}

}  // namespace keywarden
