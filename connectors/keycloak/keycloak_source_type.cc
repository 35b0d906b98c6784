// type = "keycloak": its config keys and how it is made (connectors/README.md).
#include "connectors/keycloak/keycloak_source.h"

namespace keywarden {

const SourceType& keycloak_source_type() {
  static const SourceType type{
      {"keycloak",
       {{"url", ValueKind::url, true, {}, {}, "the Keycloak server, with its path prefix if any, e.g. https://sso.example.com"},
        {"realm", ValueKind::text, true, {}, {}, "the realm whose users hold Palette keys"},
        {"client_id", ValueKind::text, true, {}, {},
         "a confidential client whose service account has view-users, view-events and query-groups"},
        {"client_secret", ValueKind::secret, true, {}, {}, "that client's secret (sent as client_secret_basic)"},
        {"poll_interval", ValueKind::duration, false, "1m", {},
         "how often admin events are read between full reads (full reads instead if the realm records none)"}},
       {},
       "a Keycloak realm through its Admin REST API and admin events"},
      /*push_prefix=*/{},
      /*route_label=*/{},
      [](const SourceConfig& config, boost::asio::any_io_executor executor) -> std::unique_ptr<Source> {
        return std::make_unique<KeycloakSource>(config, std::move(executor));
      },
  };
  return type;
}

}  // namespace keywarden
