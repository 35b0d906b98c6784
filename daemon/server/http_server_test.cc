// HttpServer against a raw socket client: the client writes exact bytes
// (including malformed and oversized ones) and reads exactly what comes back,
// so these tests see the wire, not a client library's interpretation of it.
#include "daemon/server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <random>
#include <thread>

namespace keywarden::server {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A blocking TCP client with a receive deadline on every read.
class RawClient {
 public:
  // `from`: the loopback address to connect from (127.0.0.0/8 all works
  // on Linux), so tests can play several clients.
  explicit RawClient(std::uint16_t port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    if (from) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        ::close(fd_);
        throw std::runtime_error("bind failed");
      }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Sends everything; returns false if the peer closed or reset.
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `done(buffer)` or EOF/error/timeout. Returns false on timeout.
  template <class Done>
  bool read_until(Done done, std::chrono::milliseconds timeout = 5s) {
    auto deadline = Clock::now() + timeout;
    while (!done(buffer_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        eof_ = true;
        return true;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  struct Reply {
    int status = 0;
    std::string head;  // status line + header fields
    std::string body;
    bool header(std::string_view needle) const { return head.find(needle) != std::string::npos; }
  };

  // Reads one response framed by Content-Length (or by EOF). nullopt when the
  // connection closed (or timed out) before a full response arrived.
  std::optional<Reply> read_response(std::chrono::milliseconds timeout = 5s) {
    std::size_t total = 0;
    auto complete = [&](const std::string& b) {
      auto end = b.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      std::size_t length = 0;
      std::string lower_head = b.substr(0, end);
      for (char& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto cl = lower_head.find("content-length:");
      if (cl != std::string::npos) length = std::stoul(lower_head.substr(cl + 15));
      total = end + 4 + length;
      return b.size() >= total;
    };
    if (!read_until(complete, timeout) || !complete(buffer_)) return std::nullopt;
    Reply r;
    auto end = buffer_.find("\r\n\r\n");
    r.head = buffer_.substr(0, end);
    r.body = buffer_.substr(end + 4, total - end - 4);
    r.status = std::stoi(r.head.substr(9, 3));
    buffer_.erase(0, total);
    return r;
  }

  // True when the server closed the connection (EOF or reset) within
  // `timeout` without sending anything more.
  bool closed_silently(std::chrono::milliseconds timeout = 5s) {
    if (!read_until([&](const std::string&) { return eof_; }, timeout)) return false;
    return eof_ && buffer_.empty();
  }

  const std::string& buffered() const { return buffer_; }

  // Sends without waiting when the socket buffer is full; returns the bytes
  // sent (0 when the buffer is full, or the peer closed).
  std::size_t send_some(std::string_view data) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

std::string post(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// Echoes what the server parsed, one fact per line, and offers a few
// behaviours on special paths.
net::awaitable<std::optional<Response>> echo_handler(Request req) {
  if (req.path == "/drop") co_return std::nullopt;
  if (req.path == "/throw") throw std::runtime_error("handler bug");
  if (req.path == "/sleep") {
    net::steady_timer timer(co_await net::this_coro::executor, 300ms);
    co_await timer.async_wait(net::use_awaitable);
  }
  if (req.path == "/nocontent") co_return Response{.status = 204, .body = "ignored"};
  if (req.path == "/weird-headers") {
    Response r = Response::text(42, "x");
    r.headers["X-Ok"] = "fine";
    r.headers["X-Bad"] = "evil\r\nInjected: yes";
    r.headers["Content-Length"] = "999";
    co_return r;
  }
  std::string out = "method=" + req.method + "\npath=" + req.path + "\nquery=" + req.query +
                    "\nbody=" + req.body + "\nremote=" + req.remote_address +
                    "\nx-test=" + req.header("x-test").value_or("<none>") +
                    "\nq=" + req.query_param("q").value_or("<none>") +
                    "\nchecked=" + (req.head_checked ? "yes" : "no") + "\n";
  Response r = Response::text(200, out);
  r.headers["X-Reply"] = "yes";
  co_return r;
}

// Every case runs twice: connections on strands (an io_context of any number
// of threads) and on the executor itself (set_single_threaded, the daemon's).
class HttpServerTest : public ::testing::TestWithParam<bool> {
 protected:
  void start(Limits limits = fast_limits(), Handler handler = echo_handler,
             net::ssl::context* tls = nullptr) {
    server_ = std::make_unique<HttpServer>(ioc_.get_executor(), ListenAddress{"127.0.0.1", 0},
                                           std::move(handler), limits, tls);
    server_->set_error_log([this](std::string_view line) { errors_.push_back(std::string(line)); });
    if (header_check_) server_->set_header_check(header_check_);
    server_->set_single_threaded(GetParam());
    server_->start();
    runner_ = std::async(std::launch::async, [this] { ioc_.run(); });
  }

  static Limits fast_limits() {
    Limits l;
    l.header_timeout = 300ms;
    l.body_timeout = 300ms;
    l.idle_timeout = 300ms;
    l.write_timeout = 1s;
    l.handshake_timeout = 300ms;
    l.linger_timeout = 300ms;
    return l;
  }

  // Stops the server and waits for the io_context to run out of work: a
  // server that leaks work fails here instead of hanging silently.
  bool stop_and_drain(std::chrono::milliseconds timeout = 5s) {
    server_->stop();
    return runner_.wait_for(timeout) == std::future_status::ready;
  }

  void TearDown() override {
    if (server_ && runner_.valid() && !stop_and_drain()) {
      ADD_FAILURE() << "io_context did not run out of work after stop()";
      ioc_.stop();
      runner_.wait();
    }
  }

  std::uint16_t port() const { return server_->port(); }

  HeaderCheck header_check_;  // set before start() to check heads
  net::io_context ioc_;
  std::unique_ptr<HttpServer> server_;
  std::future<void> runner_;
  std::vector<std::string> errors_;  // written on the io thread; read after drain
};

INSTANTIATE_TEST_SUITE_P(Threading, HttpServerTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "SingleThreaded" : "OnStrands";
                         });

TEST_P(HttpServerTest, AnswersGetWithParsedRequest) {
  start();
  ASSERT_NE(port(), 0);
  RawClient c(port());
  ASSERT_TRUE(c.send(get("/v1/things?q=a%20b+c&x=1", "X-Test: hello\r\nx-test: again\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->header("X-Reply: yes"));
  EXPECT_TRUE(r->header("Content-Type: text/plain"));
  EXPECT_NE(r->body.find("method=GET\n"), std::string::npos);
  EXPECT_NE(r->body.find("path=/v1/things\n"), std::string::npos);
  EXPECT_NE(r->body.find("query=q=a%20b+c&x=1\n"), std::string::npos);
  EXPECT_NE(r->body.find("q=a b c\n"), std::string::npos);
  EXPECT_NE(r->body.find("remote=127.0.0.1\n"), std::string::npos);
  EXPECT_NE(r->body.find("x-test=hello, again\n"), std::string::npos) << r->body;
}

TEST_P(HttpServerTest, AnswersPostWithBody) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send(post("/submit", "{\"isActive\":false}")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("method=POST\n"), std::string::npos);
  EXPECT_NE(r->body.find("body={\"isActive\":false}\n"), std::string::npos);
  EXPECT_NE(r->body.find("checked=no\n"), std::string::npos);  // no header check is set
}

TEST_P(HttpServerTest, AcceptsChunkedBody) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("body=hello world\n"), std::string::npos);
}

TEST_P(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send(get("/one")));
  auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->header("Connection: close"));
  ASSERT_TRUE(c.send(post("/two", "2")));
  auto second = c.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_NE(second->body.find("path=/two\n"), std::string::npos);
}

TEST_P(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send(get("/a") + post("/b", "bee") + get("/c")));
  for (std::string path : {"/a", "/b", "/c"}) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_NE(r->body.find("path=" + path + "\n"), std::string::npos);
  }
}

TEST_P(HttpServerTest, ConnectionCloseIsHonoured) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send(get("/x", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->header("Connection: close"));
  EXPECT_TRUE(c.closed_silently());
}

TEST_P(HttpServerTest, Http10ClosesAfterResponse) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c.closed_silently());
}

