// type = "saml" (SPEC §3, §8.2): a SAML 2.0 attribute authority, asked
// about each Palette key owner with one samlp:AttributeQuery per poll.
//
// SAML has no directory listing, so a read is only as wide as the owners it
// is given: each owner answered "valid assertion" is an active identity with
// the groups_attribute values as groups; an authenticated UnknownPrincipal
// is a deleted identity for an owner this source answered for before, and
// no identity at all (not known here) for one it never knew. Whom it has
// answered for is kept in the read's cursors ("answered", a JSON array of
// normalized emails), because the source holds no store.
//
// One failed answer (connection, HTTP status, SOAP fault, any check of
// saml_response.h) fails the whole read with a message naming the owner's
// email and the reason, never a key.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/saml/saml_metadata.h"
#include "connectors/saml/saml_response.h"
#include "connectors/source.h"
#include "connectors/source_type.h"
#include "daemon/net/http_client.h"
#include "daemon/net/url.h"

namespace keywarden {

// A saml source's settings that cannot work: unreadable or keyless
// metadata, no attribute service URL, an SP key pair that does not load.
class SamlConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The "saml" type: SPEC §3's keys with their defaults, and the factory.
const SourceType& saml_source_type();

// Everything one read needs, loaded from the files the config names.
struct SamlSettings {
  SamlIdpMetadata metadata;
  Url service;                          // attribute_service_url, or the metadata's SOAP AttributeService
  std::string sp_entity_id;
  std::string name_id_format;
  std::string groups_attribute;
  std::optional<XmlSecKey> signing_key;  // sp_key_file with sp_cert_file
  TlsOptions tls;                        // ca_file; sp_cert_file/sp_key_file as client certificate
};

// Reads the metadata and the SP key pair `config` names (blocking file
// reads); absent keys take the schema's defaults. Throws SamlConfigError with a message that names the setting or
// file and the problem, never key material.
SamlSettings load_saml_settings(const SourceConfig& config);

// For check-config: the problems of load_saml_settings, prefixed with the
// source's name, or empty when the source can be used.
std::vector<std::string> check_saml_source_config(const SourceConfig& config);

struct SamlSourceOptions {
  size_t max_in_flight = 8;                   // queries at once (SPEC §8.2)
  std::chrono::milliseconds timeout{30000};   // one exchange
  // Tests fix the query ID so that prepared answers match; production uses
  // new_query_id().
  std::function<std::string()> next_query_id;
};

class SamlSource final : public Source {
 public:
  // Throws std::invalid_argument when load_saml_settings fails, so that a
  // daemon with unusable metadata does not start.
  SamlSource(SourceConfig config, boost::asio::any_io_executor executor, SamlSourceOptions options = {});

  bool polls() const override { return true; }

  // Asks about every distinct normalized email of context.owner_emails (at
  // most max_in_flight at once, each over its own connection), judging each
  // answer on the blocking pool at context.now. An owner whose last good
  // answer (kept in memory from a fully good read) is younger than
  // poll_interval is not asked again: reconciles come every
  // reconcile_interval, queries every poll_interval (SPEC §8.2). The
  // metadata and keys are re-read for every read (a rotated metadata file
  // takes effect at the next read). context.state is what the previous good
  // read stored (its "answered"). Returns the identities described above
  // and cursors {"answered": …}. Throws SourceReadError on the first failed
  // answer (others in flight finish, no new query starts) and when the
  // settings cannot be loaded; a failed read keeps no answer of it.
  boost::asio::awaitable<FullRead> read_all(const ReadContext& context) override;

 private:
  struct KeptAnswer {
    SamlAnswer answer;
    Timestamp at{};
  };

  boost::asio::any_io_executor executor_;
  SamlSourceOptions options_;
  std::map<std::string, KeptAnswer> kept_;  // by normalized email; read_all() calls are serialized
};

// The "answered" cursor: a JSON array of emails. Malformed or absent text
// gives an empty set (a lost memory only turns a deletion into "not known",
// which revokes nothing).
std::vector<std::string> parse_answered_cursor(const std::string& text);

}  // namespace keywarden
