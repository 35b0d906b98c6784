// palette-sim: serves a simulated Palette tenant over HTTP until SIGINT or
// SIGTERM. See README.md for flags, the seed format and control endpoints.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "daemon/server/http_server.h"
#include "palette-sim/sim_routes.h"
#include "palette-sim/sim_state.h"

namespace {

namespace net = boost::asio;
using keywarden::server::HttpServer;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// Writes "PORT\n" to `path` through a rename, so a reader never sees a
// partial file.
void write_port_file(const std::string& path, std::uint16_t port) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"palette-sim: a simulated Spectro Cloud Palette REST API for tests and demos"};
  std::string seed_path, listen_text = "127.0.0.1:0", port_file, api_key_file;
  double rate = 10, burst = 50;
  bool quiet = false;
  app.add_option("--seed", seed_path, "Seed JSON file: the tenant's users and keys (see README.md)")
      ->check(CLI::ExistingFile);
  app.add_option("--listen", listen_text, "HOST:PORT to listen on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write the bound port here once listening (atomically)");
  app.add_option("--rate", rate, "Rate limit: requests per second per source IP and resource prefix")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--burst", burst, "Rate limit: bucket size (requests allowed at once)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--api-key-file", api_key_file,
                 "File holding the only accepted ApiKey value (else the seed's \"apiKey\")")
      ->check(CLI::ExistingFile);
  app.add_flag("--quiet", quiet, "Do not log one line per request to stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a success; anything else a usage error
  }

  auto listen = keywarden::server::parse_listen_address(listen_text);
  if (!listen) {
    std::cerr << "palette-sim: --listen must be HOST:PORT, got \"" << listen_text << "\"\n";
    return 2;
  }

  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::optional<palette_sim::SimState> state;
  try {
    palette_sim::Json seed = palette_sim::Json::object();
    if (!seed_path.empty()) seed = palette_sim::Json::parse(read_file(seed_path));
    state = palette_sim::SimState::from_seed(seed, now_ms);
  } catch (const std::exception& e) {
    std::cerr << "palette-sim: bad seed " << seed_path << ": " << e.what() << "\n";
    return 2;
  }

  palette_sim::SimOptions options;
  options.rate = rate;
  options.burst = burst;
  options.log_requests = !quiet;
  try {
    options.api_key = api_key_file.empty() ? state->seed_api_key() : trim(read_file(api_key_file));
  } catch (const std::exception& e) {
    std::cerr << "palette-sim: " << e.what() << "\n";
    return 2;
  }
  if (options.api_key.empty()) {
    std::cerr << "palette-sim: no API key: give --api-key-file or \"apiKey\" in the seed\n";
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);  // a closed stderr pipe must not kill us
  const std::size_t n_users = state->listed_users().size();
  const std::size_t n_keys = state->listed_keys().size();
  palette_sim::SimRoutes routes(std::move(*state), std::move(options));

  net::io_context ioc(1);  // one thread: SimRoutes is not thread-safe
  std::optional<HttpServer> server;
  try {
    server.emplace(ioc.get_executor(), *listen,
                   [&routes](keywarden::server::Request r) { return routes.handle(std::move(r)); });
  } catch (const std::exception& e) {
    std::cerr << "palette-sim: cannot listen on " << listen_text << ": " << e.what() << "\n";
    return 1;
  }
  server->set_error_log([](std::string_view line) { std::cerr << "palette-sim: " << line << "\n"; });
  server->start();

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::cerr << "palette-sim: stopping\n";
    server->stop();
  });

  if (!port_file.empty()) {
    try {
      write_port_file(port_file, server->port());
    } catch (const std::exception& e) {
      std::cerr << "palette-sim: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "palette-sim: listening on http://" << (listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host)
            << ":" << server->port() << " (" << n_users << " users, " << n_keys << " keys, rate " << rate
            << "/s, burst " << burst << ")\n";

  ioc.run();
  return 0;
}
