// type = "scim": keywarden is the SCIM 2.0 service provider the IdP pushes
// to (SPEC §3, §6 /scim/v2/<source>/…). Each request is answered by
// ScimService over the source's pushed resources; the identity facts it
// implies go back to the daemon as PushResponse::changes. There is nothing
// to poll.
#pragma once

#include "connectors/scim/scim_service.h"
#include "connectors/source.h"
#include "connectors/source_type.h"

namespace keywarden {

// The declaration of type "scim": keys, push route, factory.
const SourceType& scim_source_type();

class ScimSource final : public Source {
 public:
  // Reads the bearer token (token_file / token_env) now. When it cannot be
  // read every push is refused (503); the daemon itself does not start then.
  explicit ScimSource(SourceConfig config);

  // False: a push source; its state is written as requests arrive.
  bool polls() const override { return false; }

  bool accepts_pushes() const override { return true; }
  // 401 (a SCIM error with WWW-Authenticate) unless the request carries
  // `Authorization: Bearer <token>`, compared in constant time.
  std::optional<PushResponse> authorize(const PushRequest& head) const override;
  // One SCIM request (Users, Groups, ServiceProviderConfig, ResourceTypes,
  // Schemas), in the dialects of Entra ID, Okta and OneLogin.
  PushResponse handle_push(const PushRequest& request, const PushContext& context) override;
  // False for a POST to /Users or /Groups (a creation); true otherwise,
  // /Bulk included (it may carry deactivations).
  bool may_report_departure(const PushRequest& head) const override;

 private:
  // `r` (whose changes the request wrote) completed with the SCIM answer; a
  // group PATCH carried out in steps gets its next step.
  PushResponse answer(ScimResponse scim, PushResponse r);

  std::string token_;
  ScimService service_;
};

}  // namespace keywarden
