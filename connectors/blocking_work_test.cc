#include "connectors/blocking_work.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>

#include "daemon/base/thread_name.h"

namespace keywarden {
namespace {

namespace net = boost::asio;

TEST(BlockingWorkTest, WorkRunsOnAPoolThreadNamedForThePoolAndResumesTheCallerOnItsOwn) {
  net::io_context io;
  std::string caller_before = this_thread_name(), worked_on, caller_after;
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    for (int i = 0; i < 4; ++i) {  // every job, not only a pool thread's first
      worked_on = co_await run_blocking([] { return this_thread_name(); });
      EXPECT_EQ(worked_on, "kw-pool");
    }
    caller_after = this_thread_name();
  }, net::detached);
  io.run();
  EXPECT_EQ(worked_on, "kw-pool");
  EXPECT_EQ(caller_after, caller_before);
}

}  // namespace
}  // namespace keywarden
