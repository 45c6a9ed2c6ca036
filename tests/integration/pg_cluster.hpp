// A throw-away PostgreSQL 15 cluster on a free loopback port, run as the postgres user.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pg_conn.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace pgroute::it {

// Roles and passwords every cluster has. pg_hba makes the server ask each login role for a
// different method, so the proxy's server-side authentication is exercised with all of them.
inline constexpr const char* kAppUser = "app";  // scram-sha-256, owns database app
inline constexpr const char* kAppPassword = "apppass";
inline constexpr const char* kMd5User = "md5_user";  // md5 (password stored as md5)
inline constexpr const char* kMd5Password = "md5pass";
inline constexpr const char* kClearUser = "clear_user";  // password (cleartext)
inline constexpr const char* kClearPassword = "clearpass";
inline constexpr const char* kTrustUser = "trust_user";  // trust
inline constexpr const char* kAppDatabase = "app";

enum class Shutdown { smart, fast, immediate };

// Selects the PgCluster constructor that clones a running primary into a streaming standby.
struct StandbyOf {
  const class PgCluster& primary;
};

class PgCluster {
 public:
  // initdb, configuration, start, roles and the `app` database.
  explicit PgCluster(const std::string& name, const std::vector<std::string>& extra_conf = {});
  // A hot standby of `of.primary` (pg_basebackup -R over its Unix socket), started and accepting
  // read-only connections; roles and databases are the primary's.
  PgCluster(const std::string& name, StandbyOf of);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  void start();
  void stop(Shutdown mode = Shutdown::fast);
  void restart(Shutdown mode = Shutdown::fast);
  bool running() const { return postmaster_ && postmaster_->running(); }
  // Signals the postmaster (SIGSTOP freezes it: its socket still completes TCP handshakes that nobody
  // accepts, a blackholed server; SIGCONT thaws it).
  void signal_postmaster(int sig);

  const std::string& name() const { return name_; }
  int port() const { return port_; }
  const std::filesystem::path& socket_dir() const { return dir_.path(); }
  std::filesystem::path data_dir() const { return dir_ / "data"; }

  // As the superuser `postgres` over the Unix socket (trust).
  Conn superuser(const std::string& dbname = "postgres") const;
  // Over TCP, as a client of this cluster would connect.
  ConnParams params(const std::string& user, const std::optional<std::string>& password,
                    const std::string& dbname = kAppDatabase) const;
  // postgresql://user[:password]@127.0.0.1:port/dbname, for proxy backend URLs.
  std::string url(const std::string& user, const std::optional<std::string>& password,
                  const std::string& dbname = kAppDatabase) const;
  std::string log_tail(std::size_t lines = 40) const;

 private:
  void create_roles();
  void append_conf(const std::vector<std::string>& lines);

  std::string name_;
  TempDir dir_;
  int port_;
  std::unique_ptr<ChildProcess> postmaster_;
};

// Two clusters shared by every test of the binary: started on first use (from the main
// thread), stopped when the binary exits. Tests must not stop them for good; a test that
// restarts one must leave it running.
PgCluster& first_cluster();
PgCluster& second_cluster();

}  // namespace pgroute::it
