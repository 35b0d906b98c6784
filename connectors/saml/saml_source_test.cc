// SamlSource against a scripted attribute authority on loopback: one query
// per distinct owner, at most max_in_flight at once, signed answers turned
// into identities, UnknownPrincipal meaning "deleted" only for someone
// answered for before, and any failed answer failing the whole read.
#include "connectors/saml/saml_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/system_executor.hpp>
#include <nlohmann/json.hpp>

#include "connectors/saml/saml_test_files.h"
#include "connectors/saml/strict_xml.h"
#include "daemon/net/scripted_http_server_test.h"

namespace keywarden {
namespace {

namespace net = boost::asio;
using saml_test::response_fixture;
using saml_test::testdata;
using testing::RecordedRequest;
using testing::run_with_server;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;

constexpr const char* kQueryId = "_q-7f3a";
const Timestamp kNow = *parse_rfc3339("2026-11-30T10:00:30Z");

SourceConfig config_for(const std::string& url) {
  SourceConfig c;
  c.name = "saml-aa";
  c.type = "saml";
  c.settings["idp_metadata_file"] = std::string(SAML_TESTDATA_DIR) + "/idp-metadata.xml";
  c.settings["attribute_service_url"] = url + "/idp/profile/SAML2/SOAP/AttributeQuery";
  c.settings["sp_entity_id"] = "https://keywarden.example.com/saml";
  return c;
}

SamlSourceOptions fixed_query_id() {
  SamlSourceOptions o;
  o.next_query_id = [] { return std::string(kQueryId); };
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

// good_unsigned.xml about `email` with `groups`, its Assertion signed with
// the IdP's key (as the fixtures are, but for any person).
std::string signed_answer(const std::string& email, const std::vector<std::string>& groups) {
  std::string text = response_fixture("good_unsigned.xml");
  text.replace(text.find(">alice@example.com<"), 19, ">" + email + "<");
  text.replace(text.find("2026-11-30T10:05:00Z"), 20, "2026-11-30T12:00:00Z");  // valid through the test
  std::string values;
  for (const auto& g : groups) values += "<saml:AttributeValue>" + g + "</saml:AttributeValue>";
  const size_t first = text.find("<saml:AttributeValue>");
  const size_t last = text.rfind("</saml:AttributeValue>") + 22;
  text.replace(first, last - first, values);
  static const XmlSecKey idp_key = load_signing_key(testdata("idp.key"), testdata("idp.crt"), "idp.key");
  XmlDocument doc = parse_strict_xml(text, 1 << 20);
  xmlNode* body = children_named(xmlDocGetRootElement(doc.get()), kSoap11Ns, "Body").at(0);
  xmlNode* response = children_named(body, kSamlProtocolNs, "Response").at(0);
  xmlNode* assertion = children_named(response, kSamlAssertionNs, "Assertion").at(0);
  EXPECT_TRUE(register_id(doc.get(), xmlHasNsProp(assertion, reinterpret_cast<const xmlChar*>("ID"), nullptr)));
  sign_enveloped(doc.get(), assertion, "_a-3d4e", children_named(assertion, kSamlAssertionNs, "Issuer").at(0),
                 idp_key);
  xmlChar* out = nullptr;
  int size = 0;
  xmlDocDumpMemoryEnc(doc.get(), &out, &size, "UTF-8");
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(size));
  xmlFree(out);
  return result;
}

std::string asked_about(const RecordedRequest& request) {
  const size_t start = request.body.find("nameid-format:emailAddress\">");
  if (start == std::string::npos) return {};
  const size_t from = request.body.find('>', start) + 1;
  return request.body.substr(from, request.body.find('<', from) - from);
}

// read_all with a context of `owners` and `state` at `now`.
net::awaitable<FullRead> read_with(SamlSource& source, std::vector<std::string> owners,
                                   std::map<std::string, std::string> state, Timestamp now) {
  ReadContext context;
  context.now = now;
  context.owner_emails = std::move(owners);
  context.state = std::move(state);
  auto read = source.read_all(context);
  co_return co_await std::move(read);
}

ScriptedReply soap(std::string body, int status = 200) {
  ScriptedReply r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "text/xml; charset=utf-8");
  return r;
}

TEST(SamlSource, ConstructionRefusesUnusableMetadata) {
  SourceConfig c = config_for("http://127.0.0.1:1");
  c.settings["idp_metadata_file"] = "/nonexistent/metadata.xml";
  EXPECT_THROW(SamlSource(c, net::system_executor()), std::invalid_argument);
  const auto problems = check_saml_source_config(c);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("/nonexistent/metadata.xml"), std::string::npos) << problems[0];
}

