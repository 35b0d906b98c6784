// The state directory and the database files are private whatever the umask.
#include "daemon/store/state_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "daemon/store/store.h"

namespace keywarden {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class StateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kw-state-files-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    ::umask(saved_umask_);
    fs::remove_all(dir_);
  }
  void set_umask(mode_t mask) { ::umask(mask); }

  // Opens a store and writes to it, so that SQLite makes its -wal and -shm.
  static std::unique_ptr<Store> open_and_write(const fs::path& db) {
    auto store = Store::open(db);
    store->set_value("test", "written", "yes");
    return store;
  }

  fs::path dir_;
  mode_t saved_umask_ = ::umask(022);
};

TEST_F(StateFilesTest, DatabaseWalAndShmAre0600UnderUmask022) {
  set_umask(022);
  const fs::path db = dir_ / "keywarden.db";
  auto store = open_and_write(db);
  ASSERT_TRUE(fs::exists(db.string() + "-wal"));
  ASSERT_TRUE(fs::exists(db.string() + "-shm"));
  EXPECT_EQ(mode_of(db), 0600u);
  EXPECT_EQ(mode_of(db.string() + "-wal"), 0600u);
  EXPECT_EQ(mode_of(db.string() + "-shm"), 0600u);
}

TEST_F(StateFilesTest, ANewDatabaseIsWritableAndPrivateUnderAStrictUmask) {
  // 0277 would leave O_CREAT's 0600 read-only: the store could not write.
  set_umask(0277);
  const fs::path db = dir_ / "keywarden.db";
  auto store = open_and_write(db);
  EXPECT_EQ(store->get_value("test", "written"), "yes");
  EXPECT_EQ(mode_of(db), 0600u);
}

TEST_F(StateFilesTest, AnExistingLooseDatabaseIsMadePrivateOnOpen) {
  const fs::path db = dir_ / "keywarden.db";
  open_and_write(db).reset();
  // As an older keywarden left them under umask 022.
  for (const std::string& f : {db.string(), db.string() + "-wal", db.string() + "-shm"}) {
    if (fs::exists(f)) {
      ASSERT_EQ(::chmod(f.c_str(), 0644), 0);
    }
  }
  { std::ofstream(db.string() + "-journal") << ""; }
  ASSERT_EQ(::chmod((db.string() + "-journal").c_str(), 0664), 0);
  auto store = open_and_write(db);
  EXPECT_EQ(mode_of(db), 0600u);
  EXPECT_EQ(mode_of(db.string() + "-wal"), 0600u);
  EXPECT_EQ(mode_of(db.string() + "-shm"), 0600u);
  EXPECT_EQ(mode_of(db.string() + "-journal"), 0600u);
}

TEST_F(StateFilesTest, StateDirIsCreated0700WithItsParentsUnderUmask022) {
  set_umask(022);
  const fs::path state = dir_ / "var" / "lib" / "keywarden";
  create_state_dir(state);
  EXPECT_EQ(mode_of(state), 0700u);
  EXPECT_EQ(mode_of(dir_ / "var"), 0755u) << "parents as mkdir -p makes them";
  // And the daemon can then open its store there.
  auto store = open_and_write(state / "keywarden.db");
  EXPECT_EQ(mode_of(state / "keywarden.db"), 0600u);
}

TEST_F(StateFilesTest, StateDirIs0700UnderAStrictUmask) {
  set_umask(0277);
  const fs::path state = dir_ / "state";
  create_state_dir(state);
  EXPECT_EQ(mode_of(state), 0700u);
}

TEST_F(StateFilesTest, AnExistingStateDirIsLeftAsItIs) {
  const fs::path state = dir_ / "chosen";
  fs::create_directory(state);
  ASSERT_EQ(::chmod(state.c_str(), 0750), 0);
  create_state_dir(state);
  EXPECT_EQ(mode_of(state), 0750u);
}

TEST_F(StateFilesTest, AStateDirThatIsAFileIsAnError) {
  const fs::path state = dir_ / "state";
  { std::ofstream(state) << "x"; }
  try {
    create_state_dir(state);
    FAIL() << "a file was taken for the state directory";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(state.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace keywarden
