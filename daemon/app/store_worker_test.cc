// The store worker's group commit and its steps (issue 13: one 20,000-member
// PATCH held a leaver's deactivation back for half a second).
#include "daemon/app/store_worker.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/base/thread_name.h"

namespace keywarden {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

class StoreWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-store-worker-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    worker_ = std::make_unique<StoreWorker>(Store::open(dir_ / "keywarden.db"));
  }
  void TearDown() override {
    worker_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string stored_steps() {
    auto store = Store::open(dir_ / "keywarden.db");
    return store->values("test")["steps"];
  }

  std::filesystem::path dir_;
  // Outlives the worker: the worker thread may still be inside the post()
  // that resumed a caller when io.run() returns, so the io_context is
  // destroyed only after TearDown joined that thread (ThreadSanitizer saw
  // a local one destroyed under the worker's pthread_cond_signal).
  net::io_context io_;
  std::unique_ptr<StoreWorker> worker_;
};

// Counts its steps in the store and finishes after `last`.
std::function<std::optional<int>(Store&)> counting_steps(int last, std::atomic<int>& steps) {
  return [last, &steps](Store& store) -> std::optional<int> {
    const int step = ++steps;
    store.set_value("test", "steps", std::to_string(step));
    if (step < last) return std::nullopt;
    return step;
  };
}

TEST_F(StoreWorkerTest, AStepsItemAloneRunsAllItsStepsInOneCommit) {
  net::io_context& io = io_;
  std::atomic<int> steps{0};
  int result = 0;
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    result = co_await worker_->run_steps<int>(counting_steps(5, steps));
  }, net::detached);
  io.run();
  EXPECT_EQ(result, 5);
  EXPECT_EQ(worker_->commits(), 1);
  EXPECT_EQ(worker_->items(), 1);
  EXPECT_EQ(stored_steps(), "5");
}

TEST_F(StoreWorkerTest, AnItemThatArrivesDuringALongOneIsCommittedBetweenTwoOfItsSteps) {
  net::io_context& io = io_;
  std::atomic<int> steps{0};
  std::atomic<bool> small_sent{false};
  std::vector<std::string> answered;  // io thread only
  std::string seen_by_small;
  auto first_steps = counting_steps(6, steps);
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    co_await worker_->run_steps<int>([&](Store& store) -> std::optional<int> {
      auto result = first_steps(store);
      if (steps == 1) {  // hold the first step until the small item is queued
        for (int i = 0; i < 500 && !small_sent; ++i) std::this_thread::sleep_for(10ms);
        std::this_thread::sleep_for(100ms);
      }
      return result;
    });
    answered.push_back("long");
  }, net::detached);
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    net::steady_timer wait(io);
    for (int i = 0; i < 500 && steps == 0; ++i) {
      wait.expires_after(10ms);
      co_await wait.async_wait(net::use_awaitable);
    }
    small_sent = true;
    seen_by_small = co_await worker_->run<std::string>([](Store& store) { return store.values("test")["steps"]; });
    answered.push_back("small");
  }, net::detached);
  io.run();
  // The small item ran after the long one's first step and was answered first.
  EXPECT_EQ(seen_by_small, "1");
  EXPECT_EQ(answered, (std::vector<std::string>{"small", "long"}));
  EXPECT_EQ(steps, 6);
  EXPECT_EQ(stored_steps(), "6");
  EXPECT_GE(worker_->commits(), 2);
}

TEST_F(StoreWorkerTest, ItemsRunOnAThreadNamedForTheStore) {
  net::io_context& io = io_;
  std::string name;
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    name = co_await worker_->run<std::string>([](Store&) { return this_thread_name(); });
  }, net::detached);
  io.run();
  EXPECT_EQ(name, "kw-store");
  EXPECT_NE(this_thread_name(), "kw-store");  // the caller's thread keeps its own
}

TEST_F(StoreWorkerTest, AStepThatThrowsEndsTheItemAndKeepsTheStepsBeforeIt) {
  net::io_context& io = io_;
  std::atomic<int> steps{0};
  auto two_steps = counting_steps(100, steps);
  std::string error;
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    try {
      co_await worker_->run_steps<int>([&](Store& store) -> std::optional<int> {
        auto result = two_steps(store);
        if (steps == 3) throw std::runtime_error("the third step fails");
        return result;
      });
    } catch (const std::exception& e) {
      error = e.what();
    }
  }, net::detached);
  io.run();
  EXPECT_EQ(error, "the third step fails");
  EXPECT_EQ(steps, 3);
  EXPECT_EQ(stored_steps(), "2");  // the failed step alone was undone
}

// ---- Urgent items ---------------------------------------------------------

// What ran on the worker, in order, with the batch it ran in (the number of
// commits before it).
class Runs {
 public:
  void note(const std::string& name, long batch) {
    std::lock_guard lock(mutex_);
    runs_.emplace_back(name, batch);
  }
  std::vector<std::string> order() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, batch] : runs_) out.push_back(name);
    return out;
  }
  long batch_of(const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const auto& [n, batch] : runs_) {
      if (n == name) return batch;
    }
    return -1;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, long>> runs_;
};

void wait_for(const std::atomic<bool>& flag) {
  for (int i = 0; i < 500 && !flag; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);  // the item is queued just after the flag
}

