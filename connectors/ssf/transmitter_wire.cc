#include "connectors/ssf/transmitter_wire.h"

#include <algorithm>

#include "daemon/net/url.h"

namespace keywarden {

namespace {

using nlohmann::json;

std::string string_member(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> string_array(const json& object, const char* name) {
  std::vector<std::string> out;
  const auto it = object.find(name);
  if (it == object.end() || !it->is_array()) return out;
  for (const json& entry : *it) {
    if (entry.is_string()) out.push_back(entry.get<std::string>());
  }
  return out;
}

json parse_json(std::string_view text) { return json::parse(text.begin(), text.end(), nullptr, false); }

}  // namespace

std::vector<std::string> metadata_urls(std::string_view issuer) {
  const size_t scheme_end = issuer.find("://");
  if (scheme_end == std::string_view::npos || !parse_url(issuer) ||
      issuer.find_first_of("?#") != std::string_view::npos) {
    throw TransmitterError("the issuer " + std::string(issuer) + " is not an http(s) URL without query");
  }
  const size_t path_start = issuer.find('/', scheme_end + 3);
  const std::string_view authority = issuer.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? std::string_view() : issuer.substr(path_start);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string> out;
  for (const char* name : {"ssf-configuration", "risc-configuration"}) {
    out.push_back(std::string(authority) + "/.well-known/" + name + std::string(path));
  }
  return out;
}

TransmitterMetadata TransmitterMetadata::parse(std::string_view text, const std::string& expected_issuer) {
  const json document = parse_json(text);
  if (!document.is_object()) throw TransmitterError("the transmitter metadata is not a JSON object");
  TransmitterMetadata out;
  out.issuer = string_member(document, "issuer");
  if (out.issuer != expected_issuer) {
    throw TransmitterError("the transmitter metadata names the issuer \"" + out.issuer + "\", not the configured \"" +
                           expected_issuer + "\"; none of its keys is trusted");
  }
  out.jwks_uri = string_member(document, "jwks_uri");
  if (out.jwks_uri.empty() || !parse_url(out.jwks_uri)) {
    throw TransmitterError("the transmitter metadata has no usable jwks_uri");
  }
  out.delivery_methods_supported = string_array(document, "delivery_methods_supported");
  out.configuration_endpoint = string_member(document, "configuration_endpoint");
  out.status_endpoint = string_member(document, "status_endpoint");
  out.add_subject_endpoint = string_member(document, "add_subject_endpoint");
  out.verification_endpoint = string_member(document, "verification_endpoint");
  out.default_subjects = string_member(document, "default_subjects");
  return out;
}

StreamConfig parse_stream(const json& object) {
  StreamConfig out;
  out.stream_id = string_member(object, "stream_id");
  if (const auto delivery = object.find("delivery"); delivery != object.end() && delivery->is_object()) {
    out.delivery_method = string_member(*delivery, "method");
    out.endpoint_url = string_member(*delivery, "endpoint_url");
  }
  out.events_requested = string_array(object, "events_requested");
  out.events_delivered = string_array(object, "events_delivered");
  return out;
}

std::vector<StreamConfig> parse_streams(std::string_view text) {
  const json document = parse_json(text);
  std::vector<StreamConfig> out;
  if (document.is_object()) {
    out.push_back(parse_stream(document));
  } else if (document.is_array()) {
    for (const json& entry : document) {
      if (entry.is_object()) out.push_back(parse_stream(entry));
    }
  } else {
    throw TransmitterError("the stream configuration is not a JSON object or array");
  }
  return out;
}

bool is_push_delivery(std::string_view method) {
  return method == kPushDeliveryMethod || method == "https://schemas.openid.net/secevent/risc/delivery-method/push";
}

bool is_poll_delivery(std::string_view method) {
  return method == kPollDeliveryMethod || method == "https://schemas.openid.net/secevent/risc/delivery-method/poll";
}

std::string stream_creation_body(bool push, const std::string& receiver_url, const std::string& push_token,
                                 const std::vector<std::string>& events, const std::string& description) {
  json delivery = {{"method", push ? kPushDeliveryMethod : kPollDeliveryMethod}};
  if (push) {
    delivery["endpoint_url"] = receiver_url;
    delivery["authorization_header"] = "Bearer " + push_token;
  }
  return json{{"delivery", delivery}, {"events_requested", events}, {"description", description}}.dump();
}

std::vector<std::string> missing_events(const StreamConfig& stream, const std::vector<std::string>& wanted) {
  std::vector<std::string> out;
  for (const auto& type : wanted) {
    if (std::find(stream.events_delivered.begin(), stream.events_delivered.end(), type) ==
        stream.events_delivered.end()) {
      out.push_back(type);
    }
  }
  return out;
}

std::string parse_stream_status(std::string_view text) {
  const json document = parse_json(text);
  const std::string status = document.is_object() ? string_member(document, "status") : std::string();
  if (status.empty()) throw TransmitterError("the stream status answer has no status");
  return status;
}

std::string PollRequest::to_json() const {
  json errs = json::object();
  for (const auto& [jti, refusal] : set_errs) {
    errs[jti] = {{"err", to_string(refusal.err)}, {"description", refusal.description}};
  }
  json body = {{"ack", ack}, {"maxEvents", max_events}, {"returnImmediately", return_immediately}};
  if (!errs.empty()) body["setErrs"] = errs;
  return body.dump();
}

PollResponse PollResponse::parse(std::string_view text) {
  const json document = parse_json(text);
  if (!document.is_object()) throw TransmitterError("the poll answer is not a JSON object");
  const auto sets = document.find("sets");
  if (sets == document.end() || !sets->is_object()) throw TransmitterError("the poll answer has no sets object");
  PollResponse out;
  for (const auto& [jti, token] : sets->items()) {
    if (!token.is_string()) throw TransmitterError("the poll answer's set " + jti + " is not a string");
    out.sets.emplace_back(jti, token.get<std::string>());
  }
  const auto more = document.find("moreAvailable");
  out.more_available = more != document.end() && more->is_boolean() && more->get<bool>();
  return out;
}

std::string set_error_body(const SetRefusal& refusal) {
  return json{{"err", to_string(refusal.err)}, {"description", refusal.description}}.dump();
}

}  // namespace keywarden
