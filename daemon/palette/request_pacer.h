// Turn-taking for one Palette client's requests: one request on the wire at a
// time, and request starts spaced at least 1/requests_per_second apart.
//
// Every attempt takes a turn, retries included, so the sustained rate never
// exceeds the setting however many coroutines share the client. Callers that
// arrive while a turn is held queue in arrival order. Not thread-safe: use one
// pacer from one thread (or one strand), like the client that owns it.
#pragma once

#include <utility>  // before Boost: 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>

namespace keywarden {

class RequestPacer {
 public:
  // Throws std::invalid_argument unless requests_per_second is positive and finite.
  RequestPacer(boost::asio::any_io_executor executor, double requests_per_second);
  RequestPacer(const RequestPacer&) = delete;
  RequestPacer& operator=(const RequestPacer&) = delete;

  // The right to start one request now. It lasts until destroyed; hold it
  // for the exchange only, not across a backoff wait.
  class Turn {
   public:
    Turn(Turn&& other) noexcept : pacer_(std::exchange(other.pacer_, nullptr)) {}
    Turn& operator=(Turn&&) = delete;
    ~Turn() {
      if (pacer_) pacer_->release();
    }

   private:
    friend class RequestPacer;
    explicit Turn(RequestPacer* pacer) : pacer_(pacer) {}
    RequestPacer* pacer_;
  };

  // Waits until no other turn is held and the interval since the previous
  // turn began has passed.
  boost::asio::awaitable<Turn> next_turn();

  std::chrono::steady_clock::duration interval() const { return interval_; }

 private:
  void release();

  boost::asio::any_io_executor executor_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point next_start_{};
  bool busy_ = false;
  // Each waiter sleeps on its own timer until release() cancels it, which
  // hands it the turn.
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace keywarden
