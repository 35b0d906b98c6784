// The statement cache and the transactions built on it. Each test is named
// after the failure it guards against.
#include "daemon/store/statement.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/store/row_batches.h"
#include "daemon/store/store.h"

namespace keywarden::sql {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};

class StatementCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(":memory:", &raw), SQLITE_OK);
    db_.reset(raw);
    exec(db_.get(), "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    exec(db_.get(), "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    cache_ = std::make_unique<StatementCache>(db_.get());
  }
  void TearDown() override { cache_.reset(); }

  // Statements prepared on the connection, idle or in use.
  int prepared() const {
    int n = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(db_.get(), nullptr); s != nullptr;
         s = sqlite3_next_stmt(db_.get(), s)) {
      ++n;
    }
    return n;
  }

  std::unique_ptr<sqlite3, CloseDb> db_;
  std::unique_ptr<StatementCache> cache_;
};

constexpr const char* kValueOf = "SELECT v FROM t WHERE k = ?1";

// Row batches (a large group change): the numbering of the rows' parameters,
// and batches that cover a run exactly, with no row twice (an upsert would
// write one key twice) and none left out.
TEST(RowBatchesTest, EachRowGetsItsOwnParametersAfterTheSharedOnes) {
  EXPECT_EQ(repeat_rows("(?1, #0, #1)", 2, 2), "(?1, ?2, ?3), (?1, ?4, ?5)");
  EXPECT_EQ(repeat_rows("#0", 3, 3), "?3, ?4, ?5");
  EXPECT_EQ(repeat_rows("(?1, #1, ?2, #0)", 1, 4), "(?1, ?5, ?2, ?4)");
}

TEST(RowBatchesTest, BatchesCoverEveryRowOnceWithFewSizes) {
  for (const size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{37}, size_t{256}, size_t{20'003}}) {
    std::vector<int> seen(n, 0);
    std::vector<size_t> sizes;
    for_each_batch(n, [&](size_t at, size_t count) {
      for (size_t i = at; i < at + count; ++i) ++seen.at(i);
      sizes.push_back(count);
    });
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(n)) << n;
    EXPECT_LE(sizes.size(), n / kLargestBatch + 7 + 7 + 3) << n;  // the rest: under 8 of 32, 8 of 4, 4 of 1
  }
  std::vector<size_t> sizes;
  for_each_batch(300, [&](size_t, size_t count) { sizes.push_back(count); });
  EXPECT_EQ(sizes, (std::vector<size_t>{256, 32, 4, 4, 4}));
}

TEST_F(StatementCacheTest, TheSameSqlIsPreparedOnceNotOnEveryCall) {
  for (int k = 1; k <= 3; ++k) {
    Statement query(*cache_, kValueOf);
    query.bind(1, k);
    ASSERT_TRUE(query.step());
  }
  EXPECT_EQ(prepared(), 1);
  EXPECT_EQ(cache_->idle(), 1u);
}

TEST_F(StatementCacheTest, ANestedUseOfTheSameSqlGetsItsOwnStatement) {
  Statement outer(*cache_, "SELECT k FROM t ORDER BY k");
  std::string seen;
  while (outer.step()) {
    Statement inner(*cache_, "SELECT k FROM t ORDER BY k");  // the outer one is busy
    ASSERT_TRUE(inner.step());
    EXPECT_EQ(inner.int64(0), 1);
    Statement value(*cache_, kValueOf);
    value.bind(1, outer.int64(0));
    ASSERT_TRUE(value.step());
    seen += value.text(0) + " ";
  }
  EXPECT_EQ(seen, "one two three ");
  EXPECT_LE(prepared(), 3);
}

TEST_F(StatementCacheTest, AGivenBackStatementHoldsNoReadTransactionAndNoOldBinding) {
  {
    Statement query(*cache_, kValueOf);
    query.bind(1, 2);
    ASSERT_TRUE(query.step());  // a row is pending: the statement is busy
  }
  for (sqlite3_stmt* s = sqlite3_next_stmt(db_.get(), nullptr); s != nullptr;
       s = sqlite3_next_stmt(db_.get(), s)) {
    EXPECT_FALSE(sqlite3_stmt_busy(s));
  }
  EXPECT_NE(sqlite3_get_autocommit(db_.get()), 0);  // no transaction left open
  Statement again(*cache_, kValueOf);  // the same statement, its parameter NULL again
  EXPECT_FALSE(again.step());
}

// bind_borrowed hands SQLite the caller's bytes without a copy: the
// statement reads them where they are, and giving it back clears the binding
// so no later borrower sees a pointer to text that may be gone.
TEST_F(StatementCacheTest, ABorrowedBindingReadsTheCallersTextAndIsClearedWhenGivenBack) {
  std::string name = "two";
  {
    Statement query(*cache_, "SELECT k FROM t WHERE v = ?1");
    query.bind_borrowed(1, name);
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query.int64(0), 2);
    query.reset();
    name = "one";  // changed after the reset: the next binding reads it anew
    query.bind_borrowed(1, name);
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query.int64(0), 1);
  }
  name.assign(64, 'x');  // the given-back statement must not still point here
  Statement again(*cache_, "SELECT k FROM t WHERE v = ?1");
  EXPECT_FALSE(again.step());  // its parameter is NULL again
}

