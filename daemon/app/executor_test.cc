// The executor against a fake Palette and a real Store on a temporary file.
// Each test is named after the failure it guards against.
#include "daemon/app/executor.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <exception>
#include <functional>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keywarden {
namespace {

namespace net = boost::asio;

// Palette as PaletteActions promises it: 2xx or 404 return a MutationResult,
// anything else throws PaletteError (transient for 0, 429 and 5xx, the
// answers a real client gives up on only after its own retries).
class FakePalette final : public PaletteActions {
 public:
  struct Call {
    std::string method;  // "PUT state=false", "PUT state=true", "DELETE"
    std::string key_uid;
  };

  // Scripts the next answers for `key_uid`; once they are used up, 204.
  void answer(const std::string& key_uid, std::vector<int> statuses) {
    for (int s : statuses) scripted_[key_uid].push_back(s);
  }

  net::awaitable<MutationResult> set_key_active(std::string key_uid, bool active) override {
    calls.push_back({std::string("PUT state=") + (active ? "true" : "false"), key_uid});
    if (on_call) on_call(key_uid);
    co_return respond(key_uid);
  }
  net::awaitable<MutationResult> delete_key(std::string key_uid) override {
    calls.push_back({"DELETE", key_uid});
    if (on_call) on_call(key_uid);
    co_return respond(key_uid);
  }

  // Runs as each call is received, before it is answered.
  std::function<void(const std::string& key_uid)> on_call;

  std::vector<std::string> keys_called() const {
    std::vector<std::string> uids;
    for (const Call& c : calls) uids.push_back(c.key_uid);
    return uids;
  }

  std::vector<Call> calls;

 private:
  MutationResult respond(const std::string& key_uid) {
    int status = 204;
    auto it = scripted_.find(key_uid);
    if (it != scripted_.end() && !it->second.empty()) {
      status = it->second.front();
      it->second.pop_front();
    }
    if ((status >= 200 && status < 300) || status == 404) return MutationResult{status, 1};
    const int attempts = (status == 0 || status == 429 || status >= 500) ? 8 : 1;
    throw PaletteError("Palette answered " + std::to_string(status), status, "", attempts);
  }

  std::map<std::string, std::deque<int>> scripted_;
};

Action action(ActionKind kind, const std::string& key_uid) {
  Action a;
  a.kind = kind;
  a.key_uid = key_uid;
  a.key_name = key_uid + "-name";
  a.owner_uid = "owner-of-" + key_uid;
  a.owner_email = "owner@example.com";
  a.reason = kind == ActionKind::delete_key ? Reason::grace_elapsed : Reason::identity_inactive;
  a.source = "corp-idp";
  return a;
}

Action revoke(const std::string& key_uid) { return action(ActionKind::revoke, key_uid); }

PaletteKey key(const std::string& uid, bool active) {
  PaletteKey k;
  k.uid = uid;
  k.name = uid + "-name";
  k.owner_uid = "owner-of-" + uid;
  k.active = active;
  return k;
}

template <typename T>
T run(net::awaitable<T> work) {
  net::io_context io;
  std::optional<T> result;
  std::exception_ptr failure;
  net::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) result = std::move(value);
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-executor-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_ = Store::open(dir_ / "keywarden.db");
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // What a restart does: the process and its connection are gone, the file stays.
  void restart() {
    store_.reset();
    store_ = Store::open(dir_ / "keywarden.db");
  }

  ExecutionReport carry_out(const std::vector<Action>& actions, const std::string& plan_id = "p-000000000001") {
    Executor executor(*store_, palette_);
    return run(executor.carry_out(plan_id, actions));
  }

  ExecutionReport resume(const PaletteInventory& inventory) {
    Executor executor(*store_, palette_);
    return run(executor.resume_pending(inventory));
  }

  std::vector<std::string> pending_keys() const {
    std::vector<std::string> uids;
    for (const JournalEntry& e : store_->pending_intents()) uids.push_back(e.action.key_uid);
    return uids;
  }

  std::vector<AuditEntry> audit() const { return store_->audit_since(std::nullopt); }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  FakePalette palette_;
};

using Keys = std::vector<std::string>;

// ---- Our own credential refused -----------------------------------------------

class RefusedCredential : public ExecutorTest, public ::testing::WithParamInterface<int> {};

TEST_P(RefusedCredential, StopsTheRunAndLeavesTheRestPending) {
  palette_.answer("k1", {GetParam()});
  const ExecutionReport report = carry_out({revoke("k1"), revoke("k2"), revoke("k3")});

  EXPECT_EQ(palette_.keys_called(), Keys{"k1"}) << "no call may follow a refused credential";
  EXPECT_EQ(report.failed, 1);
  EXPECT_EQ(report.done, 0);
  EXPECT_EQ(report.pending, 2);
  EXPECT_EQ(pending_keys(), (Keys{"k2", "k3"}));
  const auto rows = audit();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].result, "failed");
  EXPECT_EQ(rows[0].http_status, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Status, RefusedCredential, ::testing::Values(401, 403));

