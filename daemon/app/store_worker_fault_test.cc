// The store worker on a failing disk (issue 14 item 2): the fault VFS under
// its connection. A group commit that fails tells every caller in it so
// (the daemon answers their pushes 503, never 2xx: Daemon::handle turns the
// StoreError into 503 with Retry-After), write_failure() says why (what
// /readyz reports, Daemon::readiness), and once the disk takes writes again
// the next commit succeeds and write_failure() clears, on the same
// connection, without a restart.
#include "daemon/app/store_worker.h"
#include "daemon/store/fault_pushes_test.h"
#include "daemon/store/fault_vfs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace keywarden {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
using namespace std::chrono_literals;
using Fault = FaultVfs::Fault;

Timestamp at(int64_t seconds) { return Timestamp{Duration{seconds}}; }

using fault_test::push;
using fault_test::pushed;

constexpr const char* kOk = "ok";

// Polls `condition` for up to 5 s; its last value.
bool wait_for(const std::function<bool()>& condition) {
  for (int i = 0; i < 5000 && !condition(); ++i) std::this_thread::sleep_for(1ms);
  return condition();
}

class StoreWorkerFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The VFS models durability itself: tmpfs spares the real fsyncs.
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "kw-store-worker-fault-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ / "keywarden.db";
    vfs_ = &FaultVfs::instance();
    vfs_->reset();
    start();
  }
  void TearDown() override {
    worker_.reset();
    vfs_->reset();
    fs::remove_all(dir_);
  }

  void start() { worker_ = std::make_unique<StoreWorker>(Store::open(db_, FaultVfs::kName)); }

  // Runs `items` as one group commit (a first item holds the worker until
  // all of them are queued) and returns what each caller was told: kOk, or
  // the error's message.
  std::vector<std::string> group_commit(const std::vector<std::function<void(Store&)>>& items) {
    net::io_context& io = io_;
    io.restart();
    std::atomic<bool> gate_running{false};
    std::atomic<size_t> queued{0};
    std::vector<std::string> told(items.size());
    const long commits_before = worker_->commits();
    // Named std::function variables, not lambdas built inside the co_await
    // expression: GCC 12 destroys such a temporary twice.
    std::atomic<bool> gate_synced{false};
    std::function<bool(Store&)> gate = [&](Store&) {
      gate_running = true;  // taken alone: the items come after
      while (queued < items.size()) std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(20ms);  // the last one queued reaches the worker
      return true;
    };
    net::co_spawn(io, [&]() -> net::awaitable<void> {
      try {
        co_await worker_->run<bool>(std::move(gate));
      } catch (const std::exception&) {
        // The disk fails already (a test's later group): the gate with it.
      }
      gate_synced = true;
    }, net::detached);
    for (size_t i = 0; i < items.size(); ++i) {
      net::co_spawn(io, [&, i]() -> net::awaitable<void> {
        std::function<bool(Store&)> work = [&items, &gate_synced, i](Store& store) {
          // The gate's commit is synced by the syncer while this batch runs:
          // wait for it, so that the calls counted and failed from the first
          // item on are this group's alone.
          while (!gate_synced) std::this_thread::sleep_for(1ms);
          items[i](store);
          return true;
        };
        net::steady_timer wait(io);
        while (!gate_running) {
          wait.expires_after(1ms);
          co_await wait.async_wait(net::use_awaitable);
        }
        ++queued;
        try {
          co_await worker_->run<bool>(std::move(work));
          told[i] = kOk;
        } catch (const std::exception& e) {
          told[i] = e.what();
        }
      }, net::detached);
    }
    io.run();
    EXPECT_EQ(worker_->commits() - commits_before, 2) << "the items were not committed as one group";
    return told;
  }

  // One push alone, as a fresh request once the disk works again.
  std::string single_push(int i) { return group_commit({[i](Store& store) { push(store, i); }}).front(); }

  // Stops the worker and looks at the file through a connection of its own.
  std::unique_ptr<Store> reopen_clean() {
    worker_.reset();
    return Store::open(db_);
  }

  fs::path dir_;
  fs::path db_;
  FaultVfs* vfs_ = nullptr;
  // Outlives every worker: a worker thread may still be inside the post()
  // that resumed a caller when io.run() returns (see store_worker_test.cc).
  net::io_context io_;
  std::unique_ptr<StoreWorker> worker_;
};

TEST_F(StoreWorkerFaultTest, AFailedGroupCommitFailsEveryCallerAndTheNextCommitRecoversWithoutARestart) {
  std::vector<std::function<void(Store&)>> items;
  for (int i = 0; i < 5; ++i) {
    items.push_back([this, i](Store& store) {
      if (i == 0) vfs_->arm(1, Fault::io_error_until_disarmed);  // the group's commit fails
      push(store, i);
    });
  }
  const std::vector<std::string> told = group_commit(items);
  for (int i = 0; i < 5; ++i) EXPECT_NE(told[i], kOk) << "push " << i << " was acknowledged";
  EXPECT_NE(worker_->write_failure(), "");
  // While the disk fails, a new push fails too, and readiness stays down.
  EXPECT_NE(single_push(10), kOk);
  EXPECT_NE(worker_->write_failure(), "");

  vfs_->disarm();
  EXPECT_EQ(single_push(11), kOk);
  EXPECT_EQ(worker_->write_failure(), "") << "still reported after a good commit";

  auto store = reopen_clean();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(pushed(*store, i)) << i;
  EXPECT_FALSE(pushed(*store, 10));
  EXPECT_TRUE(pushed(*store, 11));
}

