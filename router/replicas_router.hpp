#pragma once
// Spreads reads over replicas of the primary (weighted), keeps everything else on the primary:
//   - writes (db_for_write) and every non-read statement (SET, SHOW, BEGIN, ...);
//   - anything inside an explicit transaction (the transaction must run on one server);
//   - reads within read_your_writes of this client's last write, so it never reads the row it just
//     wrote from a replica that has not replayed it yet.
// Unhealthy replicas (RouteContext::alias_healthy) are skipped, and so are replicas out of rotation when
// lag limits are set (RouteContext::replica_state: lagging, promoted, not answering the checks); with none
// left, reads go to the primary or are refused (when_no_replica).
// It has an opinion on every statement, so routers after it in the chain are never asked: list it after
// the routers that place tables (model, shard).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "router/causal_floors.hpp"
#include "router/router.hpp"

namespace pgroute::router {

struct ReplicaOption {
  std::string alias;
  int weight = 1;  // > 0: share of reads relative to the other replicas
};

enum class NoReplica { Primary, Error };

struct ReplicasRouterOptions {
  std::string primary;
  std::vector<ReplicaOption> replicas;
  std::chrono::milliseconds read_your_writes{0};
  // Set: replicas are checked (rotation by RouteContext::replica_state); unset: only health counts.
  std::optional<LagLimits> lag_limits;
  NoReplica when_no_replica = NoReplica::Primary;
  // causal_reads: tables: a read of a table with a floor (RouteContext::causal_floors) goes only to a
  // replica whose last checked replay position has reached it, else to the primary.
  bool causal_tables = false;
  std::chrono::milliseconds causal_wait{0};  // RouteDecision::replay_wait of a read sent to the primary
  // causal_reads: strict: a read first needs the primary's position sampled after it arrived
  // (RouteContext::causal_sample); until then it is a decision for the primary that asks for one.
  bool causal_strict = false;
};

class ReplicasRouter final : public Router {
 public:
  // Fails (nullptr + error) without a primary, without replicas, or on a weight <= 0.
  static std::unique_ptr<ReplicasRouter> create(ReplicasRouterOptions options, std::string& error);

  std::string_view name() const override { return name_; }
  Opinion db_for_read(const RouteContext& ctx) const override;
  Opinion db_for_write(const RouteContext& ctx) const override;

  // The replica a read goes to for a random draw in [0, 2^64), or nullptr when none is healthy.
  // Exposed so tests can check the weighting without statistics.
  // With a causal floor (> 0) only replicas whose last checked replay position has reached it count.
  const ReplicaOption* pick(uint64_t draw, const RouteContext& ctx, uint64_t floor = 0) const;
  // Why `alias` cannot take reads now ("" when it can): health, then rotation.
  std::string why_out(const std::string& alias, const RouteContext& ctx) const;
  const ReplicasRouterOptions& options() const { return options_; }

 private:
  explicit ReplicasRouter(ReplicasRouterOptions options);
  RouteDecision to_primary(const char* why) const;
  bool usable(const ReplicaOption& replica, const RouteContext& ctx, uint64_t floor) const;
  // The causal floor of the read's tables (0: none), after dropping the floors every replica has replayed.
  uint64_t causal_floor(const RouteContext& ctx, CausalFloors*& floors) const;
  std::string replayed_by(const RouteContext& ctx, uint64_t floor) const;
  Opinion no_replica(const RouteContext& ctx) const;

  ReplicasRouterOptions options_;
  std::string name_;
  uint64_t total_weight_ = 0;
};

}  // namespace pgroute::router
