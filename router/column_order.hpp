#pragma once
// Where a shard key stands in its table's column order, for `INSERT INTO events VALUES (...)`: without
// a column list the values follow the table's columns, which only the servers' catalogs know. The
// router asks a ColumnOrderSource; the proxy implements it with a per-worker cache it fills from the
// shards' pg_attribute (proxy/session/column_order_cache.hpp), so the router stays free of I/O.

#include <span>
#include <string>
#include <string_view>

namespace pgroute::router {

struct KeyPosition {
  enum class State {
    Unknown,  // not learnt yet: the caller may learn it and route the statement again
    Known,    // position holds it
    Failed,   // it cannot be known (shards disagree, table or column missing): sqlstate, message
  } state = State::Unknown;
  int position = 0;      // Known: 1-based place among the table's columns (dropped ones not counted)
  std::string sqlstate;  // Failed
  std::string message;   // Failed: why, naming the shard(s)
};

class ColumnOrderSource {
 public:
  virtual ~ColumnOrderSource() = default;
  // Where `column` stands in `table` (as the shard router names it) on `shards`. Called on the route
  // path for INSERTs without a column list only: must be cheap and must not block.
  virtual KeyPosition key_position(std::string_view table, std::string_view column,
                                   std::span<const std::string> shards) const = 0;
};

}  // namespace pgroute::router
