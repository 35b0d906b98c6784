#include "connectors/file/file_source.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_set>

#include "connectors/blocking_work.h"

namespace keywarden {

namespace {

std::string string_field(const nlohmann::json& user, const char* name, const std::string& where) {
  const auto it = user.find(name);
  if (it == user.end() || it->is_null()) return "";
  if (!it->is_string()) throw SourceReadError(where + ": \"" + name + "\" must be a string");
  return it->get<std::string>();
}

bool bool_field(const nlohmann::json& user, const char* name, bool fallback, const std::string& where) {
  const auto it = user.find(name);
  if (it == user.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw SourceReadError(where + ": \"" + name + "\" must be true or false");
  return it->get<bool>();
}

}  // namespace

std::vector<Identity> parse_identity_document(const std::string& text, const std::string& origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw SourceReadError(origin + ": invalid JSON at byte " + std::to_string(e.byte));
  } catch (const nlohmann::json::exception&) {
    // The parser reports a number beyond a double (1e400) as out_of_range,
    // not as a parse_error.
    throw SourceReadError(origin + ": invalid JSON (a number out of range)");
  }
  if (!doc.is_object() || !doc.contains("users") || !doc["users"].is_array()) {
    throw SourceReadError(origin + ": expected an object with a \"users\" array");
  }
  const auto& users = doc["users"];
  if (users.empty()) throw SourceReadError(origin + ": no users (an empty export is never a real directory)");

  std::vector<Identity> out;
  out.reserve(users.size());
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < users.size(); ++i) {
    const auto& user = users[i];
    const std::string where = origin + ": users[" + std::to_string(i) + "]";
    if (!user.is_object()) throw SourceReadError(where + ": must be an object");
    Identity id;
    id.subject_id = string_field(user, "id", where);
    if (id.subject_id.empty()) throw SourceReadError(where + ": \"id\" is required");
    if (!ids.insert(id.subject_id).second) {
      throw SourceReadError(where + ": duplicate id \"" + id.subject_id + "\"");
    }
    id.user_name = string_field(user, "userName", where);
    id.email = string_field(user, "email", where);
    if (id.email.empty() && id.user_name.find('@') != std::string::npos) id.email = id.user_name;
    const bool active = bool_field(user, "active", true, where);
    const bool deleted = bool_field(user, "deleted", false, where);
    id.status = deleted ? IdentityStatus::deleted : active ? IdentityStatus::active : IdentityStatus::inactive;
    const std::string status = string_field(user, "status", where);
    id.status_detail = !status.empty() ? "status " + status : "";
    if (const auto g = user.find("groups"); g != user.end() && !g->is_null()) {
      if (!g->is_array()) throw SourceReadError(where + ": \"groups\" must be an array of names");
      for (const auto& name : *g) {
        if (!name.is_string()) throw SourceReadError(where + ": \"groups\" must be an array of names");
        id.groups.push_back(name.get<std::string>());
      }
    }
    out.push_back(std::move(id));
  }
  return out;
}

const SourceType& file_source_type() {
  static const SourceType type{
      {"file",
       {{"path", ValueKind::path, true, {}, {}, "the JSON document of identities, re-read on every reconcile"}},
       {},
       "a JSON export of identities (an HR or IdP export)"},
      {},
      {},
      [](const SourceConfig& config, boost::asio::any_io_executor executor) -> std::unique_ptr<Source> {
        return std::make_unique<FileSource>(config, std::move(executor));
      },
  };
  return type;
}

FileSource::FileSource(SourceConfig config, boost::asio::any_io_executor executor)
    : Source(std::move(config)), executor_(std::move(executor)) {}

boost::asio::awaitable<FullRead> FileSource::read_all(const ReadContext&) {
  const std::string path = config().get("path");
  // The work is a named local: GCC 12 destroys temporaries inside a
  // co_await expression twice.
  auto read = [path]() {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw SourceReadError(path + ": cannot read: " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw SourceReadError(path + ": read error");
    return parse_identity_document(text.str(), path);
  };
  auto task = run_blocking(std::move(read));
  FullRead result;
  result.identities = co_await std::move(task);
  co_return result;
}

}  // namespace keywarden
