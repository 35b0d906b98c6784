#include "daemon/net/url.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

TEST(ParseUrl, DefaultsPortAndTargetPerScheme) {
  auto https = parse_url("https://api.spectrocloud.com");
  ASSERT_TRUE(https);
  EXPECT_EQ(https->scheme, "https");
  EXPECT_EQ(https->host, "api.spectrocloud.com");
  EXPECT_EQ(https->port, "443");
  EXPECT_EQ(https->target, "/");
  EXPECT_TRUE(https->tls());

  auto http = parse_url("http://localhost");
  ASSERT_TRUE(http);
  EXPECT_EQ(http->port, "80");
  EXPECT_FALSE(http->tls());
}

TEST(ParseUrl, KeepsExplicitPortPathAndQuery) {
  auto url = parse_url("http://127.0.0.1:8080/v1/users?limit=50&continue=abc");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "8080");
  EXPECT_EQ(url->target, "/v1/users?limit=50&continue=abc");
  EXPECT_EQ(url->origin(), "http://127.0.0.1:8080");
}

TEST(ParseUrl, SchemeIsCaseInsensitive) {
  auto url = parse_url("HTTPS://Palette.Example.com/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->port, "443");
}

TEST(ParseUrl, QueryWithoutPathGetsRootPath) {
  auto url = parse_url("http://h?x=1");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->target, "/?x=1");
}

TEST(ParseUrl, DropsFragment) {
  auto url = parse_url("https://h/a/b?q=1#frag");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->target, "/a/b?q=1");
  auto bare = parse_url("https://h#frag");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->target, "/");
}

TEST(ParseUrl, Ipv6LiteralLosesBracketsButOriginRestoresThem) {
  auto url = parse_url("https://[::1]:9443/v1");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "9443");
  EXPECT_EQ(url->target, "/v1");
  EXPECT_EQ(url->origin(), "https://[::1]:9443");

  auto default_port = parse_url("http://[2001:db8::1]");
  ASSERT_TRUE(default_port);
  EXPECT_EQ(default_port->host, "2001:db8::1");
  EXPECT_EQ(default_port->port, "80");
}

TEST(ParseUrl, NormalizesPortNumber) {
  auto url = parse_url("http://h:0080/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->port, "80");
  EXPECT_TRUE(parse_url("http://h:65535/"));
}

TEST(ParseUrl, RejectsBadInput) {
  for (const char* bad : {
           "",
           "api.spectrocloud.com",          // no scheme
           "ftp://h/",                      // unsupported scheme
           "https://",                      // no host
           "https:///path",                 // no host
           "https://:443/",                 // no host
           "https://h:/",                   // empty port
           "https://h:0/",                  // port 0
           "https://h:65536/",              // port too big
           "https://h:123456/",             // port too long
           "https://h:8a/",                 // port not a number
           "https://user:pw@h/",            // userinfo (a secret in a URL)
           "https://[::1/",                 // unclosed bracket
           "https://[]/",                   // empty IPv6
           "https://[zz::1]/",              // not hex
           "https://[::1]x/",               // junk after bracket
           "https://[127.0.0.1]/",          // brackets around IPv4
           "https://h h/",                  // space in host
           "https://h/a b",                 // space in target
           "https://h/a\r\nHost: evil",     // header injection
           "https://h/\x01",                // control character
       }) {
    EXPECT_FALSE(parse_url(bad)) << "accepted: " << bad;
  }
}

TEST(UrlEncode, LeavesUnreservedAlone) {
  EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(url_encode(""), "");
}

TEST(UrlEncode, EscapesEverythingElseInUpperCaseHex) {
  EXPECT_EQ(url_encode("a b+c/d=e&f?g#h%"), "a%20b%2Bc%2Fd%3De%26f%3Fg%23h%25");
  EXPECT_EQ(url_encode("\xff"), "%FF");
  EXPECT_EQ(url_encode(std::string_view("\x00", 1)), "%00");
  EXPECT_EQ(url_encode("é"), "%C3%A9");
}

TEST(UrlDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(url_decode("a%20b%2fc%2F"), "a b/c/");
  EXPECT_EQ(url_decode("%C3%A9"), "é");
}

TEST(UrlDecode, PlusIsSpaceOnlyWhenAsked) {
  EXPECT_EQ(url_decode("a+b"), "a b");
  EXPECT_EQ(url_decode("a+b", false), "a+b");
}

TEST(UrlDecode, RejectsBadEscapes) {
  EXPECT_FALSE(url_decode("%"));
  EXPECT_FALSE(url_decode("%2"));
  EXPECT_FALSE(url_decode("abc%"));
  EXPECT_FALSE(url_decode("%zz"));
  EXPECT_FALSE(url_decode("%2g"));
}

TEST(UrlEncode, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  EXPECT_EQ(url_decode(url_encode(all), false), all);
  EXPECT_EQ(url_decode(url_encode(all), true), all);
}

}  // namespace
}  // namespace keywarden
