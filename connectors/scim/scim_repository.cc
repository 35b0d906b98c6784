#include "connectors/scim/scim_repository.h"

namespace keywarden {

std::string_view to_string(ScimResourceType type) {
  return type == ScimResourceType::group ? "Group" : "User";
}

}  // namespace keywarden
