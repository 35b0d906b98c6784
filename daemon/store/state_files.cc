#include "daemon/store/state_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "daemon/store/store.h"

namespace keywarden {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int err) {
  throw StoreError("cannot " + what + " " + path.string() + ": " + std::strerror(err));
}

// Takes group and other bits off a regular file of ours; leaves anything
// else alone (a file of another user is for its owner to fix, and chmod on
// it would fail anyway).
void make_private(const std::filesystem::path& file) {
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0) return;
  if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) == 0) return;
  if (::chmod(file.c_str(), (st.st_mode & 07700) | 0600) != 0) fail("restrict the mode of", file, errno);
}

}  // namespace

void create_state_dir(const std::filesystem::path& dir) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw StoreError("state_dir " + dir.string() + " exists and is not a directory");
    return;
  }
  std::error_code ec;
  const std::filesystem::path parent = dir.lexically_normal().parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) throw StoreError("cannot create state_dir " + dir.string() + ": " + ec.message());
  }
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno != EEXIST) fail("create state_dir", dir, errno);
    return;  // made by someone else meanwhile: theirs, as above
  }
  // The umask may have taken bits off 0700 (077 keeps it, 0277 would leave
  // a folder the daemon cannot write): set exactly 0700.
  if (::chmod(dir.c_str(), 0700) != 0) fail("set the mode of state_dir", dir, errno);
}

void make_database_files_private(const std::filesystem::path& db_file) {
  const int fd = ::open(db_file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd >= 0) {
    // New: exactly 0600, since the umask applies to O_CREAT's mode as well
    // (0277 would leave a file the daemon cannot write).
    const int err = ::fchmod(fd, 0600) != 0 ? errno : 0;
    ::close(fd);
    if (err != 0) fail("set the mode of", db_file, err);
  } else if (errno != EEXIST) {
    fail("create", db_file, errno);
  }
  make_private(db_file);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) make_private(db_file.string() + suffix);
}

}  // namespace keywarden
