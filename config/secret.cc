// read_secret: the one place a configured secret's value is read. Messages
// name where the secret should have come from, never what it is.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
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

std::string read_secret_file(const std::filesystem::path& file) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f)
    throw std::runtime_error("cannot read secret file " + file.string() + ": " +
                             std::strerror(errno));
  std::string value;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) value.append(buf, n);
  if (std::ferror(f.get()))
    throw std::runtime_error("cannot read secret file " + file.string() + ": " +
                             std::strerror(errno ? errno : EIO));
  trim_trailing_whitespace(value);
  if (value.empty()) throw std::runtime_error("secret file " + file.string() + " is empty");
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

std::string read_secret(const SecretRef& ref) {
  if (!ref.file.empty() && !ref.env.empty())
    throw std::runtime_error("secret names both file " + ref.file.string() + " and variable " +
                             ref.env + "; exactly one is allowed");
  if (!ref.file.empty()) return read_secret_file(ref.file);
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

}  // namespace keywarden
