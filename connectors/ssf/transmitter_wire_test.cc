// The transmitter's JSON as SSF 1.0 and RFC 8936 shape it: well-known URLs
// with the path inserted, metadata whose issuer must match exactly, streams
// as one object or an array, and the poll exchange.
#include "connectors/ssf/transmitter_wire.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

using nlohmann::json;

TEST(TransmitterWireTest, WellKnownIsInsertedBetweenHostAndPath) {
  EXPECT_EQ(metadata_urls("https://idp.example.com/realms/corp"),
            (std::vector<std::string>{"https://idp.example.com/.well-known/ssf-configuration/realms/corp",
                                      "https://idp.example.com/.well-known/risc-configuration/realms/corp"}));
  EXPECT_EQ(metadata_urls("https://accounts.google.com/")[1],
            "https://accounts.google.com/.well-known/risc-configuration");
  EXPECT_EQ(metadata_urls("http://127.0.0.1:8080")[0], "http://127.0.0.1:8080/.well-known/ssf-configuration");
  EXPECT_THROW(metadata_urls("idp.example.com"), TransmitterError);
  EXPECT_THROW(metadata_urls("https://idp.example.com/?tenant=1"), TransmitterError);
}

TEST(TransmitterWireTest, MetadataIssuerMustMatchExactly) {
  const json metadata = {{"spec_version", "1_0"},
                         {"issuer", "https://idp.example.com/"},
                         {"jwks_uri", "https://idp.example.com/jwks"},
                         {"delivery_methods_supported", {"urn:ietf:rfc:8935", "urn:ietf:rfc:8936"}},
                         {"configuration_endpoint", "https://idp.example.com/ssf/stream"},
                         {"default_subjects", "NONE"}};
  const auto parsed = TransmitterMetadata::parse(metadata.dump(), "https://idp.example.com/");
  EXPECT_EQ(parsed.jwks_uri, "https://idp.example.com/jwks");
  EXPECT_EQ(parsed.default_subjects, "NONE");
  EXPECT_EQ(parsed.delivery_methods_supported.size(), 2u);
  // A trailing slash is a different issuer.
  EXPECT_THROW(TransmitterMetadata::parse(metadata.dump(), "https://idp.example.com"), TransmitterError);
  json no_jwks = metadata;
  no_jwks.erase("jwks_uri");
  EXPECT_THROW(TransmitterMetadata::parse(no_jwks.dump(), "https://idp.example.com/"), TransmitterError);
  EXPECT_THROW(TransmitterMetadata::parse("<html>", "https://idp.example.com/"), TransmitterError);
}

TEST(TransmitterWireTest, StreamsAreOneObjectOrAnArray) {
  const json stream = {{"stream_id", "s1"},
                       {"iss", "https://idp.example.com/"},
                       {"delivery", {{"method", "urn:ietf:rfc:8936"}, {"endpoint_url", "https://idp/poll/s1"}}},
                       {"events_requested", {"a", "b"}},
                       {"events_delivered", {"a"}}};
  auto one = parse_streams(stream.dump());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].stream_id, "s1");
  EXPECT_TRUE(is_poll_delivery(one[0].delivery_method));
  EXPECT_EQ(one[0].endpoint_url, "https://idp/poll/s1");
  EXPECT_EQ(missing_events(one[0], {"a", "b"}), std::vector<std::string>{"b"});
  EXPECT_EQ(parse_streams(json::array({stream, stream}).dump()).size(), 2u);
  EXPECT_TRUE(parse_streams("[]").empty());
  EXPECT_THROW(parse_streams("\"s1\""), TransmitterError);
}

TEST(TransmitterWireTest, StreamCreationCarriesOurPushEndpointAndToken) {
  const json push = json::parse(stream_creation_body(true, "https://kw.example.com/ssf/corp", "tok", {"e1"}, "kw"));
  EXPECT_EQ(push["delivery"]["method"], "urn:ietf:rfc:8935");
  EXPECT_EQ(push["delivery"]["endpoint_url"], "https://kw.example.com/ssf/corp");
  EXPECT_EQ(push["delivery"]["authorization_header"], "Bearer tok");
  EXPECT_EQ(push["events_requested"], json::array({"e1"}));
  const json poll = json::parse(stream_creation_body(false, "", "", {"e1"}, "kw"));
  EXPECT_EQ(poll["delivery"], json({{"method", "urn:ietf:rfc:8936"}}));
}

TEST(TransmitterWireTest, StreamStatus) {
  EXPECT_EQ(parse_stream_status(R"({"stream_id":"s1","status":"paused","reason":"x"})"), "paused");
  EXPECT_THROW(parse_stream_status("{}"), TransmitterError);
}

TEST(TransmitterWireTest, PollRequestAcksAndReportsErrors) {
  PollRequest request;
  request.ack = {"j1", "j2"};
  request.set_errs["j3"] = SetRefusal{SetErrorCode::invalid_issuer, "iss is not the configured issuer"};
  request.max_events = 10;
  const json body = json::parse(request.to_json());
  EXPECT_EQ(body["ack"], json::array({"j1", "j2"}));
  EXPECT_EQ(body["setErrs"]["j3"]["err"], "invalid_issuer");
  EXPECT_EQ(body["maxEvents"], 10);
  EXPECT_EQ(body["returnImmediately"], true);
  EXPECT_FALSE(json::parse(PollRequest{}.to_json()).contains("setErrs"));
}

TEST(TransmitterWireTest, PollResponse) {
  const auto response = PollResponse::parse(R"({"sets":{"j1":"a.b.c","j2":"d.e.f"},"moreAvailable":true})");
  ASSERT_EQ(response.sets.size(), 2u);
  EXPECT_EQ(response.sets[0], (std::pair<std::string, std::string>{"j1", "a.b.c"}));
  EXPECT_TRUE(response.more_available);
  EXPECT_FALSE(PollResponse::parse(R"({"sets":{}})").more_available);
  EXPECT_THROW(PollResponse::parse(R"({"moreAvailable":false})"), TransmitterError);
  EXPECT_THROW(PollResponse::parse(R"({"sets":{"j1":7}})"), TransmitterError);
}

TEST(TransmitterWireTest, ErrorBodyIsRfc8935Shaped) {
  EXPECT_EQ(json::parse(set_error_body({SetErrorCode::invalid_key, "bad signature"})),
            json({{"err", "invalid_key"}, {"description", "bad signature"}}));
}

}  // namespace
}  // namespace keywarden
