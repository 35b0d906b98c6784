#include "daemon/server/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <mutex>
#include <sys/resource.h>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/base/ascii.h"
#include "daemon/server/request_head.h"

#if defined(__GLIBC__)
#include <malloc.h>  // malloc_trim
#endif

namespace keywarden::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::string_view kServerName = "keywarden";
// Bytes asked for when waiting for the first byte of a request.
constexpr std::size_t kFirstReadSize = 4096;
// The soft deadlines below cancel a slow read so that a 408 can still be
// written. tcp_stream's own expiry, which closes the socket, stays armed this
// much later as a backstop.
constexpr auto kBackstop = std::chrono::seconds(1);
// Descriptors kept for the rest of the process (store, outgoing HTTPS, logs)
// when the connection cap is lowered to fit RLIMIT_NOFILE.
constexpr std::size_t kReservedDescriptors = 64;
// Giving memory back: once this many body bytes (request and response) went
// through since the last trim, the server checks every kTrimCheckInterval
// whether the burst is over (the connection count fell to half its peak, or
// to kQuietConnections) and then calls malloc_trim. A burst that never ends
// is trimmed every kTrimOverdue. malloc_trim walks the heap on the I/O
// thread, hence at most once per check interval.
constexpr std::size_t kTrimAfterBytes = 8 * 1024 * 1024;
constexpr auto kTrimCheckInterval = std::chrono::seconds(1);
constexpr auto kTrimOverdue = std::chrono::seconds(30);
constexpr std::size_t kQuietConnections = 4;
// A kept-alive connection gives back a read buffer grown past this.
constexpr std::size_t kKeptBufferCapacity = 64 * 1024;

auto redirect(error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

bool safe_header_text(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The key connections are counted under for the per-address cap: the IPv4
// address, or the /64 prefix of an IPv6 one.
std::string address_key(const net::ip::address& address) {
  if (!address.is_v6()) return address.to_string();
  auto bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
}

// max_connections lowered to what RLIMIT_NOFILE leaves, and the per-address
// cap to half of that (see Limits).
Limits effective_limits(Limits limits) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    const std::size_t soft = static_cast<std::size_t>(nofile.rlim_cur);
    const std::size_t usable = soft > 2 * kReservedDescriptors ? soft - kReservedDescriptors : soft / 2;
    limits.max_connections = std::min(limits.max_connections, std::max<std::size_t>(usable, 1));
  }
  limits.max_connections_per_address =
      std::min(limits.max_connections_per_address, std::max<std::size_t>(limits.max_connections / 2, 1));
  return limits;
}

