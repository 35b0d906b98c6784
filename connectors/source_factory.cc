#include <stdexcept>

#include "connectors/entra/entra_source.h"
#include "connectors/file_source.h"
#include "connectors/okta/okta_source.h"
#include "connectors/scim/scim_source.h"
#include "connectors/source.h"

namespace keywarden {

boost::asio::awaitable<ChangeSet> Source::read_changes(std::map<std::string, std::string>) {
  throw std::logic_error("source \"" + name() + "\" has no incremental reads");
  co_return ChangeSet{};
}

PushResponse Source::handle_push(const PushRequest&, PushContext&) {
  PushResponse r;
  r.status = 404;
  r.body = R"({"error":"this source takes no pushes"})";
  return r;
}

std::unique_ptr<Source> make_source(const SourceConfig& config, boost::asio::any_io_executor executor) {
  if (config.type == "file") return std::make_unique<FileSource>(config, std::move(executor));
  if (config.type == "scim") return std::make_unique<ScimSource>(config);
  if (config.type == "okta") return std::make_unique<OktaSource>(config, std::move(executor));
  if (config.type == "entra") return std::make_unique<EntraSource>(config, std::move(executor));
  throw std::invalid_argument("source \"" + config.name + "\": type \"" + config.type +
                              "\" is not supported by this build yet");
}

}  // namespace keywarden
