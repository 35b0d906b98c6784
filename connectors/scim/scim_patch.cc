#include "connectors/scim/scim_patch.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <unordered_map>
#include <vector>

#include "connectors/scim/scim_attribute.h"
#include "connectors/scim/scim_error.h"
#include "connectors/scim/scim_filter.h"
#include "connectors/scim/scim_resource.h"

namespace keywarden {
namespace {

using nlohmann::json;

enum class Op { add, replace, remove };

struct Context {
  bool active_written = false;
};

[[noreturn]] void fail(const char* scim_type, const std::string& detail) {
  throw ScimError(400, scim_type, detail);
}

Op parse_op(const json& operation) {
  const json* op = find_scim_member(operation, "op");
  if (op == nullptr || !op->is_string()) fail("invalidSyntax", "each operation needs a string \"op\"");
  const std::string& name = op->get_ref<const std::string&>();
  if (iequals(name, "add")) return Op::add;
  if (iequals(name, "replace")) return Op::replace;
  if (iequals(name, "remove")) return Op::remove;
  fail("invalidSyntax", "unknown op \"" + name.substr(0, 20) + "\" (expected add, replace or remove)");
}

// The value written to `attribute` (or `attribute.sub`), with SCIM's booleans
// coerced: Entra sends "active":"False".
json coerce(std::string_view attribute, std::string_view sub, const json& value) {
  const std::string_view name = sub.empty() ? attribute : sub;
  if (iequals(name, "active") || iequals(name, "primary")) {
    if (value.is_null()) return value;
    const std::optional<bool> flag = scim_boolean(value);
    if (!flag) fail("invalidValue", "\"" + std::string(name) + "\" must be true or false");
    return *flag;
  }
  return value;
}

// Two elements of the multi-valued `attribute` are the same value when their
// "value" sub-attributes are equal (resource ids exactly, emails without
// case), or, lacking "value", when they are equal JSON.
bool same_element(std::string_view attribute, const json& a, const json& b) {
  const json* va = a.is_object() ? find_scim_member(a, "value") : &a;
  const json* vb = b.is_object() ? find_scim_member(b, "value") : &b;
  if (va != nullptr && vb != nullptr && va->is_string() && vb->is_string()) {
    const bool exact = scim_case_exact(attribute, "value");
    return exact ? *va == *vb
                 : iequals(va->get_ref<const std::string&>(), vb->get_ref<const std::string&>());
  }
  if (va == nullptr && vb == nullptr) return a == b;
  return va != nullptr && vb != nullptr && *va == *vb && (a.is_object() == b.is_object());
}

// Appends to `out` a text that two JSON values share whenever they compare
// equal (nlohmann::json's ==, where 1 == 1.0): numbers are written as their
// double value. Different values may share it; it is a hash key, not a proof.
// The body's depth was bounded before parsing (check_scim_json_depth), which
// bounds the recursion.
void append_equality_key(std::string& out, const json& value) {
  switch (value.type()) {
    case json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      out += 's';
      out += std::to_string(text.size());
      out += ':';
      out += text;
      return;
    }
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: {
      double number = value.get<double>();
      if (number == 0) number = 0;  // -0.0 == 0.0
      out += 'n';
      out += std::to_string(number);
      out += ';';
      return;
    }
    case json::value_t::boolean: out += value.get<bool>() ? 't' : 'f'; return;
    case json::value_t::array:
      out += '[';
      for (const json& element : value) append_equality_key(out, element);
      out += ']';
      return;
    case json::value_t::object:
      out += '{';
      for (auto it = value.begin(); it != value.end(); ++it) {
        out += std::to_string(it.key().size());
        out += ':';
        out += it.key();
        append_equality_key(out, it.value());
      }
      out += '}';
      return;
    default: out += 'z'; return;  // null, discarded, binary
  }
}

// A hash key for same_element: elements that are the same value always get
// the same key, so a large array is matched against a large value list with
// one hash lookup per element instead of a scan of the array per element
// (40,000 members added to a group took 25 s that way). Different values
// rarely share a key; callers confirm a key's candidates with same_element.
std::string element_key(std::string_view attribute, const json& element) {
  const json* value = element.is_object() ? find_scim_member(element, "value") : &element;
  std::string key;
  if (value == nullptr) {  // no "value": compared as whole JSON
    key = "w";
    append_equality_key(key, element);
  } else if (value->is_string()) {
    const std::string& text = value->get_ref<const std::string&>();
    key = scim_case_exact(attribute, "value") ? "s" + text : "s" + ascii_lower(text);
  } else {
    key = element.is_object() ? "o" : "p";
    append_equality_key(key, *value);
  }
  return key;
}

// Elements findable by same_element in constant time on average. Holds
// pointers to the elements inserted, which must not move while it is used.
class ElementIndex {
 public:
  explicit ElementIndex(std::string_view attribute) : attribute_(attribute) {}

