// type = "scim": keywarden is the SCIM 2.0 service provider the IdP pushes
// to (SPEC §3, §6 /scim/v2/<source>/…). There is nothing to poll: each
// request is a push, answered by handle_push with ScimService over this
// source's StoreScimRepository.
#pragma once

#include <optional>
#include <string>

#include "connectors/scim/scim_service.h"
#include "connectors/source.h"

namespace keywarden {

class ScimSource final : public Source {
 public:
  explicit ScimSource(SourceConfig config);

  // False: a push source; its state is written as requests arrive.
  bool polls() const override { return false; }

  // Never called for push sources; throws std::logic_error if it is.
  boost::asio::awaitable<FullRead> read_all() override;

  bool accepts_pushes() const override { return true; }

  // Answers one SCIM request. `request.path` is below /scim/v2/<source>
  // ("/Users", "/Groups/abc"), `request.query` decoded, header names
  // lower-cased. The request must carry "Authorization: Bearer <token>" with
  // the source's token (token_file / token_env, read on first use, compared
  // in constant time); otherwise 401 with the SCIM error schema. The token
  // never appears in an answer. Writes go through `context.store`, inside the
  // caller's transaction. meta.location is built from the Host header
  // (X-Forwarded-Host / X-Forwarded-Proto when a proxy sets them; https by
  // default). Throws only StoreError (or std::bad_alloc): the caller rolls
  // back and answers 500.
  PushResponse handle_push(const PushRequest& request, PushContext& context) override;

 private:
  ScimService service_;
  std::optional<std::string> token_;  // read on the first push
};

}  // namespace keywarden
