// A dedicated thread that owns one Store connection and runs work items on
// it with group commit: every item queued while the previous commit was on
// disk goes into the next transaction (a savepoint each), and all of them
// become durable with one disk sync. An item's caller resumes only after
// that commit, so a push is acknowledged only once it is durable (SPEC §5),
// and the Asio thread never waits on SQLite or fsync.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/store/store.h"

namespace keywarden {

class StoreWorker {
 public:
  // Takes ownership of `store` and starts the thread.
  explicit StoreWorker(std::unique_ptr<Store> store);
  // Finishes every queued item, then joins.
  ~StoreWorker();
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Runs `work(store)` on the worker thread inside the next group commit and
  // resumes the caller with its result once the commit is durable. If `work`
  // throws, only its own changes are undone and the exception is rethrown to
  // the caller; if the commit fails, every item of the batch gets the error.
  template <class T>
  boost::asio::awaitable<T> run(std::function<T(Store&)> work);

  // Items per commit so far (for metrics): total items and total commits.
  // Safe to read from any thread.
  long items() const { return items_.load(std::memory_order_relaxed); }
  long commits() const { return commits_.load(std::memory_order_relaxed); }

 private:
  struct Item {
    std::function<void(Store&)> work;        // runs inside the batch; stores its result
    std::function<void(std::exception_ptr)> done;  // after commit (or its failure)
  };
  void enqueue(Item item);
  void loop();

  std::unique_ptr<Store> store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::atomic<long> items_{0};
  std::atomic<long> commits_{0};
  std::thread thread_;
};

template <class T>
boost::asio::awaitable<T> StoreWorker::run(std::function<T(Store&)> work) {
  auto initiate = [this, work = std::move(work)](auto handler) mutable {
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    auto result = std::make_shared<std::optional<T>>();
    auto item_error = std::make_shared<std::exception_ptr>();
    Item item;
    item.work = [work = std::move(work), result, item_error](Store& store) {
      try {
        store.batch_item([&] { result->emplace(work(store)); });
      } catch (...) {
        *item_error = std::current_exception();
      }
    };
    item.done = [shared_handler, result, item_error](std::exception_ptr commit_error) {
      std::exception_ptr error = commit_error ? commit_error : *item_error;
      auto executor = boost::asio::get_associated_executor(*shared_handler);
      boost::asio::post(executor, [shared_handler, result, error]() mutable {
        if (error) {
          (*shared_handler)(error, T{});
        } else {
          (*shared_handler)(nullptr, std::move(**result));
        }
      });
    };
    enqueue(std::move(item));
  };
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                 void(std::exception_ptr, T)>(std::move(initiate),
                                                                              boost::asio::use_awaitable);
}

}  // namespace keywarden