TEST(SamlSource, AttributeServiceDefaultsToTheMetadata) {
  SourceConfig c = config_for("http://127.0.0.1:1");
  c.settings.erase("attribute_service_url");
  const SamlSettings s = load_saml_settings(c);
  EXPECT_EQ(s.service.host, "idp.example.org");
  EXPECT_EQ(s.service.target, "/idp/profile/SAML2/SOAP/AttributeQuery");
  EXPECT_EQ(s.name_id_format, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");
  EXPECT_EQ(s.groups_attribute, "SpectroTeam");
}

TEST(SamlSource, SpKeyPairLoadsAndErrorsNeverHoldTheKey) {
  SourceConfig c = config_for("http://127.0.0.1:1");
  c.settings["sp_cert_file"] = std::string(SAML_TESTDATA_DIR) + "/sp.crt";
  c.settings["sp_key_file"] = std::string(SAML_TESTDATA_DIR) + "/sp.key";
  EXPECT_TRUE(load_saml_settings(c).signing_key.has_value());
  c.settings["sp_key_file"] = std::string(SAML_TESTDATA_DIR) + "/sp.crt";  // not a key
  const auto problems = check_saml_source_config(c);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("sp_key_file"), std::string::npos) << problems[0];
  EXPECT_EQ(problems[0].find("BEGIN"), std::string::npos) << problems[0];
}

TEST(SamlSource, AsksEachDistinctOwnerOnceAndMapsAnswers) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest& request) {
      const std::string who = asked_about(request);
      if (who == "alice@example.com") return soap(signed_answer(who, {"palette-users", "ops"}));
      if (who == "bob@example.com") return soap(signed_answer(who, {}));
      return soap(response_fixture("unknown_principal_signed.xml"));  // carol: never known
    };
    SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
    auto read = read_with(source, {"Alice@Example.com ", "alice@example.com", "bob@example.com", "carol@example.com"},
                                   {}, kNow);
    FullRead result = co_await std::move(read);

    EXPECT_EQ(server.requests().size(), 3u);
    for (const auto& r : server.requests()) {
      EXPECT_EQ(r.method, "POST");
      EXPECT_EQ(r.target, "/idp/profile/SAML2/SOAP/AttributeQuery");
      EXPECT_EQ(r.header("soapaction"), "http://www.oasis-open.org/committees/security");
      EXPECT_NE(r.header("content-type").find("text/xml"), std::string::npos);
    }
    EXPECT_EQ(result.identities.size(), 2u);  // carol is not known here
    std::map<std::string, Identity> by_email;
    for (const auto& i : result.identities) by_email[i.email] = i;
    EXPECT_EQ(by_email["alice@example.com"].status, IdentityStatus::active);
    EXPECT_EQ(by_email["alice@example.com"].groups, (std::vector<std::string>{"palette-users", "ops"}));
    EXPECT_EQ(by_email["bob@example.com"].status, IdentityStatus::active);
    EXPECT_TRUE(by_email["bob@example.com"].groups.empty());
    EXPECT_EQ(parse_answered_cursor(result.cursors["answered"]),
              (std::vector<std::string>{"alice@example.com", "bob@example.com"}));
  });
}

TEST(SamlSource, UnknownPrincipalAfterBeingAnsweredForIsDeleted) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) { return soap(response_fixture("unknown_principal_signed.xml")); };
    SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
    std::map<std::string, std::string> state{{"answered", R"(["alice@example.com"])"}};
    auto read = read_with(source, {"alice@example.com", "dave@example.com"}, state, kNow);
    FullRead result = co_await std::move(read);
    if (result.identities.size() != 1u) {
      ADD_FAILURE() << "expected only alice, got " << result.identities.size();
      co_return;
    }
    EXPECT_EQ(result.identities[0].email, "alice@example.com");
    EXPECT_EQ(result.identities[0].status, IdentityStatus::deleted);
    // Still remembered: the next read says deleted again.
    EXPECT_EQ(parse_answered_cursor(result.cursors["answered"]), std::vector<std::string>{"alice@example.com"});
  });
}

