#include "daemon/engine/identity.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "daemon/base/ascii.h"

namespace keywarden {

std::string_view to_string(IdentityStatus s) {
  switch (s) {
    case IdentityStatus::active: return "active";
    case IdentityStatus::inactive: return "inactive";
    case IdentityStatus::deleted: return "deleted";
    case IdentityStatus::compromised: return "compromised";
  }
  return "active";
}

std::optional<IdentityStatus> identity_status_from_string(std::string_view s) {
  if (s == "active") return IdentityStatus::active;
  if (s == "inactive") return IdentityStatus::inactive;
  if (s == "deleted") return IdentityStatus::deleted;
  if (s == "compromised") return IdentityStatus::compromised;
  return std::nullopt;
}

std::string normalize_email(std::string_view email) {
  size_t begin = 0, end = email.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(email[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(email[end - 1]))) --end;
  return ascii_lower(email.substr(begin, end - begin));
}

namespace {
constexpr std::string_view kSubjectReferencePrefix = "subject-ref:";
}

std::string subject_reference(std::string_view subject_id) {
  return std::string(kSubjectReferencePrefix) + std::string(subject_id);
}

std::vector<std::pair<std::string, const IdentityRecord*>> join_subject_references(
    const std::vector<IdentityRecord>& identities) {
  std::vector<std::pair<std::string, const IdentityRecord*>> out;
  std::unordered_multimap<std::string_view, const IdentityRecord*> references;
  for (const auto& r : identities) {
    if (r.email.empty() && r.subject_id.rfind(kSubjectReferencePrefix, 0) == 0) {
      references.emplace(std::string_view(r.subject_id).substr(kSubjectReferencePrefix.size()), &r);
    }
  }
  if (references.empty()) return out;
  for (const auto& r : identities) {
    if (r.email.empty()) continue;
    const auto [begin, end] = references.equal_range(r.subject_id);
    for (auto it = begin; it != end; ++it) {
      if (it->second->source == r.source) continue;  // a reference names another source's subject
      const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& joined) {
        return joined.second == it->second && joined.first == r.email;
      });
      if (!seen) out.emplace_back(r.email, it->second);
    }
  }
  return out;
}

}  // namespace keywarden