const char* reason_text(int status) {
  switch (status) {
    case 400: return "Bad Request\n";
    case 408: return "Request Timeout\n";
    case 413: return "Payload Too Large\n";
    case 431: return "Request Header Fields Too Large\n";
    case 501: return "Not Implemented\n";
    default: return "Internal Server Error\n";
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Request / Response

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "application/json";
  return r;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

// ---------------------------------------------------------------------------
// Shared server state. Sessions hold it by shared_ptr, so it outlives the
// HttpServer object while connections are finishing.

namespace detail {

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Thread-safe: hops to the session's strand, closes it if it is idle,
  // otherwise makes the current request its last.
  virtual void request_stop() = 0;
};

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(net::any_io_executor ex, Handler h, Limits l, net::ssl::context* tls_context)
      : executor(ex),
        acceptor(net::make_strand(ex)),
        retry_timer(acceptor.get_executor()),
        trim_timer(acceptor.get_executor()),
        handler(std::move(h)),
        requested_limits(l),
        limits(effective_limits(l)),
        tls(tls_context) {}

  void log(std::string_view line) const {
    if (error_log) error_log(line);
  }

  // False when the connection limit, overall or for this address, is
  // reached.
  bool remember(SessionBase* s, std::weak_ptr<SessionBase> w, const std::string& address) {
    std::lock_guard lock(mu);
    if (full_for(address)) return false;
    sessions.emplace(s, std::move(w));
    ++per_address[address];
    peak_since_trim = std::max(peak_since_trim, sessions.size());
    return true;
  }
  void forget(SessionBase* s, const std::string& address) {
    std::lock_guard lock(mu);
    if (sessions.erase(s) == 0) return;
    auto it = per_address.find(address);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }
  std::vector<std::shared_ptr<SessionBase>> live_sessions() {
    std::lock_guard lock(mu);
    std::vector<std::shared_ptr<SessionBase>> out;
    for (auto& [raw, weak] : sessions)
      if (auto s = weak.lock()) out.push_back(std::move(s));
    return out;
  }
  bool at_capacity(const std::string& address) {
    std::lock_guard lock(mu);
    return full_for(address);
  }

  // Counts body bytes a session held (thread-safe); after enough of them,
  // arms the check that gives memory back once the burst is over.
  void note_body_bytes(std::size_t n) {
    {
      std::lock_guard lock(mu);
      bytes_since_trim += n;
      if (trim_armed || bytes_since_trim < kTrimAfterBytes) return;
      trim_armed = true;
      burst_start = std::chrono::steady_clock::now();
    }
    net::post(acceptor.get_executor(), [self = shared_from_this()] { self->arm_trim_check(); });
  }

  // On the acceptor's strand.
  void arm_trim_check() {
    if (stopping) return;
    trim_timer.expires_after(kTrimCheckInterval);
    trim_timer.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->stopping) return;
      if (!self->trim_if_burst_over()) self->arm_trim_check();
    });
  }

  // Returns false when the burst goes on (check again later).
  bool trim_if_burst_over() {
    {
      std::lock_guard lock(mu);
      const bool fell_back = sessions.size() * 2 <= peak_since_trim || sessions.size() <= kQuietConnections;
      const bool overdue = std::chrono::steady_clock::now() - burst_start >= kTrimOverdue;
      if (!fell_back && !overdue) return false;
      bytes_since_trim = 0;
      peak_since_trim = sessions.size();
      trim_armed = false;
      ++trims;
    }
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
    return true;
  }

  net::any_io_executor executor;
  tcp::acceptor acceptor;        // on its own strand
  net::steady_timer retry_timer;  // pause after a failed accept (EMFILE...)
  net::steady_timer trim_timer;   // "is the burst over?" checks
  Handler handler;
  HeaderCheck header_check;
  bool single_threaded = false;  // see HttpServer::set_single_threaded
  Limits requested_limits;  // as given to the constructor
  Limits limits;            // as applied (see effective_limits)
  net::ssl::context* tls;
  ErrorLog error_log;
  std::uint16_t port = 0;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};

  std::mutex mu;
  // Guarded by mu.
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::unordered_map<std::string, std::size_t> per_address;  // address_key -> live sessions
  std::size_t peak_since_trim = 0;
  std::size_t bytes_since_trim = 0;
  bool trim_armed = false;
  std::chrono::steady_clock::time_point burst_start;
  std::uint64_t trims = 0;

 private:
  bool full_for(const std::string& address) const {  // mu held
    if (sessions.size() >= limits.max_connections) return true;
    auto it = per_address.find(address);
    return it != per_address.end() && it->second >= limits.max_connections_per_address;
  }
};

}  // namespace detail

namespace {

using detail::ServerCore;
using detail::SessionBase;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection. Lives as long as its coroutine (run() holds a shared_ptr)
// and any deadline timer callback in flight.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(std::shared_ptr<ServerCore> core, std::string remote, std::string address_key, Args&&... stream_args)
      : core_(std::move(core)),
        stream_(std::forward<Args>(stream_args)...),
        deadline_(stream_.get_executor()),
        remote_(std::move(remote)),
        address_key_(std::move(address_key)) {}

  ~Session() override { core_->forget(this, address_key_); }

  const std::string& address_key() const { return address_key_; }

  net::any_io_executor executor() { return stream_.get_executor(); }

