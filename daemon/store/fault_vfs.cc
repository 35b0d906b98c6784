#include "daemon/store/fault_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace keywarden {
namespace {

// What a named file held at its last sync: its size then, and what every
// later write or truncate overwrote below that size (undone newest first).
struct FileHistory {
  int64_t synced_size = 0;
  struct Overwritten {
    int64_t offset;
    std::vector<char> bytes;
  };
  std::vector<Overwritten> overwritten;
  bool forgotten = false;  // deleted, or forgotten by reset(): the next open starts afresh
};

enum class Call { write, sync, truncate };

struct State {
  std::mutex mutex;
  sqlite3_vfs* real_vfs = nullptr;
  uint64_t calls = 0;
  uint64_t faults = 0;
  uint64_t savepoint_journal_files = 0;
  uint64_t armed_at = 0;  // 0: nothing armed
  FaultVfs::Fault fault = FaultVfs::Fault::io_error_once;
  bool powered_off = false;
  std::map<std::string, std::unique_ptr<FileHistory>> files;  // by full path; nodes never erased
};

State& state() {
  static State s;
  return s;
}

// Syncs held back (hold_syncs): apart from State's mutex, so that writes
// go on while a sync waits.
struct Hold {
  std::mutex mutex;
  std::condition_variable released;
  bool held = false;
  int waiting = 0;
};

Hold& hold() {
  static Hold h;
  return h;
}

void wait_while_held() {
  Hold& h = hold();
  std::unique_lock lock(h.mutex);
  if (!h.held) return;
  ++h.waiting;
  h.released.notify_all();  // wait_for_held_sync() may be waiting for this
  h.released.wait(lock, [&] { return !h.held; });
  --h.waiting;
}

// One open file: ours first, the real VFS's file right after it.
struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
  FileHistory* history;  // nullptr for a temporary file without a name
};

constexpr int kFaultFileSize = (sizeof(FaultFile) + 7) & ~7;

sqlite3_file* real_of(sqlite3_file* file) { return reinterpret_cast<FaultFile*>(file)->real; }

int error_for(Call call, FaultVfs::Fault fault) {
  if (fault == FaultVfs::Fault::disk_full_once || fault == FaultVfs::Fault::disk_full_until_disarmed) {
    return SQLITE_FULL;
  }
  switch (call) {
    case Call::write: return SQLITE_IOERR_WRITE;
    case Call::sync: return SQLITE_IOERR_FSYNC;
    case Call::truncate: return SQLITE_IOERR_TRUNCATE;
  }
  return SQLITE_IOERR;
}

// Counts the call and says what it must return instead of running: SQLITE_OK
// lets it run. Called with the state's mutex held.
int injected(State& s, Call call) {
  ++s.calls;
  if (s.powered_off) {
    ++s.faults;
    return error_for(call, FaultVfs::Fault::io_error_once);
  }
  if (s.armed_at == 0 || s.calls < s.armed_at) return SQLITE_OK;
  const FaultVfs::Fault fault = s.fault;
  switch (fault) {
    case FaultVfs::Fault::io_error_once:
    case FaultVfs::Fault::disk_full_once:
      s.armed_at = 0;
      break;
    case FaultVfs::Fault::power_cut:
      s.armed_at = 0;
      s.powered_off = true;
      break;
    case FaultVfs::Fault::io_error_until_disarmed:
    case FaultVfs::Fault::disk_full_until_disarmed:
      break;
  }
  ++s.faults;
  return error_for(call, fault);
}

// Keeps the synced bytes in [offset, offset + amount) that a write or
// truncate is about to overwrite.
void remember_overwritten(FaultFile* f, int64_t offset, int64_t amount) {
  FileHistory* h = f->history;
  if (h == nullptr) return;
  const int64_t end = std::min(offset + amount, h->synced_size);
  if (offset >= end) return;
  FileHistory::Overwritten old{offset, std::vector<char>(static_cast<size_t>(end - offset))};
  // A short read fills the rest with zeros, which is what the file held there.
  const int rc = f->real->pMethods->xRead(f->real, old.bytes.data(), static_cast<int>(old.bytes.size()), offset);
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return;
  h->overwritten.push_back(std::move(old));
}

// ---- sqlite3_io_methods -------------------------------------------------------

int fault_close(sqlite3_file* file) {
  sqlite3_file* real = real_of(file);
  const int rc = real->pMethods != nullptr ? real->pMethods->xClose(real) : SQLITE_OK;
  file->pMethods = nullptr;
  return rc;
}

int fault_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xRead(real, buffer, amount, offset);
}

int fault_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (const int rc = injected(s, Call::write); rc != SQLITE_OK) return rc;
  auto* f = reinterpret_cast<FaultFile*>(file);
  remember_overwritten(f, offset, amount);
  return f->real->pMethods->xWrite(f->real, buffer, amount, offset);
}

