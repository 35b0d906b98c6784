// A source type as the daemon knows it: its config declaration, its push
// route and how to build it. Each connector defines one in its own folder
// (connectors/<type>/<type>_source_type.cc); connectors/source_registry.cc
// lists them, one line each. Nothing outside connectors/ names a type.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string_view>

#include "config/config.h"
#include "config/source_schema.h"
#include "connectors/source.h"

namespace keywarden {

struct SourceType {
  SourceSchema schema;
  // Requests to <push_prefix><source name>[/…] go to the source's
  // authorize() and handle_push() (e.g. "/hooks/okta/"). Empty: none.
  std::string_view push_prefix;
  // The `route` label of keywarden_http_requests_total for that route.
  std::string_view route_label;
  // Builds the connector for a [[source]] of this type (already validated
  // against `schema`). Reads no secret yet: a connector reads its secrets
  // when it first needs them.
  std::unique_ptr<Source> (*make)(const SourceConfig& config, boost::asio::any_io_executor executor);
};

}  // namespace keywarden
