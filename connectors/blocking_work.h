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

// Names the calling pool thread "kw-pool" the first time it runs a job (the
// pool's threads are Asio's own, started before any code of ours runs on
// them); later jobs on it cost a thread_local check, not a system call.
void name_pool_thread();

namespace detail {
// A named coroutine, not a capturing lambda: a lambda coroutine's captures
// live in the closure object, which co_spawn does not keep alive.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> invoke_work(F work) {
  name_pool_thread();
  co_return work();
}
}  // namespace detail

template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> run_blocking(F work) {
  co_return co_await boost::asio::co_spawn(blocking_pool(), detail::invoke_work(std::move(work)),
                                           boost::asio::use_awaitable);
}

}  // namespace keywarden
