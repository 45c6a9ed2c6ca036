#include "pg_cluster.hpp"

#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace pgroute::it {
namespace {

using Clock = std::chrono::steady_clock;

void append_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::app);
  out << text;
  if (!out) throw std::runtime_error("cannot append to " + file.string());
}

struct SharedClusters {
  PgCluster first{"cluster1"};
  PgCluster second{"cluster2"};
};

SharedClusters& shared() {
  // A cluster's postmaster is tied to the thread that forked it (PR_SET_PDEATHSIG).
  if (gettid() != getpid()) throw std::logic_error("start the shared clusters from the main thread");
  static SharedClusters clusters;
  return clusters;
}

}  // namespace

PgCluster::PgCluster(const std::string& name, const std::vector<std::string>& extra_conf)
    : name_(name), dir_(name, /*owned_by_postgres=*/true), port_(free_port()) {
  const RunResult init = run({pg_bin("initdb"), "-D", data_dir().string(), "-U", "postgres", "--auth-local=trust",
                              "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"},
                             {.timeout = 120s, .as = RunAs::postgres_user, .cwd = dir_.path()});
  if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.describe());

  append_conf(extra_conf);

  // First match wins: the three method-specific users before the catch-all.
  write_file(data_dir() / "pg_hba.conf",
             "local all all trust\n"
             "local replication postgres trust\n"  // pg_basebackup of a standby
             "host all trust_user 127.0.0.1/32 trust\n"
             "host all clear_user 127.0.0.1/32 password\n"
             "host all md5_user 127.0.0.1/32 md5\n"
             "host all all 127.0.0.1/32 scram-sha-256\n");
  chown_to_postgres(data_dir() / "pg_hba.conf");
  start();
  create_roles();
}

PgCluster::PgCluster(const std::string& name, StandbyOf of)
    : name_(name), dir_(name, /*owned_by_postgres=*/true), port_(free_port()) {
  const RunResult backup =
      run({pg_bin("pg_basebackup"), "-D", data_dir().string(), "-h", of.primary.socket_dir().string(), "-p",
           std::to_string(of.primary.port()), "-U", "postgres", "-R", "--checkpoint=fast", "--no-sync"},
          {.timeout = 120s, .as = RunAs::postgres_user, .cwd = dir_.path()});
  if (backup.exit_code != 0) throw std::runtime_error("pg_basebackup failed: " + backup.describe());
  // The copied postgresql.conf carries the primary's port and socket directory; later lines win.
  append_conf({"hot_standby = on"});
  start();
}

void PgCluster::append_conf(const std::vector<std::string>& extra_conf) {
  std::string conf = "\n# pgroute integration tests\n";
  conf += "listen_addresses = '127.0.0.1'\n";
  conf += "port = " + std::to_string(port_) + "\n";
  conf += "unix_socket_directories = '" + dir_.path().string() + "'\n";
  // Durability is irrelevant for throw-away clusters; speed is not.
  conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
  conf += "max_connections = 200\nshared_buffers = 32MB\n";
  // A seq scan of a big table may otherwise start where the previous one stopped, and tests
  // compare COPY TO output byte for byte.
  conf += "synchronize_seqscans = off\n";
  for (const auto& line : extra_conf) conf += line + "\n";
  append_file(data_dir() / "postgresql.conf", conf);
}

PgCluster::~PgCluster() {
  try {
    stop(Shutdown::fast);
  } catch (...) {
    // Destructors must not throw; the child is killed by ~ChildProcess anyway.
  }
}

void PgCluster::start() {
  if (running()) return;
  postmaster_ = std::make_unique<ChildProcess>(std::vector<std::string>{pg_bin("postgres"), "-D", data_dir().string()},
                                               dir_ / "postgres.log", RunAs::postgres_user);
  const std::string port = std::to_string(port_);
  const std::string host = dir_.path().string();
  const char* keys[] = {"host", "port", "user", "dbname", nullptr};
  const char* values[] = {host.c_str(), port.c_str(), "postgres", "postgres", nullptr};
  const auto deadline = Clock::now() + 60s;
  while (PQpingParams(keys, values, 0) != PQPING_OK) {
    if (!postmaster_->running() || Clock::now() > deadline)
      throw std::runtime_error("cluster " + name_ + " did not start:\n" + log_tail());
    std::this_thread::sleep_for(50ms);
  }
}

void PgCluster::stop(Shutdown mode) {
  if (!postmaster_) return;
  const int sig = mode == Shutdown::smart ? SIGTERM : mode == Shutdown::fast ? SIGINT : SIGQUIT;
  postmaster_->stop(sig, 30s);
  postmaster_.reset();
}

void PgCluster::signal_postmaster(int sig) {
  if (!postmaster_) throw std::logic_error("cluster " + name_ + " is not running");
  postmaster_->signal(sig);
}

void PgCluster::restart(Shutdown mode) {
  stop(mode);
  start();
}

Conn PgCluster::superuser(const std::string& dbname) const {
  return Conn(
      {{"host", dir_.path().string()}, {"port", std::to_string(port_)}, {"user", "postgres"}, {"dbname", dbname}});
}

ConnParams PgCluster::params(const std::string& user, const std::optional<std::string>& password,
                             const std::string& dbname) const {
  return tcp_params(port_, user, password, dbname);
}

std::string PgCluster::url(const std::string& user, const std::optional<std::string>& password,
                           const std::string& dbname) const {
  return "postgresql://" + user + (password ? ":" + *password : "") + "@127.0.0.1:" + std::to_string(port_) + "/" +
         dbname;
}

std::string PgCluster::log_tail(std::size_t lines) const { return file_tail(dir_ / "postgres.log", lines); }

void PgCluster::create_roles() {
  Conn su = superuser();
  su.exec("SET password_encryption = 'scram-sha-256'");
  su.exec(std::string("CREATE ROLE ") + kAppUser + " LOGIN CREATEDB PASSWORD '" + kAppPassword + "'");
  su.exec(std::string("CREATE ROLE ") + kClearUser + " LOGIN PASSWORD '" + kClearPassword + "'");
  su.exec(std::string("CREATE ROLE ") + kTrustUser + " LOGIN");
  // md5 auth needs an md5-hashed stored password (a SCRAM verifier cannot answer md5).
  su.exec("SET password_encryption = 'md5'");
  su.exec(std::string("CREATE ROLE ") + kMd5User + " LOGIN PASSWORD '" + kMd5Password + "'");
  su.exec(std::string("CREATE DATABASE ") + kAppDatabase + " OWNER " + kAppUser);
}

PgCluster& first_cluster() { return shared().first; }
PgCluster& second_cluster() { return shared().second; }

}  // namespace pgroute::it
