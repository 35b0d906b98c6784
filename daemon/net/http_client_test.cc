#include "daemon/net/http_client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <unistd.h>

#include <fstream>

#include "daemon/net/scripted_http_server_test.h"

namespace keywarden {
namespace {

namespace net = boost::asio;
using testing::RecordedRequest;
using testing::run_with_server;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;
using Action = ScriptedReply::Action;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

net::awaitable<void> sleep_for(milliseconds d) {
  // (Executors are fetched into a local first throughout: GCC 12 destroys
  // temporaries twice when a co_await sits in the same constructor call.)
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex, d);
  co_await timer.async_wait(net::use_awaitable);
}

HttpRequest get(std::string target) {
  HttpRequest request;
  request.target = std::move(target);
  return request;
}

TEST(HttpClient, SendsHostUserAgentContentLengthAndBody) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    auto reply = ScriptedReply::json(201, R"({"ok":true})");
    reply.headers.emplace_back("X-Palette-Thing", "Value");
    server.enqueue(reply);
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));

    HttpRequest request;
    request.method = "PUT";
    request.target = "/v1/things/1?x=y";
    request.headers["Accept"] = "application/json";
    request.body = R"({"isActive":false})";
    HttpResponse response = co_await client.send(request);

    EXPECT_EQ(response.status, 201);
    EXPECT_EQ(response.body, R"({"ok":true})");
    EXPECT_EQ(response.header("x-palette-thing"), "Value");  // names lower-cased
    EXPECT_EQ(response.header("content-type"), "application/json");
    EXPECT_EQ(response.header("absent"), "");

    EXPECT_EQ(server.requests().size(), 1u);
    const RecordedRequest& seen = server.requests().at(0);
    EXPECT_EQ(seen.method, "PUT");
    EXPECT_EQ(seen.target, "/v1/things/1?x=y");
    EXPECT_EQ(seen.header("host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(seen.header("user-agent"), "keywarden/0.1");
    EXPECT_EQ(seen.header("content-length"), "18");
    EXPECT_EQ(seen.header("accept"), "application/json");
    EXPECT_EQ(seen.body, R"({"isActive":false})");
  });
}

TEST(HttpClient, ReusesOneKeepAliveConnection) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    for (int i = 0; i < 3; ++i) server.enqueue(ScriptedReply::json(200, "{}"));
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));
    for (int i = 0; i < 3; ++i) {
      HttpResponse r = co_await client.send(get("/a"));
      EXPECT_EQ(r.status, 200);
    }
    EXPECT_EQ(server.connections(), 1);
  });
}

TEST(HttpClient, OpensANewConnectionAfterConnectionClose) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    auto closing = ScriptedReply::json(200, "{}");
    closing.close_after = true;
    server.enqueue(closing);
    server.enqueue(ScriptedReply::json(200, "{}"));
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));
    {
      HttpResponse r = co_await client.send(get("/a"));
      EXPECT_EQ(r.status, 200);
    }
    {
      HttpResponse r = co_await client.send(get("/b"));
      EXPECT_EQ(r.status, 200);
    }
    EXPECT_EQ(server.connections(), 2);
  });
}

// A server may close an idle keep-alive connection at any time; the next
// request must not fail because of it.
TEST(HttpClient, ReconnectsOnceWhenTheServerClosedAnIdleConnection) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    auto first = ScriptedReply::json(200, "{}");
    first.silent_close_after = true;
    server.enqueue(first);
    server.enqueue(ScriptedReply::json(204, ""));
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));
    {
      HttpResponse r = co_await client.send(get("/a"));
      EXPECT_EQ(r.status, 200);
    }
    co_await sleep_for(milliseconds(50));  // let the server's close land
    {
      HttpResponse r = co_await client.send(get("/b"));
      EXPECT_EQ(r.status, 204);
    }
    EXPECT_EQ(server.connections(), 2);
    EXPECT_EQ(server.requests().size(), 2u);
  });
}

TEST(HttpClient, DoesNotRetryWhenAFreshConnectionDrops) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::with_action(Action::drop));
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));
    bool threw = false;
    try {
      co_await client.send(get("/a"));
    } catch (const boost::system::system_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(server.requests().size(), 1u);
    EXPECT_EQ(server.connections(), 1);
  });
}

