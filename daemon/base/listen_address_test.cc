#include "daemon/base/listen_address.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

void expect_parses(std::string_view text, std::string_view host, std::uint16_t port) {
  const auto a = parse_listen_address(text);
  ASSERT_TRUE(a) << text;
  EXPECT_EQ(a->host, host) << text;
  EXPECT_EQ(a->port, port) << text;
}

TEST(ListenAddress, TakesIpv4HostNamesAndBracketedIpv6) {
  expect_parses("127.0.0.1:9750", "127.0.0.1", 9750);
  expect_parses("0.0.0.0:9750", "0.0.0.0", 9750);
  expect_parses("255.255.255.255:65535", "255.255.255.255", 65535);
  expect_parses("127.0.0.1:0", "127.0.0.1", 0);  // the kernel picks the port (tests)
  expect_parses("localhost:8080", "localhost", 8080);
  expect_parses("keywarden-1.corp.example:443", "keywarden-1.corp.example", 443);
  expect_parses("[::1]:9750", "::1", 9750);
  expect_parses("[::]:0", "::", 0);
  expect_parses("[2001:db8::10]:443", "2001:db8::10", 443);
  expect_parses("[fe80::1%eth0]:9750", "fe80::1%eth0", 9750);
  expect_parses("[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1);
}

TEST(ListenAddress, AnEmptyHostIsRefusedNotAllInterfaces) {
  // Listening everywhere is asked for by name, never by leaving the host out.
  EXPECT_FALSE(parse_listen_address(":9750"));
  EXPECT_FALSE(parse_listen_address("[]:9750"));
}

TEST(ListenAddress, RefusesInvalidIpv4) {
  for (auto bad : {"999.1.1.1:9750", "256.0.0.1:9750", "1.2.3.256:9750", "1.2.3:9750", "1.2.3.4.5:9750",
                   "1..3.4:9750", "1.2.3.4.:9750", ".1.2.3:9750", "010.0.0.1:9750", "1.2.3.1000:9750"})
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
}

TEST(ListenAddress, RefusesBadPorts) {
  for (auto bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:123456",
                   "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:80 ", "127.0.0.1:0x50",
                   "[::1]", "[::1]:", "[::1]80", "[::1]:70000", "h:p"})
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
}

TEST(ListenAddress, RefusesJunkHosts) {
  for (auto bad : {"::1:80", "fe80::1:80",                       // IPv6 needs brackets
                   "[127.0.0.1]:80", "[zz::1]:80", "[::1%]:80",  // not IPv6 in brackets
                   "[::1%eth 0]:80", "[::1]x:80", "[::1:80",
                   "exa mple:80", "host/x:80", "-host:80", "host-:80", "a..b:80", "host.:80",
                   "http://host:80", "user@host:80", "h\xc3\xa9:80"})
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
  EXPECT_FALSE(parse_listen_address(std::string_view("a\0b:80", 6)));
  EXPECT_FALSE(parse_listen_address(std::string(64, 'a') + ".example:80")) << "a label longer than 63";
}

}  // namespace
}  // namespace keywarden
