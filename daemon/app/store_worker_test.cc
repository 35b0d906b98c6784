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
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace keywarden