TEST_F(ExecutorTest, AnotherRefusalFailsOnlyThatActionAndTheRunGoesOn) {
  palette_.answer("k1", {400});
  const ExecutionReport report = carry_out({revoke("k1"), revoke("k2")});

  EXPECT_EQ(palette_.keys_called(), (Keys{"k1", "k2"}));
  EXPECT_EQ(report.failed, 1);
  EXPECT_EQ(report.done, 1);
  EXPECT_EQ(report.pending, 0);
  EXPECT_TRUE(pending_keys().empty());
  const auto rows = audit();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].key_uid, "k1");
  EXPECT_EQ(rows[0].result, "failed");
  EXPECT_EQ(rows[1].result, "done");
}

// ---- 404 ---------------------------------------------------------------------

TEST_F(ExecutorTest, NotFoundOnRevokeOrDeleteCountsAsDone) {
  palette_.answer("gone-revoke", {404});
  palette_.answer("gone-delete", {404});
  const ExecutionReport report =
      carry_out({revoke("gone-revoke"), action(ActionKind::delete_key, "gone-delete")});

  EXPECT_EQ(report.done, 2);
  EXPECT_EQ(report.failed, 0);
  EXPECT_EQ(report.pending, 0);
  ASSERT_EQ(report.completed.size(), 2u);
  EXPECT_TRUE(pending_keys().empty());
  const auto rows = audit();
  ASSERT_EQ(rows.size(), 2u);
  for (const AuditEntry& row : rows) {
    EXPECT_EQ(row.result, "done") << row.key_uid;
    EXPECT_EQ(row.http_status, 404) << row.key_uid;
    EXPECT_EQ(row.detail, "Palette answered 404: already gone") << row.key_uid;
  }
  EXPECT_EQ(palette_.calls[0].method, "PUT state=false");
  EXPECT_EQ(palette_.calls[1].method, "DELETE");
}

// ---- 429, 5xx and connection failures ------------------------------------------

class PaletteUnavailable : public ExecutorTest, public ::testing::WithParamInterface<int> {};

TEST_P(PaletteUnavailable, NoActionIsDroppedAndTheNextRunCarriesThemOut) {
  palette_.answer("k2", {GetParam()});
  std::vector<std::string> observed;
  {
    Executor executor(*store_, palette_);
    executor.set_observer([&](const Action& a, std::string_view result, double) {
      observed.push_back(a.key_uid + ":" + std::string(result));
    });
    const ExecutionReport report = run(executor.carry_out("p-000000000001", {revoke("k1"), revoke("k2"), revoke("k3")}));
    EXPECT_EQ(report.done, 1);
    EXPECT_EQ(report.failed, 0);
    EXPECT_EQ(report.pending, 2);
  }
  // The outage is not spent against: k3 waits without a call.
  EXPECT_EQ(palette_.keys_called(), (Keys{"k1", "k2"}));
  EXPECT_EQ(observed, (std::vector<std::string>{"k1:done", "k2:pending"}));
  EXPECT_EQ(pending_keys(), (Keys{"k2", "k3"}));

  restart();
  palette_.calls.clear();
  PaletteInventory inventory;
  inventory.keys = {key("k1", false), key("k2", true), key("k3", true)};
  const ExecutionReport resumed = resume(inventory);

  EXPECT_EQ(palette_.keys_called(), (Keys{"k2", "k3"}));
  EXPECT_EQ(resumed.done, 2);
  EXPECT_EQ(resumed.pending, 0);
  EXPECT_TRUE(pending_keys().empty());
  EXPECT_EQ(store_->revoked_keys().size(), 3u);
}

// 0 is a connection failure after every retry.
INSTANTIATE_TEST_SUITE_P(Status, PaletteUnavailable, ::testing::Values(429, 500, 503, 0));

// ---- Restart with pending intents ----------------------------------------------

TEST_F(ExecutorTest, PendingIntentsResumeAfterARestartWithoutRepeatingWhatTookEffect) {
  // A crash between journaling and the calls: nothing was sent by us, but
  // Palette shows k1 revoked already (say the call left before the crash).
  store_->journal_intents("p-000000000002",
                          {revoke("k1"), revoke("k2"), action(ActionKind::delete_key, "k3"),
                           action(ActionKind::reactivate, "k4")},
                          now_utc());
  restart();

  PaletteInventory inventory;
  inventory.keys = {key("k1", false), key("k2", true), key("k3", false), key("k4", false)};
  const ExecutionReport report = resume(inventory);

  EXPECT_EQ(palette_.keys_called(), (Keys{"k2", "k3", "k4"}));
  EXPECT_EQ(palette_.calls[2].method, "PUT state=true");
  EXPECT_EQ(report.confirmed, 1);
  EXPECT_EQ(report.done, 3);
  EXPECT_EQ(report.pending, 0);
  ASSERT_EQ(report.completed.size(), 4u);
  EXPECT_EQ(report.completed[0].key_uid, "k1");
  EXPECT_TRUE(pending_keys().empty());
  const auto revoked = store_->revoked_keys();
  EXPECT_TRUE(revoked.count("k1") && revoked.count("k2"));
  EXPECT_FALSE(revoked.count("k3")) << "a delete takes the key off the revoked list";
}

