// An asynchronous HTTP/1.1 server on Beast, for the daemon's webhooks (SCIM,
// Okta hooks, /metrics) and for the Palette simulator.
//
// The server owns the transport: it accepts connections, optionally runs a
// TLS handshake, reads requests under size and time limits, and answers the
// protocol errors itself (400 malformed, 408 too slow, 413 body too large,
// 431 header too large, 501 unknown transfer coding). Everything else goes to
// one Handler, which sees plain structs and never needs Beast. One session
// per connection; requests on a connection are handled one at a time, in
// order (keep-alive and pipelining work).
//
// Hostile clients: a request whose framing is ambiguous (Transfer-Encoding
// with Content-Length, a final coding other than chunked; RFC 9112 §6.1,
// §6.3) is refused and its connection closed, so bytes after it are never
// read as another request. Connections are capped in total and per client
// address, so one address cannot take every slot. An optional HeaderCheck
// refuses a request on its header alone, before its body is read or
// "100 Continue" is sent. Memory held after a burst of large bodies is given
// back to the system once the burst is over.
//
// Threading: each connection runs on its own strand of the executor given to
// the constructor, so the server works with an io_context run by one thread
// or several. Handlers of different connections may then run concurrently;
// with one thread they never do. A caller that runs the io_context on one
// thread only says so (set_single_threaded), and connections then run on the
// executor itself: a strand there orders nothing and costs each request
// several executor copies and a lock.
#pragma once

#include <utility>  // before awaitable.hpp: Boost 1.74's uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/base/listen_address.h"

namespace boost::asio::ssl {
class context;
}

namespace keywarden::server {

// A request as the handler sees it. The body is complete (never streamed).
struct Request {
  std::string method;  // as received, e.g. "GET"
  std::string target;  // as received: path + optional "?query"
  std::string path;    // target up to '?', not percent-decoded
  std::string query;   // after '?', not decoded; "" when absent
  // Names lower-cased. Repeated fields are joined with ", " (RFC 9110 5.3).
  std::map<std::string, std::string> headers;
  std::string body;
  std::string remote_address;  // peer IP, e.g. "127.0.0.1" or "::1"
  bool tls = false;            // arrived over HTTPS
  // The server's HeaderCheck saw this request's head and let it through
  // (false when none is set). A Handler need not run the same check again.
  bool head_checked = false;

  // The header's value, or nullopt when absent. `name` in lower case.
  std::optional<std::string> header(std::string_view name) const;
  // The first query parameter called `name`, percent-decoded ('+' is a
  // space); nullopt when absent or badly escaped.
  std::optional<std::string> query_param(std::string_view name) const;
};

// A response. The server sets Content-Length and Connection; handler headers
// of those names (and Transfer-Encoding) are ignored, as are names or values
// holding CR, LF or NUL. A status outside 200..599 is answered as 500. A 204
// or 304 is sent without body; a HEAD request gets the headers only.
struct Response {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
  std::string content_type;  // empty: no Content-Type header
  bool close = false;        // close the connection after this response

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
};

// Looks at a request's head (method, target, path, query, headers,
// remote_address, tls; body empty, not yet read) before the server reads the
// body or sends "100 Continue". Returning a response refuses the request:
// the server sends it with "Connection: close" and closes the connection
// without reading the body. Returning nullopt lets the request proceed to the
// Handler. Runs on the connection's strand and must not block; an exception
// is answered 500 and reported to the error log.
using HeaderCheck = std::function<std::optional<Response>(const Request& head)>;

// Answers one request. Runs on the connection's strand and may co_await
// (timers, other I/O). Returning std::nullopt closes the connection without
// answering (used for fault injection). An exception becomes a 500 and is
// reported to the error log. The server does not bound the handler's time.
using Handler = std::function<boost::asio::awaitable<std::optional<Response>>(Request)>;

// Where to listen: one parser for the config and the server (see
// daemon/base/listen_address.h). `host` is an IP literal or a name resolved
// once at construction; port 0 picks an ephemeral port (see HttpServer::port()).
using keywarden::ListenAddress;
using keywarden::parse_listen_address;

struct Limits {
  std::size_t header_limit = 16 * 1024;   // request line + fields; above: 431
  std::size_t body_limit = 1024 * 1024;   // decoded body; above: 413
  // Above either cap a new connection is closed at once, unanswered. The
  // per-address cap keeps room for other clients when one address opens
  // connections without end; IPv6 clients count by /64 prefix (one host
  // usually holds a whole /64). The server lowers max_connections to what
  // RLIMIT_NOFILE allows (keeping 64 descriptors for the rest of the
  // process), and the per-address cap to at most half of max_connections.
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_address = 128;
  // Time allowed to a kept-alive connection to start its next request; then
  // it is closed silently (no 408: the client has not asked anything).
  std::chrono::milliseconds idle_timeout{60'000};
  // Time from connection (or from a request's first byte, on a kept-alive
  // connection) to the end of the header. A client that sent part of a
  // request gets 408; one that sent nothing is closed silently.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};  // end of header to end of body; then 408
  std::chrono::milliseconds write_timeout{30'000};  // each response write
  std::chrono::milliseconds handshake_timeout{10'000};  // TLS handshake and TLS shutdown
  // After an error response (400/408/413/431) the server stops sending and
  // drains what the client still sends for up to this long before closing,
  // so the client reads the answer instead of a connection reset.
  std::chrono::milliseconds linger_timeout{2'000};
};

// Receives one line per problem the server handles without a caller: accept
// failures, handler exceptions. Never request contents.
using ErrorLog = std::function<void(std::string_view)>;

namespace detail {
struct ServerCore;
}

class HttpServer {
 public:
  // Opens, binds and listens at once, so port() is known when this returns.
  // Throws boost::system::system_error when the address cannot be resolved
  // or bound. When `tls` is not null every connection is HTTPS; the context
  // must stay valid until the executor's context stops running.
  HttpServer(boost::asio::any_io_executor executor, ListenAddress listen, Handler handler,
             Limits limits = {}, boost::asio::ssl::context* tls = nullptr);
  // Calls stop(). Sessions still running keep what they need alive.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the real one when constructed with port 0).
  std::uint16_t port() const;

  // Where problems go; default: nowhere. Set before start().
  void set_error_log(ErrorLog log);

  // Checks every request's head before its body is read; default: none.
  // Set before start().
  void set_header_check(HeaderCheck check);

  // The executor's io_context is run by one thread only, for as long as the
  // server lives: connections need no strand of their own (see Threading
  // above). Default: false (any number of threads). Set before start().
  void set_single_threaded(bool single);

  // Starts accepting. Call once.
  void start();

  // Stops accepting and closes idle connections (including ones still in
  // their TLS handshake or waiting for their first request). A request being
  // read or handled is finished and answered with "Connection: close". Safe
  // from any thread, idempotent, does not block: once in-flight requests are
  // done the server holds no more work, so the io_context's run() returns if
  // nothing else keeps it busy.
  void stop();

 private:
  std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace keywarden::server
