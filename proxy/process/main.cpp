// pgroute: a PostgreSQL wire-protocol proxy that pools server connections per alias and routes queries.
#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>

#include "config/loader.hpp"
#include "config/secret_exposure.hpp"
#include "proxy/base/log.hpp"
#include "proxy/pool/runtime.hpp"
#include "proxy/process/explain_command.hpp"
#include "proxy/process/proxy_server.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: pgroute --config FILE     run the proxy\n"
         "       pgroute --check FILE      validate a configuration file and exit\n"
         "       pgroute explain --config FILE \"SQL\" [--param N=VALUE ...]   where SQL would be routed\n"
         "       pgroute --version\n"
         "options: --log-level debug|info|warn|error\n";
}

int check(const std::string& path) {
  auto result = pgroute::config::load_file(path);
  for (const auto& p : result.problems) std::cerr << p.to_string() << "\n";
  if (!result.problems.empty()) {
    std::cerr << path << ": " << result.problems.size() << " problem(s) found\n";
    return 1;
  }
  // What only fails when routers are built (a plugin that does not load) is a problem too.
  std::string chain_error;
  pgroute::chain_for(*result.config, chain_error);
  if (!chain_error.empty()) {
    std::cerr << chain_error << "\n" << path << ": 1 problem(s) found\n";
    return 1;
  }
  std::string tls_error;  // certificate and key files that do not load
  pgroute::tls_for(*result.config, tls_error);
  if (tls_error.empty()) pgroute::backend_tls_for(*result.config, tls_error);
  if (!tls_error.empty()) {
    std::cerr << tls_error << "\n" << path << ": 1 problem(s) found\n";
    return 1;
  }
  if (auto warning = pgroute::config::secret_exposure_warning(*result.config))
    std::cerr << "warning: " << *warning << "\n";
  std::cout << path << ": OK (" << result.config->backends.size() << " backend alias(es), "
            << result.config->users.size() << " user(s))\n";
  return 0;
}

// Every client and server connection holds a descriptor, and the usual soft limit (1024) is far below
// max_client_connections: raise it to the hard limit, and say when even that looks short.
void raise_file_limit(const pgroute::config::Config& cfg) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t before = rl.rlim_cur;
  rlim_t target = rl.rlim_max;
  if (target == RLIM_INFINITY) {  // the kernel refuses more than fs.nr_open
    std::ifstream nr_open("/proc/sys/fs/nr_open");
    unsigned long long n = 0;
    target = nr_open >> n && n > 0 ? static_cast<rlim_t>(n) : before;
  }
  if (target > before) {
    rl.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      PGR_LOG(warn) << "cannot raise the open files limit from " << before << " to " << target << ": "
                    << std::strerror(errno);
      rl.rlim_cur = before;
    } else {
      PGR_LOG(info) << "open files limit raised from " << before << " to " << target;
    }
  } else {
    PGR_LOG(info) << "open files limit: " << before;
  }
  unsigned long long needed = 64ull + static_cast<unsigned long long>(cfg.max_client_connections) +
                              static_cast<unsigned long long>(cfg.startup_limit());
  for (const auto& b : cfg.backends) needed += static_cast<unsigned long long>(cfg.pool_size_for(b));
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed)
    PGR_LOG(warn) << "open files limit " << rl.rlim_cur << " is below what the configured limits may need (about "
                  << needed << ": max_client_connections, max_startup_connections, pools); past it new "
                  << "connections wait until descriptors free up (raise LimitNOFILE / ulimit -Hn)";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "explain") == 0)
    return pgroute::explain_command(argc - 2, argv + 2, std::cout, std::cerr);
  std::string config_path, check_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "pgroute: " << a << " needs " << what << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config" || a == "-c")
      config_path = value("a file");
    else if (a == "--check")
      check_path = value("a file");
    else if (a == "--version") {
      std::cout << "pgroute 0.1.0\n";
      return 0;
    } else if (a == "--log-level") {
      std::string l = value("a level");
      using pgroute::log::Level;
      if (l == "debug")
        pgroute::log::set_level(Level::debug);
      else if (l == "info")
        pgroute::log::set_level(Level::info);
      else if (l == "warn")
        pgroute::log::set_level(Level::warn);
      else if (l == "error")
        pgroute::log::set_level(Level::error);
      else {
        std::cerr << "pgroute: unknown log level \"" << l << "\"\n";
        return 2;
      }
    } else if (a == "--help" || a == "-h") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "pgroute: unknown argument \"" << a << "\"\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (!check_path.empty()) return check(check_path);
  if (config_path.empty()) {
    usage(std::cerr);
    return 2;
  }
  auto result = pgroute::config::load_file(config_path);
  if (!result.problems.empty()) {
    for (const auto& p : result.problems) PGR_LOG(error) << p.to_string();
    PGR_LOG(error) << "pgroute: configuration has " << result.problems.size() << " problem(s); not starting";
    return 1;
  }
  if (auto warning = pgroute::config::secret_exposure_warning(*result.config)) PGR_LOG(warn) << *warning;
  std::string chain_error;
  auto chain = pgroute::chain_for(*result.config, chain_error);
  if (!chain_error.empty()) {
    PGR_LOG(error) << chain_error;
    PGR_LOG(error) << "pgroute: the router chain cannot be built; not starting";
    return 1;
  }
  std::string tls_error;
  auto tls = pgroute::tls_for(*result.config, tls_error);
  pgroute::BackendTlsContexts backend_tls;
  if (tls_error.empty()) backend_tls = pgroute::backend_tls_for(*result.config, tls_error);
  if (!tls_error.empty()) {
    PGR_LOG(error) << tls_error;
    PGR_LOG(error) << "pgroute: a TLS certificate or key does not load; not starting";
    return 1;
  }
  raise_file_limit(*result.config);
  // A client that vanishes mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // Signals are handled by the control loop; block them in every thread it starts.
  sigset_t set;
  sigemptyset(&set);
  try {
    pgroute::ProxyServer server(config_path, result.config, std::move(chain), std::move(tls), std::move(backend_tls));
    return server.run();
  } catch (const std::exception& e) {
    // Whatever the event loop or the listeners refuse at start: say so rather than abort.
    PGR_LOG(error) << "pgroute: cannot start: " << e.what();
    return 1;
  }
}
