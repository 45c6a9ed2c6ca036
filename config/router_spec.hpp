// What `routers:` in pgroute.yaml says, as plain data: one RouterSpec per list item, in order.
// router/chain_builder.hpp turns these into router objects; config/ knows nothing about routers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/units.hpp"

namespace pgroute::config {

// `type: model`: table name patterns (globs, optionally schema-qualified) -> alias, first match wins.
struct ModelRouterSpec {
  std::vector<std::pair<std::string, std::string>> tables;  // (pattern, alias) in file order
};

enum class ShardKeyType { Int2, Int4, Int8, Text, Uuid };
enum class ShardMethod { Hash, Range, List };
enum class WithoutKey { Error, All };

// One range of `ranges:`; from defaults to the previous range's `to` (unbounded for the first).
struct ShardRangeSpec {
  std::optional<std::string> from;  // inclusive; nullopt = unbounded below
  std::optional<std::string> to;    // exclusive; nullopt = unbounded above
  std::string alias;
};

// One entry of `lists: {alias: [values...]}`.
struct ShardListSpec {
  std::string alias;
  std::vector<std::string> values;
};

// `type: shard`: one table split by a key column over several aliases.
struct ShardRouterSpec {
  std::string table;  // "events" or "public.events"
  std::string key;    // column name
  ShardKeyType key_type = ShardKeyType::Int8;
  ShardMethod method = ShardMethod::Hash;
  std::vector<std::string> shards;      // hash: remainder i -> shards[i]
  std::vector<ShardRangeSpec> ranges;   // range
  std::vector<ShardListSpec> lists;     // list
  std::optional<std::string> fallback;  // range/list: alias for keys no range or list holds
  WithoutKey without_key = WithoutKey::Error;
  std::vector<std::string> colocated;  // table patterns present on every shard (joins allowed)
};

struct ReplicaSpec {
  std::string alias;
  int weight = 1;  // > 0
};

// What a read does when no replica is in rotation (all lagging, promoted, down).
enum class WhenNoReplica { Primary, Error };

// `type: replicas`: reads spread over replicas, writes/transactions/recent writers on the primary.
struct ReplicasRouterSpec {
  std::string primary;
  std::vector<ReplicaSpec> replicas;
  std::chrono::milliseconds read_your_writes{0};  // 0 = reads go to replicas right after a write
  // Lag-aware rotation: a replica whose replay is further behind than either limit leaves rotation.
  std::optional<std::chrono::milliseconds> max_lag;  // replay delay
  std::optional<uint64_t> max_lag_bytes;             // WAL bytes between the primary and the replica's replay
  std::chrono::milliseconds lag_check_interval{250};
  WhenNoReplica when_no_replica = WhenNoReplica::Primary;
  // Causal reads: tables: a read of a table written through pgroute goes only to a replica that has
  // replayed that commit (else the primary).
  // strict: every read waits for a primary position sampled after it arrived (commits anywhere count).
  enum class CausalReads { off, tables, strict };
  CausalReads causal_reads = CausalReads::off;
  // A read no replica can take yet waits this long for one to replay the commit (re-checked), then goes
  // to the primary; 0 = at once.
  std::chrono::milliseconds causal_wait{50};

  // Whether pgroute checks this router's servers (lag, recovery, answering) on connections of its own.
  bool monitored() const {
    return max_lag.has_value() || max_lag_bytes.has_value() || causal_reads != CausalReads::off;
  }
};

enum class RuleKindSpec { Any, Read, Write };

// `type: rule`: every condition of `match:` given must hold; globs for names, POSIX ERE for sql.
struct RuleRouterSpec {
  std::string user, database, application_name;  // globs; empty = any
  RuleKindSpec kind = RuleKindSpec::Any;
  std::string sql;  // case-insensitive extended regex searched in the statement; empty = any
  std::string alias;
};

// `type: plugin`: a shared library with the C ABI of router/plugin_api.h.
struct PluginRouterSpec {
  std::string path;
  std::string options_json;  // `options:` as JSON ("{}" when absent)
};

using RouterSettings =
    std::variant<ModelRouterSpec, ShardRouterSpec, ReplicasRouterSpec, RuleRouterSpec, PluginRouterSpec>;

struct RouterSpec {
  RouterSettings settings;
  // "pgroute.yaml:14:5: routers[1]": where the item is, so that a failure only found when the
  // router is built (a plugin that does not load, overlapping ranges) still points into the file.
  std::string where;

  std::string_view type_name() const;  // "model", "shard", ...
};

std::string_view to_string(ShardKeyType type);  // "int2", "int4", "int8", "text", "uuid"
std::string_view to_string(ShardMethod method);
std::string_view to_string(WithoutKey without_key);
std::string_view to_string(WhenNoReplica when);  // "primary", "error"

}  // namespace pgroute::config
