#include "connectors/source.h"

#include <stdexcept>

namespace keywarden {

boost::asio::awaitable<FullRead> Source::read_all(const ReadContext&) {
  throw std::logic_error("source \"" + name() + "\" takes pushes only: it has no full read");
  co_return FullRead{};
}

boost::asio::awaitable<ChangeSet> Source::read_changes(std::map<std::string, std::string>) {
  throw std::logic_error("source \"" + name() + "\" has no incremental reads");
  co_return ChangeSet{};
}

std::optional<PushResponse> Source::authorize(const PushRequest&) const { return std::nullopt; }

bool Source::may_report_departure(const PushRequest&) const { return true; }

PushResponse Source::handle_push(const PushRequest&, const PushContext&) {
  PushResponse r;
  r.status = 404;
  r.body = R"({"error":"this source takes no pushes"})";
  return r;
}

std::optional<Duration> Source::poll_interval() const {
  if (!config_.settings.count("poll_interval")) return std::nullopt;
  return config_.duration("poll_interval", Duration(60));
}

boost::asio::awaitable<UpkeepResult> Source::upkeep(const ReadContext&) { co_return UpkeepResult{}; }

}  // namespace keywarden
