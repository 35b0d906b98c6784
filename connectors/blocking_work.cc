#include "connectors/blocking_work.h"

namespace keywarden {

boost::asio::thread_pool& blocking_pool() {
  static boost::asio::thread_pool pool(2);
  return pool;
}

}  // namespace keywarden
