#include "connectors/scim/scim_source.h"

#include <stdexcept>

namespace keywarden {

ScimSource::ScimSource(SourceConfig config) : Source(std::move(config)) {}

boost::asio::awaitable<FullRead> ScimSource::read_all() {
  throw std::logic_error("source \"" + name() +
                         "\" is a SCIM push source: read_all() must not be called for it");
}

}  // namespace keywarden
