#include "connectors/source_registry.h"

#include <stdexcept>
#include <string>

#include "connectors/entra/entra_source.h"
#include "connectors/file/file_source.h"
#include "connectors/keycloak/keycloak_source.h"
#include "connectors/okta/okta_source.h"
#include "connectors/saml/saml_source.h"
#include "connectors/scim/scim_source.h"
#include "connectors/ssf/ssf_source.h"

namespace keywarden {

const std::vector<const SourceType*>& source_types() {
  // One line per source type.
  static const std::vector<const SourceType*> types = {
      &file_source_type(),
      &scim_source_type(),
      &okta_source_type(),
      &entra_source_type(),
      &keycloak_source_type(),
      &saml_source_type(),
      &ssf_source_type(),
  };
  return types;
}

const SourceSchemas& source_schemas() {
  static const SourceSchemas schemas = [] {
    SourceSchemas out;
    for (const SourceType* t : source_types()) out.push_back(&t->schema);
    return out;
  }();
  return schemas;
}

const SourceType* find_source_type(std::string_view type) {
  for (const SourceType* t : source_types())
    if (t->schema.type == type) return t;
  return nullptr;
}

std::unique_ptr<Source> make_source(const SourceConfig& config, boost::asio::any_io_executor executor) {
  const SourceType* type = find_source_type(config.type);
  if (!type) {
    throw std::invalid_argument("source \"" + config.name + "\": type \"" + config.type +
                                "\" is not served by this build");
  }
  return type->make(config, std::move(executor));
}

}  // namespace keywarden
