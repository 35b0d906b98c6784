// read_secret: the one place a configured secret's value is read. Messages
// name where the secret should have come from, never what it is.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "config/config.h"

namespace keywarden {

namespace {

// systemd credentials and `echo > file` both leave a trailing newline; no
// secret format keywarden uses ends in whitespace.
void trim_trailing_whitespace(std::string& s) {
  const size_t end = s.find_last_not_of(" \t\r\n\f\v");
  s.erase(end == std::string::npos ? 0 : end + 1);
}

std::string_view kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] void fail(const std::filesystem::path& file, int err) {
  throw std::runtime_error("cannot read secret file " + file.string() + ": " + std::strerror(err));
}

// A FIFO would block the open and the read for good, /dev/zero would never
// end: only a regular file of a bounded size is read.
void check_is_small_regular_file(const std::filesystem::path& file, const struct stat& st) {
  if (!S_ISREG(st.st_mode))
    throw std::runtime_error("secret file " + file.string() + " is " + std::string(kind_of(st.st_mode)) +
                             "; it must be a regular file (symlinks to one are fine)");
  if (static_cast<unsigned long long>(st.st_size) > kMaxSecretFileBytes)
    throw std::runtime_error("secret file " + file.string() + " is " + std::to_string(st.st_size) +
                             " bytes; a secret file may be at most " +
                             std::to_string(kMaxSecretFileBytes) + " bytes");
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string read_secret_file(const std::filesystem::path& file, std::string* warning) {
  // stat first so that a device is never even opened (opening one can have
  // effects of its own); stat follows symlinks, as the open below does.
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0) fail(file, errno);
  check_is_small_regular_file(file, st);
  // O_NONBLOCK: should the path have become a FIFO since the stat, the open
  // returns at once instead of waiting for a writer; fstat then refuses it.
  FileDescriptor fd(::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) fail(file, errno);
  if (::fstat(fd.get(), &st) != 0) fail(file, errno);
  check_is_small_regular_file(file, st);

  std::string value;
  char buf[4096];
  // The file may grow after the fstat: read one byte past the limit at most.
  while (value.size() <= kMaxSecretFileBytes) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(file, errno);
    if (n == 0) break;
    value.append(buf, static_cast<size_t>(n));
  }
  if (value.size() > kMaxSecretFileBytes)
    throw std::runtime_error("secret file " + file.string() + " is more than " +
                             std::to_string(kMaxSecretFileBytes) + " bytes; a secret file may be at most " +
                             std::to_string(kMaxSecretFileBytes) + " bytes");
  trim_trailing_whitespace(value);
  if (value.empty()) throw std::runtime_error("secret file " + file.string() + " is empty");
  if (warning) {
    warning->clear();
    if (st.st_mode & (S_IRGRP | S_IROTH)) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      *warning = "secret file " + file.string() + " is readable by " +
                 ((st.st_mode & S_IROTH) ? "everyone" : "its group") + " (mode " + mode +
                 "); chmod 0600 it, or 0640 for a group that must read it";
    }
  }
  return value;
}

std::string read_secret_env(const std::string& name) {
  const char* raw = std::getenv(name.c_str());
  if (!raw) throw std::runtime_error("environment variable " + name + " is not set");
  std::string value = raw;
  trim_trailing_whitespace(value);
  if (value.empty()) throw std::runtime_error("environment variable " + name + " is empty");
  return value;
}

}  // namespace

std::string read_secret(const SecretRef& ref, std::string* warning) {
  if (warning) warning->clear();
  if (!ref.file.empty() && !ref.env.empty())
    throw std::runtime_error("secret names both file " + ref.file.string() + " and variable " +
                             ref.env + "; exactly one is allowed");
  if (!ref.file.empty()) return read_secret_file(ref.file, warning);
  if (!ref.env.empty()) return read_secret_env(ref.env);
  throw std::runtime_error("no secret configured (neither a *_file nor a *_env key)");
}

std::vector<NamedSecret> secrets_of(const Config& config) {
  std::vector<NamedSecret> out{{"[palette] api key", "", "api_key", config.palette.api_key}};
  for (const auto& s : config.sources) {
    for (const std::string& base : s.secrets) {
      SecretRef ref = s.secret(base);
      if (!ref.empty()) out.push_back({"source \"" + s.name + "\" " + base, s.name, base, std::move(ref)});
    }
  }
  return out;
}

SecretCheck check_secrets(const Config& config) {
  SecretCheck out;
  const std::string label = config.file.string();
  for (const auto& secret : secrets_of(config)) {
    std::string warning;
    try {
      (void)read_secret(secret.ref, &warning);
    } catch (const std::exception& e) {
      out.errors.push_back(ConfigError{label, secret.ref.line, secret.ref.column, secret.what + ": " + e.what()});
      continue;
    }
    if (!warning.empty())
      out.warnings.push_back(ConfigError{label, secret.ref.line, secret.ref.column, secret.what + ": " + warning});
  }
  return out;
}

}  // namespace keywarden
