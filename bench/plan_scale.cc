// A full plan as the daemon makes it, from SQLite: load 100,000 identities
// with 1,000,000 memberships from the store, judge 250,000 keys, and report
// wall time and peak memory (SPEC §7: under 2 s and 400 MB on 2 cores).
//
//   plan_scale prepare DB   writes the identities into a fresh store
//   plan_scale plan DB [VERDICTS]
//                           loads them and plans (run it as its own process
//                           so that peak RSS is the plan's alone); with
//                           VERDICTS, also writes every verdict and action
//                           there, one per line, so that a change meant to
//                           be faster can be shown to decide exactly the same
//   plan_scale reread DB    a later full read of the same directory with 10
//                           people changed
//
// prepare and reread also report the longest a concurrent writer (a push on
// the daemon's other connection) waited for the write lock meanwhile.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "bench/tenant_fixture.h"
#include "daemon/engine/planner.h"
#include "daemon/store/store.h"

using namespace keywarden;

namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-26T10:00:00Z");

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// User and system CPU time of the process so far: unlike wall time, it does
// not grow when other work on the machine takes the cores away.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// Writes a kv row on its own connection every few milliseconds, like the
// daemon's push worker, and keeps the longest wait for the write lock.
class ConcurrentWriter {
 public:
  explicit ConcurrentWriter(const std::filesystem::path& db)
      : store_(Store::open(db)), thread_([this] { loop(); }) {}
  ~ConcurrentWriter() {
    stop_ = true;
    thread_.join();
  }
  double longest_wait_ms() const { return longest_us_.load() / 1000.0; }
  long writes() const { return writes_.load(); }

 private:
  void loop() {
    while (!stop_) {
      const auto start = std::chrono::steady_clock::now();
      store_->set_value("bench", "push", std::to_string(writes_.load()));
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
      if (us > longest_us_.load()) longest_us_ = us;
      ++writes_;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::unique_ptr<Store> store_;
  std::atomic<bool> stop_{false};
  std::atomic<long> longest_us_{0};
  std::atomic<long> writes_{0};
  std::thread thread_;
};

// Every field of every verdict, action and stale membership, one per line:
// two plans decide the same exactly when their dumps are byte-identical.
void write_plan(const Plan& plan, const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const auto action = [&](const Action& a) {
    out << to_string(a.kind) << '|' << a.key_uid << '|' << a.key_name << '|' << a.owner_uid << '|'
        << a.owner_email << '|' << to_string(a.reason) << '|' << a.source << '|' << a.detail;
  };
  const auto stale = [&](const StaleMembership& m) {
    out << m.owner_uid << '|' << m.owner_email << '|' << m.team << '|' << m.source << '|' << m.group << '|'
        << format_rfc3339(m.left_at);
  };
  for (const auto& v : plan.verdicts) {
    out << "verdict|" << v.key_uid << '|' << v.key_name << '|' << v.owner_uid << '|' << v.owner_email << '|'
        << v.identity << '|' << v.key_active << '|' << to_string(v.kind) << '|' << v.note << "|action:";
    if (v.action) action(*v.action);
    for (const auto& m : v.stale_teams) {
      out << "|stale:";
      stale(m);
    }
    out << '\n';
  }
  for (const auto& a : plan.actions) {
    out << "action|";
    action(a);
    out << '\n';
  }
  for (const auto& m : plan.stale_teams) {
    out << "stale|";
    stale(m);
    out << '\n';
  }
  if (!out) throw std::runtime_error("plan_scale: cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  const bool plan_with_dump = argc == 4 && std::strcmp(argv[1], "plan") == 0;
  if ((argc != 3 && !plan_with_dump) ||
      (std::strcmp(argv[1], "prepare") != 0 && std::strcmp(argv[1], "plan") != 0 &&
       std::strcmp(argv[1], "reread") != 0)) {
    std::fprintf(stderr, "usage: plan_scale prepare|reread DB\n       plan_scale plan DB [VERDICTS]\n");
    return 2;
  }
  const std::filesystem::path db = argv[2];
  if (std::strcmp(argv[1], "prepare") == 0) {
    std::filesystem::remove(db);
    auto t = bench::make_tenant(100'000, 10, 250'000, kNow);
    auto store = Store::open(db);
    ConcurrentWriter pushes(db);
    const auto start = std::chrono::steady_clock::now();
    store->apply_full_read("corp", t.identities, 90'000, kNow - std::chrono::days{90});
    std::printf("prepare: wrote %zu identities in %.2f s; a concurrent writer waited at most %.1f ms (%ld writes)\n",
                t.identities.size(), seconds_since(start), pushes.longest_wait_ms(), pushes.writes());
    return 0;
  }
  if (std::strcmp(argv[1], "reread") == 0) {
    auto t = bench::make_tenant(100'000, 10, 250'000, kNow);
    for (size_t i = 0; i < 10; ++i) t.identities[i * 9'973].status = IdentityStatus::inactive;
    auto store = Store::open(db);
    ConcurrentWriter pushes(db);
    const auto start = std::chrono::steady_clock::now();
    store->apply_full_read("corp", t.identities, 90'000, kNow);
    std::printf("reread: %zu identities, 10 changed, in %.2f s; a concurrent writer waited at most %.1f ms (%ld writes)\n",
                t.identities.size(), seconds_since(start), pushes.longest_wait_ms(), pushes.writes());
    return 0;
  }
  // The inventory Palette would return, alone: building the fixture's
  // identities too, only to free them, would set a high-water mark of its own
  // that ru_maxrss then reports as the plan's.
  const auto t = bench::make_tenant(100'000, 10, 250'000, kNow, bench::TenantParts::palette_only);
  const long base_mb = peak_rss_mb();
  const double cpu_start = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  auto store = Store::open(db);
  const auto identities = store->load_identities();
  const auto revoked = store->revoked_keys();
  const double load_s = seconds_since(start);
  const double load_cpu_s = cpu_seconds() - cpu_start;
  size_t memberships = 0;
  for (const auto& r : identities) memberships += r.memberships.size();
  PlanInput in;
  in.now = kNow;
  in.inventory = &t.inventory;
  in.identities = &identities;
  in.revoked_by_us = &revoked;
  in.policy = &t.policy;
  const auto plan = make_plan("p-scale", kNow, judge_keys(in));
  const double total_s = seconds_since(start);
  const double total_cpu_s = cpu_seconds() - cpu_start;
  std::printf("plan: %zu identities, %zu memberships, %zu keys -> %zu actions\n", identities.size(), memberships,
              t.inventory.keys.size(), plan.actions.size());
  std::printf("plan: load %.2f s, judge %.2f s, total %.2f s\n", load_s, total_s - load_s, total_s);
  std::printf("plan: CPU time: load %.2f s, judge %.2f s, total %.2f s\n", load_cpu_s, total_cpu_s - load_cpu_s,
              total_cpu_s);
  std::printf("plan: peak RSS %ld MB (of which the synthetic Palette inventory %ld MB)\n", peak_rss_mb(), base_mb);
  if (plan_with_dump) write_plan(plan, argv[3]);
  return 0;
}
