#include "replication.hpp"

#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace pgroute::it {
namespace {

using Clock = std::chrono::steady_clock;

// Small and quick to start: these clusters only carry a few test rows.
std::vector<std::string> primary_conf() {
  return {"wal_level = replica", "max_wal_senders = 8", "shared_buffers = 16MB", "hot_standby = on"};
}

}  // namespace

ReplicationSet::ReplicationSet()
    : primary("repl_primary", primary_conf()),
      standby1("repl_standby1", StandbyOf{primary}),
      standby2("repl_standby2", StandbyOf{primary}) {}

ReplicationSet& replication_set() {
  // A cluster's postmaster is tied to the thread that forked it (PR_SET_PDEATHSIG).
  if (gettid() != getpid()) throw std::logic_error("start the replication set from the main thread");
  static ReplicationSet set;
  return set;
}

void set_apply_delay(PgCluster& standby, std::chrono::milliseconds delay) {
  Conn su = standby.superuser();
  su.exec("ALTER SYSTEM SET recovery_min_apply_delay = '" + std::to_string(delay.count()) + "ms'");
  su.exec("SELECT pg_reload_conf()");
  const std::string want = std::to_string(delay.count());
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  // The reload reaches new sessions once the postmaster has reread the file (pg_settings: milliseconds).
  while (Conn(standby.superuser()).scalar("SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'") !=
         want) {
    if (Clock::now() > deadline) throw std::runtime_error("recovery_min_apply_delay not applied on " + standby.name());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void promote(PgCluster& standby) {
  Conn su = standby.superuser();
  if (su.scalar("SELECT pg_promote(true, 30)") != "t")
    throw std::runtime_error("pg_promote failed on " + standby.name());
}

void wait_replayed(const PgCluster& primary, const PgCluster& standby, std::chrono::milliseconds within) {
  const std::string lsn = primary.superuser().scalar("SELECT pg_current_wal_lsn()");
  Conn su = standby.superuser();
  const auto deadline = Clock::now() + within;
  while (su.scalar("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn") != "t") {
    if (Clock::now() > deadline) throw std::runtime_error(standby.name() + " has not replayed " + lsn);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace pgroute::it
