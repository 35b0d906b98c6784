// Test-only: a tiny HTTP/1.1 server on 127.0.0.1:0 that answers from a script
// and records every request, for the tests of HttpClient and its users.
//
// It runs on the test's own io_context (one thread), so the recorded requests
// can be read from the test coroutine without locks. Besides normal answers
// it can misbehave the ways real servers and networks do: drop the
// connection without answering, hang forever, send half a response, or close
// an idle keep-alive connection behind the client's back.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace keywarden::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int connection = 0;  // 1-based index of the connection it arrived on
  std::chrono::steady_clock::time_point received_at;

  bool has_header(const std::string& lower_name) const { return headers.count(lower_name) != 0; }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct ScriptedReply {
  enum class Action {
    respond,  // a normal answer
    drop,     // close the connection without answering
    hang,     // never answer, keep the connection open
    partial,  // promise a body, send part of it, close
  };
  Action action = Action::respond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close_after = false;         // answer with "Connection: close", then close
  bool silent_close_after = false;  // answer keep-alive, then close anyway (an idle-timeout close)
  std::chrono::milliseconds delay{0};

  static ScriptedReply json(int status, std::string body) {
    ScriptedReply r;
    r.status = status;
    r.body = std::move(body);
    if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    return r;
  }
  static ScriptedReply with_action(Action action) {
    ScriptedReply r;
    r.action = action;
    return r;
  }
};

class ScriptedHttpServer {
 public:
  using Handler = std::function<ScriptedReply(const RecordedRequest&)>;

  // Listens on 127.0.0.1 on a free port. With `tls`, speaks only HTTPS.
  explicit ScriptedHttpServer(boost::asio::any_io_executor executor, boost::asio::ssl::context* tls = nullptr)
      : executor_(executor), acceptor_(executor), tls_(tls) {
    using boost::asio::ip::tcp;
    const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(executor_, accept_loop(), boost::asio::detached);
  }

  unsigned short port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
  }

  // Answers come from `handler` when set, else from the queue, else 599.
  Handler handler;
  void enqueue(ScriptedReply reply) { queue_.push_back(std::move(reply)); }

  const std::vector<RecordedRequest>& requests() const { return requests_; }
  int connections() const { return connections_; }

  // Stops accepting and closes every connection, so that the io_context can run out of work.
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& socket : sockets_) socket->close(ignored);
  }

 private:
  using Socket = boost::asio::ip::tcp::socket;

  ScriptedReply next_reply(const RecordedRequest& request) {
    if (handler) return handler(request);
    if (queue_.empty()) return ScriptedReply::json(599, R"({"code":"ScriptExhausted"})");
    ScriptedReply reply = std::move(queue_.front());
    queue_.pop_front();
    return reply;
  }

  boost::asio::awaitable<void> accept_loop() {
    namespace net = boost::asio;
    for (;;) {
      boost::system::error_code ec;
      Socket socket = co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;  // stopped
      auto shared = std::make_shared<Socket>(std::move(socket));
      sockets_.push_back(shared);
      net::co_spawn(executor_, serve(shared, ++connections_), net::detached);
    }
  }

  boost::asio::awaitable<void> serve(std::shared_ptr<Socket> socket, int connection) {
    namespace net = boost::asio;
    if (!tls_) {
      co_await serve_stream(*socket, *socket, connection);
      co_return;
    }
    net::ssl::stream<Socket&> stream(*socket, *tls_);
    boost::system::error_code ec;
    co_await stream.async_handshake(net::ssl::stream_base::server, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      socket->close(ec);
      co_return;
    }
    co_await serve_stream(stream, *socket, connection);
  }

  template <class Stream>
  boost::asio::awaitable<void> serve_stream(Stream& stream, Socket& socket, int connection) {
    namespace net = boost::asio;
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      co_await http::async_read(stream, buffer, request, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        socket.close(ec);
        co_return;
      }
      RecordedRequest recorded;
      recorded.method = std::string(request.method_string());
      recorded.target = std::string(request.target());
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        recorded.headers[name] = std::string(field.value());
      }
      recorded.body = request.body();
      recorded.connection = connection;
      recorded.received_at = std::chrono::steady_clock::now();
      requests_.push_back(recorded);

      ScriptedReply reply = next_reply(recorded);
      if (reply.delay.count() > 0) {
        net::steady_timer timer(executor_, reply.delay);
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      switch (reply.action) {
        case ScriptedReply::Action::drop:
          socket.close(ec);
          co_return;
        case ScriptedReply::Action::hang:
          co_return;  // the socket stays open in sockets_ until stop()
        case ScriptedReply::Action::partial: {
          static const std::string kHalf =
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"items\":[";
          co_await net::async_write(stream, net::buffer(kHalf), net::redirect_error(net::use_awaitable, ec));
          socket.close(ec);
          co_return;
        }
        case ScriptedReply::Action::respond:
          break;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), request.version()};
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      response.body() = reply.body;
      response.keep_alive(!reply.close_after && request.keep_alive());
      if (response[http::field::transfer_encoding] == "chunked") {
        response.chunked(true);
      } else {
        response.prepare_payload();
      }
      co_await http::async_write(stream, response, net::redirect_error(net::use_awaitable, ec));
      if (ec || reply.close_after || reply.silent_close_after || !request.keep_alive()) {
        socket.close(ec);
        co_return;
      }
    }
  }

  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ssl::context* tls_;
  unsigned short port_ = 0;
  std::deque<ScriptedReply> queue_;
  std::vector<RecordedRequest> requests_;
  std::vector<std::shared_ptr<Socket>> sockets_;
  int connections_ = 0;
};

// Runs the coroutine `body(server)` on a fresh io_context beside a server,
// then stops the server. Rethrows what `body` threw. A test that has not
// finished after `limit` fails instead of hanging the suite.
template <class Body>
void run_with_server(Body body, boost::asio::ssl::context* tls = nullptr,
                     std::chrono::seconds limit = std::chrono::seconds(60)) {
  namespace net = boost::asio;
  net::io_context io;
  ScriptedHttpServer server(io.get_executor(), tls);
  std::exception_ptr error;
  bool finished = false;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        try {
          co_await body(server);
        } catch (...) {
          error = std::current_exception();
        }
        finished = true;
        server.stop();
      },
      net::detached);
  io.run_for(limit);
  if (!finished) ADD_FAILURE() << "test did not finish within " << limit.count() << "s";
  if (error) std::rethrow_exception(error);
}

}  // namespace keywarden::testing
