#include "daemon/base/thread_name.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

namespace keywarden {
namespace {

// What the kernel shows for the calling thread.
std::string comm_of_this_thread() {
  std::ifstream comm("/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

TEST(ThreadNameTest, ANamedThreadShowsItsNameToTheKernel) {
  std::string seen, read_back;
  std::thread worker([&] {
    name_this_thread("kw-test-worker");
    seen = comm_of_this_thread();
    read_back = this_thread_name();
  });
  worker.join();
  EXPECT_EQ(seen, "kw-test-worker");
  EXPECT_EQ(read_back, "kw-test-worker");
}

TEST(ThreadNameTest, ANameTooLongForTheKernelIsCutAtFifteenBytes) {
  std::string seen;
  std::thread worker([&] {
    name_this_thread("kw-a-name-that-is-too-long");
    seen = comm_of_this_thread();
  });
  worker.join();
  EXPECT_EQ(seen, "kw-a-name-that-");
}

TEST(ThreadNameTest, NamingOneThreadLeavesTheOthersAlone) {
  const std::string before = this_thread_name();
  std::thread worker([] { name_this_thread("kw-elsewhere"); });
  worker.join();
  EXPECT_EQ(this_thread_name(), before);
}

}  // namespace
}  // namespace keywarden
