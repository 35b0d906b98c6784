#include "connectors/blocking_work.h"

#include "daemon/base/thread_name.h"

namespace keywarden {

boost::asio::thread_pool& blocking_pool() {
  static boost::asio::thread_pool pool(2);
  return pool;
}

void name_pool_thread() {
  thread_local bool named = false;
  if (named) return;
  name_this_thread("kw-pool");
  named = true;
}

}  // namespace keywarden
