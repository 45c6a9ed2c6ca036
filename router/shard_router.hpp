#pragma once
// Places the rows of one sharded table by the value of its shard key column:
//   hash:  shards[i] holds remainder i of PostgreSQL's PARTITION BY HASH with modulus = shards.size()
//   range: [from, to) bounds, either end open
//   list:  explicit value lists
// The key comes from the statement (WHERE key = v / IN (...), INSERT values, $n at Bind), else from a
// /* pgroute: shard_key=v */ hint, else from the session's SET pgroute.shard_key. A statement with
// no key is refused, or for reads with without_key = All spread over every shard.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "router/column_order.hpp"
#include "router/key_datum.hpp"
#include "router/router.hpp"
#include "router/table_pattern.hpp"

namespace pgroute::router {

enum class ShardMethod { Hash, Range, List };
enum class WithoutKey { Error, All };

struct ShardRange {
  std::optional<std::string> from;  // inclusive; nullopt = unbounded below
  std::optional<std::string> to;    // exclusive; nullopt = unbounded above
  std::string alias;
};

struct ShardList {
  std::vector<std::string> values;
  std::string alias;
};

struct ShardRouterOptions {
  std::string table;  // "events" or "public.events"
  std::string key;    // column name as PostgreSQL folds it (lower case unless quoted)
  KeyType key_type = KeyType::Int8;
  ShardMethod method = ShardMethod::Hash;
  std::vector<std::string> shards;            // hash
  std::vector<ShardRange> ranges;             // range
  std::vector<ShardList> lists;               // list
  std::optional<std::string> fallback_alias;  // range/list: a key no bound or list holds (and NULL)
  WithoutKey without_key = WithoutKey::Error;
  // Tables present on every shard (replicated reference data): joining them with the sharded table
  // is allowed although they are placed elsewhere. TablePattern globs.
  std::vector<std::string> colocated;
};

class ShardRouter final : public Router {
 public:
  // Validates the options (bounds parse as key_type, ranges do not overlap, list values are unique,
  // hash has shards); on failure returns nullptr and sets `error`.
  static std::unique_ptr<ShardRouter> create(ShardRouterOptions options, std::string& error);

  std::string_view name() const override { return name_; }
  Opinion db_for_read(const RouteContext& ctx) const override { return decide(ctx, false); }
  Opinion db_for_write(const RouteContext& ctx) const override { return decide(ctx, true); }
  std::optional<TablePlacement> place_table(const TableRef& table, const RouteContext& ctx) const override;
  std::optional<bool> allow_relation(const TableRef& a, std::string_view alias_a, const TableRef& b,
                                     std::string_view alias_b) const override;

  // Shard alias for one key value in text form (tests, admin "which shard" queries).
  std::optional<std::string> alias_for_key(std::string_view text_value) const;

 private:
  struct Range {
    std::optional<KeyDatum> from, to;
    std::string alias;
  };
  struct ListValue {
    KeyDatum value;
    std::string alias;
  };
  // The outcome of looking at one statement.
  struct Placement {
    enum class Kind { NotMine, Single, Spread, Missing, Failed } kind = Kind::NotMine;
    std::vector<std::string> aliases;  // Single: one; Spread: several (statement order)
    std::string reason;
    RouteError error;  // Failed
  };

  explicit ShardRouter(ShardRouterOptions options);
  Opinion decide(const RouteContext& ctx, bool write) const;
  Placement place(const RouteContext& ctx) const;
  Placement place_value(const KeyDatum* value, std::string_view shown) const;  // value null = SQL NULL
  Placement place_text(std::string_view text, std::string_view source) const;
  std::optional<std::string> check_update_keeps_shard(const RouteContext& ctx, const std::string& alias) const;
  // For a statement only described (RouteContext::describe_only): the one of `candidates` to use.
  std::string describe_shard(const RouteContext& ctx, const std::vector<std::string>& candidates) const;
  bool is_my_column(const KeyValue& kv) const;
  // The key's value in one row: by name, or (INSERT without a column list) by the key's position in
  // the table, asked of ctx.column_order at the first positional value of the statement.
  const KeyValue* key_in_row(const KeyRow& row, const RouteContext& ctx, std::optional<KeyPosition>& position) const;
  Placement position_problem(const KeyPosition& position) const;
  RouteError error(std::string sqlstate, std::string message, std::string hint) const;
  std::vector<std::string> all_aliases() const;

  ShardRouterOptions options_;
  std::string name_;
  TablePattern table_;
  std::vector<TablePattern> colocated_;
  std::vector<Range> ranges_;
  std::vector<ListValue> list_values_;
  std::vector<std::string> aliases_;  // all_aliases(), for the column-order source
};

}  // namespace pgroute::router
