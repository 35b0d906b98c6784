// For connector tests: a push handled as the daemon handles it (daemon/app/
// daemon_routes.cc): the handler sees the store's facts, and a 2xx answer's
// changes are applied with Store::apply_changes in one transaction.
#pragma once

#include <set>
#include <string>

#include "connectors/source.h"
#include "daemon/store/store.h"

namespace keywarden {

struct AppliedPush : PushResponse {
  std::set<std::string> affected_emails;  // what Store::apply_changes returned
};

// `handle(const PushContext&)` returns the PushResponse.
template <class Handler>
AppliedPush apply_push(Store& store, const std::string& source, Timestamp now, Handler&& handle) {
  AppliedPush out;
  store.batch([&] {
    SourceFacts known(store, source);
    PushedResources resources(store, source);
    const PushContext context{now, known, resources};
    static_cast<PushResponse&>(out) = handle(context);
    if (out.status < 300) out.affected_emails = store.apply_changes(source, out.changes, now, false);
  });
  return out;
}

}  // namespace keywarden