TEST(HttpClient, ReconnectsOnlyOnceThenThrows) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(200, "{}"));
    server.enqueue(ScriptedReply::with_action(Action::drop));
    server.enqueue(ScriptedReply::with_action(Action::drop));
    server.enqueue(ScriptedReply::json(200, "{}"));
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));
    {
      HttpResponse r = co_await client.send(get("/a"));
      EXPECT_EQ(r.status, 200);
    }
    bool threw = false;
    try {
      co_await client.send(get("/b"));
    } catch (const boost::system::system_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(server.requests().size(), 3u);
    EXPECT_EQ(server.connections(), 2);
    // The error closed the connection; the next request opens a new one.
    {
      HttpResponse r = co_await client.send(get("/c"));
      EXPECT_EQ(r.status, 200);
    }
    EXPECT_EQ(server.connections(), 3);
  });
}

// Once part of a response arrived the server saw the request; sending it
// again could repeat its effect, so the client reports the failure instead.
TEST(HttpClient, DoesNotRetryAfterAPartialResponse) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::json(200, "{}"));
    server.enqueue(ScriptedReply::with_action(Action::partial));
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));
    {
      HttpResponse r = co_await client.send(get("/a"));
      EXPECT_EQ(r.status, 200);
    }
    bool threw = false;
    try {
      co_await client.send(get("/b"));
    } catch (const boost::system::system_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(server.requests().size(), 2u);
  });
}

TEST(HttpClient, TimesOutOnAServerThatNeverAnswers) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    server.enqueue(ScriptedReply::with_action(Action::hang));
    server.enqueue(ScriptedReply::json(200, "{}"));
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(200));
    const auto start = steady_clock::now();
    boost::system::error_code error;
    try {
      co_await client.send(get("/a"));
    } catch (const boost::system::system_error& e) {
      error = e.code();
    }
    EXPECT_EQ(error, boost::beast::error::timeout);
    EXPECT_GE(steady_clock::now() - start, milliseconds(200));
    // A timed-out connection is not reused.
    {
      HttpResponse r = co_await client.send(get("/b"));
      EXPECT_EQ(r.status, 200);
    }
    EXPECT_EQ(server.connections(), 2);
  });
}

// A server (or something in between) must not make us buffer without end,
// whether the body is announced by Content-Length, chunked, or runs to EOF.
TEST(HttpClient, EnforcesTheBodyLimit) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    auto chunked = ScriptedReply::json(200, std::string(1000, 'y'));
    chunked.headers.emplace_back("Transfer-Encoding", "chunked");
    server.enqueue(ScriptedReply::json(200, std::string(1000, 'x')));
    server.enqueue(chunked);
    server.enqueue(ScriptedReply::json(200, std::string(100, 'z')));  // exactly at the limit
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000), 100);
    for (const char* target : {"/content-length", "/chunked"}) {
      boost::system::error_code error;
      try {
        HttpResponse r = co_await client.send(get(target));
        ADD_FAILURE() << target << ": got " << r.status << " with " << r.body.size() << " bytes";
      } catch (const boost::system::system_error& e) {
        error = e.code();
      }
      EXPECT_EQ(error, boost::beast::http::error::body_limit) << target;
    }
    HttpResponse at_limit = co_await client.send(get("/at-limit"));
    EXPECT_EQ(at_limit.body.size(), 100u);
  });
}

TEST(HttpClient, ConnectionRefusedThrows) {
  net::io_context io;
  unsigned short port;
  {
    net::ip::tcp::acceptor probe(io, {net::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  bool threw = false;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto ex = co_await net::this_coro::executor;
    HttpClient client(ex,
                          *parse_url("http://127.0.0.1:" + std::to_string(port)), {}, milliseconds(2000));
        try {
          co_await client.send(get("/"));
        } catch (const boost::system::system_error&) {
          threw = true;
        }
      },
      net::detached);
  io.run_for(std::chrono::seconds(30));
  EXPECT_TRUE(threw);
}

TEST(HttpClient, RejectsHeaderInjection) {
  run_with_server([](ScriptedHttpServer& server) -> net::awaitable<void> {
    auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url()), {}, milliseconds(5000));
    HttpRequest request = get("/a");
    request.headers["X-Evil"] = "a\r\nProjectUid: p";
    bool threw = false;
    try {
      co_await client.send(request);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(server.requests().size(), 0u);
  });
}

