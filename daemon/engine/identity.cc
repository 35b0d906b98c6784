#include "daemon/engine/identity.h"

#include <cctype>

#include "daemon/base/ascii.h"

namespace keywarden {

std::string_view to_string(IdentityStatus s) {
  switch (s) {
    case IdentityStatus::active: return "active";
    case IdentityStatus::inactive: return "inactive";
    case IdentityStatus::deleted: return "deleted";
  }
  return "active";
}

std::optional<IdentityStatus> identity_status_from_string(std::string_view s) {
  if (s == "active") return IdentityStatus::active;
  if (s == "inactive") return IdentityStatus::inactive;
  if (s == "deleted") return IdentityStatus::deleted;
  return std::nullopt;
}

std::string normalize_email(std::string_view email) {
  size_t begin = 0, end = email.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(email[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(email[end - 1]))) --end;
  return ascii_lower(email.substr(begin, end - begin));
}

}  // namespace keywarden
