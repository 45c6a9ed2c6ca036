#include "router/replicas_router.hpp"

namespace pgroute::router {
namespace {

// splitmix64 per thread: routing a read must not take a lock or allocate, and replica choice needs
// spread, not cryptographic quality.
uint64_t next_draw() {
  thread_local uint64_t state = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                                reinterpret_cast<uintptr_t>(&state);
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool healthy(const RouteContext& ctx, const std::string& alias) {
  return ctx.alias_healthy == nullptr || !*ctx.alias_healthy || (*ctx.alias_healthy)(alias);
}

}  // namespace

ReplicasRouter::ReplicasRouter(ReplicasRouterOptions options)
    : options_(std::move(options)), name_("replicas(" + options_.primary + ")") {
  for (const auto& r : options_.replicas) total_weight_ += static_cast<uint64_t>(r.weight);
}

std::unique_ptr<ReplicasRouter> ReplicasRouter::create(ReplicasRouterOptions options, std::string& error) {
  if (options.primary.empty()) {
    error = "replicas router: primary is required";
    return nullptr;
  }
  if (options.replicas.empty()) {
    error = "replicas router for " + options.primary + ": at least one replica is required";
    return nullptr;
  }
  for (const auto& r : options.replicas) {
    if (r.alias.empty() || r.weight <= 0) {
      error = "replicas router for " + options.primary + ": replica \"" + r.alias +
              "\" needs an alias and a weight above 0";
      return nullptr;
    }
  }
  return std::unique_ptr<ReplicasRouter>(new ReplicasRouter(std::move(options)));
}

RouteDecision ReplicasRouter::to_primary(const char* why) const {
  return RouteDecision{options_.primary, name_, why, {}, false};
}

const ReplicaOption* ReplicasRouter::pick(uint64_t draw, const RouteContext& ctx) const {
  uint64_t total = 0;
  for (const auto& r : options_.replicas)
    if (healthy(ctx, r.alias)) total += static_cast<uint64_t>(r.weight);
  if (total == 0) return nullptr;
  uint64_t point = draw % total;
  for (const auto& r : options_.replicas) {
    if (!healthy(ctx, r.alias)) continue;
    if (point < static_cast<uint64_t>(r.weight)) return &r;
    point -= static_cast<uint64_t>(r.weight);
  }
  return nullptr;  // unreachable: point < total
}

Opinion ReplicasRouter::db_for_read(const RouteContext& ctx) const {
  if (ctx.analysis && ctx.analysis->kind != StatementKind::Read) return to_primary("not a plain read");
  if (ctx.in_transaction) return to_primary("in an explicit transaction");
  if (ctx.last_write && options_.read_your_writes.count() > 0 &&
      std::chrono::steady_clock::now() - *ctx.last_write < options_.read_your_writes)
    return to_primary("this client wrote within read_your_writes");
  if (const ReplicaOption* replica = pick(next_draw(), ctx))
    return RouteDecision{replica->alias, name_, "a read, replica chosen by weight", {}, false};
  return to_primary("a read, but no replica is healthy");
}

Opinion ReplicasRouter::db_for_write(const RouteContext&) const { return to_primary("a write"); }

}  // namespace pgroute::router
