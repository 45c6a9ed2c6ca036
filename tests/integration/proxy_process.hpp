// The proxy under test: a real `pgroute` process with a generated YAML config, on a free port.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg_conn.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace pgroute::it {

// Client-side users of default_proxy_config() (what clients type to log in to the proxy).
inline constexpr const char* kProxyUser = "app";  // scram-sha-256
inline constexpr const char* kProxyPassword = "secret";
inline constexpr const char* kProxyMd5User = "md5c";
inline constexpr const char* kProxyMd5Password = "m5";
inline constexpr const char* kProxyClearUser = "clear";
inline constexpr const char* kProxyClearPassword = "c";
inline constexpr const char* kProxyTrustUser = "trusty";

struct ProxyBackend {
  std::string alias;
  std::string url;
  std::optional<int> pool_size;
  std::string extra;  // more keys of the backend's flow mapping, e.g. "min_size: 2, idle_timeout: 1s"
};

struct ProxyUser {
  std::string name;
  std::optional<std::string> password;
  std::optional<std::string> auth;  // scram-sha-256 (default) | md5 | cleartext | trust
};

// Mirrors the config file format; to_yaml() writes it.
struct ProxyConfig {
  int threads = 2;
  std::optional<int> max_client_connections = 100;
  std::vector<ProxyBackend> backends;
  std::vector<std::pair<std::string, std::string>> databases;  // name -> alias; empty: omitted
  std::vector<ProxyUser> users;
  std::string pool_mode = "transaction";
  int pool_size = 4;
  std::string queue_timeout = "5s";
  std::string pool_extra;           // more keys of the pool flow mapping, e.g. "check_after: 0, recycle_margin: off"
  std::optional<int> metrics_port;  // metrics: {listen: 127.0.0.1:PORT}
  std::vector<std::string> admin_users;  // admin: {users: [...]}; each must be in `users`
  // reload: {watch: ...}. Off by default here: tests that rewrite the file and send SIGHUP count
  // generations, and a watcher reload racing the signal would add one.
  bool watch_config = false;
  std::string extra_yaml;  // appended verbatim, for settings not modelled here
  // Non-empty: the whole config file, written as is (an example from the repository); its listen port
  // must come from ${PGROUTE_PORT}, which the proxy is started with.
  std::string file_text;

  std::string to_yaml(int listen_port) const;
  ProxyBackend& backend(const std::string& alias);  // throws if absent
};

// Backends `default` (first cluster, database app) and `analytics` (second cluster), both
// logging in as app/apppass; databases app -> default, analytics -> analytics; the four users
// above. Starts the shared clusters if needed.
ProxyConfig default_proxy_config();
// ProxyConfig::extra_yaml for a router chain of one rule: statements whose text holds "marker_analytics"
// go to the analytics alias; the rest to the client's own.
inline constexpr const char* kMarkerRouterYaml = R"(
routers:
  - type: rule
    match: {sql: "marker_analytics"}
    alias: analytics
)";

// A YAML double-quoted scalar (for paths and names in configs written by tests).
std::string yaml_quoted(const std::string& s);

// Path of the built pgroute binary (CMake's PGROUTE_BINARY).
std::string pgroute_binary();

class Proxy {
 public:
  // Writes the config, starts pgroute and waits (10 s) until its port accepts connections;
  // throws with the tail of its log if it does not.
  // `env` is added to pgroute's environment (NOTIFY_SOCKET for the sd_notify test).
  explicit Proxy(const ProxyConfig& config, const std::vector<std::pair<std::string, std::string>>& env = {});
  // Stops it; prints the tail of its log to stderr if the current test has failed.
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  int port() const { return port_; }
  const std::filesystem::path& config_file() const { return config_file_; }
  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }

  ConnParams params(const std::string& user = kProxyUser,
                    const std::optional<std::string>& password = std::string(kProxyPassword),
                    const std::string& dbname = "app", const ConnParams& extra = {}) const;
  Conn connect(const std::string& user = kProxyUser,
               const std::optional<std::string>& password = std::string(kProxyPassword),
               const std::string& dbname = "app", const ConnParams& extra = {}) const;

  std::string log_tail(std::size_t lines = 60) const;
  // SIGTERM, then SIGKILL if it has not exited after 5 s. Returns the raw wait status.
  int stop();
  // Sends a signal without waiting (SIGHUP: reload; SIGTERM: graceful shutdown).
  void signal(int sig);
  // The raw wait status once it has exited within `timeout`; nullopt if it is still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // Rewrites the config file (for a reload).
  void write_config(const ProxyConfig& config);

 private:
  TempDir dir_;
  int port_;
  std::filesystem::path config_file_;
  std::filesystem::path log_file_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace pgroute::it
