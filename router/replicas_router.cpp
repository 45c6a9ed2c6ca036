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

bool checked(const RouteContext& ctx) { return ctx.replica_state != nullptr && *ctx.replica_state; }

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

bool ReplicasRouter::usable(const ReplicaOption& replica, const RouteContext& ctx, uint64_t floor) const {
  if (!healthy(ctx, replica.alias)) return false;
  if (floor > 0) {
    // Causal: only a position the checks have seen counts (what they saw is at most what it has replayed).
    if (!checked(ctx)) return false;
    const ReplicaState state = (*ctx.replica_state)(replica.alias);
    if (state.seen != ReplicaState::Seen::InRecovery || state.replay_lsn < floor) return false;
    return !options_.lag_limits || out_of_rotation(state, *options_.lag_limits) == OutOfRotation::No;
  }
  if (!options_.lag_limits || !checked(ctx)) return true;
  return out_of_rotation((*ctx.replica_state)(replica.alias), *options_.lag_limits) == OutOfRotation::No;
}

// The replicas whose checked replay has reached `floor`, for the decision's reason (the rare causal path).
std::string ReplicasRouter::replayed_by(const RouteContext& ctx, uint64_t floor) const {
  std::string names;
  for (const auto& r : options_.replicas)
    if (usable(r, ctx, floor)) names += (names.empty() ? "" : ", ") + r.alias;
  return names;
}

uint64_t ReplicasRouter::causal_floor(const RouteContext& ctx, CausalFloors*& floors) const {
  floors = nullptr;
  if (!options_.causal_tables || !ctx.analysis || ctx.causal_floors == nullptr || !*ctx.causal_floors) return 0;
  floors = (*ctx.causal_floors)(options_.primary);
  if (floors == nullptr || floors->empty() || !checked(ctx)) return 0;
  // What every replica has replayed, down ones included: one that comes back must not find a floor it
  // has not reached already dropped.
  uint64_t replayed = UINT64_MAX;
  for (const auto& r : options_.replicas) replayed = std::min(replayed, (*ctx.replica_state)(r.alias).replay_lsn);
  floors->forget_replayed(replayed);
  return floors->floor_for(ctx.analysis->tables);
}

std::string ReplicasRouter::why_out(const std::string& alias, const RouteContext& ctx) const {
  if (!healthy(ctx, alias)) return "down (no connection)";
  if (!options_.lag_limits || !checked(ctx)) return "";
  ReplicaState state = (*ctx.replica_state)(alias);
  return describe(out_of_rotation(state, *options_.lag_limits), state, *options_.lag_limits);
}

const ReplicaOption* ReplicasRouter::pick(uint64_t draw, const RouteContext& ctx, uint64_t floor) const {
  // Each replica is asked once (a lookup costs atomic loads, and its answer may change between two looks):
  // the answers of the first 64 are kept as bits on the stack; more replicas than that are asked again.
  constexpr size_t kRemembered = 64;
  const auto& replicas = options_.replicas;
  uint64_t usable_bits = 0, total = 0;
  for (size_t i = 0; i < replicas.size(); ++i)
    if (usable(replicas[i], ctx, floor)) {
      total += static_cast<uint64_t>(replicas[i].weight);
      if (i < kRemembered) usable_bits |= uint64_t{1} << i;
    }
  if (total == 0) return nullptr;
  uint64_t point = draw % total;
  for (size_t i = 0; i < replicas.size(); ++i) {
    if (i < kRemembered ? !((usable_bits >> i) & 1) : !usable(replicas[i], ctx, floor)) continue;
    if (point < static_cast<uint64_t>(replicas[i].weight)) return &replicas[i];
    point -= static_cast<uint64_t>(replicas[i].weight);
  }
  return nullptr;  // only when a replica past the 64th changed its answer meanwhile
}

Opinion ReplicasRouter::db_for_read(const RouteContext& ctx) const {
  if (ctx.analysis && ctx.analysis->kind != StatementKind::Read) return to_primary("not a plain read");
  if (ctx.in_transaction) return to_primary("in an explicit transaction");
  if (ctx.last_write && options_.read_your_writes.count() > 0 &&
      std::chrono::steady_clock::now() - *ctx.last_write < options_.read_your_writes)
    return to_primary("this client wrote within read_your_writes");
  CausalFloors* floors = nullptr;
  uint64_t floor = causal_floor(ctx, floors);
  if (options_.causal_strict && checked(ctx) && floors) {
    if (ctx.causal_sample == 0) {
      RouteDecision d{
          options_.primary, name_, "strict causal read: the primary's position is sampled first", {}, false};
      d.causal = floors;
      d.causal_fallback = true;
      d.needs_primary_sample = true;
      return d;
    }
    floor = std::max(floor, ctx.causal_sample);
  }
  // What the floor stands for, in the reasons: a commit through pgroute, or the primary when the read came.
  const bool sampled = options_.causal_strict && floor == ctx.causal_sample;
  const char* floor_is =
      sampled ? "the primary's position when the read arrived" : "a write to a table this read touches";
  const uint64_t draw = next_draw();
  if (const ReplicaOption* replica = pick(draw, ctx, floor)) {
    if (floor == 0) return RouteDecision{replica->alias, name_, "a read, replica chosen by weight", {}, false};
    RouteDecision d{
        replica->alias,
        name_,
        "a causal read after " + lsn_text(floor) + " (" + floor_is + "); replayed by " + replayed_by(ctx, floor),
        {},
        false};
    d.causal = floors;
    return d;
  }
  if (floor > 0 && pick(draw, ctx) != nullptr) {
    // Replicas are there, but none has replayed the commit yet: never a stale read.
    RouteDecision d{options_.primary,
                    name_,
                    "causal read: no replica has replayed " + lsn_text(floor) + " (" + floor_is + ") yet",
                    {},
                    false};
    d.causal = floors;
    d.causal_fallback = true;
    d.replay_wait = options_.causal_wait;
    return d;
  }
  return no_replica(ctx);
}

// The rare path (every replica down or out of rotation): the reason names each replica and why.
Opinion ReplicasRouter::no_replica(const RouteContext& ctx) const {
  if (options_.when_no_replica == NoReplica::Primary && (!options_.lag_limits || !checked(ctx)))
    return to_primary("a read, but no replica is healthy");
  std::string why;
  for (const auto& r : options_.replicas) {
    std::string out = why_out(r.alias, ctx);
    // A pick can race a check that has just put the replica back: still "no replica" for this read.
    why += (why.empty() ? "" : "; ") + r.alias + ": " + (out.empty() ? "available again just now" : out);
  }
  if (options_.when_no_replica == NoReplica::Error)
    return RouteError{
        "57P03", "pgroute: " + name_ + ": no replica can take this read (" + why + ") and when_no_replica is error",
        "reads return when a replica is back in rotation; SHOW REPLICAS on the admin console says why "
        "each is out",
        name_};
  return RouteDecision{options_.primary, name_, "a read, but no replica is in rotation (" + why + ")", {}, false};
}

Opinion ReplicasRouter::db_for_write(const RouteContext&) const { return to_primary("a write"); }

}  // namespace pgroute::router
