#include "daemon/server/request_head.h"

#include <gtest/gtest.h>

#include "daemon/base/percent_decode.h"

namespace keywarden::server {
namespace {

namespace http = boost::beast::http;

http::request_header<> head(std::string_view target, unsigned version = 11) {
  http::request_header<> h;
  h.method(http::verb::get);
  h.target(boost::beast::string_view(target.data(), target.size()));
  h.version(version);
  return h;
}

TEST(RequestOfHead, OriginFormSplitsPathAndQueryAtTheFirstQuestionMark) {
  const Request r = request_of_head(head("/push/v2/corp/Users?filter=a%3Fb&count=1"), "192.0.2.1", true);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/push/v2/corp/Users?filter=a%3Fb&count=1");
  EXPECT_EQ(r.path, "/push/v2/corp/Users");
  EXPECT_EQ(r.query, "filter=a%3Fb&count=1");
  EXPECT_EQ(r.query_param("filter"), "a?b");
  EXPECT_EQ(r.remote_address, "192.0.2.1");
  EXPECT_TRUE(r.tls);
}

// Found by http_head_fuzz: the authority of an absolute-form target ends at
// the first '/', '?' or '#' (RFC 3986 §3.2). Cutting it at the first '/'
// only served "http://host?x/metrics" as /metrics, where a proxy in front
// reads "/" with a query.
TEST(RequestOfHead, AbsoluteFormIsCutWhereItsAuthorityEnds) {
  struct Case {
    std::string_view target, path, query;
  };
  for (const Case& c : {Case{"http://kw.example.com/push/v2/corp/Users?count=1", "/push/v2/corp/Users", "count=1"},
                        Case{"https://kw.example.com", "/", ""},
                        Case{"http://kw.example.com?x/metrics", "/", "x/metrics"},
                        Case{"http://kw.example.com?x/metrics?y=1", "/", "x/metrics?y=1"},
                        Case{"http://kw.example.com#x/metrics", "/", ""},
                        Case{"http://user@kw.example.com:9750/healthz", "/healthz", ""}}) {
    const Request r = request_of_head(head(c.target), "192.0.2.1", false);
    EXPECT_EQ(r.path, c.path) << c.target;
    EXPECT_EQ(r.query, c.query) << c.target;
    EXPECT_EQ(r.target, c.target);
  }
}

TEST(RequestOfHead, HeaderNamesAreLowerCasedAndRepeatsJoined) {
  http::request_header<> h = head("/");
  h.insert("X-Test", "one");
  h.insert("x-test", "two");
  h.insert("Authorization", "Bearer t");
  const Request r = request_of_head(h, "192.0.2.1", false);
  EXPECT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.header("x-test"), "one, two");
  EXPECT_EQ(r.header("authorization"), "Bearer t");
  EXPECT_EQ(r.header("X-Test"), std::nullopt);  // names are looked up lower-cased
}

TEST(TransferEncodingVerdict, OnlyALoneFinalChunkedOnHttp11WithoutALengthPasses) {
  const auto verdict = [](std::string_view te, bool length = false, unsigned version = 11) {
    http::request_header<> h = head("/", version);
    h.insert(http::field::transfer_encoding, boost::beast::string_view(te.data(), te.size()));
    if (length) h.insert(http::field::content_length, "5");
    return transfer_encoding_verdict(h);
  };
  EXPECT_EQ(transfer_encoding_verdict(head("/")), 0);
  EXPECT_EQ(verdict("chunked"), 0);
  EXPECT_EQ(verdict(" Chunked ,"), 0);
  EXPECT_EQ(verdict("chunked", /*length=*/true), 400);
  EXPECT_EQ(verdict("chunked", false, /*version=*/10), 400);
  EXPECT_EQ(verdict("gzip"), 400);
  EXPECT_EQ(verdict("chunked, chunked"), 400);
  EXPECT_EQ(verdict("gzip, chunked"), 501);
}

// Query parameters decode as daemon/base's strict percent_decode with '+'
// as a space, which query_param uses.
TEST(PercentDecode, QueryDecodingTurnsPlusIntoASpaceAndRefusesBrokenEscapes) {
  const auto decode = [](std::string_view s) { return percent_decode_strict(s, /*plus_is_space=*/true); };
  EXPECT_EQ(decode("a+b%20c%2Bd"), "a b c+d");
  EXPECT_EQ(decode(""), "");
  EXPECT_EQ(decode("%"), std::nullopt);
  EXPECT_EQ(decode("%2"), std::nullopt);
  EXPECT_EQ(decode("%zz"), std::nullopt);
  EXPECT_EQ(decode("%+1"), std::nullopt);  // not a sign, not a digit
}

}  // namespace
}  // namespace keywarden::server