// --- TLS ---------------------------------------------------------------

struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
};

// A throwaway self-signed certificate for `dns_name`, made in memory.
TestCertificate make_self_signed(const std::string& dns_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(dns_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const std::string san = "DNS:" + dns_name;
  for (auto [nid, value] : {std::pair<int, const char*>{NID_subject_alt_name, san.c_str()},
                            {NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());

  auto to_string = [](BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(size));
    BIO_free(bio);
    return out;
  };
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  TestCertificate out{to_string(cert_bio), to_string(key_bio)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// A file name in the test temp folder that no other test process uses.
std::string unique_temp_file(const std::string& name) {
  return ::testing::TempDir() + "keywarden_http_client_test_" + std::to_string(::getpid()) + "_" + name;
}

class HttpClientTls : public ::testing::Test {
 protected:
  void use_certificate_for(const std::string& dns_name) {
    const TestCertificate cert = make_self_signed(dns_name);
    server_context_.use_certificate_chain(net::buffer(cert.cert_pem));
    server_context_.use_private_key(net::buffer(cert.key_pem), net::ssl::context::pem);
    // One file per process: ctest runs these tests in parallel processes,
    // each with a certificate of its own, and a shared name let one test
    // read another's CA file halfway through (a failed verification).
    ca_file_ = unique_temp_file("ca_" + dns_name + ".pem");
    std::ofstream(ca_file_) << cert.cert_pem;
  }

  // Sends one GET to the TLS server at `host`; returns the status, or -1 when it threw.
  int get_over_tls(const std::string& host, TlsOptions tls) {
    int status = -1;
    run_with_server(
        [&](ScriptedHttpServer& server) -> net::awaitable<void> {
          server.enqueue(ScriptedReply::json(200, "{}"));
          auto ex = co_await net::this_coro::executor;
    HttpClient client(ex, *parse_url(server.url(host)), tls,
                            milliseconds(5000));
          try {
            HttpResponse r = co_await client.send(get("/secure"));
            status = r.status;
          } catch (const boost::system::system_error& e) {
            status = -1;
            last_error_ = e.what();
          }
        },
        &server_context_);
    return status;
  }
  std::string last_error_;  // why the last get_over_tls failed

  net::ssl::context server_context_{net::ssl::context::tls_server};
  std::string ca_file_;
};

TEST_F(HttpClientTls, TrustsTheExtraCaFileAndChecksTheHostName) {
  use_certificate_for("localhost");
  EXPECT_EQ(get_over_tls("localhost", {.ca_file = ca_file_}), 200) << last_error_;
}

TEST_F(HttpClientTls, RejectsAnUnknownIssuer) {
  use_certificate_for("localhost");
  EXPECT_EQ(get_over_tls("localhost", {}), -1);
}

TEST_F(HttpClientTls, RejectsACertificateForAnotherHost) {
  use_certificate_for("other.example");
  EXPECT_EQ(get_over_tls("localhost", {.ca_file = ca_file_}), -1);
}

// A server that demands a client certificate (a SAML attribute authority
// authenticating keywarden by TLS) gets the configured one.
TEST_F(HttpClientTls, PresentsTheClientCertificateWhenAsked) {
  use_certificate_for("localhost");
  const TestCertificate client = make_self_signed("keywarden-client");
  const std::string cert_file = unique_temp_file("client.crt");
  const std::string key_file = unique_temp_file("client.key");
  std::ofstream(cert_file) << client.cert_pem;
  std::ofstream(key_file) << client.key_pem;
  server_context_.add_certificate_authority(net::buffer(client.cert_pem));
  server_context_.set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);

  EXPECT_EQ(get_over_tls("localhost", {.ca_file = ca_file_}), -1) << "no client certificate: refused";
  EXPECT_EQ(get_over_tls("localhost", {.ca_file = ca_file_, .client_certificate_file = cert_file,
                                       .client_key_file = key_file}),
            200)
      << last_error_;
}

TEST_F(HttpClientTls, VerificationCanBeTurnedOff) {
  use_certificate_for("other.example");
  EXPECT_EQ(get_over_tls("localhost", {.verify = false}), 200) << last_error_;
}

}  // namespace
}  // namespace keywarden
