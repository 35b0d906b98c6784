#include "daemon/net/http_client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <memory>
#include <optional>
#include <stdexcept>

#include "daemon/base/ascii.h"

namespace keywarden {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;
using boost::system::system_error;

namespace {

constexpr const char* kUserAgent = "keywarden/0.1";
constexpr unsigned kHeaderLimit = 64 * 1024;

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// True for the ways a peer that closed an idle keep-alive connection shows up
// on our next write or read. Anything else (a timeout above all) is a real
// failure and is not retried.
bool is_stale_connection_error(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted || ec == net::error::not_connected ||
         ec == net::ssl::error::stream_truncated;
}

// "host" or "host:port" (brackets for IPv6), the port only when not the default.
std::string host_header(const Url& url) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string out = ipv6 ? "[" + url.host + "]" : url.host;
  const bool default_port = (url.tls() && url.port == "443") || (!url.tls() && url.port == "80");
  if (!default_port) out += ":" + url.port;
  return out;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

class HttpClient::Impl {
 public:
  Impl(net::any_io_executor executor, Url origin, TlsOptions tls, std::chrono::milliseconds timeout,
       size_t max_body_bytes)
      : executor_(std::move(executor)),
        origin_(std::move(origin)),
        timeout_(timeout),
        max_body_bytes_(max_body_bytes),
        resolver_(executor_),
        resolve_timer_(executor_) {
    if (origin_.tls()) {
      ssl_context_.emplace(ssl::context::tls_client);
      ssl_context_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      if (tls.verify) {
        ssl_context_->set_default_verify_paths();
        if (!tls.ca_file.empty()) ssl_context_->load_verify_file(tls.ca_file);
        ssl_context_->set_verify_mode(ssl::verify_peer);
      } else {
        ssl_context_->set_verify_mode(ssl::verify_none);
      }
      if (!tls.client_certificate_file.empty() || !tls.client_key_file.empty()) {
        ssl_context_->use_certificate_chain_file(tls.client_certificate_file);
        ssl_context_->use_private_key_file(tls.client_key_file, ssl::context::pem);
      }
    }
  }

  const Url& origin() const { return origin_; }

  void close() {
    // No TLS close_notify: a graceful shutdown waits on the peer, and nothing
    // we send depends on it (every response is length-delimited).
    error_code ignored;
    if (plain_) plain_->socket().close(ignored);
    if (secure_) beast::get_lowest_layer(*secure_).socket().close(ignored);
    plain_.reset();
    secure_.reset();
    connected_ = false;
  }

  net::awaitable<HttpResponse> send(HttpRequest request) {
    const http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) throw std::invalid_argument("HttpClient: unknown method " + request.method);
    if (request.target.empty() || request.target.front() != '/' || has_line_break(request.target) ||
        request.target.find(' ') != std::string::npos) {
      throw std::invalid_argument("HttpClient: bad request target");
    }

    http::request<http::string_body> message{verb, request.target, 11};
    message.set(http::field::host, host_header(origin_));
    message.set(http::field::user_agent, kUserAgent);
    for (const auto& [name, value] : request.headers) {
      if (name.empty() || has_line_break(name) || has_line_break(value)) {
        throw std::invalid_argument("HttpClient: header with a line break");
      }
      message.set(name, value);
    }
    message.body() = std::move(request.body);
    message.prepare_payload();

    // One deadline for the whole exchange, including a transparent reconnect.
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    if (connected_ && max_idle_.count() > 0 && std::chrono::steady_clock::now() - last_used_ > max_idle_) close();
    for (int attempt = 0;; ++attempt) {
      const bool reused = connected_;
      if (!connected_) co_await connect(deadline);

      error_code ec;
      bool got_response_bytes = false;
      HttpResponse response;
      if (origin_.tls()) {
        response = co_await exchange(*secure_, message, deadline, ec, got_response_bytes);
      } else {
        response = co_await exchange(*plain_, message, deadline, ec, got_response_bytes);
      }
      if (!ec) {
        last_used_ = std::chrono::steady_clock::now();
        co_return response;
      }

      close();
      // A server may close an idle keep-alive connection just as we reuse it.
      // A closed-connection error before any response byte means the request
      // went unanswered: send it once more on a fresh connection. Anything
      // else (a timeout above all) is the caller's to handle.
      if (resend_on_stale_ && reused && attempt == 0 && !got_response_bytes && is_stale_connection_error(ec)) {
        continue;
      }
      throw system_error(ec);
    }
  }

 private:
  using PlainStream = beast::tcp_stream;
  using SecureStream = beast::ssl_stream<beast::tcp_stream>;