TEST_F(ExecutorTest, AResumedDeleteOfAKeyAlreadyGoneSendsNothing) {
  store_->journal_intents("p-000000000003", {action(ActionKind::delete_key, "k1")}, now_utc());
  restart();
  const ExecutionReport report = resume(PaletteInventory{});
  EXPECT_TRUE(palette_.calls.empty());
  EXPECT_EQ(report.confirmed, 1);
  EXPECT_TRUE(pending_keys().empty());
}

// ---- Never twice ----------------------------------------------------------------

TEST_F(ExecutorTest, NothingIsSentTwiceOnceDone) {
  carry_out({revoke("k1"), revoke("k2")});
  ASSERT_EQ(palette_.calls.size(), 2u);

  // A stale inventory (read before the calls) still shows both keys active:
  // what is done is done, whatever an old picture says.
  restart();
  PaletteInventory stale;
  stale.keys = {key("k1", true), key("k2", true)};
  const ExecutionReport report = resume(stale);
  EXPECT_EQ(palette_.calls.size(), 2u);
  EXPECT_EQ(report.done + report.confirmed, 0);

  const auto rows = audit();
  EXPECT_EQ(rows.size(), 2u) << "one audit row per action";
}

TEST_F(ExecutorTest, AnIntentLeftPendingIsSentOnlyOnceAcrossTwoResumes) {
  palette_.answer("k1", {503});
  carry_out({revoke("k1")});
  PaletteInventory inventory;
  inventory.keys = {key("k1", true)};
  resume(inventory);  // sends it, done
  resume(inventory);  // nothing left
  EXPECT_EQ(palette_.keys_called(), (Keys{"k1", "k1"}));  // the 503, then the one that took effect
}

// ---- Intent before call ----------------------------------------------------------

TEST_F(ExecutorTest, EachIntentIsJournaledBeforeItsCallIsSent) {
  std::vector<std::string> journaled_at_call;
  palette_.on_call = [&](const std::string& key_uid) {
    for (const JournalEntry& e : store_->pending_intents())
      if (e.action.key_uid == key_uid) journaled_at_call.push_back(key_uid);
  };
  carry_out({revoke("k1"), action(ActionKind::delete_key, "k2")});
  EXPECT_EQ(journaled_at_call, (Keys{"k1", "k2"}));
}

TEST_F(ExecutorTest, JournalWritesGoThroughTheStoreWritesWhenSet) {
  // The daemon hands journal writes to its store worker; each is awaited
  // before the executor goes on, so the intent is still durable before its call.
  std::vector<std::string> journaled_at_call;
  palette_.on_call = [&](const std::string& key_uid) {
    for (const JournalEntry& e : store_->pending_intents())
      if (e.action.key_uid == key_uid) journaled_at_call.push_back(key_uid);
  };
  int writes = 0;
  Executor executor(*store_, palette_);
  executor.set_store_writes([&](std::function<void(Store&)> work) -> net::awaitable<void> {
    ++writes;
    work(*store_);
    co_return;
  });
  const ExecutionReport report = run(executor.carry_out("p-000000000005", {revoke("k1"), revoke("k2")}));
  EXPECT_EQ(report.done, 2);
  EXPECT_EQ(writes, 3) << "one write for the intents, one per outcome";
  EXPECT_EQ(journaled_at_call, (Keys{"k1", "k2"}));
  EXPECT_TRUE(pending_keys().empty());
}

// ---- Stop ---------------------------------------------------------------------

TEST_F(ExecutorTest, AStopRequestLeavesUnsentActionsPending) {
  Executor executor(*store_, palette_);
  executor.request_stop();
  const ExecutionReport report = run(executor.carry_out("p-000000000004", {revoke("k1"), revoke("k2")}));
  EXPECT_TRUE(palette_.calls.empty());
  EXPECT_EQ(report.pending, 2);
  EXPECT_EQ(pending_keys(), (Keys{"k1", "k2"}));
}

// ---- apply_to_inventory ---------------------------------------------------------

TEST(ApplyToInventory, ShowsDoneActionsSoThatAPlanDoesNotRepeatThem) {
  PaletteInventory inventory;
  inventory.keys = {key("k1", true), key("k2", false), key("k3", false), key("k4", true)};
  apply_to_inventory(inventory, {revoke("k1"), action(ActionKind::reactivate, "k2"),
                                 action(ActionKind::delete_key, "k3")});
  ASSERT_EQ(inventory.keys.size(), 3u);
  EXPECT_FALSE(inventory.keys[0].active);
  EXPECT_TRUE(inventory.keys[1].active);
  EXPECT_EQ(inventory.keys[2].uid, "k4");
  EXPECT_TRUE(inventory.keys[2].active);
}

}  // namespace
}  // namespace keywarden
