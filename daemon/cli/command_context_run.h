#pragma once

#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <optional>

namespace keywarden {

template <class T>
T CommandContext::run(boost::asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  boost::asio::co_spawn(io_, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) error = e;
    else result.emplace(std::move(value));
  });
  io_.restart();
  io_.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace keywarden