// Polls on the io thread until `flag` is set.
net::awaitable<void> until(net::io_context& io, const std::atomic<bool>& flag) {
  net::steady_timer wait(io);
  for (int i = 0; i < 500 && !flag; ++i) {
    wait.expires_after(10ms);
    co_await wait.async_wait(net::use_awaitable);
  }
}

class StoreWorkerUrgencyTest : public StoreWorkerTest {
 protected:
  // Queues an item that notes its run (after `before`, on the worker).
  void send(const std::string& name, StoreWorker::Urgency urgency, std::function<void()> before = {}) {
    net::co_spawn(io_, noted(name, urgency, std::move(before)), net::detached);
  }
  // A named coroutine: its parameters live in its frame (a lambda
  // coroutine's captures need not).
  net::awaitable<void> noted(std::string name, StoreWorker::Urgency urgency, std::function<void()> before) {
    // Named, not a temporary inside co_await (GCC 12 destroys such a
    // temporary's captures twice), as the daemon does.
    std::function<bool(Store&)> work = [this, name, before](Store& store) {
      if (before) before();
      runs_.note(name, worker_->commits());
      store.set_value("test", name, "done");
      return true;
    };
    auto op = worker_->run<bool>(std::move(work), urgency);
    co_await std::move(op);
  }
  Runs runs_;
};

TEST_F(StoreWorkerUrgencyTest, AnUrgentItemGoesBeforeTheOrdinaryOnesWaitingAndIsCommittedWithoutThem) {
  std::atomic<bool> gate_running{false}, all_sent{false};
  send("gate", StoreWorker::Urgency::normal, [&] {
    gate_running = true;
    wait_for(all_sent);
  });
  net::co_spawn(io_, [&]() -> net::awaitable<void> {
    co_await until(io_, gate_running);  // the worker is busy: the others queue up
    send("a", StoreWorker::Urgency::normal);
    send("b", StoreWorker::Urgency::normal);
    send("urgent", StoreWorker::Urgency::urgent);
    all_sent = true;
  }, net::detached);
  io_.run();
  EXPECT_EQ(runs_.order(), (std::vector<std::string>{"gate", "urgent", "a", "b"}));
  EXPECT_LT(runs_.batch_of("urgent"), runs_.batch_of("a"));
  EXPECT_EQ(runs_.batch_of("a"), runs_.batch_of("b"));
  auto store = Store::open(dir_ / "keywarden.db");
  EXPECT_EQ(store->values("test").size(), 4u);  // every item committed
}

TEST_F(StoreWorkerUrgencyTest, ARunningBatchStartsNoFurtherOrdinaryItemOnceAnUrgentOneWaits) {
  std::atomic<bool> all_sent{false}, a_running{false}, urgent_sent{false};
  send("gate", StoreWorker::Urgency::normal, [&] { wait_for(all_sent); });
  send("a", StoreWorker::Urgency::normal, [&] {
    a_running = true;
    wait_for(urgent_sent);
  });
  send("b", StoreWorker::Urgency::normal);
  send("c", StoreWorker::Urgency::normal);
  net::co_spawn(io_, [&]() -> net::awaitable<void> {
    all_sent = true;
    co_await until(io_, a_running);
    urgent_sent = true;
    co_await noted("urgent", StoreWorker::Urgency::urgent, {});
  }, net::detached);
  io_.run();
  // b and c were in a's batch but had not started: they waited for the
  // urgent item's commit, and none of them was lost.
  EXPECT_EQ(runs_.order(), (std::vector<std::string>{"gate", "a", "urgent", "b", "c"}));
  EXPECT_LT(runs_.batch_of("a"), runs_.batch_of("urgent"));
  EXPECT_LT(runs_.batch_of("urgent"), runs_.batch_of("b"));
  auto store = Store::open(dir_ / "keywarden.db");
  EXPECT_EQ(store->values("test").size(), 5u);
}

TEST_F(StoreWorkerUrgencyTest, AfterAnUrgentOnlyBatchTheNextTakesTheOrdinaryItemsTooSoUrgentOnesCannotStarveThem) {
  std::atomic<bool> gate_running{false}, all_sent{false}, first_running{false}, second_sent{false};
  send("gate", StoreWorker::Urgency::normal, [&] {
    gate_running = true;
    wait_for(all_sent);
  });
  net::co_spawn(io_, [&]() -> net::awaitable<void> {
    co_await until(io_, gate_running);
    send("ordinary", StoreWorker::Urgency::normal);
    send("urgent-1", StoreWorker::Urgency::urgent, [&] {
      first_running = true;
      wait_for(second_sent);
    });
    all_sent = true;
    co_await until(io_, first_running);
    second_sent = true;
    co_await noted("urgent-2", StoreWorker::Urgency::urgent, {});
  }, net::detached);
  io_.run();
  EXPECT_EQ(runs_.order(), (std::vector<std::string>{"gate", "urgent-1", "urgent-2", "ordinary"}));
  EXPECT_EQ(runs_.batch_of("urgent-2"), runs_.batch_of("ordinary"));
  EXPECT_LT(runs_.batch_of("urgent-1"), runs_.batch_of("ordinary"));
}

}  // namespace
}  // namespace keywarden
