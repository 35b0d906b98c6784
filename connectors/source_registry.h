// Every source type this build serves (SPEC §3 "type"). The core looks types
// up here by name and never names one itself.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string_view>
#include <vector>

#include "config/source_schema.h"
#include "connectors/source_type.h"

namespace keywarden {

// The registered types, in the order messages list them.
const std::vector<const SourceType*>& source_types();
// Their config declarations, for load_config.
const SourceSchemas& source_schemas();
// The type named `type`, or nullptr.
const SourceType* find_source_type(std::string_view type);

// Builds the connector for `config`. Throws std::invalid_argument for a type
// this build does not serve (load_config refuses those first).
std::unique_ptr<Source> make_source(const SourceConfig& config, boost::asio::any_io_executor executor);

}  // namespace keywarden
