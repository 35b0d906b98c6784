// type = "scim": keywarden is the SCIM 2.0 service provider the IdP pushes
// to (SPEC §3, §6 /scim/v2/<source>/…). The HTTP layer answers each request
// with ScimService over a StoreScimRepository for this source; there is
// nothing to poll.
#pragma once

#include "connectors/source.h"

namespace keywarden {

class ScimSource final : public Source {
 public:
  explicit ScimSource(SourceConfig config);

  // False: a push source; its state is written as requests arrive.
  bool polls() const override { return false; }

  // Never called for push sources; throws std::logic_error if it is.
  boost::asio::awaitable<FullRead> read_all() override;
};

}  // namespace keywarden