  void request_stop() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stop_requested_ = true;
      if (self->idle_) self->lowest().cancel();
    });
  }

  static net::awaitable<void> run(std::shared_ptr<Session> self) {
    try {
      co_await self->serve();
    } catch (const std::exception& e) {
      self->core_->log(std::string("http session failed: ") + e.what());
    }
  }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const Limits& limits() const { return core_->limits; }
  bool stopping() const { return stop_requested_ || core_->stopping.load(); }

  net::awaitable<void> serve() {
    error_code ec;
    if constexpr (kTls) {
      idle_ = true;
      lowest().expires_after(limits().handshake_timeout);
      co_await stream_.async_handshake(net::ssl::stream_base::server, redirect(ec));
      idle_ = false;
      if (ec) co_return;
    }
    bool first = true;
    while (!stopping()) {
      // Wait for the first byte of the next request (unless pipelined bytes
      // are already buffered). Nothing asked yet, so a timeout closes
      // silently.
      if (buffer_.size() == 0) {
        idle_ = true;
        lowest().expires_after(first ? limits().header_timeout : limits().idle_timeout);
        std::size_t n = co_await stream_.async_read_some(buffer_.prepare(kFirstReadSize), redirect(ec));
        idle_ = false;
        if (ec) co_return;
        buffer_.commit(n);
      }
      first = false;

      parser_.emplace();
      parser_->header_limit(static_cast<std::uint32_t>(limits().header_limit));
      parser_->body_limit(limits().body_limit);
      ec = co_await read_part(/*header_only=*/true, limits().header_timeout);
      if (ec) {
        co_await reject(status_for(ec));
        co_return;
      }
      // Framing first: past an ambiguous length nothing on this connection
      // can be trusted to start a request.
      if (int status = transfer_encoding_verdict(parser_->get().base()); status != 0) {
        co_await reject(status);
        co_return;
      }
      if (core_->header_check) {
        if (auto refusal = check_header()) {
          co_await refuse(std::move(*refusal));
          co_return;
        }
      }
      if (!parser_->is_done()) {
        if (expects_continue()) ec = co_await send_continue();
        if (!ec) ec = co_await read_part(/*header_only=*/false, limits().body_timeout);
      }
      if (ec) {
        co_await reject(status_for(ec));
        co_return;
      }
      if (!co_await respond()) co_return;
      // A kept-alive connection does not keep the capacity a large request
      // grew its buffer to.
      if (buffer_.size() == 0 && buffer_.capacity() > kKeptBufferCapacity) buffer_.shrink_to_fit();
    }
    co_await close_gracefully();
  }

  // Runs the header check on the request's head. nullopt: go on.
  std::optional<Response> check_header() {
    try {
      return core_->header_check(request_head(parser_->get()));
    } catch (const std::exception& e) {
      core_->log(std::string("http header check failed: ") + e.what());
      return Response::text(500, "Internal Server Error\n");
    }
  }

  // Answers a request refused on its head, then closes without reading its
  // body (what the client still sends is discarded while lingering).
  net::awaitable<void> refuse(Response refusal) {
    const auto& head = parser_->get();
    const bool is_head = head.method() == http::verb::head;
    auto out = to_beast(std::move(refusal), head.version(), /*keep_alive=*/false, is_head);
    parser_.reset();
    lowest().expires_after(limits().write_timeout);
    error_code ec;
    co_await http::async_write(stream_, out, redirect(ec));
    if (ec) co_return;
    co_await linger();
  }

  // Reads the header (or the rest of the message) under a soft deadline.
  // Returns beast::error::timeout when the deadline cut the read short.
  net::awaitable<error_code> read_part(bool header_only, std::chrono::milliseconds limit) {
    arm_deadline(limit);
    lowest().expires_after(limit + kBackstop);
    error_code ec;
    if (header_only)
      co_await http::async_read_header(stream_, buffer_, *parser_, redirect(ec));
    else
      co_await http::async_read(stream_, buffer_, *parser_, redirect(ec));
    const bool fired = disarm_deadline();
    if (ec && fired) ec = beast::error::timeout;
    co_return ec;
  }

  void arm_deadline(std::chrono::milliseconds limit) {
    const std::uint64_t generation = ++deadline_generation_;
    deadline_fired_ = false;
    deadline_.expires_after(limit);
    deadline_.async_wait([self = this->shared_from_this(), generation](error_code ec) {
      // A stale callback (its read already finished) must not cancel a later
      // operation.
      if (ec || generation != self->deadline_generation_) return;
      self->deadline_fired_ = true;
      self->lowest().cancel();
    });
  }

  bool disarm_deadline() {
    ++deadline_generation_;
    deadline_.cancel();
    return std::exchange(deadline_fired_, false);
  }

  bool expects_continue() {
    auto& header = parser_->get();
    auto it = header.find(http::field::expect);
    return it != header.end() && beast::iequals(it->value(), "100-continue");
  }

  net::awaitable<error_code> send_continue() {
    http::response<http::empty_body> cont{http::status::continue_, parser_->get().version()};
    lowest().expires_after(limits().write_timeout);
    error_code ec;
    co_await http::async_write(stream_, cont, redirect(ec));
    co_return ec;
  }

  // The error status for a failed read; 0 when the client went away or the
  // connection failed (nothing to answer).
  static int status_for(error_code read_error) {
    static const auto http_category = &http::make_error_code(http::error::end_of_stream).category();
    if (read_error == beast::error::timeout) return 408;
    if (read_error == http::error::body_limit) return 413;
    if (read_error == http::error::header_limit) return 431;
    if (read_error == http::error::end_of_stream || read_error == http::error::partial_message) return 0;
    if (&read_error.category() == http_category) return 400;
    return 0;
  }

  // Answers a request the server could not read (or will not: bad framing)
  // with `status`, then closes. Status 0: closes without answering.
  net::awaitable<void> reject(int status) {
    parser_.reset();
    if (status == 0) co_return;

    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, beast::string_view(kServerName.data(), kServerName.size()));
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = reason_text(status);
    res.keep_alive(false);
    res.prepare_payload();
    lowest().expires_after(limits().write_timeout);
    error_code ec;
    co_await http::async_write(stream_, res, redirect(ec));
    if (ec) co_return;
    co_await linger();
  }

  // Stops sending and discards what the client still sends, so that closing
  // a socket with unread data does not reset the connection before the
  // client has read our error response.
  net::awaitable<void> linger() {
    if constexpr (kTls) {
      co_await close_gracefully();
    } else {
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      lowest().expires_after(limits().linger_timeout);
      std::array<char, 16384> scratch;
      while (!ec) co_await lowest().async_read_some(net::buffer(scratch), redirect(ec));
    }
  }

  net::awaitable<void> close_gracefully() {
    error_code ec;
    if constexpr (kTls) {
      lowest().expires_after(limits().handshake_timeout);
      co_await stream_.async_shutdown(redirect(ec));
    } else {
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  // The request without its body (which may not have been read yet).
  Request request_head(const http::request<http::string_body>& msg) const { return request_of_head(msg, remote_, kTls); }

  static http::response<http::string_body> to_beast(Response r, unsigned version, bool keep_alive,
                                                    bool head) {
    int status = r.status;
    if (status < 200 || status > 599) status = 500;
    http::response<http::string_body> out;
    out.version(version);
    out.result(static_cast<unsigned>(status));
    out.set(http::field::server, beast::string_view(kServerName.data(), kServerName.size()));
    for (const auto& [name, value] : r.headers) {
      if (name.empty() || !safe_header_text(name) || !safe_header_text(value) ||
          name.find_first_of(" \t:") != std::string::npos)
        continue;
      std::string key = ascii_lower(name);
      if (key == "content-length" || key == "transfer-encoding" || key == "connection") continue;
      out.set(name, value);
    }
    if (!r.content_type.empty() && safe_header_text(r.content_type))
      out.set(http::field::content_type, r.content_type);
    out.keep_alive(keep_alive);
    if (status == 204 || status == 304) return out;  // no body, no Content-Length
    out.body() = std::move(r.body);
    out.prepare_payload();
    if (head) out.body().clear();  // Content-Length stays that of the full body
    return out;
  }

  // Handles one complete request. Returns whether to read another one.
  net::awaitable<bool> respond() {
    auto& msg = parser_->get();
    bool keep_alive = msg.keep_alive();
    const unsigned version = msg.version();
    const bool head = msg.method() == http::verb::head;
    Request req = request_head(msg);
    req.head_checked = static_cast<bool>(core_->header_check);  // serve() refused it otherwise
    req.body = std::move(msg.body());
    parser_.reset();
    std::size_t body_bytes = req.body.size();

    std::optional<Response> res;
    try {
      res = co_await core_->handler(std::move(req));
    } catch (const std::exception& e) {
      core_->log(std::string("http handler failed: ") + e.what());
      res = Response::text(500, "Internal Server Error\n");
    }
    if (!res) co_return false;  // the handler asked to drop the connection

    if (res->close || stopping()) keep_alive = false;
    body_bytes += res->body.size();
    if (body_bytes > 0) core_->note_body_bytes(body_bytes);
    auto out = to_beast(std::move(*res), version, keep_alive, head);
    lowest().expires_after(limits().write_timeout);
    error_code ec;
    co_await http::async_write(stream_, out, redirect(ec));
    if (ec) co_return false;
    if (!keep_alive) {
      co_await close_gracefully();
      co_return false;
    }
    co_return true;
  }

  std::shared_ptr<ServerCore> core_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  net::steady_timer deadline_;
  std::uint64_t deadline_generation_ = 0;
  bool deadline_fired_ = false;
  std::string remote_;
  std::string address_key_;  // what the per-address cap counts under
  bool idle_ = false;  // nothing of a request received; stop() may close us
  bool stop_requested_ = false;
};

template <class Stream, class... Args>
void spawn_session(const std::shared_ptr<ServerCore>& core, std::string remote, std::string key,
                   Args&&... args) {
  auto session = std::make_shared<Session<Stream>>(core, std::move(remote), std::move(key),
                                                   std::forward<Args>(args)...);
  // Over a limit: the socket closes.
  if (!core->remember(session.get(), session, session->address_key())) return;
  auto ex = session->executor();
  net::co_spawn(ex, Session<Stream>::run(std::move(session)), net::detached);
}

void start_session(const std::shared_ptr<ServerCore>& core, tcp::socket socket) {
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // the peer is already gone
  auto address = remote.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  std::string key = address_key(address);
  if (core->at_capacity(key)) return;  // closed at once, before any allocation for it
  socket.set_option(tcp::no_delay(true), ec);
  if (core->tls)
    spawn_session<TlsStream>(core, address.to_string(), std::move(key), std::move(socket), *core->tls);
  else
    spawn_session<PlainStream>(core, address.to_string(), std::move(key), std::move(socket));
}

net::awaitable<void> accept_loop(std::shared_ptr<ServerCore> core) {
  for (;;) {
    tcp::socket socket(core->single_threaded ? core->executor : net::any_io_executor(net::make_strand(core->executor)));
    error_code ec;
    co_await core->acceptor.async_accept(socket, redirect(ec));
    if (core->stopping) co_return;
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Typically EMFILE: pause instead of spinning, then try again.
      core->log("http accept failed: " + ec.message());
      core->retry_timer.expires_after(std::chrono::milliseconds(100));
      co_await core->retry_timer.async_wait(redirect(ec));
      continue;
    }
    start_session(core, std::move(socket));
  }
}

