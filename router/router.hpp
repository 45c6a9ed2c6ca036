#pragma once
// The router interface: given one analysed statement and its session, a router names the alias (backend
// database) that should run it, refuses it, or has no opinion (Django's DATABASE_ROUTERS). Routers are
// immutable once built (they live in a config snapshot shared by threads), hence const methods.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "router/replica_rotation.hpp"
#include "router/statement.hpp"

namespace pgroute::router {

class ColumnOrderSource;  // column_order.hpp
class CausalFloors;       // causal_floors.hpp

struct RouteContext {
  const Analysis* analysis = nullptr;
  // Bind parameter values in order, text or binary as param_formats says; nullopt = SQL NULL.
  std::span<const std::optional<std::string_view>> params;
  // Bind's format codes (0 text, 1 binary): none = all text, one = applies to all, else one per param.
  std::span<const int16_t> param_formats;
  std::string_view sql;  // the statement text (RuleRouter's regex)
  std::string_view user, database, application_name;
  bool in_transaction = false;
  std::optional<std::string_view> session_shard_key;  // SET pgroute.shard_key value in effect
  // When this client's last write ended (a statement routed with db_for_write that succeeded), for
  // ReplicasRouter's read_your_writes window; nullopt = it has not written. The session keeps it.
  std::optional<std::chrono::steady_clock::time_point> last_write;
  // Whether an alias is up, for routers choosing among several (replicas); null = all are healthy.
  // Called on the route path: it must be cheap (an atomic flag per alias) and must not block.
  const std::function<bool(std::string_view alias)>* alias_healthy = nullptr;
  // What the replica checks last saw of an alias, for replicas routers with lag limits; null = not checked
  // here (pgroute explain, unit tests): every replica counts as in rotation. Cheap (atomic loads), no block.
  const std::function<ReplicaState(std::string_view alias)>* replica_state = nullptr;
  // The causal floors of a primary (causal_reads: tables), kept by the process; null function or result:
  // none (pgroute explain, unit tests without them, causal reads off).
  const std::function<CausalFloors*(std::string_view primary)>* causal_floors = nullptr;
  // causal_reads: strict: the primary's WAL position sampled after this read arrived; 0 = none yet.
  uint64_t causal_sample = 0;
  // Where a shard key stands in its table's columns, for INSERTs without a column list; null = unknown.
  const ColumnOrderSource* column_order = nullptr;
  // The statement is only prepared or described, with no values yet: any alias that holds its tables
  // will do (a sharded table without its key: one of the shards, not a refusal).
  bool describe_only = false;
  // With describe_only: the alias to describe on when the router could use it (the one already attached).
  std::string_view describe_on;
};

struct RouteDecision {
  std::string alias;   // empty when scatter is set
  std::string router;  // name() of the deciding router, "default" or "hint"
  std::string reason;  // for logs and SHOW-style introspection
  // Non-empty: a read the router spreads over several aliases (run on each, merge the rows).
  std::vector<std::string> scatter;
  // The router decided for the statement as a whole (rules, hints), not from where its tables live:
  // the chain then skips its cross-alias check.
  bool statement_level = false;
  // Causal reads: the floors that held this read back (null: none applied); causal_fallback: it goes to
  // the primary because no replica has replayed the floor yet, and replay_wait > 0: the caller may wait
  // that long, routing again, for a replica to catch up.
  CausalFloors* causal = nullptr;
  bool causal_fallback = false;
  // causal_reads: strict and no sample yet: the caller samples the primary's position (this decision's
  // alias), then routes again with RouteContext::causal_sample; until then the read would go to the primary.
  bool needs_primary_sample = false;
  std::chrono::milliseconds replay_wait{0};
};

// A refusal, sent to the client as an ErrorResponse. The message names the router, table(s), alias(es).
struct RouteError {
  std::string sqlstate;
  std::string message;
  std::string hint;
  std::string router;
};

// What one router says: nothing (std::monostate: ask the next router), a decision, or a refusal.
using Opinion = std::variant<std::monostate, RouteDecision, RouteError>;
inline constexpr std::monostate kNoOpinion{};

// Where a router keeps one table: one alias, or several (a sharded table whose statement has no key).
struct TablePlacement {
  std::vector<std::string> aliases;  // sorted, unique, non-empty
};

class Router {
 public:
  virtual ~Router() = default;

  virtual std::string_view name() const = 0;
  virtual Opinion db_for_read(const RouteContext& ctx) const = 0;
  virtual Opinion db_for_write(const RouteContext& ctx) const = 0;

  // Where this router places `table` for this statement; nullopt if it does not claim the table.
  // The chain uses it to refuse statements whose tables live on different aliases.
  virtual std::optional<TablePlacement> place_table(const TableRef& table, const RouteContext& ctx) const {
    (void)table, (void)ctx;
    return std::nullopt;
  }

  // May a statement combine `a` (placed on alias_a) with `b` (on alias_b)? true / false / no opinion.
  // Without any opinion the chain allows it only when the placements are equal.
  virtual std::optional<bool> allow_relation(const TableRef& a, std::string_view alias_a, const TableRef& b,
                                             std::string_view alias_b) const {
    (void)a, (void)alias_a, (void)b, (void)alias_b;
    return std::nullopt;
  }
};

// A Bind parameter as the router sees it.
struct BoundParam {
  enum class State { Unbound, Null, Text, Binary } state = State::Unbound;
  std::string_view bytes;
};

// $n (1-based) from the context's Bind values, applying Bind's format-code rules.
BoundParam bound_param(const RouteContext& ctx, int n);

// "name" or "schema.name" for messages.
std::string display_name(const TableRef& table);

// "a, b, c": aliases or tables listed in a message.
std::string join(const std::vector<std::string>& items);

}  // namespace pgroute::router
