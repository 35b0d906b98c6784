// Faults at every write (issue 14). Each write path runs once to count its
// writes, syncs and truncates (K), then again and again with the Nth of them
// failing, for every N up to K or a spread of them (n_values): an I/O error
// once or until disarmed, a full disk once or until disarmed, and a power cut
// that drops everything not yet synced. After each run the store is reopened
// without faults and the invariants checked:
// - what the store acknowledged (a method that returned) is there;
// - a transaction is there whole or not at all; the schema, its indexes and
//   its foreign keys pass integrity_check and foreign_key_check;
// - no journaled action is done that Palette did not get, and none is sent
//   again once done;
// - a full read whose writes failed midway backs no revoke or delete;
// - the path then runs to completion on the reopened store.
// A call that threw may still have committed (SQLite reports a failed sync
// after the commit record reached the WAL), so "threw" never means "absent".
#include "daemon/store/fault_pushes_test.h"
#include "daemon/store/fault_vfs.h"
#include "daemon/store/store.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace keywarden {
namespace {

namespace fs = std::filesystem;
using Fault = FaultVfs::Fault;

Timestamp at(int64_t seconds) { return Timestamp{Duration{seconds}}; }

constexpr Fault kFaults[] = {Fault::io_error_once, Fault::io_error_until_disarmed, Fault::disk_full_once,
                             Fault::disk_full_until_disarmed, Fault::power_cut};

const char* name_of(Fault fault) {
  switch (fault) {
    case Fault::io_error_once: return "I/O error once";
    case Fault::io_error_until_disarmed: return "I/O error until disarmed";
    case Fault::disk_full_once: return "disk full once";
    case Fault::disk_full_until_disarmed: return "disk full until disarmed";
    case Fault::power_cut: return "power cut";
  }
  return "?";
}

// Which N to fail at when a path makes k calls: every one up to
// kEveryNUpTo; beyond, the first and the last `ends` (where transactions
// begin and commit) and `spread` evenly between.
constexpr uint64_t kEveryNUpTo = 64;

struct Sample {
  uint64_t ends = 12;
  uint64_t spread = 12;
};

std::vector<uint64_t> n_values(uint64_t k, Sample sample) {
  std::set<uint64_t> ns;
  if (k <= kEveryNUpTo) {
    for (uint64_t n = 1; n <= k; ++n) ns.insert(n);
  } else {
    for (uint64_t n = 1; n <= sample.ends; ++n) {
      ns.insert(n);
      ns.insert(k + 1 - n);
    }
    for (uint64_t i = 1; i <= sample.spread; ++i) {
      ns.insert(sample.ends + i * (k - 2 * sample.ends) / (sample.spread + 1));
    }
  }
  return {ns.begin(), ns.end()};
}

// Aborts the process when a run does not end in time: a store that hangs on
// a failed write (a lost write turn) must fail the test, not stall it.
class Watchdog {
 public:
  explicit Watchdog(std::string what, std::chrono::seconds limit = std::chrono::seconds(60))
      : what_(std::move(what)), thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "store_fault_test: hung for %llds: %s\n", static_cast<long long>(limit.count()),
                         what_.c_str());
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }

 private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

// One write path under faults.
struct WritePath {
  std::string name;
  // The state the path starts from, written once without faults.
  std::function<void(Store&)> setup;
  // Forgets what the last run acknowledged.
  std::function<void()> forget;
  // The path. It notes what the store acknowledged as it goes, and throws
  // StoreError when a write fails.
  std::function<void(Store&)> run;
  // What the caller does on the same connection after a failure, once writes
  // work again (nothing when empty). Not when the caller is gone: after a
  // power cut, or when the process stopped while writes still failed.
  std::function<void(Store&)> after_failure;
  // The invariants on the reopened store.
  std::function<void(Store&, bool failed, bool caller_gone)> check;
  // Carries the path out to the end on the reopened store, and checks it.
  std::function<void(Store&)> redo;
  // The N values when the path makes more than kEveryNUpTo calls.
  Sample sample;
  // Optional: true when every write of the run is there (counted when the
  // run threw all the same: a failed sync after the commit record).
  std::function<bool(Store&)> whole;
};

struct Tally {
  uint64_t k = 0;
  uint64_t n_values = 0;  // per fault kind (the power cut has one more: after the last call)
  uint64_t runs = 0;
  uint64_t failed_runs = 0;  // runs where the path threw
  uint64_t power_cuts = 0;
  uint64_t threw_yet_whole = 0;  // runs that threw, and every write was there after reopen
};

class StoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fault VFS models what a power cut keeps, so the real disk's fsyncs
    // only slow the loop down (twelvefold): tmpfs where there is one.
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "kw-store-fault-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    fs::create_directories(dir_ / "template");
    fs::create_directories(dir_ / "run");
    template_db_ = dir_ / "template" / "keywarden.db";
    db_ = dir_ / "run" / "keywarden.db";
    vfs_ = &FaultVfs::instance();
    vfs_->reset();
    // A large block (a 3 MB item, each copy of it; a big read's vectors)
    // would be a fresh mmap, page-faulted in anew on every run: most of the
    // loop's time on a virtual machine. Kept on the heap, it is reused.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
  void TearDown() override {
    vfs_->reset();
    fs::remove_all(dir_);
  }

  // The run folder holds a copy of the template, and nothing else.
  void fresh_copy() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(db_.string() + suffix);
    fs::copy_file(template_db_, db_);
    vfs_->reset();
  }

  // integrity_check and foreign_key_check on a connection of its own.
  std::string integrity() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    std::string result;
    for (const char* pragma : {"PRAGMA integrity_check", "PRAGMA foreign_key_check"}) {
      sqlite3_stmt* stmt = nullptr;
      EXPECT_EQ(sqlite3_prepare_v2(db, pragma, -1, &stmt, nullptr), SQLITE_OK);
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        result += std::string(pragma) + ": " + (text != nullptr ? text : "NULL") + "\n";
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return result;
  }

  Tally loop(const WritePath& path) {
    Tally tally;
    fs::remove(template_db_);
    if (path.setup) {
      auto store = Store::open(template_db_);
      path.setup(*store);
    } else {
      Store::open(template_db_);
    }
    {  // Unarmed: counts the calls, and the path must work without faults.
      fresh_copy();
      path.forget();
      auto store = Store::open(db_, FaultVfs::kName);
      const uint64_t before = vfs_->calls();
      path.run(*store);
      tally.k = vfs_->calls() - before;
      store.reset();
      store = Store::open(db_);
      path.check(*store, false, false);
    }
    const std::vector<uint64_t> ns = n_values(tally.k, path.sample);
    tally.n_values = ns.size();
    for (const Fault fault : kFaults) {
      // A power cut also comes after the last call, when the path has
      // returned: what it acknowledged must be on disk by then.
      std::vector<uint64_t> fault_ns = ns;
      if (fault == Fault::power_cut) fault_ns.push_back(tally.k + 1);
      for (const uint64_t n : fault_ns) {
        SCOPED_TRACE(path.name + ": " + name_of(fault) + " at call " + std::to_string(n) + " of " +
                     std::to_string(tally.k));
        fresh_copy();
        path.forget();
        bool failed = false;
        bool power_lost = false;
        bool caller_gone = false;
        {
          Watchdog watchdog(path.name + ": " + name_of(fault) + " at call " + std::to_string(n));
          auto store = Store::open(db_, FaultVfs::kName);
          vfs_->arm(n, fault);
          try {
            path.run(*store);
          } catch (const StoreError&) {
            failed = true;
          }
          if (fault == Fault::power_cut) vfs_->cut_power();  // if it has not come yet
          power_lost = vfs_->power_cut();
          if (fault == Fault::io_error_until_disarmed) {
            // The process stops while the disk still fails: the close cannot
            // checkpoint, and the WAL stays as the failed run left it.
            store.reset();
            vfs_->disarm();
            caller_gone = failed;
          } else {
            // The disk recovers while the process goes on.
            vfs_->disarm();
            caller_gone = power_lost;
            if (failed && !caller_gone && path.after_failure) path.after_failure(*store);
            store.reset();  // after a power cut nothing more reaches the disk
          }
          if (power_lost) vfs_->restore_power();
        }
        ++tally.runs;
        tally.failed_runs += failed ? 1 : 0;
        tally.power_cuts += power_lost ? 1 : 0;
        auto store = Store::open(db_);
        EXPECT_EQ(integrity(), "PRAGMA integrity_check: ok\n");
        path.check(*store, failed, caller_gone);
        if (failed && path.whole && path.whole(*store)) ++tally.threw_yet_whole;
        path.redo(*store);
        if (HasFailure()) return tally;  // the first broken run says it; the rest would repeat it
      }
    }
    std::printf("fault loop: %s: K = %llu calls, %llu N values x %zu faults + 1 = %llu runs, %llu threw "
                "(%llu of them with every write there after reopen), %llu power cuts\n",
                path.name.c_str(), static_cast<unsigned long long>(tally.k),
                static_cast<unsigned long long>(tally.n_values), std::size(kFaults),
                static_cast<unsigned long long>(tally.runs), static_cast<unsigned long long>(tally.failed_runs),
                static_cast<unsigned long long>(tally.threw_yet_whole),
                static_cast<unsigned long long>(tally.power_cuts));
    RecordProperty("K", std::to_string(tally.k));
    RecordProperty("runs", std::to_string(tally.runs));
    return tally;
  }

  fs::path dir_;
  fs::path template_db_;
  fs::path db_;
  FaultVfs* vfs_ = nullptr;
};