  // Resolves and connects (and, for https, handshakes) before `deadline`.
  // Throws system_error on failure, leaving the client disconnected.
  net::awaitable<void> connect(std::chrono::steady_clock::time_point deadline) {
    close();
    buffer_.clear();
    const tcp::resolver::results_type endpoints = co_await resolve(deadline);

    error_code ec;
    if (origin_.tls()) {
      secure_.emplace(executor_, *ssl_context_);
      if (!is_ip_literal(origin_.host) && !SSL_set_tlsext_host_name(secure_->native_handle(), origin_.host.c_str())) {
        ec.assign(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
        close();
        throw system_error(ec, "TLS SNI");
      }
      secure_->set_verify_callback(ssl::host_name_verification(origin_.host));
      auto& lowest = beast::get_lowest_layer(*secure_);
      lowest.expires_at(deadline);
      co_await lowest.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
      if (!ec) {
        lowest.expires_at(deadline);
        co_await secure_->async_handshake(ssl::stream_base::client, net::redirect_error(net::use_awaitable, ec));
      }
    } else {
      plain_.emplace(executor_);
      plain_->expires_at(deadline);
      co_await plain_->async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
      close();
      throw system_error(ec);
    }
    connected_ = true;
  }

  // The resolver has no expiry of its own: a timer cancels it at `deadline`.
  net::awaitable<tcp::resolver::results_type> resolve(std::chrono::steady_clock::time_point deadline) {
    // Shared with the timer's handler, which may already be queued when the
    // resolve completes: `pending` turns false so that a late handler does nothing.
    struct ResolveState {
      bool pending = true;
      bool timed_out = false;
    };
    auto state = std::make_shared<ResolveState>();
    resolve_timer_.expires_at(deadline);
    resolve_timer_.async_wait([this, state](const error_code& ec) {
      if (ec || !state->pending) return;  // the resolve finished first
      state->timed_out = true;
      resolver_.cancel();
    });
    error_code ec;
    auto results =
        co_await resolver_.async_resolve(origin_.host, origin_.port, net::redirect_error(net::use_awaitable, ec));
    state->pending = false;
    resolve_timer_.cancel();
    if (state->timed_out) throw system_error(beast::error::timeout, "resolve " + origin_.host);
    if (ec) throw system_error(ec, "resolve " + origin_.host);
    co_return results;
  }

  // Writes `message` and reads one response before `deadline`. Reports
  // failure through `ec`; `got_response_bytes` says whether any of the
  // response had arrived (after which a retry could repeat the request's effect).
  template <class Stream>
  net::awaitable<HttpResponse> exchange(Stream& stream, http::request<http::string_body>& message,
                                        std::chrono::steady_clock::time_point deadline, error_code& ec,
                                        bool& got_response_bytes) {
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_at(deadline);
    co_await http::async_write(stream, message, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return HttpResponse{};

    http::response_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(max_body_bytes_);
    const size_t buffered_before = buffer_.size();
    lowest.expires_at(deadline);
    // Header first: Beast 1.74 loses the body_limit error for a Content-Length
    // body that arrives in the same read as the header (basic_parser::put
    // carries on into the body), so the declared length is checked here too.
    co_await http::async_read_header(stream, buffer_, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec && parser.content_length() && *parser.content_length() > max_body_bytes_) ec = http::error::body_limit;
    if (!ec && !parser.is_done()) {
      co_await http::async_read(stream, buffer_, parser, net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
      got_response_bytes = parser.got_some() || buffer_.size() > buffered_before;
      co_return HttpResponse{};
    }
    lowest.expires_never();

    http::response<http::string_body> reply = parser.release();
    HttpResponse response;
    response.status = static_cast<int>(reply.result_int());
    for (const auto& field : reply) {
      std::string name = ascii_lower(std::string_view(field.name_string().data(), field.name_string().size()));
      auto [it, inserted] = response.headers.try_emplace(std::move(name), std::string(field.value().data(), field.value().size()));
      if (!inserted) {
        it->second += ", ";
        it->second += std::string_view(field.value().data(), field.value().size());
      }
    }
    response.body = std::move(reply.body());
    if (!reply.keep_alive()) close();
    co_return response;
  }

  net::any_io_executor executor_;
  Url origin_;
  std::chrono::milliseconds timeout_;
  size_t max_body_bytes_;
  std::optional<ssl::context> ssl_context_;
  tcp::resolver resolver_;
  net::steady_timer resolve_timer_;
  std::optional<PlainStream> plain_;
  std::optional<SecureStream> secure_;
  beast::flat_buffer buffer_;
  bool connected_ = false;

 public:
  bool resend_on_stale_ = true;
  std::chrono::milliseconds max_idle_{0};
  std::chrono::steady_clock::time_point last_used_{};

 private:
};

HttpClient::HttpClient(net::any_io_executor executor, Url origin, TlsOptions tls, std::chrono::milliseconds timeout,
                       size_t max_body_bytes)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(origin), std::move(tls), timeout, max_body_bytes)) {}

HttpClient::~HttpClient() = default;

net::awaitable<HttpResponse> HttpClient::send(HttpRequest request) { return impl_->send(std::move(request)); }

std::string printable_snippet(const std::string& body, size_t limit) {
  std::string out;
  for (char c : body.substr(0, limit)) out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  if (body.size() > limit) out += "...";
  return out;
}

void HttpClient::close() { impl_->close(); }

void HttpClient::set_resend_on_stale(bool resend) { impl_->resend_on_stale_ = resend; }

void HttpClient::set_max_idle(std::chrono::milliseconds idle) { impl_->max_idle_ = idle; }

const Url& HttpClient::origin() const { return impl_->origin(); }

}  // namespace keywarden
