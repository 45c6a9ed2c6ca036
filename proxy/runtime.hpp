// State shared by all worker threads: the current config snapshot, the pools and the cancel keys.
// Sessions read the snapshot once per transaction (a relaxed generation check first), never per message.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/auth/scram.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/server_pool.hpp"
#include "router/router_chain.hpp"

namespace pgroute {

// One loaded configuration plus what is derived from it once (SCRAM secrets of plaintext passwords).
struct Snapshot {
  std::shared_ptr<const config::Config> config;
  uint64_t generation = 0;
  std::unordered_map<std::string, auth::ScramSecret> scram;  // user name -> secret (scram-sha-256 users)
  std::shared_ptr<const router::RouterChain> chain;           // null: routing off (no routers configured)
};
std::shared_ptr<const Snapshot> make_snapshot(std::shared_ptr<const config::Config> cfg, uint64_t generation,
                                              std::shared_ptr<const router::RouterChain> chain);
// The router chain a config asks for: null when it has no `routers:` (routing off, nothing parsed) or
// when building fails (then `error` says why, pointing into the file).
std::shared_ptr<const router::RouterChain> chain_for(const config::Config& cfg, std::string& error);

class Runtime {
 public:
  explicit Runtime(int workers) : workers_(workers) {}

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Installs a new snapshot; pools whose backend or settings changed are retired (they drain).
  void install(std::shared_ptr<const config::Config> cfg, std::shared_ptr<const router::RouterChain> chain);

  // The pool that logs in to `backend` as `user`/`password` (from the URL, or the client's own).
  std::shared_ptr<ServerPool> pool_for(const Snapshot& snap, const config::Backend& backend, const std::string& user,
                                       const std::string& password);
  std::vector<std::shared_ptr<ServerPool>> pools() const;
  void close_all_pools(CloseReason why);

  int workers() const { return workers_; }
  CancelRegistry cancels;
  std::atomic<int> clients{0};
  std::atomic<bool> shutting_down{false};

 private:
  int workers_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<uint64_t> generation_{0};
  mutable std::mutex pools_mu_;
  std::map<std::string, std::shared_ptr<ServerPool>> pools_;  // key: endpoint + settings fingerprint
};

}  // namespace pgroute