TEST_F(StatementCacheTest, ABadStatementThrowsAndLeavesTheCacheUsable) {
  EXPECT_THROW(Statement(*cache_, "SELEC nonsense"), StoreError);
  Statement query(*cache_, kValueOf);
  query.bind(1, 3);
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query.text(0), "three");
}

TEST_F(StatementCacheTest, AFailedStepDoesNotPoisonTheNextBorrower) {
  {
    Statement insert(*cache_, "INSERT INTO t (k, v) VALUES (?1, ?2)");
    insert.bind(1, 1).bind(2, "duplicate");
    EXPECT_THROW(insert.run(), StoreError);
  }
  Statement insert(*cache_, "INSERT INTO t (k, v) VALUES (?1, ?2)");
  insert.bind(1, 4).bind(2, "four");
  EXPECT_NO_THROW(insert.run());
}

TEST_F(StatementCacheTest, ATransactionThroughTheCacheCommitsAndRollsBack) {
  {
    Transaction txn(*cache_, Transaction::Mode::write);
    exec(*cache_, "DELETE FROM t WHERE k = 1");
    // destroyed without commit: rolled back
  }
  {
    Transaction txn(*cache_, Transaction::Mode::write);
    {
      Transaction nested(*cache_, Transaction::Mode::write);  // a savepoint
      exec(*cache_, "DELETE FROM t WHERE k = 2");
    }
    exec(*cache_, "DELETE FROM t WHERE k = 3");
    txn.commit();
  }
  Statement count(*cache_, "SELECT group_concat(k) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.text(0), "1,2");
}

// Issue 14: an I/O error or a full disk while SQLite spills a large write to
// the WAL rolls the whole transaction back, not only the statement. The next
// item of a batch then began a transaction of its own and waited forever for
// the write turn its own batch held: the store worker hung.
TEST_F(StatementCacheTest, AWriteAfterSqliteRolledBackTheWholeTransactionFailsInsteadOfWaitingForItsOwnTurn) {
  auto turns = std::make_shared<WriteTurns>();
  cache_->set_write_turns(turns);
  {
    Transaction batch(*cache_, Transaction::Mode::write);
    {
      Transaction item(*cache_, Transaction::Mode::write);
      exec(*cache_, "DELETE FROM t WHERE k = 1");
      // What SQLite does by itself after such an error.
      ASSERT_EQ(sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    }
    EXPECT_THROW(Transaction(*cache_, Transaction::Mode::write), StoreError);
    EXPECT_THROW(batch.commit(), StoreError);
  }
  EXPECT_EQ(turns->taken(), 0u);
  // The connection takes writes again.
  Transaction txn(*cache_, Transaction::Mode::write);
  exec(*cache_, "DELETE FROM t WHERE k = 2");
  txn.commit();
  Statement count(*cache_, "SELECT group_concat(k) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.text(0), "1,3");
}

TEST_F(StatementCacheTest, ClearingTheCacheLetsTheConnectionClose) {
  { Statement query(*cache_, kValueOf); }
  cache_->clear();
  EXPECT_EQ(prepared(), 0);
}

TEST(WriteTurnsTest, TheSameFileSharesItsTurnsAndAnotherFileDoesNot) {
  const auto a = WriteTurns::of("/tmp/kw-turns-test/a.db");
  EXPECT_EQ(a, WriteTurns::of("/tmp/kw-turns-test/../kw-turns-test/a.db"));
  EXPECT_NE(a, WriteTurns::of("/tmp/kw-turns-test/b.db"));
}

TEST(WriteTurnsTest, WaitingWritersAreServedInArrivalOrder) {
  WriteTurns turns;
  std::mutex m;
  std::vector<int> order;
  turns.acquire();  // held, like a chunk of a full read being written
  std::vector<std::thread> writers;
  for (int i = 0; i < 3; ++i) {
    writers.emplace_back([&, i] {
      turns.acquire();
      {
        std::lock_guard lock(m);
        order.push_back(i);
      }
      turns.release();
    });
    // The next one arrives only once this one waits.
    while (turns.taken() != static_cast<uint64_t>(i) + 2) std::this_thread::yield();
  }
  // The holder comes back at once for its next chunk: it queues behind them.
  turns.release();
  turns.acquire();
  {
    std::lock_guard lock(m);
    order.push_back(99);
  }
  turns.release();
  for (auto& t : writers) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 99}));
  EXPECT_EQ(turns.taken(), 0u);
}

}  // namespace
}  // namespace keywarden::sql
