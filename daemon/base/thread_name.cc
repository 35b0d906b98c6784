#include "daemon/base/thread_name.h"

#include <pthread.h>

namespace keywarden {

namespace {
constexpr size_t kMaxName = 15;  // TASK_COMM_LEN less its terminating NUL
}  // namespace

void name_this_thread(std::string_view name) {
  const std::string kept(name.substr(0, kMaxName));
  pthread_setname_np(pthread_self(), kept.c_str());
}

std::string this_thread_name() {
  char name[kMaxName + 1] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return "";
  return name;
}

}  // namespace keywarden