TEST_P(HttpServerTest, OversizedBodyGets413) {
  start();
  RawClient c(port());
  std::string big(1024 * 1024 + 1, 'x');  // one byte over the default 1 MiB
  c.send(post("/big", big));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(r->header("Connection: close"));
  EXPECT_TRUE(c.closed_silently());
}

TEST_P(HttpServerTest, OversizedChunkedBodyGets413) {
  Limits l = fast_limits();
  l.body_limit = 10;
  start(l);
  RawClient c(port());
  c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
         "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_P(HttpServerTest, BodyAtTheLimitIsAccepted) {
  Limits l = fast_limits();
  l.body_limit = 10;
  start(l);
  RawClient c(port());
  c.send(post("/ok", "0123456789"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(HttpServerTest, OversizedHeaderGets431) {
  start();
  RawClient c(port());
  c.send(get("/h", "X-Big: " + std::string(20 * 1024, 'a') + "\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.closed_silently());
}

TEST_P(HttpServerTest, GarbageGets400AndIsClosed) {
  start();
  RawClient c(port());
  static const char kJunk[] = "\x16\x03\x01\x02\x00 garbage \xff\xfe\r\n\r\n";
  c.send(std::string(kJunk, sizeof kJunk - 1));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.closed_silently());
}

TEST_P(HttpServerTest, BadContentLengthGets400) {
  start();
  RawClient c(port());
  c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_P(HttpServerTest, SlowHeadersGet408AndAreDisconnected) {
  start();
  RawClient c(port());
  auto t0 = Clock::now();
  c.send("GET /slow HTTP/1.1\r\nHost: t\r\n");  // never finishes the header
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed_silently(3s));
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST_P(HttpServerTest, SlowBodyGets408) {
  start();
  RawClient c(port());
  c.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly ten..");
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}

TEST_P(HttpServerTest, SilentClientIsClosedWithoutAnswer) {
  start();
  RawClient c(port());
  auto t0 = Clock::now();
  EXPECT_TRUE(c.closed_silently(3s));
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST_P(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  start();
  RawClient c(port());
  c.send(get("/once"));
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(c.closed_silently(3s));
}

TEST_P(HttpServerTest, NulloptDropsTheConnectionWithoutAnswer) {
  start();
  RawClient c(port());
  c.send(get("/drop"));
  EXPECT_TRUE(c.closed_silently());
}

TEST_P(HttpServerTest, HandlerMayAwaitATimer) {
  start();
  RawClient c(port());
  auto t0 = Clock::now();
  c.send(get("/sleep"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(Clock::now() - t0, 250ms);
}

TEST_P(HttpServerTest, SlowHandlerDoesNotBlockOtherConnections) {
  start();
  RawClient slow(port());
  slow.send(get("/sleep"));
  RawClient fast(port());
  auto t0 = Clock::now();
  fast.send(get("/quick"));
  ASSERT_TRUE(fast.read_response());
  EXPECT_LT(Clock::now() - t0, 250ms);
  ASSERT_TRUE(slow.read_response());
}

TEST_P(HttpServerTest, HandlerExceptionBecomes500AndIsLogged) {
  start();
  RawClient c(port());
  c.send(get("/throw"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  c.send(get("/after"));  // the connection survives
  auto after = c.read_response();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  ASSERT_TRUE(stop_and_drain());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("handler bug"), std::string::npos);
}

TEST_P(HttpServerTest, NoContentHasNoBody) {
  start();
  RawClient c(port());
  c.send(get("/nocontent") + get("/next"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(r->body.empty());
  auto next = c.read_response();  // framing intact
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST_P(HttpServerTest, HandlerCannotInjectHeadersOrBreakFraming) {
  start();
  RawClient c(port());
  c.send(get("/weird-headers"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);  // 42 is not an HTTP status
  EXPECT_TRUE(r->header("X-Ok: fine"));
  EXPECT_FALSE(r->header("Injected"));
  EXPECT_FALSE(r->header("999"));
  EXPECT_EQ(r->body, "x");
}

TEST_P(HttpServerTest, HeadGetsHeadersOnly) {
  start();
  RawClient c(port());
  c.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + get("/next"));
  // The HEAD response's Content-Length describes a body that is not sent, so
  // read up to the next response's status line.
  ASSERT_TRUE(c.read_until([](const std::string& b) {
    return b.find("HTTP/1.1 200", 5) != std::string::npos && b.ends_with("q=<none>\n");
  }));
  const std::string& b = c.buffered();
  auto second = b.find("HTTP/1.1 200", 5);
  EXPECT_EQ(b.find("\r\n\r\n") + 4, second) << b;
}

TEST_P(HttpServerTest, ExpectContinueGetsInterimResponse) {
  start();
  RawClient c(port());
  c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; }));
  EXPECT_TRUE(c.buffered().starts_with("HTTP/1.1 100 Continue"));
  c.send("abc");
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("body=abc\n"), std::string::npos);
}

TEST_P(HttpServerTest, SurvivesRandomBytes) {
  start();
  std::mt19937 rng(42);
  for (int i = 0; i < 200; ++i) {
    RawClient c(port());
    std::string junk(rng() % 300 + 1, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    if (i % 2) junk = "GET / HTTP/1.1\r\n" + junk;  // garbage inside the header too
    c.send(junk + "\r\n\r\n");
    auto r = c.read_response(2s);
    if (r) {
      EXPECT_TRUE(r->status == 400 || r->status == 408 || r->status == 413 || r->status == 431 || r->status == 200) << r->status;
    }
  }
  RawClient ok(port());
  ok.send(get("/still-alive"));
  auto r = ok.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(HttpServerTest, StopClosesIdleConnectionsAndRunReturns) {
  Limits l = fast_limits();
  l.idle_timeout = 60s;
  l.header_timeout = 60s;
  start(l);
  RawClient idle(port());
  idle.send(get("/one"));
  ASSERT_TRUE(idle.read_response());
  RawClient fresh(port());  // connected, has sent nothing
  std::this_thread::sleep_for(50ms);
  auto t0 = Clock::now();
  ASSERT_TRUE(stop_and_drain(2s));
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(idle.closed_silently(1s));
  EXPECT_TRUE(fresh.closed_silently(1s));
}

TEST_P(HttpServerTest, StopLetsInFlightRequestFinish) {
  start();
  RawClient c(port());
  c.send(get("/sleep"));
  std::this_thread::sleep_for(100ms);
  server_->stop();
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->header("Connection: close"));
  EXPECT_TRUE(c.closed_silently());
  EXPECT_THROW(RawClient again(port()), std::runtime_error);  // no longer accepting
}

TEST_P(HttpServerTest, ConnectionLimitClosesExtraConnections) {
  Limits l = fast_limits();
  l.max_connections = 1;
  l.header_timeout = 5s;
  start(l);
  RawClient first(port());
  std::this_thread::sleep_for(50ms);
  RawClient second(port());
  EXPECT_TRUE(second.closed_silently(1s));
  first.send(get("/first"));
  ASSERT_TRUE(first.read_response());
}

// ---------------------------------------------------------------------------
// Request smuggling: a body whose length the server cannot know for sure
// (RFC 9112 §6.1, §6.3) is refused and the connection closed, so the bytes
// after it are never served as a request of their own.

TEST_P(HttpServerTest, AmbiguousTransferEncodingGets400AndNothingAfterItIsServed) {
  start();
  const std::pair<std::string, std::string> cases[] = {
      // {header fields, body}
      {"Transfer-Encoding: gzip\r\n", ""},
      {"Transfer-Encoding: xchunked\r\n", ""},
      {"Transfer-Encoding: identity\r\n", ""},
      {"Transfer-Encoding: chunked, gzip\r\n", ""},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", ""},
      {"Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"},
      {"Transfer-Encoding: \r\n", ""},
      {"Transfer-Encoding: gzip\r\nContent-Length: 5\r\n", "hello"},
      {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"},
      {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"},
  };
  for (const auto& [fields, body] : cases) {
    SCOPED_TRACE(fields);
    RawClient c(port());
    ASSERT_TRUE(c.send("POST /first HTTP/1.1\r\nHost: t\r\n" + fields + "\r\n" + body + get("/smuggled")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_TRUE(r->header("Connection: close"));
    EXPECT_TRUE(c.closed_silently(2s)) << c.buffered();  // /smuggled never answered
  }
}

TEST_P(HttpServerTest, TransferEncodingOnHttp10Gets400AndCloses) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("POST /old HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("/smuggled")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.closed_silently(2s)) << c.buffered();
}

TEST_P(HttpServerTest, UnknownCodingBeforeChunkedGets501AndCloses) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("POST /z HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" +
                     get("/smuggled")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  EXPECT_TRUE(c.closed_silently(2s)) << c.buffered();
}

TEST_P(HttpServerTest, ChunkedIsMatchedWithoutRegardToCaseOrSpaces) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:  Chunked \r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n" + get("/next")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("body=abc\n"), std::string::npos);
  auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_NE(next->body.find("path=/next\n"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Per-client limits.

// Raises this process's soft descriptor limit to at least `want` (at most
// the hard limit); the tests below hold over a thousand sockets.
void raise_fd_limit(rlim_t want) {
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  if (nofile.rlim_cur >= want) return;
  nofile.rlim_cur = std::min(want, nofile.rlim_max);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0);
  ASSERT_GE(nofile.rlim_cur, want) << "hard RLIMIT_NOFILE too low for this test";
}

TEST_P(HttpServerTest, PerAddressCapClosesExtraConnectionsFromThatAddressOnly) {
  Limits l = fast_limits();
  l.header_timeout = 5s;
  l.max_connections_per_address = 2;
  start(l);
  RawClient first(port(), "127.0.0.1");
  RawClient second(port(), "127.0.0.1");
  std::this_thread::sleep_for(50ms);
  RawClient third(port(), "127.0.0.1");
  EXPECT_TRUE(third.closed_silently(1s));
  RawClient other(port(), "127.0.0.2");
  ASSERT_TRUE(other.send(get("/other")));
  auto r = other.read_response();
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("remote=127.0.0.2\n"), std::string::npos);
  ASSERT_TRUE(first.send(get("/first")));
  ASSERT_TRUE(first.read_response());
}

TEST_P(HttpServerTest, IdleAndSlowlorisConnectionsFromOneAddressLeaveRoomForAnother) {
  raise_fd_limit(4096);
  Limits l = fast_limits();
  l.header_timeout = 10s;  // the daemon's: the hostile connections outlive the test
  l.idle_timeout = 10s;
  start(l);  // default connection caps
  std::vector<std::unique_ptr<RawClient>> hostile;
  for (int i = 0; i < 1100; ++i) hostile.push_back(std::make_unique<RawClient>(port(), "127.0.0.1"));
  // A third dribble a header that never ends (slowloris); the rest stay idle.
  for (int round = 0; round < 5; ++round) {
    for (std::size_t i = 0; i < hostile.size(); i += 3)
      hostile[i]->send_some(round == 0 ? "GET /slow HTTP/1.1\r\n" : "X-Drip: 1\r\n");
    std::this_thread::sleep_for(50ms);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE(attempt);
    const auto t0 = Clock::now();
    RawClient other(port(), "127.0.0.2");
    ASSERT_TRUE(other.send(get("/healthz")));
    auto r = other.read_response(2s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(Clock::now() - t0, 1s);
  }
  hostile.clear();  // lets the server drain at teardown
}

// ---------------------------------------------------------------------------
// Header check: authentication on the head, before the body.

std::optional<Response> bearer_good(const Request& head) {
  if (head.header("authorization") == "Bearer good") return std::nullopt;
  Response r = Response::text(401, "who are you?\n");
  r.headers["WWW-Authenticate"] = "Bearer";
  return r;
}

TEST_P(HttpServerTest, RefusedHeadIsAnsweredBeforeTheBodyIsSent) {
  std::atomic<int> handled{0};
  header_check_ = bearer_good;
  start(fast_limits(), [&handled](Request req) {
    ++handled;
    return echo_handler(std::move(req));
  });
  RawClient c(port());
  const std::size_t length = 1024 * 1024;
  ASSERT_TRUE(c.send("POST /push/Users HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer bad\r\n"
                     "Content-Length: " + std::to_string(length) + "\r\n\r\n" + std::string(64 * 1024, 'x')));
  // 960 KiB of the body are still unsent, and the answer is already here.
  auto r = c.read_response(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(r->header("WWW-Authenticate: Bearer"));
  EXPECT_TRUE(r->header("Connection: close"));
  EXPECT_EQ(r->body, "who are you?\n");
  c.send_some(std::string(length - 64 * 1024, 'x'));  // what a client that does not listen does
  EXPECT_TRUE(c.closed_silently(2s));
  EXPECT_EQ(handled.load(), 0);
}

TEST_P(HttpServerTest, ExpectContinueGetsTheRefusalInsteadOf100) {
  header_check_ = bearer_good;
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("POST /push/Users HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  auto r = c.read_response(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(c.closed_silently(2s));
}

TEST_P(HttpServerTest, AcceptedHeadGoesOnToTheHandlerWithItsBody) {
  std::vector<Request> heads;  // on the io thread, read after the response
  header_check_ = [&heads](const Request& head) -> std::optional<Response> {
    heads.push_back(head);
    return bearer_good(head);
  };
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("POST /in?q=1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n"
                     "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response(2s);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("abc"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("body=abc\n"), std::string::npos);
  EXPECT_NE(r->body.find("checked=yes\n"), std::string::npos);  // the handler may skip its own check
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].method, "POST");
  EXPECT_EQ(heads[0].path, "/in");
  EXPECT_EQ(heads[0].query, "q=1");
  EXPECT_EQ(heads[0].header("content-length"), "3");
  EXPECT_EQ(heads[0].remote_address, "127.0.0.1");
  EXPECT_TRUE(heads[0].body.empty());
  // Keep-alive goes on after an accepted head.
  ASSERT_TRUE(c.send(get("/again", "Authorization: Bearer good\r\n")));
  ASSERT_TRUE(c.read_response());
}

TEST_P(HttpServerTest, HeaderCheckExceptionBecomes500AndCloses) {
  header_check_ = [](const Request&) -> std::optional<Response> { throw std::runtime_error("check bug"); };
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send(get("/x") + get("/y")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_TRUE(c.closed_silently(2s));
  ASSERT_TRUE(stop_and_drain());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("check bug"), std::string::npos);
}

// Several I/O threads: sessions run on their own strands and the session
// registry is shared, so hammer it from many connections at once.
TEST(HttpServerThreadsTest, ManyConcurrentClientsOnTwoThreads) {
  net::io_context ioc;
  std::atomic<int> handled{0};
  HttpServer server(ioc.get_executor(), {"127.0.0.1", 0},
                    [&handled](Request req) -> net::awaitable<std::optional<Response>> {
                      ++handled;
                      co_return Response::text(200, req.path);
                    });
  server.start();
  std::vector<std::thread> io;
  for (int i = 0; i < 2; ++i) io.emplace_back([&] { ioc.run(); });
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        RawClient c(server.port());
        std::string path = "/c" + std::to_string(t) + "/" + std::to_string(i);
        c.send(get(path) + get(path));
        auto a = c.read_response();
        auto b = c.read_response();
        if (a && b && a->body == path && b->body == path) ++ok;
      }
    });
  for (auto& c : clients) c.join();
  server.stop();
  for (auto& t : io) t.join();
  EXPECT_EQ(ok.load(), 8 * 25);
  EXPECT_EQ(handled.load(), 8 * 25 * 2);
}

// parse_listen_address is daemon/base's; its tests are there.

TEST(ListenAddressTest, UnbindableAddressThrows) {
  net::io_context ioc;
  HttpServer first(ioc.get_executor(), {"127.0.0.1", 0}, echo_handler);
  EXPECT_THROW(HttpServer(ioc.get_executor(), {"127.0.0.1", first.port()}, echo_handler),
               boost::system::system_error);
  EXPECT_THROW(HttpServer(ioc.get_executor(), {"203.0.113.1", 0}, echo_handler),  // not ours
               boost::system::system_error);
}

// --- HTTPS -----------------------------------------------------------------

// A context with a fresh self-signed P-256 certificate for "localhost".
std::unique_ptr<net::ssl::context> make_server_tls() {
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                             -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX_use_certificate(ctx->native_handle(), cert);
  SSL_CTX_use_PrivateKey(ctx->native_handle(), key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

// One HTTPS GET with Asio's SSL stream; returns the raw response bytes.
std::string https_get(std::uint16_t port, std::string_view target) {
  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);  // self-signed test certificate
  std::string out;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        net::ssl::stream<net::ip::tcp::socket> s(co_await net::this_coro::executor, ctx);
        co_await s.next_layer().async_connect({net::ip::make_address("127.0.0.1"), port},
                                              net::use_awaitable);
        co_await s.async_handshake(net::ssl::stream_base::client, net::use_awaitable);
        std::string req = get(target, "Connection: close\r\n");
        co_await net::async_write(s, net::buffer(req), net::use_awaitable);
        char buf[4096];
        boost::system::error_code ec;
        for (;;) {
          std::size_t n = co_await s.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
          out.append(buf, n);
          if (ec) break;
        }
      },
      net::detached);
  ioc.run_for(5s);
  return out;
}

TEST_P(HttpServerTest, ServesHttps) {
  auto tls = make_server_tls();
  start(fast_limits(), echo_handler, tls.get());
  std::string reply = https_get(port(), "/secure");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_NE(reply.find("path=/secure\n"), std::string::npos);
  ASSERT_TRUE(stop_and_drain());
}

TEST_P(HttpServerTest, HttpsHandshakeTimesOut) {
  auto tls = make_server_tls();
  start(fast_limits(), echo_handler, tls.get());
  RawClient c(port());  // TCP only, never says hello
  auto t0 = Clock::now();
  EXPECT_TRUE(c.closed_silently(3s));
  EXPECT_LT(Clock::now() - t0, 2s);
  ASSERT_TRUE(stop_and_drain());
}

TEST_P(HttpServerTest, PlainHttpToHttpsPortIsClosed) {
  auto tls = make_server_tls();
  start(fast_limits(), echo_handler, tls.get());
  RawClient c(port());
  c.send(get("/plain"));
  // OpenSSL may answer with an alert record; what matters is the close.
  EXPECT_TRUE(c.read_until([](const std::string&) { return false; }, 3s));
  EXPECT_EQ(c.buffered().find("HTTP/1.1"), std::string::npos);
}

}  // namespace
}  // namespace keywarden::server
