// A SCIM error (RFC 7644 §3.12): an HTTP status, a scimType and a detail.
//
// The filter parser, the PATCH engine and the service throw ScimError for
// anything a client got wrong; ScimService turns it into the error body
//   {"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],
//    "status":"400","scimType":"invalidFilter","detail":"…"}
// The detail quotes at most a short piece of the client's input and never a
// secret (passwords are dropped before anything can quote them).
#pragma once

#include <stdexcept>
#include <string>

namespace keywarden {

class ScimError : public std::runtime_error {
 public:
  // `scim_type` is one of RFC 7644's keywords (invalidFilter, tooMany,
  // uniqueness, mutability, invalidSyntax, invalidPath, noTarget,
  // invalidValue, invalidVers, sensitive), or empty for errors that have none
  // (404, 405, 412, 501).
  ScimError(int status, std::string scim_type, std::string detail)
      : std::runtime_error(detail), status_(status), scim_type_(std::move(scim_type)),
        detail_(std::move(detail)) {}

  int status() const { return status_; }
  const std::string& scim_type() const { return scim_type_; }
  const std::string& detail() const { return detail_; }

 private:
  int status_;
  std::string scim_type_;
  std::string detail_;
};

}  // namespace keywarden
