#include "daemon/palette/request_pacer.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <stdexcept>

namespace keywarden {

namespace net = boost::asio;
using std::chrono::steady_clock;

RequestPacer::RequestPacer(net::any_io_executor executor, double requests_per_second)
    : executor_(std::move(executor)) {
  if (!(requests_per_second > 0) || !std::isfinite(requests_per_second)) {
    throw std::invalid_argument("requests_per_second must be a positive number");
  }
  interval_ = std::chrono::duration_cast<steady_clock::duration>(std::chrono::duration<double>(1.0 / requests_per_second));
}

net::awaitable<RequestPacer::Turn> RequestPacer::next_turn() {
  if (busy_) {
    auto waiter = std::make_shared<net::steady_timer>(executor_, steady_clock::time_point::max());
    waiters_.push_back(waiter);
    boost::system::error_code cancelled;  // release() wakes us by cancelling the wait
    co_await waiter->async_wait(net::redirect_error(net::use_awaitable, cancelled));
    // The turn was handed over: busy_ stayed true.
  } else {
    busy_ = true;
  }
  Turn turn(this);  // from here on, an exception gives the turn back

  if (steady_clock::now() < next_start_) {
    net::steady_timer timer(executor_, next_start_);
    co_await timer.async_wait(net::use_awaitable);
  }
  next_start_ = steady_clock::now() + interval_;
  co_return std::move(turn);
}

void RequestPacer::release() {
  if (waiters_.empty()) {
    busy_ = false;
    return;
  }
  std::shared_ptr<net::steady_timer> next = std::move(waiters_.front());
  waiters_.pop_front();
  next->cancel();
}

}  // namespace keywarden