// ---- Small helpers -------------------------------------------------------------

Identity person(std::string subject_id, IdentityStatus status, std::vector<std::string> groups) {
  Identity identity;
  identity.subject_id = subject_id;
  identity.user_name = subject_id + "-name";
  identity.email = subject_id + "@example.com";
  identity.status = status;
  identity.groups = std::move(groups);
  return identity;
}

Action action(ActionKind kind, std::string key_uid) {
  Action a;
  a.kind = kind;
  a.key_uid = key_uid;
  a.key_name = key_uid + "-name";
  a.owner_uid = "owner-of-" + key_uid;
  a.owner_email = "owner@example.com";
  a.reason = Reason::identity_inactive;
  a.source = "corp-idp";
  return a;
}

using fault_test::push;
using fault_test::pushed;

// ---- Journal: intents, then each marked done after its call ------------------

TEST_F(StoreFaultTest, JournalIntentsAndMarkingThemDone) {
  // What Palette got: calls per key. A key revoked or deleted is in effect.
  std::map<std::string, int> palette_calls;
  bool journaled = false;
  std::set<int64_t> marked_done;
  const std::vector<Action> actions = {action(ActionKind::revoke, "k1"), action(ActionKind::revoke, "k2"),
                                       action(ActionKind::delete_key, "k3")};
  // Every intent of plan-1, in any state (plan-0's one intent has id 1).
  auto journal_of_plan = [](Store& store) {
    std::vector<JournalEntry> entries;
    for (int64_t id = 1; id <= 16; ++id) {
      if (auto entry = store.intent(id); entry && entry->plan_id == "plan-1") entries.push_back(*entry);
    }
    return entries;
  };
  auto done_audits = [](Store& store, const std::string& key) {
    int n = 0;
    for (const auto& a : store.audit_since(std::nullopt)) n += a.plan_id == "plan-1" && a.key_uid == key && a.result == "done";
    return n;
  };
  // As the executor does: the intents durable before any call; each marked
  // done after its call returned.
  auto carry_out = [&](Store& store, const std::vector<JournalEntry>& intents) {
    for (const auto& intent : intents) {
      ++palette_calls[intent.action.key_uid];
      store.mark_done(intent.id, 200, 1, at(101));
      marked_done.insert(intent.id);
    }
  };
  WritePath path;
  path.name = "journal intents + mark done";
  path.setup = [](Store& store) {
    const auto ids = store.journal_intents("plan-0", {action(ActionKind::revoke, "k3")}, at(10));
    store.mark_done(ids[0], 200, 1, at(11));
  };
  path.forget = [&] {
    palette_calls.clear();
    journaled = false;
    marked_done.clear();
  };
  path.run = [&](Store& store) {
    const std::vector<int64_t> ids = store.journal_intents("plan-1", actions, at(100));
    journaled = true;
    std::vector<JournalEntry> intents;
    for (size_t i = 0; i < ids.size(); ++i) intents.push_back(JournalEntry{ids[i], "plan-1", actions[i]});
    carry_out(store, intents);
  };
  path.check = [&](Store& store, bool, bool) {
    for (const Action& a : actions) {
      const int done = done_audits(store, a.key_uid);
      EXPECT_LE(done, 1) << a.key_uid << " audited done twice";
      if (done == 1) {
        EXPECT_GE(palette_calls[a.key_uid], 1) << a.key_uid << " is done but Palette never got it";
      }
    }
    const std::vector<JournalEntry> entries = journal_of_plan(store);
    const int journaled_now = static_cast<int>(entries.size());
    for (const JournalEntry& entry : entries) {
      if (marked_done.count(entry.id) != 0) {
        EXPECT_EQ(entry.state, IntentState::done) << "acknowledged done, found pending";
      }
      if (entry.state == IntentState::done) {
        EXPECT_GE(palette_calls[entry.action.key_uid], 1) << entry.action.key_uid << " done, never sent";
        EXPECT_EQ(done_audits(store, entry.action.key_uid), 1) << "a done intent without its audit row";
      }
    }
    EXPECT_TRUE(journaled_now == 0 || journaled_now == 3) << journaled_now << " of 3 intents journaled";
    if (journaled) {
      EXPECT_EQ(journaled_now, 3) << "acknowledged intents are gone";
    }
    // mark_done is one transaction: the revoked-key record moves with it.
    const auto revoked = store.revoked_keys();
    for (const char* key : {"k1", "k2"}) {
      const bool done = done_audits(store, key) == 1;
      EXPECT_EQ(revoked.count(key) != 0, done) << key;
    }
    EXPECT_EQ(revoked.count("k3") == 0, done_audits(store, "k3") == 1) << "k3";
  };
  path.redo = [&](Store& store) {
    // The executor's resume: a pending intent already in effect at Palette
    // is confirmed without a call, the others are sent; an unjournaled plan
    // is journaled again.
    std::vector<JournalEntry> pending;
    const std::vector<JournalEntry> entries = journal_of_plan(store);
    for (const JournalEntry& entry : entries) {
      if (entry.state == IntentState::pending) pending.push_back(entry);
    }
    if (entries.empty()) {
      const auto ids = store.journal_intents("plan-1", actions, at(100));
      for (size_t i = 0; i < ids.size(); ++i) pending.push_back(JournalEntry{ids[i], "plan-1", actions[i]});
    }
    for (const auto& intent : pending) {
      if (palette_calls[intent.action.key_uid] > 0) {
        store.mark_done(intent.id, 200, 1, at(102), "confirmed from Palette's inventory after an interrupted run");
      } else {
        carry_out(store, {intent});
      }
    }
    for (const JournalEntry& entry : journal_of_plan(store)) EXPECT_EQ(entry.state, IntentState::done);
    for (const Action& a : actions) {
      EXPECT_EQ(palette_calls[a.key_uid], 1) << a.key_uid << " sent " << palette_calls[a.key_uid] << " times";
      EXPECT_EQ(done_audits(store, a.key_uid), 1) << a.key_uid;
    }
    const auto revoked = store.revoked_keys();
    EXPECT_EQ(revoked.size(), 2u);
    EXPECT_EQ(revoked.count("k3"), 0u);
  };
  loop(path);
}

