// A SQLite VFS for tests that fails the Nth write, sync or truncate, or cuts
// the power there (issue 14), after SQLite's own test VFSes (src/test6.c,
// the I/O error loops of src/os.c) and LevelDB's fault_injection_test.cc.
//
// It wraps SQLite's default VFS under the name FaultVfs::kName; a Store opened
// with Store::open(path, FaultVfs::kName) goes through it. It counts every
// xWrite, xSync and xTruncate on every file it opened, whatever connection or
// thread made the call, and fails the one it was armed for.
//
// The power cut is modelled per file: for each named file (the database, its
// WAL, a rollback journal) it remembers the size at the last xSync and the
// bytes each later write or truncate overwrote below that size, and
// restore_power() puts every file back as it was at its last sync. Not
// modelled: directory entries (a file created or deleted counts as durable at
// once, as if every directory were synced), a torn or reordered write (an
// unsynced write is lost whole, a synced one kept whole), and the -shm file,
// which SQLite rebuilds from the WAL on the first open after a crash.
//
// Test-only: the kw_fault_vfs library is not linked into keywarden. Every
// method is safe from any thread (the store worker writes on its own).
#pragma once

#include <chrono>
#include <cstdint>

namespace keywarden {

class FaultVfs {
 public:
  static constexpr const char* kName = "kw-fault";

  enum class Fault {
    io_error_once,             // the Nth call fails with SQLITE_IOERR_*; later calls work
    io_error_until_disarmed,   // the Nth call and every later one fail, until disarm()
    disk_full_once,            // the Nth call fails with SQLITE_FULL; later calls work
    disk_full_until_disarmed,  // the Nth call and every later one fail with SQLITE_FULL
    power_cut,                 // the power goes at the Nth call: it and every later one fail,
                               // nothing more reaches the disk, until restore_power()
  };

  // The process's fault VFS, registered with SQLite (not as the default) on
  // the first call. Throws std::runtime_error if SQLite refuses it.
  static FaultVfs& instance();

  // Writes, syncs and truncates so far, failed ones included.
  uint64_t calls() const;
  // Calls that were made to fail so far.
  uint64_t faults_injected() const;
  // Savepoint (statement) journals SQLite opened as files so far: a
  // savepoint's journal that outgrew the memory SQLite keeps it in.
  uint64_t savepoint_journal_files() const;

  // The `nth` call from now (1: the very next) gets `fault`. Replaces any
  // armed fault.
  void arm(uint64_t nth, Fault fault);
  // No fault is armed; an "until disarmed" fault stops. A power cut lasts
  // until restore_power().
  void disarm();

  // Cuts the power now, as an armed power_cut does when it fires.
  void cut_power();
  // Puts every file back as it was at its last sync, and lets I/O through
  // again. Close every connection through this VFS first: an open
  // connection's cache would still hold what the disk lost.
  void restore_power();
  bool power_cut() const;

  // From now on, a sync waits (before it is counted or faulted) until
  // release_syncs(); writes go on meanwhile. For a test of what happens
  // while a sync is on its way.
  void hold_syncs();
  void release_syncs();
  // Waits until a sync is held back; false after `timeout` without one.
  bool wait_for_held_sync(std::chrono::milliseconds timeout);

  // Releases held syncs, forgets every file's unsynced writes, disarms and
  // restores the power: what is on disk now is taken as durable (between
  // two independent tests, with no connection open).
  void reset();

 private:
  FaultVfs() = default;
};

}  // namespace keywarden
