#include "proxy_process.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "pg_cluster.hpp"
#include "test_watch.hpp"

namespace pgroute::it {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string yaml_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string pgroute_binary() { return PGROUTE_BINARY; }

std::string ProxyConfig::to_yaml(int listen_port) const {
  std::ostringstream y;
  y << "listen: {host: 127.0.0.1, port: " << listen_port << "}\n";
  y << "threads: " << threads << "\n";
  if (max_client_connections) y << "max_client_connections: " << *max_client_connections << "\n";
  y << "backends:\n";
  for (const auto& b : backends) {
    y << "  " << b.alias << ": {url: " << yaml_quoted(b.url);
    if (b.pool_size) y << ", pool_size: " << *b.pool_size;
    if (!b.extra.empty()) y << ", " << b.extra;
    y << "}\n";
  }
  if (!databases.empty()) {
    y << "databases:\n";
    for (const auto& [name, alias] : databases) y << "  " << name << ": " << alias << "\n";
  }
  y << "users:\n";
  for (const auto& u : users) {
    y << "  - {name: " << yaml_quoted(u.name);
    if (u.password) y << ", password: " << yaml_quoted(*u.password);
    if (u.auth) y << ", auth: " << *u.auth;
    y << "}\n";
  }
  y << "pool: {mode: " << pool_mode << ", size: " << pool_size << ", queue_timeout: " << queue_timeout
    << (pool_extra.empty() ? "" : ", " + pool_extra) << "}\n";
  if (metrics_port) y << "metrics: {listen: \"127.0.0.1:" << *metrics_port << "\"}\n";
  if (!admin_users.empty()) {
    y << "admin: {users: [";
    for (std::size_t i = 0; i < admin_users.size(); ++i) y << (i ? ", " : "") << yaml_quoted(admin_users[i]);
    y << "]}\n";
  }
  if (!watch_config) y << "reload: {watch: false}\n";
  y << extra_yaml;
  return y.str();
}

ProxyBackend& ProxyConfig::backend(const std::string& alias) {
  for (auto& b : backends)
    if (b.alias == alias) return b;
  throw std::invalid_argument("no backend " + alias);
}

ProxyConfig default_proxy_config() {
  ProxyConfig c;
  c.backends = {{"default", first_cluster().url(kAppUser, kAppPassword), std::nullopt},
                {"analytics", second_cluster().url(kAppUser, kAppPassword), std::nullopt}};
  c.databases = {{"app", "default"}, {"analytics", "analytics"}};
  c.users = {{kProxyUser, kProxyPassword, std::nullopt},
             {kProxyMd5User, kProxyMd5Password, "md5"},
             {kProxyClearUser, kProxyClearPassword, "cleartext"},
             {kProxyTrustUser, std::nullopt, "trust"}};
  return c;
}

Proxy::Proxy(const ProxyConfig& config, const std::vector<std::pair<std::string, std::string>>& env)
    : dir_("proxy"), port_(free_port()), config_file_(dir_ / "pgroute.yaml"), log_file_(dir_ / "pgroute.log") {
  write_file(config_file_, config.file_text.empty() ? config.to_yaml(port_) : config.file_text);
  std::vector<std::pair<std::string, std::string>> process_env = env;
  if (!config.file_text.empty()) process_env.emplace_back("PGROUTE_PORT", std::to_string(port_));
  std::vector<std::string> argv{pgroute_binary(), "--config", config_file_.string()};
  // PGROUTE_TEST_LOG_LEVEL=debug: the proxy's own log in more detail when chasing a failure.
  if (const char* level = std::getenv("PGROUTE_TEST_LOG_LEVEL")) argv.insert(argv.end(), {"--log-level", level});
  process_ = std::make_unique<ChildProcess>(argv, log_file_, RunAs::self, process_env);
  const auto deadline = Clock::now() + 10s;
  while (!port_accepts(port_)) {
    if (!process_->running() || Clock::now() > deadline) {
      const bool exited = !process_->running();
      stop();
      throw std::runtime_error(std::string("pgroute ") + (exited ? "exited" : "did not listen within 10 s") +
                               " (port " + std::to_string(port_) + ")\n--- config ---\n" + read_file(config_file_) +
                               "--- log ---\n" + log_tail());
    }
    std::this_thread::sleep_for(20ms);
  }
}

Proxy::~Proxy() {
  if (current_test_has_failed() || std::uncaught_exceptions() > 0) {
    std::cerr << "\n===== pgroute log (port " << port_ << ", last 60 lines) =====\n"
              << log_tail() << "===== end of pgroute log =====\n";
  }
  // A crash while stopping (a use-after-free in a destructor, say) fails the test that started it:
  // nothing else would notice, the test's own checks are done by then.
  const int status = stop();
  if (status >= 0 && WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) {
      FAIL_CHECK("pgroute (port " << port_ << ") died of signal " << sig << " (" << std::string(strsignal(sig)) << ")");
      std::cerr << "\n===== pgroute log (port " << port_ << ", last 60 lines) =====\n"
                << log_tail() << "===== end of pgroute log =====\n";
    }
  }
}

ConnParams Proxy::params(const std::string& user, const std::optional<std::string>& password, const std::string& dbname,
                         const ConnParams& extra) const {
  return tcp_params(port_, user, password, dbname, extra);
}

Conn Proxy::connect(const std::string& user, const std::optional<std::string>& password, const std::string& dbname,
                    const ConnParams& extra) const {
  return Conn(params(user, password, dbname, extra));
}

std::string Proxy::log_tail(std::size_t lines) const { return file_tail(log_file_, lines); }

void Proxy::write_config(const ProxyConfig& config) { write_file(config_file_, config.to_yaml(port_)); }

void Proxy::signal(int sig) {
  if (process_) process_->signal(sig);
}

std::optional<int> Proxy::wait_exit(std::chrono::milliseconds timeout) {
  if (!process_ || !process_->wait_exit(timeout)) return std::nullopt;
  return process_->exit_status();
}

int Proxy::stop() {
  if (!process_) return -1;
  return process_->stop(SIGTERM, 5s);
}

}  // namespace pgroute::it