// ---- A full read, written in chunks --------------------------------------------

TEST_F(StoreFaultTest, AFullReadWrittenInChunks) {
  // 2,600 people with one group each are 5,200 row writes: two commits of
  // the read's chunks (Store::apply_full_read writes 5,000 a commit).
  std::vector<Identity> people;
  for (int i = 0; i < 2'600; ++i) people.push_back(person("p" + std::to_string(i), IdentityStatus::active, {"staff"}));
  people.push_back(person("a", IdentityStatus::active, {"admins"}));
  const long entitled = static_cast<long>(people.size());
  bool stored = false;
  WritePath path;
  path.name = "full read in chunks";
  path.setup = [](Store& store) {
    store.apply_full_read("idp",
                          {person("a", IdentityStatus::active, {"staff"}), person("b", IdentityStatus::active, {"staff"}),
                           person("c", IdentityStatus::inactive, {})},
                          3, at(50), {{"next", "old"}});
  };
  path.forget = [&] { stored = false; };
  path.run = [&](Store& store) {
    store.apply_full_read("idp", people, entitled, at(100), {{"next", "new"}});
    stored = true;
  };
  // The reconciler's answer to a failed write (reconciler.cc, read_sources).
  path.after_failure = [](Store& store) { store.record_read_failure("idp", "write failed", at(100)); };
  auto complete = [&](Store& store) {
    const auto health = store.source_health("idp");
    EXPECT_TRUE(health && health->healthy);
    EXPECT_EQ(health->last_success, at(100));
    EXPECT_EQ(health->entitled_count, entitled);
    EXPECT_EQ(store.get_value(Store::cursor_scope("idp"), "next"), "new");
    const auto identities = store.load_identities();
    EXPECT_EQ(identities.size(), people.size() + 2);  // b and c no longer listed: deleted
    EXPECT_EQ(store.load_identity("idp", "b")->status, IdentityStatus::deleted);
    EXPECT_EQ(store.load_identity("idp", "p2599")->status, IdentityStatus::active);
  };
  path.check = [&](Store& store, bool failed, bool caller_gone) {
    // (A membership without its identity would fail foreign_key_check.)
    const auto health = store.source_health("idp");
    ASSERT_TRUE(health.has_value());
    if (stored) {
      complete(store);
      return;
    }
    if (failed && !caller_gone) {
      // The caller recorded the failure: no revoke or delete rests on this
      // source until its next good read.
      EXPECT_FALSE(health->healthy);
      return;
    }
    // The caller is gone (the power went, or the process stopped while the
    // disk failed) and no one recorded the failure: the source is as last
    // reported (the chunks written are facts of this complete read), or the
    // read is there in whole.
    const bool whole = health->last_success == at(100);
    EXPECT_EQ(store.get_value(Store::cursor_scope("idp"), "next"), whole ? "new" : "old");
    EXPECT_EQ(health->entitled_count, whole ? entitled : 3);
    if (whole) complete(store);
  };
  path.redo = [&](Store& store) {
    store.apply_full_read("idp", people, entitled, at(100), {{"next", "new"}});
    complete(store);
  };
  loop(path);
}

// ---- A group commit of pushes ------------------------------------------------------

// The StoreWorker's shape: one transaction, a savepoint per item, an item's
// failure caught so that the others go on. An item is acknowledged only once
// the whole batch committed.
void group_commit(Store& store, const std::vector<std::function<void()>>& items, std::vector<bool>& acknowledged) {
  std::vector<bool> ok(items.size(), false);
  store.batch([&] {
    for (size_t i = 0; i < items.size(); ++i) {
      try {
        store.batch_item(items[i]);
        ok[i] = true;
      } catch (const StoreError&) {
      }
    }
  });
  acknowledged = ok;
}

TEST_F(StoreFaultTest, AGroupCommitOfFivePushes) {
  std::vector<bool> acknowledged;
  WritePath path;
  path.name = "group commit of 5 pushes";
  path.setup = [](Store& store) { push(store, 100); };
  path.forget = [&] { acknowledged.assign(5, false); };
  path.run = [&](Store& store) {
    std::vector<std::function<void()>> items;
    for (int i = 0; i < 5; ++i) items.push_back([&store, i] { push(store, i); });
    group_commit(store, items, acknowledged);
  };
  path.check = [&](Store& store, bool, bool) {
    EXPECT_TRUE(pushed(store, 100));
    for (int i = 0; i < 5; ++i) {
      const bool there = pushed(store, i);
      if (acknowledged[i]) {
        EXPECT_TRUE(there) << "acknowledged push " << i << " is lost";
      }
    }
  };
  path.whole = [](Store& store) {
    for (int i = 0; i < 5; ++i) {
      if (!pushed(store, i)) return false;
    }
    return true;
  };
  path.redo = [&](Store& store) {
    std::vector<std::function<void()>> items;
    for (int i = 0; i < 5; ++i) {
      if (!pushed(store, i)) items.push_back([&store, i] { push(store, i); });
    }
    std::vector<bool> ok;
    group_commit(store, items, ok);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(pushed(store, i));
  };
  loop(path);
}

// One item writes more than SQLite's page cache holds (2 MB by default), so
// SQLite spills pages to the WAL while the item runs, not at the commit. A
// failed spill rolls back the whole transaction, other items' work included.
TEST_F(StoreFaultTest, AGroupCommitWithAThreeMegabyteItem) {
  const std::string big_json = "{\"blob\":\"" + std::string(3 << 20, 'x') + "\"}";
  std::vector<bool> acknowledged;
  auto items_of = [&](Store& store, const std::set<int>& which) {
    std::vector<std::function<void()>> items;
    for (int i : which) {
      if (i == 1) {
        items.push_back([&store, &big_json] { store.pushed_put("pushed-idp", "User", "big", big_json, {}, at(100)); });
      } else {
        items.push_back([&store, i] { push(store, i); });
      }
    }
    return items;
  };
  auto there = [&](Store& store, int i) {
    if (i != 1) return pushed(store, i);
    const auto row = store.pushed_resource("pushed-idp", "User", "big");
    if (row) {
      EXPECT_EQ(row->json.size(), big_json.size());
    }
    return row.has_value();
  };
  WritePath path;
  path.name = "group commit with a 3 MB item";
  path.forget = [&] { acknowledged.assign(3, false); };
  path.run = [&](Store& store) { group_commit(store, items_of(store, {0, 1, 2}), acknowledged); };
  path.check = [&](Store& store, bool, bool) {
    for (int i = 0; i < 3; ++i) {
      const bool present = there(store, i);
      if (acknowledged[i]) {
        EXPECT_TRUE(present) << "acknowledged item " << i << " is lost";
      }
    }
  };
  path.redo = [&](Store& store) {
    std::set<int> missing;
    for (int i = 0; i < 3; ++i) {
      if (!there(store, i)) missing.insert(i);
    }
    std::vector<bool> ok;
    group_commit(store, items_of(store, missing), ok);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(there(store, i)) << i;
  };
  loop(path);
}

// ---- SCIM resources ------------------------------------------------------------

TEST_F(StoreFaultTest, PushedResourceWrites) {
  bool user_and_group = false;  // one push: a user, a group, the user as its member
  bool second_user = false;     // a put of its own (no transaction open)
  bool removing_member = false;  // the removal was called (it may take effect and still throw)
  bool member_removed = false;  // a member removal of its own
  PushedResourceKeys keys;
  keys.user_name_lower = "ann";
  keys.emails = {"ann@example.com"};
  auto first_push = [&](Store& store) {
    store.batch([&] {
      store.pushed_put("pushed-idp", "User", "u1", "{\"userName\":\"ann\"}", keys, at(100));
      store.pushed_put("pushed-idp", "Group", "g1", "{\"displayName\":\"staff\"}", {}, at(100));
      store.pushed_put_member("pushed-idp", "g1", {"u1", "{\"value\":\"u1\"}"});
    });
  };
  auto second_put = [&](Store& store) { store.pushed_put("pushed-idp", "User", "u2", "{\"userName\":\"bob\"}", {}, at(101)); };
  WritePath path;
  path.name = "pushed resources";
  path.forget = [&] { user_and_group = second_user = removing_member = member_removed = false; };
  path.run = [&](Store& store) {
    first_push(store);
    user_and_group = true;
    second_put(store);
    second_user = true;
    removing_member = true;
    store.pushed_remove_member("pushed-idp", "g1", "u1");
    member_removed = true;
  };
  path.check = [&](Store& store, bool, bool) {
    const bool u1 = store.pushed_resource("pushed-idp", "User", "u1").has_value();
    const bool g1 = store.pushed_resource("pushed-idp", "Group", "g1").has_value();
    const bool member = !store.pushed_members("pushed-idp", "g1").empty();
    EXPECT_EQ(u1, g1) << "one push is there only in part";
    if (member) {
      EXPECT_TRUE(g1);
    }
    // The keys are written with the row.
    EXPECT_EQ(store.pushed_find("pushed-idp", "User", PushedResourceKey::email, "ann@example.com").size(), u1 ? 1u : 0u);
    if (user_and_group) {
      EXPECT_TRUE(u1 && g1);
    }
    if (user_and_group && !removing_member) {
      EXPECT_TRUE(member);
    }
    if (second_user) {
      EXPECT_TRUE(store.pushed_resource("pushed-idp", "User", "u2").has_value());
    }
    if (member_removed) {
      EXPECT_FALSE(member);
    }
  };
  path.redo = [&](Store& store) {
    if (!store.pushed_resource("pushed-idp", "User", "u1")) first_push(store);
    if (!store.pushed_resource("pushed-idp", "User", "u2")) second_put(store);
    store.pushed_remove_member("pushed-idp", "g1", "u1");
    EXPECT_TRUE(store.pushed_resource("pushed-idp", "Group", "g1").has_value());
    EXPECT_EQ(store.pushed_count("pushed-idp", "User"), 2);
    EXPECT_TRUE(store.pushed_members("pushed-idp", "g1").empty());
  };
  loop(path);
}

// ---- Audit ------------------------------------------------------------------------

TEST_F(StoreFaultTest, AuditRows) {
  int appended = 0;
  auto entry = [](int i) {
    AuditEntry e;
    e.time = at(100 + i);
    e.plan_id = "audit-plan";
    e.action = "revoke";
    e.key_uid = "k" + std::to_string(i);
    e.result = "done";
    return e;
  };
  auto rows = [](Store& store) {
    std::map<std::string, int> by_key;
    for (const auto& a : store.audit_since(std::nullopt)) {
      if (a.plan_id == "audit-plan") ++by_key[a.key_uid];
    }
    return by_key;
  };
  WritePath path;
  path.name = "audit";
  path.forget = [&] { appended = 0; };
  path.run = [&](Store& store) {
    for (int i = 0; i < 3; ++i) {
      store.append_audit(entry(i));
      ++appended;
    }
  };
  path.check = [&](Store& store, bool, bool) {
    auto by_key = rows(store);
    for (int i = 0; i < 3; ++i) {
      const int n = by_key["k" + std::to_string(i)];
      EXPECT_LE(n, 1);
      if (i < appended) {
        EXPECT_EQ(n, 1) << "acknowledged audit row " << i << " is lost";
      }
    }
  };
  path.whole = [&](Store& store) { return rows(store).size() == 3; };
  path.redo = [&](Store& store) {
    auto by_key = rows(store);
    for (int i = 0; i < 3; ++i) {
      if (by_key["k" + std::to_string(i)] == 0) store.append_audit(entry(i));
    }
    EXPECT_EQ(rows(store).size(), 3u);
  };
  loop(path);
}

// ---- Quarantine ---------------------------------------------------------------------

TEST_F(StoreFaultTest, QuarantineAndItsResolution) {
  bool quarantined = false;
  bool approved = false;
  const std::vector<Action> actions = {action(ActionKind::revoke, "k1"), action(ActionKind::revoke, "k2"),
                                       action(ActionKind::revoke, "k3")};
  auto quarantine_audits = [](Store& store) {
    int n = 0;
    for (const auto& a : store.audit_since(std::nullopt)) n += a.plan_id == "q1" && a.result == "quarantined";
    return n;
  };
  WritePath path;
  path.name = "quarantine";
  path.forget = [&] { quarantined = approved = false; };
  path.run = [&](Store& store) {
    store.quarantine_plan("q1", actions, "3 revocations, more than max_revocations 2", at(100));
    quarantined = true;
    store.resolve_quarantine("q1", QuarantineState::approved, at(101));
    approved = true;
  };
  path.check = [&](Store& store, bool, bool) {
    const auto plan = store.quarantined_plan("q1");
    if (quarantined) {
      EXPECT_TRUE(plan.has_value()) << "acknowledged quarantine is lost";
    }
    if (plan) {
      EXPECT_EQ(plan->actions.size(), 3u);
      EXPECT_EQ(quarantine_audits(store), 3);
    } else {
      EXPECT_EQ(quarantine_audits(store), 0);
    }
    if (approved) {
      EXPECT_EQ(plan->state, QuarantineState::approved);
    }
  };
  path.whole = [](Store& store) {
    const auto plan = store.quarantined_plan("q1");
    return plan && plan->state == QuarantineState::approved;
  };
  path.redo = [&](Store& store) {
    if (!store.quarantined_plan("q1")) store.quarantine_plan("q1", actions, "again", at(102));
    if (store.quarantined_plan("q1")->state == QuarantineState::pending) {
      store.resolve_quarantine("q1", QuarantineState::approved, at(103));
    }
    EXPECT_EQ(store.quarantined_plan("q1")->state, QuarantineState::approved);
    EXPECT_EQ(quarantine_audits(store), 3);
  };
  loop(path);
}

// ---- Cursors, values, events, source health, stale team findings ------------------

TEST_F(StoreFaultTest, CursorsEventsHealthAndFindings) {
  int steps_done = 0;
  const std::vector<StaleMembership> findings = {
      {"u1", "a@example.com", "team-a", "idp", "team-a", at(90)},
      {"u2", "b@example.com", "team-b", "idp", "team-b", at(91)},
  };
  const std::vector<std::function<void(Store&)>> steps = {
      [](Store& store) { store.set_value(Store::cursor_scope("polled-idp"), "next", "url-2"); },
      [](Store& store) { store.remember_event("polled-idp", "e-1", at(100)); },
      [](Store& store) { store.record_source_success("polled-idp", at(100)); },
      [](Store& store) { store.record_read_failure("other-idp", "timeout", at(100)); },
      [&](Store& store) { store.replace_stale_team_memberships(findings, at(100)); },
      [](Store& store) { store.prune_events(at(60)); },
  };
  // Each step's effect, or (before it) the state it started from.
  auto step_in_effect = [&](Store& store, int i) -> bool {
    switch (i) {
      case 0: {
        const auto next = store.get_value(Store::cursor_scope("polled-idp"), "next");
        EXPECT_TRUE(next == "url-1" || next == "url-2") << next.value_or("(none)");
        return next == "url-2";
      }
      case 1: return store.event_seen("polled-idp", "e-1");
      case 2: return store.source_health("polled-idp")->last_success == at(100);
      case 3: return !store.source_health("other-idp")->healthy;
      case 4: {
        const auto stored = store.stale_team_memberships().memberships;
        EXPECT_TRUE(stored.size() == 1 || stored == findings) << stored.size() << " findings: a mix";
        return stored == findings;
      }
      case 5: return !store.event_seen("polled-idp", "e-0");
    }
    return false;
  };
  WritePath path;
  path.name = "cursors, events, health, findings";
  path.setup = [](Store& store) {
    store.set_value(Store::cursor_scope("polled-idp"), "next", "url-1");
    store.remember_event("polled-idp", "e-0", at(50));
    store.record_source_success("polled-idp", at(50));
    store.record_source_success("other-idp", at(50));
    store.replace_stale_team_memberships({{"u9", "z@example.com", "team-z", "idp", "team-z", at(40)}}, at(50));
  };
  path.forget = [&] { steps_done = 0; };
  path.run = [&](Store& store) {
    for (const auto& step : steps) {
      step(store);
      ++steps_done;
    }
  };
  path.check = [&](Store& store, bool, bool) {
    for (int i = 0; i < static_cast<int>(steps.size()); ++i) {
      const bool in_effect = step_in_effect(store, i);
      if (i < steps_done) {
        EXPECT_TRUE(in_effect) << "acknowledged step " << i << " is lost";
      }
    }
  };
  path.whole = [&](Store& store) {
    for (int i = 0; i < static_cast<int>(steps.size()); ++i) {
      if (!step_in_effect(store, i)) return false;
    }
    return true;
  };
  path.redo = [&](Store& store) {
    for (const auto& step : steps) step(store);
    for (int i = 0; i < static_cast<int>(steps.size()); ++i) EXPECT_TRUE(step_in_effect(store, i)) << i;
  };
  loop(path);
}


// Every push of a group commit is a savepoint, and SQLite copies each
// existing page the push changes into the savepoint's journal. That journal
// stays in memory (configure_sqlite in store.cc): pushes that each change
// some twenty existing pages open no file, where SQLite's default (64 KiB)
// would move the journal to a file at the first of them and write every
// later push's pages there. One savepoint that changes more than 4 MiB of
// existing pages stays in memory too, and commits: Debian 12's SQLite fails
// the spill of a journal past 128 KiB with SQLITE_FULL when the threshold is
// raised, which is why the threshold is "never" and not a larger number.
TEST_F(StoreFaultTest, SavepointJournalsStayInMemory) {
  auto store = Store::open(db_, FaultVfs::kName);
  // About one page each: a resource's row is a little under 4 KiB.
  auto json_of = [](int i, char fill) {
    return "{\"n\":" + std::to_string(i) + ",\"blob\":\"" + std::string(3900, fill) + "\"}";
  };
  constexpr int kResources = 1200;
  store->batch([&] {
    for (int i = 0; i < kResources; ++i) {
      store->pushed_put("pushed-idp", "User", "u" + std::to_string(i), json_of(i, 'a'), {}, at(100));
    }
  });

  // Thirty pushes in one group commit, each rewriting twenty resources
  // (over 80 KiB of existing pages).
  const uint64_t files_before = vfs_->savepoint_journal_files();
  store->batch([&] {
    for (int item = 0; item < 30; ++item) {
      store->batch_item([&] {
        for (int i = item; i < kResources; i += kResources / 20) {
          store->pushed_put("pushed-idp", "User", "u" + std::to_string(i), json_of(i, 'b'), {}, at(101));
        }
      });
    }
  });
  EXPECT_EQ(vfs_->savepoint_journal_files(), files_before)
      << "a savepoint's journal went to a file: each later push in the commit writes its pages to disk twice";
  EXPECT_NE(store->pushed_resource("pushed-idp", "User", "u0")->json.find('b'), std::string::npos);

  // One push rewriting all 1,200 (about 4.8 MB of existing pages).
  store->batch([&] {
    store->batch_item([&] {
      for (int i = 0; i < kResources; ++i) {
        store->pushed_put("pushed-idp", "User", "u" + std::to_string(i), json_of(i, 'c'), {}, at(102));
      }
    });
  });
  EXPECT_EQ(vfs_->savepoint_journal_files(), files_before) << "a savepoint's journal went to a file";
  EXPECT_NE(store->pushed_resource("pushed-idp", "User", "u1199")->json.find('c'), std::string::npos);
}

}  // namespace
}  // namespace keywarden
