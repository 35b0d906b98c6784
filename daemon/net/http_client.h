// An asynchronous HTTP/1.1 client on Beast for one origin, with keep-alive.
//
// One HttpClient holds at most one connection and sends one request at a
// time (callers serialize; the Palette client paces anyway). TLS verifies the
// peer against the system store plus an optional CA file, and checks the host
// name (SNI set). Every request is bounded by `timeout`. Connection errors and
// timeouts throw boost::system::system_error; an HTTP status is never an
// exception. The connection is re-opened on the next request after an error
// or a `Connection: close`.
#pragma once

#include <utility>  // before Boost: 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "daemon/net/url.h"

namespace keywarden {

struct HttpRequest {
  std::string method = "GET";  // "GET" | "PUT" | "POST" | "PATCH" | "DELETE"
  std::string target;          // path + query
  std::map<std::string, std::string> headers;  // Host and Content-Length are set for you
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The header value, or "" when absent. `name` in lower case.
  std::string header(const std::string& name) const;
};

// Up to `limit` bytes of a response body, printable ASCII only (other bytes
// become spaces), "..." when cut: enough of a proxy's error page for an error
// message without flooding the log.
std::string printable_snippet(const std::string& body, size_t limit = 200);

struct TlsOptions {
  std::string ca_file;  // extra PEM bundle; empty: system store only
  bool verify = true;
  // A PEM certificate (chain) and its unencrypted PEM private key presented
  // to servers that ask for a client certificate; both or neither. A file
  // that cannot be loaded makes the constructor throw
  // boost::system::system_error (OpenSSL's reason, never key material).
  std::string client_certificate_file;
  std::string client_key_file;
};

class HttpClient {
 public:
  // `origin` gives scheme, host and port; its target is ignored.
  HttpClient(boost::asio::any_io_executor executor, Url origin, TlsOptions tls,
             std::chrono::milliseconds timeout, size_t max_body_bytes = 64 * 1024 * 1024);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<HttpResponse> send(HttpRequest request);

  // Drops the connection (the next send opens a new one).
  void close();

  // By default a request that fails on a reused keep-alive connection before
  // any response byte (the server closed it while idle) is sent once more on
  // a fresh connection. A caller that must count every request the server
  // may have received (a paced client) turns this off and retries itself.
  void set_resend_on_stale(bool resend);
  // When the connection has been idle this long, the next send opens a new
  // one instead of risking a stale keep-alive. Zero (the default) never.
  void set_max_idle(std::chrono::milliseconds idle);

  const Url& origin() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keywarden