tcp::endpoint resolve(const net::any_io_executor& ex, const ListenAddress& listen) {
  std::string host = listen.host.empty() ? "0.0.0.0" : listen.host;
  error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (!ec) return {address, listen.port};
  tcp::resolver resolver(ex);
  auto results = resolver.resolve(host, std::to_string(listen.port));  // throws on failure
  return results.begin()->endpoint();
}

}  // namespace

// ---------------------------------------------------------------------------
// HttpServer

HttpServer::HttpServer(net::any_io_executor executor, ListenAddress listen, Handler handler,
                       Limits limits, net::ssl::context* tls)
    : core_(std::make_shared<ServerCore>(executor, std::move(handler), limits, tls)) {
  tcp::endpoint endpoint = resolve(executor, listen);
  auto& acceptor = core_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  core_->port = acceptor.local_endpoint().port();
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const { return core_->port; }

void HttpServer::set_error_log(ErrorLog log) { core_->error_log = std::move(log); }

void HttpServer::set_header_check(HeaderCheck check) { core_->header_check = std::move(check); }

void HttpServer::set_single_threaded(bool single) { core_->single_threaded = single; }

void HttpServer::start() {
  if (core_->started.exchange(true)) return;
  if (core_->limits.max_connections < core_->requested_limits.max_connections)
    core_->log("http connection cap lowered from " + std::to_string(core_->requested_limits.max_connections) +
               " to " + std::to_string(core_->limits.max_connections) + " to fit RLIMIT_NOFILE");
  net::co_spawn(core_->acceptor.get_executor(), accept_loop(core_), net::detached);
}

void HttpServer::stop() {
  if (core_->stopping.exchange(true)) return;
  net::post(core_->acceptor.get_executor(), [core = core_] {
    error_code ec;
    core->acceptor.close(ec);
    core->retry_timer.cancel();
    core->trim_timer.cancel();
  });
  for (auto& session : core_->live_sessions()) session->request_stop();
}

}  // namespace keywarden::server