int fault_truncate(sqlite3_file* file, sqlite3_int64 size) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (const int rc = injected(s, Call::truncate); rc != SQLITE_OK) return rc;
  auto* f = reinterpret_cast<FaultFile*>(file);
  if (f->history != nullptr) remember_overwritten(f, size, f->history->synced_size - size);
  return f->real->pMethods->xTruncate(f->real, size);
}

int fault_sync(sqlite3_file* file, int flags) {
  wait_while_held();
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (const int rc = injected(s, Call::sync); rc != SQLITE_OK) return rc;
  auto* f = reinterpret_cast<FaultFile*>(file);
  const int rc = f->real->pMethods->xSync(f->real, flags);
  if (rc == SQLITE_OK && f->history != nullptr) {
    sqlite3_int64 size = 0;
    if (f->real->pMethods->xFileSize(f->real, &size) == SQLITE_OK) {
      f->history->synced_size = size;
      f->history->overwritten.clear();
    }
  }
  return rc;
}

int fault_file_size(sqlite3_file* file, sqlite3_int64* size) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xFileSize(real, size);
}

int fault_lock(sqlite3_file* file, int level) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xLock(real, level);
}

int fault_unlock(sqlite3_file* file, int level) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xUnlock(real, level);
}

int fault_check_reserved_lock(sqlite3_file* file, int* reserved) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xCheckReservedLock(real, reserved);
}

int fault_file_control(sqlite3_file* file, int op, void* arg) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xFileControl(real, op, arg);
}

int fault_sector_size(sqlite3_file* file) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xSectorSize(real);
}

int fault_device_characteristics(sqlite3_file* file) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xDeviceCharacteristics(real);
}

int fault_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xShmMap(real, region, size, extend, out);
}

int fault_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xShmLock(real, offset, n, flags);
}

void fault_shm_barrier(sqlite3_file* file) {
  sqlite3_file* real = real_of(file);
  real->pMethods->xShmBarrier(real);
}

int fault_shm_unmap(sqlite3_file* file, int delete_flag) {
  sqlite3_file* real = real_of(file);
  return real->pMethods->xShmUnmap(real, delete_flag);
}

// Version 2: shared memory (WAL) but no xFetch, so SQLite never reads or
// writes the file through a memory map this VFS would not see.
const sqlite3_io_methods kMethods = {
    2,
    fault_close,
    fault_read,
    fault_write,
    fault_truncate,
    fault_sync,
    fault_file_size,
    fault_lock,
    fault_unlock,
    fault_check_reserved_lock,
    fault_file_control,
    fault_sector_size,
    fault_device_characteristics,
    fault_shm_map,
    fault_shm_lock,
    fault_shm_barrier,
    fault_shm_unmap,
    nullptr,
    nullptr,
};

// ---- sqlite3_vfs ------------------------------------------------------------------

int fault_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* real_vfs = static_cast<sqlite3_vfs*>(vfs->pAppData);
  auto* f = reinterpret_cast<FaultFile*>(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kFaultFileSize);
  f->history = nullptr;
  if ((flags & SQLITE_OPEN_SUBJOURNAL) != 0) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    ++s.savepoint_journal_files;
  }
  const int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite calls xClose when pMethods is set, even after a failed open.
    if (f->real->pMethods != nullptr) f->base.pMethods = &kMethods;
    return rc;
  }
  if (name != nullptr && (flags & SQLITE_OPEN_DELETEONCLOSE) == 0) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    std::unique_ptr<FileHistory>& history = s.files[name];
    if (!history || history->forgotten) {
      // A file first seen: what it holds already is taken as durable.
      history = std::make_unique<FileHistory>();
      sqlite3_int64 size = 0;
      if (f->real->pMethods->xFileSize(f->real, &size) == SQLITE_OK) history->synced_size = size;
    }
    f->history = history.get();
  }
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

int fault_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  sqlite3_vfs* real_vfs = static_cast<sqlite3_vfs*>(vfs->pAppData);
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.powered_off) return SQLITE_IOERR_DELETE;
  const int rc = real_vfs->xDelete(real_vfs, name, sync_dir);
  if (rc == SQLITE_OK) {
    // Open handles may still point at the history: it is marked, not erased.
    if (auto it = s.files.find(name); it != s.files.end()) {
      it->second->forgotten = true;
      it->second->overwritten.clear();
    }
  }
  return rc;
}