  const json* find(const json& element) const {
    const auto [begin, end] = by_key_.equal_range(element_key(attribute_, element));
    for (auto it = begin; it != end; ++it) {
      if (same_element(attribute_, *it->second, element)) return it->second;
    }
    return nullptr;
  }
  void insert(const json& element) { by_key_.emplace(element_key(attribute_, element), &element); }

 private:
  std::string_view attribute_;
  std::unordered_multimap<std::string, const json*> by_key_;
};

// Merges the members of `value` into the object `target` (RFC 7644: a complex
// value replaces the sub-attributes it names and leaves the others).
void merge_object(json& target, const json& value, std::string_view attribute) {
  for (auto it = value.begin(); it != value.end(); ++it) {
    set_scim_member(target, it.key(), coerce(attribute, it.key(), it.value()));
  }
}

void append_unique(json& array, std::string_view attribute, const json& value) {
  // Indexes the array as it is: push_back may move the elements, so the new
  // ones are remembered by value in `added` (which never reallocates
  // after reserve) and the index keeps pointers into `added` and the old
  // elements until the end.
  std::vector<json> added;
  added.reserve(value.is_array() ? value.size() : 1);
  ElementIndex index(attribute);
  for (const json& existing : array) index.insert(existing);
  const auto append_one = [&](const json& element) {
    if (index.find(element) != nullptr) return;
    added.push_back(element);
    index.insert(added.back());
  };
  if (value.is_array()) {
    for (const json& element : value) append_one(element);
  } else {
    append_one(value);
  }
  for (json& element : added) array.push_back(std::move(element));
}

// The eq comparisons of a filter like `type eq "work"` or
// `type eq "work" and primary eq true`, from which add/replace can build a
// new element. Empty when the filter has any other shape.
std::vector<const ScimFilter*> equalities(const ScimFilter& filter) {
  std::vector<const ScimFilter*> out;
  if (filter.kind == ScimFilter::Kind::compare && filter.op == ScimCompareOp::eq &&
      filter.path.sub_attribute.empty() && !filter.value.is_null()) {
    out.push_back(&filter);
  } else if (filter.kind == ScimFilter::Kind::all_of) {
    for (const ScimFilter& child : filter.children) {
      std::vector<const ScimFilter*> inner = equalities(child);
      if (inner.empty()) return {};
      out.insert(out.end(), inner.begin(), inner.end());
    }
  }
  return out;
}

// The object an attribute path lives in: the resource, or its extension
// object (created for add/replace, with the URN added to "schemas").
json* container_for(json& resource, const ScimAttributePath& path, bool create) {
  if (path.is_core()) return &resource;
  json* extension = find_scim_member(resource, path.schema);
  if (extension != nullptr && extension->is_object()) return extension;
  if (!create) return nullptr;
  json& schemas = resource["schemas"];
  if (!schemas.is_array()) schemas = json::array();
  bool listed = false;
  for (const json& schema : schemas) {
    if (schema.is_string() && iequals(schema.get_ref<const std::string&>(), path.schema)) listed = true;
  }
  if (!listed) schemas.push_back(path.schema);
  return &set_scim_member(resource, path.schema, json::object());
}

// The hash key of a pattern's member `name` = `value` (names compare without
// case, find_scim_member).
std::string pattern_key(const std::string& name, const json& value) {
  std::string key = ascii_lower(name);
  key += '\0';
  append_equality_key(key, value);
  return key;
}

// Removes from the array `target` the elements that `value` lists (Entra's
// {"op":"Remove","path":"members","value":[{"value":"id"}]}). An entry
// object without "value" is a pattern: it removes the elements whose members
// equal each of its non-null members. Linear in the sizes of both: value
// entries are found through an index, patterns through the name and value of
// their first non-null member.
void remove_listed(json& target, std::string_view attribute, const json& value) {
  const json listed = value.is_array() ? value : json::array({value});
  ElementIndex entries(attribute);
  std::unordered_multimap<std::string, const json*> patterns;  // "name\0value" → pattern
  bool remove_all = false;  // a pattern whose members are all null matches everything
  for (const json& entry : listed) {
    if (!entry.is_object() || find_scim_member(entry, "value") != nullptr) {
      entries.insert(entry);
      continue;
    }
    if (entry.empty()) continue;  // matches nothing
    auto first = std::find_if(entry.begin(), entry.end(), [](const json& member) { return !member.is_null(); });
    if (first == entry.end()) {
      remove_all = true;
    } else {
      patterns.emplace(pattern_key(first.key(), first.value()), &entry);
    }
  }
  const auto matches_pattern = [](const json& element, const json& pattern) {
    for (auto it = pattern.begin(); it != pattern.end(); ++it) {
      if (it.value().is_null()) continue;
      const json* actual = find_scim_member(element, it.key());
      if (actual == nullptr || *actual != it.value()) return false;
    }
    return true;
  };
  const auto listed_pattern_matches = [&](const json& element) {
    if (!element.is_object()) return false;
    for (auto member = element.begin(); member != element.end(); ++member) {
      const auto [begin, end] = patterns.equal_range(pattern_key(member.key(), member.value()));
      for (auto it = begin; it != end; ++it) {
        if (matches_pattern(element, *it->second)) return true;
      }
    }
    return false;
  };
  if (remove_all) {
    target = json::array();
    return;
  }
  json kept = json::array();
  for (json& element : target) {
    const bool remove = entries.find(element) != nullptr || listed_pattern_matches(element);
    if (!remove) kept.push_back(std::move(element));
  }
  target = std::move(kept);
}

void apply_at(json& resource, Op op, const ScimPatchPath& path, const json* value, Context& context) {
  const ScimAttributePath& attribute = path.attribute;
  const std::string& name = attribute.attribute;
  if (attribute.is_core() && attribute.sub_attribute.empty() && !path.has_filter) {
    if (iequals(name, "meta")) return;  // read-only, and clients echo it back
    if (iequals(name, "id")) {
      const json* current = find_scim_member(resource, "id");
      if (op != Op::remove && value != nullptr && current != nullptr && *value == *current) return;
      fail("mutability", "\"id\" is assigned by the service provider and cannot change");
    }
  }
  if (op != Op::remove && value == nullptr) {
    fail("invalidValue", "\"" + std::string(op == Op::add ? "add" : "replace") + "\" of \"" +
                             attribute.to_string() + "\" needs a \"value\"");
  }
  if (op != Op::remove && attribute.is_core() && iequals(name, "active") && !path.has_filter) {
    context.active_written = true;
  }

  json* container = container_for(resource, attribute, op != Op::remove);
  if (container == nullptr) return;  // removing from an extension that is not there
  json* target = find_scim_member(*container, name);

  if (path.has_filter) {
    if (op == Op::remove) {
      if (target == nullptr || !target->is_array()) return;
      json kept = json::array();
      for (json& element : *target) {
        const bool match = element.is_object() && scim_filter_matches_element(path.filter, element, name);
        if (!match) {
          kept.push_back(std::move(element));
        } else if (!path.sub_attribute.empty()) {
          erase_scim_member(element, path.sub_attribute);
          kept.push_back(std::move(element));
        }
      }
      *target = std::move(kept);
      return;
    }
    if (target == nullptr || target->is_null()) target = &set_scim_member(*container, name, json::array());
    if (!target->is_array()) fail("invalidPath", "\"" + name + "\" is not multi-valued");
    bool matched = false;
    for (json& element : *target) {
      if (!element.is_object() || !scim_filter_matches_element(path.filter, element, name)) continue;
      matched = true;
      if (!path.sub_attribute.empty()) {
        set_scim_member(element, path.sub_attribute, coerce(name, path.sub_attribute, *value));
      } else if (!value->is_object()) {
        fail("invalidValue", "the value for \"" + name + "[…]\" must be an object");
      } else if (op == Op::replace) {
        element = *value;
      } else {
        merge_object(element, *value, name);
      }
    }
    if (matched) return;
    // Nothing matched: build the element the filter describes, as Entra
    // expects for emails[type eq "work"].value on a user without one.
    const std::vector<const ScimFilter*> fields = equalities(path.filter);
    if (fields.empty()) fail("noTarget", "no \"" + name + "\" value matches the filter");
    json element = json::object();
    for (const ScimFilter* field : fields) set_scim_member(element, field->path.attribute, field->value);
    if (!path.sub_attribute.empty()) {
      set_scim_member(element, path.sub_attribute, coerce(name, path.sub_attribute, *value));
    } else if (value->is_object()) {
      merge_object(element, *value, name);
    } else {
      fail("invalidValue", "the value for \"" + name + "[…]\" must be an object");
    }
    target->push_back(std::move(element));
    return;
  }

  if (!attribute.sub_attribute.empty()) {
    const std::string& sub = attribute.sub_attribute;
    if (op == Op::remove) {
      if (target == nullptr) return;
      if (target->is_object()) erase_scim_member(*target, sub);
      if (target->is_array()) {
        for (json& element : *target) erase_scim_member(element, sub);
      }
      return;
    }
    if (target == nullptr || target->is_null()) target = &set_scim_member(*container, name, json::object());
    if (!target->is_object()) {
      fail("invalidPath", "\"" + attribute.to_string() + "\": \"" + name +
                              "\" is multi-valued; select an element with a filter");
    }
    set_scim_member(*target, sub, coerce(name, sub, *value));
    return;
  }

  switch (op) {
    case Op::remove:
      if (target == nullptr) return;
      if (value != nullptr && !value->is_null() && target->is_array()) {
        remove_listed(*target, name, *value);
      } else {
        erase_scim_member(*container, name);
      }
      return;
    case Op::add:
      if (target != nullptr && target->is_array()) {
        append_unique(*target, name, *value);
      } else if (target != nullptr && target->is_object() && value->is_object()) {
        merge_object(*target, *value, name);
      } else if (is_scim_multi_valued(name) || value->is_array()) {
        json& array = set_scim_member(*container, name, json::array());
        append_unique(array, name, *value);
      } else {
        set_scim_member(*container, name, coerce(name, {}, *value));
      }
      return;
    case Op::replace:
      if (target != nullptr && target->is_object() && value->is_object()) {
        merge_object(*target, *value, name);
      } else if (is_scim_multi_valued(name) && !value->is_array() && !value->is_null()) {
        set_scim_member(*container, name, json::array({*value}));
      } else {
        set_scim_member(*container, name, coerce(name, {}, *value));
      }
      return;
  }
}

// A path-less add or replace: each member of the object value is an
// operation of its own on the path its name spells.
void apply_pathless(json& resource, Op op, const json& value, Context& context) {
  if (!value.is_object()) fail("invalidValue", "an operation without \"path\" needs an object \"value\"");
  for (auto it = value.begin(); it != value.end(); ++it) {
    const std::string& key = it.key();
    if ((is_scim_extension_schema(key) || is_scim_core_schema(key)) && it.value().is_object()) {
      for (auto inner = it.value().begin(); inner != it.value().end(); ++inner) {
        ScimPatchPath path = parse_scim_patch_path(inner.key());
        if (!path.attribute.schema.empty()) {
          fail("invalidPath", "\"" + inner.key().substr(0, 80) + "\" inside \"" + key.substr(0, 80) + "\"");
        }
        if (!is_scim_core_schema(key)) path.attribute.schema = key;
        apply_at(resource, op, path, &inner.value(), context);
      }
      continue;
    }
    apply_at(resource, op, parse_scim_patch_path(key), &it.value(), context);
  }
}

std::vector<std::string> difference(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// The member id an element of a "members" value names: its string "value",
// or the element itself when it is a string. nullptr for anything else.
const std::string* named_member(const json& element) {
  if (element.is_string()) return &element.get_ref<const std::string&>();
  const json* value = element.is_object() ? find_scim_member(element, "value") : nullptr;
  if (value == nullptr || !value->is_string()) return nullptr;
  return &value->get_ref<const std::string&>();
}

// Adds to `scope` (unless null) the members operation `op` on `path` with
// `value` can touch; false when that is not a list of named members.
bool add_member_scope(Op op, const ScimPatchPath& path, const json* value, std::vector<std::string>* scope) {
  const ScimAttributePath& attribute = path.attribute;
  if (!attribute.is_core() || !iequals(attribute.attribute, "members")) return true;
  if (path.has_filter) {
    const ScimFilter& filter = path.filter;
    if (filter.kind != ScimFilter::Kind::compare || filter.op != ScimCompareOp::eq ||
        !filter.path.schema.empty() || !iequals(filter.path.attribute, "value") ||
        !filter.path.sub_attribute.empty() || !filter.value.is_string()) {
      return false;
    }
    // add/replace may give the element (or create one with) another "value":
    // a member outside the scope, perhaps one the group already has.
    const bool may_rename = op != Op::remove && (iequals(path.sub_attribute, "value") ||
                                                 (path.sub_attribute.empty() && value != nullptr &&
                                                  value->is_object() && find_scim_member(*value, "value") != nullptr));
    if (may_rename) return false;
    if (scope != nullptr) scope->push_back(filter.value.get<std::string>());
    return true;
  }
  if (!attribute.sub_attribute.empty() || op == Op::replace) return false;
  if (value == nullptr || value->is_null()) return false;  // add fails; remove empties the group
  const auto add_named = [&](const json& element) {
    // add appends whole objects: a bare string would not be a member object.
    if (op == Op::add && !element.is_object()) return false;
    const std::string* id = named_member(element);
    if (id != nullptr && scope != nullptr) scope->push_back(*id);
    return id != nullptr;
  };
  if (!value->is_array()) return add_named(*value);
  return std::all_of(value->begin(), value->end(), add_named);
}

// scim_patch_member_scope's test, gathering the ids in `scope` unless it
// is null; false for a PATCH that may touch members it does not name.
bool member_scope(const json& patch, std::vector<std::string>* scope) {
  try {
    const json* operations = patch.is_object() ? find_scim_member(patch, "Operations") : nullptr;
    if (operations == nullptr || !operations->is_array()) return false;
    for (const json& operation : *operations) {
      if (!operation.is_object()) return false;
      const Op op = parse_op(operation);
      const json* path = find_scim_member(operation, "path");
      const json* value = find_scim_member(operation, "value");
      const bool has_path =
          path != nullptr && !path->is_null() && !(path->is_string() && path->get_ref<const std::string&>().empty());
      if (has_path) {
        if (!path->is_string()) return false;
        if (!add_member_scope(op, parse_scim_patch_path(path->get_ref<const std::string&>()), value, scope)) {
          return false;
        }
        continue;
      }
      // Path-less: each member of the object value is an operation on the
      // path its name spells (apply_pathless); an extension object's
      // attributes are not the core "members".
      if (op == Op::remove || value == nullptr || !value->is_object()) return false;
      for (auto it = value->begin(); it != value->end(); ++it) {
        if (is_scim_extension_schema(it.key()) && it.value().is_object()) continue;
        if (is_scim_core_schema(it.key()) && it.value().is_object()) {
          for (auto inner = it.value().begin(); inner != it.value().end(); ++inner) {
            if (!add_member_scope(op, parse_scim_patch_path(inner.key()), &inner.value(), scope)) return false;
          }
          continue;
        }
        if (!add_member_scope(op, parse_scim_patch_path(it.key()), &it.value(), scope)) return false;
      }
    }
  } catch (const ScimError&) {
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::vector<std::string>> scim_patch_member_scope(const json& patch) {
  std::vector<std::string> scope;
  if (!member_scope(patch, &scope)) return std::nullopt;
  // Sorted, each once: a vector sorted once costs a fraction of a set built
  // one node at a time, for the 20,000 members of a large PATCH.
  std::sort(scope.begin(), scope.end());
  scope.erase(std::unique(scope.begin(), scope.end()), scope.end());
  return scope;
}

namespace {

// The name under which `object` holds `name`, matched as find_scim_member
// matches it; empty when absent.
std::string member_key(const json& object, std::string_view name) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (iequals(it.key(), name)) return it.key();
  }
  return {};
}

// `values` in the order of the members they name, elements naming the same
// member in their order. An operation adds or removes each member apart from
// the others, so the order among different members changes nothing; sorted,
// each part of a large change reaches one slice of the member ids, and a
// step writes to a few B-tree pages of the store instead of to pages
// scattered over all of them (ids are random), each copied to the
// savepoint's journal.
void sort_by_member(json& values) {
  std::vector<std::pair<std::string_view, size_t>> order;  // (member id, position)
  order.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string* id = named_member(values[i]);
    order.emplace_back(id != nullptr ? std::string_view(*id) : std::string_view(), i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json sorted = json::array();
  sorted.get_ref<json::array_t&>().reserve(values.size());
  for (const auto& [id, i] : order) sorted.push_back(std::move(values[i]));
  values = std::move(sorted);
}

}  // namespace

std::vector<json> split_scim_member_patch(json& patch, size_t max_members) {
  if (max_members == 0 || !member_scope(patch, nullptr)) return {};
  json* operations = find_scim_member(patch, "Operations");
  size_t total = 0;
  bool adds = false, removes = false;
  for (const json& operation : *operations) {
    const json* path = find_scim_member(operation, "path");
    const json* value = find_scim_member(operation, "value");
    if (path == nullptr || !path->is_string() || !iequals(path->get_ref<const std::string&>(), "members") ||
        value == nullptr || !value->is_array()) {
      return {};
    }
    total += value->size();
    (parse_op(operation) == Op::add ? adds : removes) = true;
  }
  if (total <= max_members) return {};
  // A member both removed and added would be out of the group between two
  // steps, which a reconcile in between could act on: such a PATCH is whole.
  if (adds && removes) {
    std::set<std::string> added, removed;
    for (const json& operation : *operations) {
      std::set<std::string>& named = parse_op(operation) == Op::add ? added : removed;
      for (const json& element : *find_scim_member(operation, "value")) {
        if (const std::string* id = named_member(element)) named.insert(*id);
      }
    }
    for (const std::string& id : added) {
      if (removed.contains(id)) return {};
    }
  }

  json all = std::move(*operations);
  *operations = json::array();
  const json empty = patch;  // the PATCH's other keys ("schemas"), no operations
  std::vector<json> parts;
  size_t room = 0;  // values the last part can still take
  // The operations of the part being filled; a new part when it is full and
  // values are to come (an operation with no values joins the last part).
  const auto last_operations = [&](bool values_to_come) -> json& {
    if (parts.empty() || (room == 0 && values_to_come)) {
      parts.push_back(empty);
      room = max_members;
    }
    return *find_scim_member(parts.back(), "Operations");
  };
  for (json& operation : all) {
    const std::string value_key = member_key(operation, "value");
    json values = std::move(operation[value_key]);
    sort_by_member(values);
    operation[value_key] = json::array();  // a small template for its pieces
    size_t next = 0;
    do {
      json& target = last_operations(next < values.size());
      const size_t take = std::min(room, values.size() - next);
      json piece = operation;
      json& piece_values = piece[value_key];
      for (size_t i = 0; i < take; ++i) piece_values.push_back(std::move(values[next + i]));
      next += take;
      room -= take;
      target.push_back(std::move(piece));
    } while (next < values.size());
  }
  patch = json();
  return parts;
}

ScimPatchResult apply_scim_patch(const json& resource, const json& patch) {
  if (!patch.is_object()) fail("invalidSyntax", "a PATCH body must be a JSON object");
  const json* operations = find_scim_member(patch, "Operations");
  if (operations == nullptr || !operations->is_array()) {
    fail("invalidSyntax", "a PATCH body needs an \"Operations\" array");
  }
  ScimPatchResult result;
  result.resource = resource;
  Context context;
  for (const json& operation : *operations) {
    if (!operation.is_object()) fail("invalidSyntax", "each operation must be an object");
    const Op op = parse_op(operation);
    const json* path = find_scim_member(operation, "path");
    const json* value = find_scim_member(operation, "value");
    const bool has_path =
        path != nullptr && !path->is_null() && !(path->is_string() && path->get_ref<const std::string&>().empty());
    if (has_path && !path->is_string()) fail("invalidPath", "\"path\" must be a string");
    if (!has_path) {
      if (op == Op::remove) fail("noTarget", "\"remove\" needs a \"path\"");
      if (value == nullptr) fail("invalidValue", "an operation without \"path\" needs a \"value\"");
      apply_pathless(result.resource, op, *value, context);
      continue;
    }
    apply_at(result.resource, op, parse_scim_patch_path(path->get_ref<const std::string&>()), value, context);
  }
  result.active_written = context.active_written;
  result.active_changed = scim_user_active(resource) != scim_user_active(result.resource);
  const std::set<std::string> before = scim_member_ids(resource);
  const std::set<std::string> after = scim_member_ids(result.resource);
  result.members_added = difference(after, before);
  result.members_removed = difference(before, after);
  return result;
}

}  // namespace keywarden