// Every call of a group commit of five pushes, under each fault: a caller
// told "ok" finds its push after a reopen (after a power cut too); the
// callers of one commit are all told the same; the worker takes writes
// again as soon as the disk does.
TEST_F(StoreWorkerFaultTest, EveryCallOfAGroupCommitUnderEveryFault) {
  std::atomic<uint64_t> start_calls{0};
  std::atomic<uint64_t> arm_at{0};
  std::atomic<Fault> fault{Fault::io_error_once};
  std::vector<std::function<void(Store&)>> items;
  for (int i = 0; i < 5; ++i) {
    items.push_back([&, i](Store& store) {
      if (i == 0) {
        start_calls = vfs_->calls();
        if (arm_at != 0) vfs_->arm(arm_at, fault);
      }
      push(store, i);
    });
  }
  ASSERT_EQ(group_commit(items), std::vector<std::string>(5, kOk));
  const uint64_t k = vfs_->calls() - start_calls;
  ASSERT_GT(k, 0u);
  uint64_t runs = 0;
  uint64_t failed_runs = 0;
  for (const Fault f : {Fault::io_error_once, Fault::io_error_until_disarmed, Fault::disk_full_once,
                        Fault::disk_full_until_disarmed, Fault::power_cut}) {
    // A power cut also comes after the last call, once every caller was told.
    const uint64_t last = f == Fault::power_cut ? k + 1 : k;
    for (uint64_t n = 1; n <= last; ++n) {
      SCOPED_TRACE("fault " + std::to_string(static_cast<int>(f)) + " at call " + std::to_string(n) + " of " +
                   std::to_string(k));
      worker_.reset();
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_.string() + suffix);
      vfs_->reset();
      start();
      fault = f;
      arm_at = n;
      const std::vector<std::string> told = group_commit(items);
      arm_at = 0;
      ++runs;
      const bool acknowledged = told[0] == kOk;
      failed_runs += acknowledged ? 0 : 1;
      for (int i = 1; i < 5; ++i) EXPECT_EQ(told[i] == kOk, acknowledged) << "callers of one commit told apart";
      if (!acknowledged) {
        EXPECT_NE(worker_->write_failure(), "");
      }
      if (f == Fault::power_cut) {
        vfs_->cut_power();  // if it has not come yet
        worker_.reset();
        vfs_->restore_power();
      } else {
        vfs_->disarm();
        EXPECT_EQ(single_push(20), kOk) << "no recovery once the disk works";
        EXPECT_EQ(worker_->write_failure(), "");
      }
      auto store = reopen_clean();
      for (int i = 0; i < 5; ++i) {
        const bool there = pushed(*store, i);
        if (acknowledged) {
          EXPECT_TRUE(there) << "acknowledged push " << i << " is lost";
        }
      }
      if (f != Fault::power_cut) {
        EXPECT_TRUE(pushed(*store, 20));
      }
      if (HasFailure()) return;
    }
  }
  std::printf("fault loop: store worker group commit of 5 pushes: K = %llu calls x 5 faults + 1 = %llu runs, %llu failed\n",
              static_cast<unsigned long long>(k), static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(failed_runs));
}

// A 3 MB item makes SQLite spill to the WAL inside the batch; a failed spill
// rolls the whole batch back. The item after it used to wait forever for the
// write turn its own batch held: the worker hung, and no push was answered
// again.
TEST_F(StoreWorkerFaultTest, AFailedSpillOfAHugeItemFailsItsGroupAndDoesNotHangTheWorker) {
  const std::string big_json = "{\"blob\":\"" + std::string(3 << 20, 'x') + "\"}";
  std::vector<std::function<void(Store&)>> items = {
      [this](Store& store) {
        vfs_->arm(1, Fault::io_error_once);  // the first page spilled
        push(store, 0);
      },
      [&big_json](Store& store) { store.pushed_put("pushed-idp", "User", "big", big_json, {}, at(100)); },
      [](Store& store) { push(store, 2); },
  };
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && !finished; ++i) std::this_thread::sleep_for(100ms);
    if (!finished) {
      std::fprintf(stderr, "store_worker_fault_test: the store worker hung after a failed spill\n");
      std::abort();
    }
  });
  const std::vector<std::string> told = group_commit(items);
  finished = true;
  watchdog.join();
  for (size_t i = 0; i < told.size(); ++i) EXPECT_NE(told[i], kOk) << "item " << i << " was acknowledged";
  EXPECT_NE(worker_->write_failure(), "");
  EXPECT_EQ(single_push(3), kOk);
  EXPECT_EQ(worker_->write_failure(), "");
  auto store = reopen_clean();
  EXPECT_FALSE(pushed(*store, 0));
  EXPECT_FALSE(store->pushed_resource("pushed-idp", "User", "big").has_value());
  EXPECT_FALSE(pushed(*store, 2));
  EXPECT_TRUE(pushed(*store, 3));
}

