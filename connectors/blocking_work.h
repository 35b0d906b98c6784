// Runs blocking work (file reads, parsing, libcurl calls) on a small shared
// thread pool so that the Asio thread keeps serving, and resumes the caller
// on its own executor with the result or the exception.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

namespace keywarden {

boost::asio::thread_pool& blocking_pool();

template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> run_blocking(F work) {
  using R = std::invoke_result_t<F>;
  co_return co_await boost::asio::co_spawn(
      blocking_pool(), [work = std::move(work)]() mutable -> boost::asio::awaitable<R> { co_return work(); },
      boost::asio::use_awaitable);
}

}  // namespace keywarden
