// The JSON a Shared Signals transmitter serves and expects, besides SETs:
// its metadata (SSF 1.0 §7), stream configuration and status (§8), and the
// poll exchange of RFC 8936. Pure: parsing and building only.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/ssf/set_verifier.h"

namespace keywarden {

// A transmitter answer keywarden cannot use. The message names the endpoint
// and the problem, never a token.
class TransmitterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kPushDeliveryMethod = "urn:ietf:rfc:8935";
inline constexpr std::string_view kPollDeliveryMethod = "urn:ietf:rfc:8936";

// The metadata URLs to try, in order: "/.well-known/ssf-configuration"
// inserted between the issuer's host and its path (SSF 1.0 §7.2, a trailing
// "/" of the path dropped), then the legacy "/.well-known/risc-configuration"
// likewise. Throws TransmitterError when `issuer` is no http(s) URL.
std::vector<std::string> metadata_urls(std::string_view issuer);

struct TransmitterMetadata {
  std::string issuer;
  std::string jwks_uri;
  std::vector<std::string> delivery_methods_supported;
  std::string configuration_endpoint;  // empty: streams are set up out of band
  std::string status_endpoint;
  std::string add_subject_endpoint;
  std::string verification_endpoint;
  std::string default_subjects;  // "ALL" | "NONE" | "" (not said)

  // Parses a metadata document. Throws TransmitterError when it is not a
  // JSON object, names no jwks_uri, or its `issuer` is not `expected_issuer`
  // byte for byte (then no key of it may be trusted).
  static TransmitterMetadata parse(std::string_view text, const std::string& expected_issuer);
};

struct StreamConfig {
  std::string stream_id;
  std::string delivery_method;  // kPushDeliveryMethod | kPollDeliveryMethod | a legacy URI
  std::string endpoint_url;     // push: ours; poll: the transmitter's
  std::vector<std::string> events_requested;
  std::vector<std::string> events_delivered;
};

// The streams a GET of configuration_endpoint returned: one object, or an
// array of them (SSF 1.0 §8.1.1.2). Throws TransmitterError on anything else.
std::vector<StreamConfig> parse_streams(std::string_view text);
StreamConfig parse_stream(const nlohmann::json& object);

// True for the delivery methods that mean push / poll, legacy RISC URIs included.
bool is_push_delivery(std::string_view method);
bool is_poll_delivery(std::string_view method);

// The body of a stream creation (POST configuration_endpoint). For push,
// delivery names our receiver URL and the authorization header the
// transmitter must send; for poll, the method alone (the transmitter picks
// the endpoint).
std::string stream_creation_body(bool push, const std::string& receiver_url, const std::string& push_token,
                                 const std::vector<std::string>& events, const std::string& description);

// The wanted event types the stream does not deliver.
std::vector<std::string> missing_events(const StreamConfig& stream, const std::vector<std::string>& wanted);

// The `status` of a stream status answer ("enabled" | "paused" | "disabled").
// Throws TransmitterError when there is none.
std::string parse_stream_status(std::string_view text);

// One RFC 8936 poll request.
struct PollRequest {
  std::vector<std::string> ack;
  std::map<std::string, SetRefusal> set_errs;  // by jti
  int max_events = 50;
  bool return_immediately = true;

  std::string to_json() const;
};

struct PollResponse {
  std::vector<std::pair<std::string, std::string>> sets;  // jti → compact SET, in document order
  bool more_available = false;

  // Throws TransmitterError when `sets` is missing or not an object of strings.
  static PollResponse parse(std::string_view text);
};

// The RFC 8935 §2.3 error body: {"err": ..., "description": ...}.
std::string set_error_body(const SetRefusal& refusal);

}  // namespace keywarden
