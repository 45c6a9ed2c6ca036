// Lag-aware rotation's eyes: every lag_check_interval, each server of a replicas router with lag limits
// (its primary and its replicas) is asked, on a connection of the monitor's own (not from the pools),
//   SELECT pg_is_in_recovery(), <replay LSN on a standby | current WAL LSN on a primary>,
//          <seconds since the last replayed commit>
// and what it answers is kept per alias in atomics that routers (RouteContext::replica_state), metrics
// and SHOW REPLICAS read without a lock. Causal reads compare LSNs against replay_lsn().
//
// Why a thread of its own with nonblocking libpq and poll(): libpq brings the server login (SCRAM, md5,
// TLS by the backend's sslmode) without touching the pools or ServerConnection; the checks never run on a
// worker's event loop; and one poll() over every server's socket, each check with its own deadline, means
// a hung or dead server costs only its own check, never the others' (a host name is resolved when a
// connection opens, synchronously: use addresses where DNS may hang).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "router/replica_rotation.hpp"

namespace pgroute {

// What the last check of one alias found. Written by the monitor thread only; fields are read one by one
// (relaxed), so a reader may mix two consecutive checks, which is harmless for a rotation decision.
struct ServerLag {
  std::atomic<uint8_t> seen{0};  // router::ReplicaState::Seen
  std::atomic<bool> lag_known{false};
  std::atomic<double> lag_seconds{0};
  std::atomic<uint64_t> lag_bytes{0};
  std::atomic<uint64_t> lsn{0};  // a standby's replay LSN, a primary's current WAL LSN
  std::atomic<uint64_t> checks{0}, failures{0};
  // On-demand checks (causal_reads: strict): checks are numbered as they start; `answered` is the
  // number of the last one answered; `wanted` asks the monitor to start one as soon as it can.
  std::atomic<uint64_t> started{0}, answered{0};
  std::atomic<bool> wanted{false};

  router::ReplicaState load() const;
};

// One (replicas router, replica) pair as SHOW REPLICAS and the metrics show it.
struct ReplicaRow {
  std::string alias, primary;
  router::ReplicaState state;
  router::OutOfRotation out = router::OutOfRotation::No;
  std::string why;  // "" when in rotation
};

class ReplicaMonitor {
 public:
  ReplicaMonitor();
  ~ReplicaMonitor();
  ReplicaMonitor(const ReplicaMonitor&) = delete;
  ReplicaMonitor& operator=(const ReplicaMonitor&) = delete;

  // The servers to check are those of cfg's replicas routers with lag limits (the snapshot in force):
  // connections to servers that stay (same address and login) are kept, the others close.
  void follow(const config::Config& cfg);
  // Starts the checks (once the proxy serves); stop() ends them and closes the connections.
  void start();
  void stop();

  // Lock-free reads for the route path: the state of an alias (NotChecked when it is not checked).
  router::ReplicaState state(std::string_view alias) const;
  // A standby's last replay LSN, a primary's last current WAL LSN; 0 when unknown.
  uint64_t replay_lsn(std::string_view alias) const;
  uint64_t primary_lsn(std::string_view alias) const { return replay_lsn(alias); }

  // causal_reads: strict. A check of `alias` (a primary) that starts after this call: returns its number,
  // and has the monitor start it at once (or as soon as the one running ends; callers share it).
  // 0 when the alias is not checked.
  uint64_t request_check(std::string_view alias);
  // Whether check number `ticket` (or a later one) of `alias` has been answered: its LSN is then in
  // replay_lsn()/primary_lsn().
  bool check_answered(std::string_view alias, uint64_t ticket) const;
  // Checks of `alias` started so far, the ones strict reads asked for included (metrics).
  uint64_t checks_started(std::string_view alias) const;

  // Every replica of every replicas router with lag limits in cfg, in file order, judged by its router.
  std::vector<ReplicaRow> rows(const config::Config& cfg) const;

 private:
  struct Target;  // one checked server: its connection and schedule (monitor thread only)
  struct Plan {
    std::string alias, conninfo_key, primary;  // primary: the alias whose LSN this replica is measured against
    std::vector<std::string> keys, values;     // libpq connection parameters
    std::chrono::milliseconds interval{250};
    std::shared_ptr<ServerLag> lag;
  };
  using LagMap = std::map<std::string, std::shared_ptr<ServerLag>, std::less<>>;

  void run();
  void wake();

  std::atomic<std::shared_ptr<const LagMap>> lags_{std::make_shared<const LagMap>()};
  std::mutex mu_;
  std::vector<Plan> plan_;  // under mu_
  bool plan_changed_ = false;
  bool stopping_ = false;
  int wake_fd_ = -1;  // eventfd: a new plan or stop() interrupts poll()
  std::thread thread_;
};

}  // namespace pgroute
