#include <stdexcept>

#include "connectors/file_source.h"
#include "connectors/scim/scim_source.h"
#include "connectors/source.h"

namespace keywarden {

std::unique_ptr<Source> make_source(const SourceConfig& config, boost::asio::any_io_executor executor) {
  if (config.type == "file") return std::make_unique<FileSource>(config, std::move(executor));
  if (config.type == "scim") return std::make_unique<ScimSource>(config);
  throw std::invalid_argument("source \"" + config.name + "\": type \"" + config.type +
                              "\" is not supported by this build yet");
}

}  // namespace keywarden
