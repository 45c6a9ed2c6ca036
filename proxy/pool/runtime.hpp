// State shared by all worker threads: the current config snapshot, the pools and the cancel keys.
// Sessions read the snapshot once per transaction (a relaxed generation check first), never per message.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "proxy/auth/scram.hpp"
#include "proxy/io/backend_tls_context.hpp"
#include "proxy/io/tls_context.hpp"
#include "proxy/io/tls_failure.hpp"
#include "proxy/metrics/atomic_histogram.hpp"
#include "proxy/pool/cancel_registry.hpp"
#include "proxy/pool/client_close_reason.hpp"
#include "proxy/pool/pause_gate.hpp"
#include "proxy/pool/replica_monitor.hpp"
#include "proxy/pool/server_pool.hpp"
#include "router/causal_floors.hpp"
#include "router/router_chain.hpp"

namespace pgroute {

// One loaded configuration plus what is derived from it once (SCRAM secrets of plaintext passwords).
struct Snapshot {
  std::shared_ptr<const config::Config> config;
  uint64_t generation = 0;
  std::chrono::system_clock::time_point loaded_at = std::chrono::system_clock::now();
  std::unordered_map<std::string, auth::ScramSecret> scram;  // user name -> secret (scram-sha-256 users)
  std::shared_ptr<const router::RouterChain> chain;          // null: routing off (no routers configured)
  std::shared_ptr<const TlsContext> tls;                     // null: no TLS for clients (SSLRequest gets 'N')
  BackendTlsContexts backend_tls;                            // alias -> TLS to it (sslmode other than disable)
  // Primary alias -> the causal floors of its replicas router (causal_reads: tables). The objects are
  // carried from snapshot to snapshot while the primary keeps causal reads: floors survive reloads.
  std::map<std::string, std::shared_ptr<router::CausalFloors>, std::less<>> causal_floors;
  // causal_floors as the function routers take (RouteContext::causal_floors); valid while this lives.
  std::function<router::CausalFloors*(std::string_view)> causal_lookup;
};
// `previous`: the snapshot in force, whose derived secrets are kept for users whose password is unchanged.
std::shared_ptr<const Snapshot> make_snapshot(std::shared_ptr<const config::Config> cfg, uint64_t generation,
                                              std::shared_ptr<const router::RouterChain> chain,
                                              const Snapshot* previous = nullptr,
                                              std::shared_ptr<const TlsContext> tls = nullptr,
                                              BackendTlsContexts backend_tls = {});
// The router chain a config asks for: null when it has no `routers:` (routing off, nothing parsed) or
// when building fails (then `error` says why, pointing into the file).
std::shared_ptr<const router::RouterChain> chain_for(const config::Config& cfg, std::string& error);

class Runtime {
 public:
  explicit Runtime(int workers);

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Installs a new snapshot. Pools keep their connections when only pool settings changed (the new
  // settings apply); pools whose backend address, database or login changed, or whose alias is gone,
  // are retired: idle connections close now, lent ones when they come back.
  void install(std::shared_ptr<const config::Config> cfg, std::shared_ptr<const router::RouterChain> chain,
               std::shared_ptr<const TlsContext> tls = nullptr, BackendTlsContexts backend_tls = {});
  // The workers' io_contexts, where pools run their maintenance. Starts it for existing pools and opens
  // pools with a fixed server login (user in the backend URL) at once, so min_size is warm before clients.
  void attach_workers(std::vector<asio::io_context*> contexts);
  // Whether the alias's backend answered its last connection attempt (pool or health probe). false for
  // an unknown alias. No mutex (one atomic load of the alias map): for routers and metrics.
  bool alias_healthy(std::string_view alias) const;
  // alias_healthy as the function routers take (RouteContext::alias_healthy).
  const std::function<bool(std::string_view)> alias_health{[this](std::string_view a) { return alias_healthy(a); }};
  // Lag checks of the replicas routers with lag limits (they follow each installed snapshot).
  ReplicaMonitor replicas;
  // ReplicaMonitor::state as the function routers take (RouteContext::replica_state).
  const std::function<router::ReplicaState(std::string_view)> replica_state{
      [this](std::string_view a) { return replicas.state(a); }};
  // Shutdown: pools stop warming up and probing, lag checks end.
  void stop_maintenance();

  // The pool that logs in to `backend` as `user`/`password` (from the URL, or the client's own).
  std::shared_ptr<ServerPool> pool_for(const Snapshot& snap, const config::Backend& backend, const std::string& user,
                                       const std::string& password);
  std::vector<std::shared_ptr<ServerPool>> pools() const;
  void close_all_pools(CloseReason why);

  int workers() const { return workers_; }
  // Random bytes made at start: the key of the mock SCRAM salts unknown users are shown
  // (auth::mock_scram_secret), the same per name for the life of the process.
  const std::string mock_scram_key;
  CancelRegistry cancels;
  // Causal reads: how long reads waited for a replica to replay their floor (causal_wait).
  metrics::AtomicHistogram causal_wait_time;
  std::atomic<int> clients{0};           // logged in (max_client_connections)
  std::atomic<int> clients_starting{0};  // accepted, not logged in yet (max_startup_connections)
  std::atomic<int> clients_parked{0};    // idle clients holding no buffers or coroutine frames
  // Transaction-mode clients that keep their server connection for state it holds (LISTEN, a lock ...).
  std::atomic<int> clients_keeping_server{0};
  std::atomic<int> clients_tls{0};                                      // client connections with TLS established
  std::atomic<uint64_t> tls_handshake_failures[kTlsFailureCount] = {};  // by TlsFailure
  std::atomic<bool> shutting_down{false};
  std::atomic<uint64_t> client_closes[kClientCloseReasonCount] = {};  // ended sessions, by reason
  // Operations (metrics, admin console): PAUSE gates per alias, reload outcomes, the server's controls.
  admin::PauseRegistry pauses;
  std::atomic<uint64_t> reloads_ok{0}, reloads_failed{0};

 private:
  std::shared_ptr<ServerPool> pool_for_locked(const Snapshot& snap, const config::Backend& backend,
                                              const std::string& user, const std::string& password);
  std::shared_ptr<AliasHealth> health_of(std::string_view alias) const;

  int workers_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<uint64_t> generation_{0};
  mutable std::mutex pools_mu_;
  std::map<std::string, std::shared_ptr<ServerPool>> pools_;  // key: endpoint (alias, address, login)
  std::vector<asio::io_context*> contexts_;                   // under pools_mu_
  size_t next_context_ = 0;                                   // round-robin home for new pools' maintenance
  using HealthMap = std::map<std::string, std::shared_ptr<AliasHealth>, std::less<>>;
  std::atomic<std::shared_ptr<const HealthMap>> health_{std::make_shared<const HealthMap>()};
};

}  // namespace pgroute