// The worker does not wait for the disk when work is waiting: while one
// group commit's sync is on its way, the next batch runs and commits.
// Neither batch's callers hear back before a sync that covers their commit,
// and if the power goes meanwhile, they are told it failed. (A commit with
// nothing waiting behind it is synced by the worker itself: see
// ALoneCommitIsSyncedByTheWorkerItself.)
TEST_F(StoreWorkerFaultTest, TheNextBatchCommitsWhileTheLastOnesSyncIsOnItsWayAndNobodyHearsBackBeforeIt) {
  for (const bool power_cut : {false, true}) {
    SCOPED_TRACE(power_cut ? "power cut while the sync waits" : "the sync completes");
    worker_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_.string() + suffix);
    vfs_->reset();
    start();
    ASSERT_EQ(single_push(100), kOk);  // the schema and a first commit, synced
    vfs_->hold_syncs();
    io_.restart();
    auto guard = net::make_work_guard(io_);
    std::thread io_thread([this] { io_.run(); });
    enum Told { waiting, ok, failed };
    std::atomic<Told> told[2] = {waiting, waiting};
    const long commits_before = worker_->commits();
    std::atomic<bool> first_running{false};
    std::atomic<bool> second_sent{false};
    auto send = [&](int i) {
      net::co_spawn(io_, [&, i]() -> net::awaitable<void> {
        std::function<bool(Store&)> work = [i, &first_running, &second_sent](Store& store) {
          if (i == 0) {
            // The second push waits in the queue when this batch commits.
            first_running = true;
            while (!second_sent) std::this_thread::sleep_for(1ms);
            std::this_thread::sleep_for(20ms);
          }
          push(store, i);
          return true;
        };
        if (i == 1) second_sent = true;
        try {
          co_await worker_->run<bool>(std::move(work));
          told[i] = ok;
        } catch (const std::exception&) {
          told[i] = failed;
        }
      }, net::detached);
    };

    send(0);
    ASSERT_TRUE(wait_for([&] { return first_running.load(); }));
    send(1);
    ASSERT_TRUE(vfs_->wait_for_held_sync(5s)) << "the first commit was never synced";
    EXPECT_TRUE(wait_for([&] { return worker_->commits() == commits_before + 2; }))
        << "the second batch waited for the first one's sync";
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(told[0], waiting) << "told before its commit was synced";
    EXPECT_EQ(told[1], waiting) << "told before its commit was synced";

    if (power_cut) vfs_->cut_power();
    vfs_->release_syncs();
    EXPECT_TRUE(wait_for([&] { return told[0] != waiting && told[1] != waiting; }));
    EXPECT_EQ(told[0], power_cut ? failed : ok);
    EXPECT_EQ(told[1], power_cut ? failed : ok);
    guard.reset();
    io_thread.join();

    worker_.reset();
    if (power_cut) vfs_->restore_power();
    auto store = reopen_clean();
    EXPECT_TRUE(pushed(*store, 100));
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(pushed(*store, i), !power_cut) << "push " << i;
    }
    store.reset();
    if (HasFailure()) return;
  }
}

// With nothing waiting behind it, a commit is synced by the worker itself,
// before it takes more work: a lone push is not handed to another thread.
// Its caller still hears back only after the sync.
TEST_F(StoreWorkerFaultTest, ALoneCommitIsSyncedByTheWorkerItself) {
  ASSERT_EQ(single_push(100), kOk);
  vfs_->hold_syncs();
  io_.restart();
  auto guard = net::make_work_guard(io_);
  std::thread io_thread([this] { io_.run(); });
  std::atomic<int> told{0};  // 0 waiting, 1 ok
  std::function<bool(Store&)> work = [](Store& store) {
    push(store, 0);
    return true;
  };
  net::co_spawn(io_, [&]() -> net::awaitable<void> {
    co_await worker_->run<bool>(std::move(work));
    told = 1;
  }, net::detached);
  ASSERT_TRUE(vfs_->wait_for_held_sync(5s));
  // The worker is inside that sync: a second item waits for it.
  std::atomic<bool> second_ran{false};
  std::function<bool(Store&)> second = [&](Store&) {
    second_ran = true;
    return true;
  };
  net::co_spawn(io_, [&]() -> net::awaitable<void> { co_await worker_->run<bool>(std::move(second)); },
                net::detached);
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(second_ran) << "the worker did not sync the lone commit itself";
  EXPECT_EQ(told, 0) << "told before the sync";
  vfs_->release_syncs();
  EXPECT_TRUE(wait_for([&] { return told != 0 && second_ran; }));
  EXPECT_EQ(told, 1);
  EXPECT_TRUE(second_ran);
  guard.reset();
  io_thread.join();
}

}  // namespace
}  // namespace keywarden