sqlite3_vfs make_vfs(sqlite3_vfs* real_vfs) {
  sqlite3_vfs vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = kFaultFileSize + real_vfs->szOsFile;
  vfs.mxPathname = real_vfs->mxPathname;
  vfs.zName = FaultVfs::kName;
  vfs.pAppData = real_vfs;
  vfs.xOpen = fault_open;
  vfs.xDelete = fault_delete;
  vfs.xAccess = [](sqlite3_vfs* v, const char* name, int flags, int* out) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xAccess(real, name, flags, out);
  };
  vfs.xFullPathname = [](sqlite3_vfs* v, const char* name, int size, char* out) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xFullPathname(real, name, size, out);
  };
  vfs.xDlOpen = [](sqlite3_vfs* v, const char* name) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xDlOpen(real, name);
  };
  vfs.xDlError = [](sqlite3_vfs* v, int size, char* out) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    real->xDlError(real, size, out);
  };
  vfs.xDlSym = [](sqlite3_vfs* v, void* handle, const char* symbol) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xDlSym(real, handle, symbol);
  };
  vfs.xDlClose = [](sqlite3_vfs* v, void* handle) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    real->xDlClose(real, handle);
  };
  vfs.xRandomness = [](sqlite3_vfs* v, int size, char* out) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xRandomness(real, size, out);
  };
  vfs.xSleep = [](sqlite3_vfs* v, int microseconds) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xSleep(real, microseconds);
  };
  vfs.xCurrentTime = [](sqlite3_vfs* v, double* out) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xCurrentTime(real, out);
  };
  vfs.xGetLastError = [](sqlite3_vfs* v, int size, char* out) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xGetLastError(real, size, out);
  };
  vfs.xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* out) {
    auto* real = static_cast<sqlite3_vfs*>(v->pAppData);
    return real->xCurrentTimeInt64(real, out);
  };
  return vfs;
}

// Puts one file back as it was at its last sync.
void restore_file(const std::string& path, FileHistory& history) {
  if (history.forgotten) return;
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return;  // gone (deleted outside SQLite): nothing to restore
  for (auto it = history.overwritten.rbegin(); it != history.overwritten.rend(); ++it) {
    if (::pwrite(fd, it->bytes.data(), it->bytes.size(), it->offset) != static_cast<ssize_t>(it->bytes.size())) {
      ::close(fd);
      throw std::runtime_error("fault VFS: cannot restore " + path + ": " + std::strerror(errno));
    }
  }
  if (::ftruncate(fd, history.synced_size) != 0) {
    ::close(fd);
    throw std::runtime_error("fault VFS: cannot truncate " + path + ": " + std::strerror(errno));
  }
  ::close(fd);
  history.overwritten.clear();
}

}  // namespace

FaultVfs& FaultVfs::instance() {
  static FaultVfs* registered = [] {
    State& s = state();
    s.real_vfs = sqlite3_vfs_find(nullptr);
    if (s.real_vfs == nullptr) throw std::runtime_error("fault VFS: SQLite has no default VFS");
    static sqlite3_vfs vfs = make_vfs(s.real_vfs);
    if (const int rc = sqlite3_vfs_register(&vfs, 0); rc != SQLITE_OK) {
      throw std::runtime_error(std::string("fault VFS: cannot register: ") + sqlite3_errstr(rc));
    }
    return new FaultVfs();
  }();
  return *registered;
}

uint64_t FaultVfs::calls() const {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.calls;
}

uint64_t FaultVfs::faults_injected() const {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.faults;
}

uint64_t FaultVfs::savepoint_journal_files() const {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.savepoint_journal_files;
}

void FaultVfs::arm(uint64_t nth, Fault fault) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.armed_at = s.calls + std::max<uint64_t>(nth, 1);
  s.fault = fault;
}

void FaultVfs::disarm() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.armed_at = 0;
}

void FaultVfs::cut_power() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.powered_off = true;
}

void FaultVfs::restore_power() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  for (auto& [path, history] : s.files) restore_file(path, *history);
  s.powered_off = false;
  s.armed_at = 0;
}

bool FaultVfs::power_cut() const {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.powered_off;
}

void FaultVfs::hold_syncs() {
  std::lock_guard lock(hold().mutex);
  hold().held = true;
}

void FaultVfs::release_syncs() {
  {
    std::lock_guard lock(hold().mutex);
    hold().held = false;
  }
  hold().released.notify_all();
}

bool FaultVfs::wait_for_held_sync(std::chrono::milliseconds timeout) {
  Hold& h = hold();
  std::unique_lock lock(h.mutex);
  return h.released.wait_for(lock, timeout, [&] { return h.waiting > 0; });
}

void FaultVfs::reset() {
  release_syncs();
  State& s = state();
  std::lock_guard lock(s.mutex);
  for (auto& [path, history] : s.files) {
    history->forgotten = true;
    history->overwritten.clear();
  }
  s.armed_at = 0;
  s.powered_off = false;
}

}  // namespace keywarden