TEST(SamlSource, OneForgedAnswerFailsTheWholeReadNamingTheOwner) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest& request) {
      const std::string who = asked_about(request);
      if (who == "alice@example.com") return soap(response_fixture("attack_xsw_signed_in_extensions.xml"));
      return soap(signed_answer(who, {"palette-users"}));
    };
    SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
    std::vector<std::string> owners;
    for (int i = 0; i < 10; ++i) owners.push_back("user" + std::to_string(i) + "@example.com");
    owners.push_back("alice@example.com");
    std::string error;
    try {
      auto read = read_with(source, owners, {}, kNow);
      co_await std::move(read);
    } catch (const SourceReadError& e) {
      error = e.what();
    }
    EXPECT_NE(error.find("about alice@example.com"), std::string::npos) << error;
    EXPECT_NE(error.find("2 Assertions"), std::string::npos) << error;
  });
}

TEST(SamlSource, HttpErrorsAndSoapFaultsFailTheRead) {
  for (int status : {500, 404}) {
    run_with_server([status](ScriptedHttpServer& server) -> net::awaitable<void> {
      server.handler = [status](const RecordedRequest&) { return soap("<fault/>", status); };
      SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
      bool failed = false;
      try {
        auto read = read_with(source, {"alice@example.com"}, {}, kNow);
        co_await std::move(read);
      } catch (const SourceReadError& e) {
        failed = std::string(e.what()).find("HTTP " + std::to_string(status)) != std::string::npos;
      }
      EXPECT_TRUE(failed) << status;
    });
  }
}

TEST(SamlSource, UnsignedAnswerOverPlainHttpFails) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest&) { return soap(response_fixture("unknown_principal_unsigned.xml")); };
    SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
    std::map<std::string, std::string> state{{"answered", R"(["alice@example.com"])"}};
    bool failed = false;
    try {
      auto read = read_with(source, {"alice@example.com"}, state, kNow);
      co_await std::move(read);
    } catch (const SourceReadError&) {
      failed = true;
    }
    EXPECT_TRUE(failed);
  });
}

TEST(SamlSource, AtMostMaxInFlightQueriesAtOnce) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest& request) {
      ScriptedReply r = soap(signed_answer(asked_about(request), {"palette-users"}));
      r.delay = std::chrono::milliseconds(40);
      return r;
    };
    SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
    std::vector<std::string> owners;
    for (int i = 0; i < 40; ++i) owners.push_back("user" + std::to_string(i) + "@example.com");
    const auto started = std::chrono::steady_clock::now();
    auto read = read_with(source, owners, {}, kNow);
    FullRead result = co_await std::move(read);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(result.identities.size(), 40u);
    EXPECT_EQ(server.connections(), 8);  // one keep-alive connection per query in flight
    // 40 answers of 40 ms each: one at a time would take 1.6 s.
    EXPECT_LT(took, std::chrono::milliseconds(1200));
  });
}

TEST(SamlSource, OwnersAreAskedAgainOnlyAfterPollIntervalAndNewOwnersAtOnce) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.handler = [](const RecordedRequest& request) {
      return soap(signed_answer(asked_about(request), {"palette-users"}));
    };
    SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
    EXPECT_EQ(source.poll_interval(), std::optional<Duration>(Duration{900}));  // the 15m default
    auto first = read_with(source, {"a@example.com", "b@example.com"}, {}, kNow);
    co_await std::move(first);
    EXPECT_EQ(server.requests().size(), 2u);
    // A reconcile 5 minutes later with one new owner: only the new one is asked.
    auto second = read_with(source, {"a@example.com", "b@example.com", "c@example.com"}, {}, kNow + Duration{300});
    FullRead result = co_await std::move(second);
    EXPECT_EQ(server.requests().size(), 3u);
    EXPECT_EQ(result.identities.size(), 3u);
    // 15 minutes after the first poll, a and b are asked again (c is still fresh).
    auto third = read_with(source, {"a@example.com", "b@example.com", "c@example.com"}, {}, kNow + Duration{900});
    co_await std::move(third);
    EXPECT_EQ(server.requests().size(), 5u);
  });
}

TEST(SamlSource, NoOwnersNoQueries) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    SamlSource source(config_for(server.url()), co_await net::this_coro::executor, fixed_query_id());
    auto read = read_with(source, {}, {{"answered", R"(["alice@example.com"])"}}, kNow);
    FullRead result = co_await std::move(read);
    EXPECT_TRUE(result.identities.empty());
    EXPECT_TRUE(server.requests().empty());
    EXPECT_EQ(parse_answered_cursor(result.cursors["answered"]), std::vector<std::string>{"alice@example.com"});
  });
}

}  // namespace
}  // namespace keywarden
