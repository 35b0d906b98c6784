// WalCheckpointer: WAL checkpoints on a thread of their own, with a hard
// limit that keeps the WAL bounded when they cannot keep up.
#include "daemon/store/checkpointer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "daemon/store/store.h"

namespace keywarden {
namespace {

namespace fs = std::filesystem;

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kw-checkpointer-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = dir_ / "keywarden.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  static bool eventually(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  uintmax_t wal_bytes() const {
    std::error_code ec;
    const auto size = fs::file_size(db_.string() + "-wal", ec);
    return ec ? 0 : size;
  }

  fs::path dir_;
  fs::path db_;
};

// About `kib` KiB of data in one commit.
void write(Store& store, const std::string& name, size_t kib) { store.set_value("t", name, std::string(kib * 1024, 'x')); }

TEST_F(WalCheckpointerTest, TheCheckpointerThreadCheckpointsNotTheCommittingConnection) {
  auto store = Store::open(db_);
  auto checkpointer = std::make_shared<WalCheckpointer>(db_, 20);
  store->checkpoint_with(checkpointer);
  for (int i = 0; i < 30; ++i) write(*store, "v" + std::to_string(i), 4);  // past 20 pages, far below 160
  ASSERT_TRUE(eventually([&] { return checkpointer->background_checkpoints() > 0; }));
  EXPECT_EQ(checkpointer->inline_checkpoints(), 0);
  EXPECT_EQ(checkpointer->failed_checkpoints(), 0);
}

TEST_F(WalCheckpointerTest, AfterABackgroundCheckpointTheNextWriterStartsTheWalOver) {
  auto store = Store::open(db_);
  auto checkpointer = std::make_shared<WalCheckpointer>(db_, 20);
  store->checkpoint_with(checkpointer);
  for (int i = 0; i < 30; ++i) write(*store, "v" + std::to_string(i), 4);
  ASSERT_TRUE(eventually([&] { return checkpointer->background_checkpoints() > 0; }));
  const long before = checkpointer->wal_pages();
  ASSERT_GE(before, 20);
  // The checkpoint copied every frame, so this commit rewinds the WAL: the
  // file is reused from its start instead of growing.
  checkpointer->checkpoint_now();
  write(*store, "after", 1);
  EXPECT_LT(checkpointer->wal_pages(), 10);
}

TEST_F(WalCheckpointerTest, PastTheHardLimitTheCommittingConnectionCheckpointsOnce) {
  auto store = Store::open(db_);
  auto checkpointer = std::make_shared<WalCheckpointer>(db_, 20);  // hard limit 160 pages
  store->checkpoint_with(checkpointer);
  write(*store, "big", 1024);  // about 256 pages in one commit
  EXPECT_EQ(checkpointer->inline_checkpoints(), 1);
  write(*store, "small", 1);
  EXPECT_LT(checkpointer->wal_pages(), 20) << "the inline checkpoint copied everything, so the WAL started over";
}

TEST_F(WalCheckpointerTest, TheWalStaysBoundedUnderASteadyStreamOfCommitsFromTwoConnections) {
  auto a = Store::open(db_);
  auto b = Store::open(db_);
  auto checkpointer = std::make_shared<WalCheckpointer>(db_, 20);
  a->checkpoint_with(checkpointer);
  b->checkpoint_with(checkpointer);
  std::thread other([&] {
    for (int i = 0; i < 1500; ++i) write(*b, "b" + std::to_string(i % 50), 2);
  });
  for (int i = 0; i < 1500; ++i) write(*a, "a" + std::to_string(i % 50), 2);
  other.join();
  // Without the hard limit nothing would stop the WAL from growing while
  // commits keep landing during each background checkpoint. With it, the
  // WAL file stays within twice the limit (160 pages): a commit past it
  // checkpoints inline, though one may find the background checkpoint busy,
  // or the other connection may write before the WAL could start over.
  EXPECT_LE(wal_bytes(), uintmax_t{2 * 160 * (4096 + 24) + 32});
  EXPECT_EQ(checkpointer->failed_checkpoints(), 0);
}

TEST_F(WalCheckpointerTest, EveryCommitSurvivesClosingAndReopening) {
  {
    auto store = Store::open(db_);
    store->checkpoint_with(std::make_shared<WalCheckpointer>(db_, 20));
    for (int i = 0; i < 200; ++i) store->set_value("t", "k" + std::to_string(i), std::to_string(i));
  }
  auto store = Store::open(db_);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(store->get_value("t", "k" + std::to_string(i)), std::to_string(i)) << i;
  }
}

TEST_F(WalCheckpointerTest, ACheckpointerCannotOpenAMissingFolder) {
  EXPECT_THROW(WalCheckpointer(dir_ / "no" / "such" / "keywarden.db"), StoreError);
}

}  // namespace
}  // namespace keywarden
