#pragma once
// How a top-level SELECT orders and cuts its result, as far as a proxy merging several shards' rows
// can redo it: every shard sorts and limits its own rows, the proxy merges the sorted streams and cuts
// the total. That works for ORDER BY items naming output columns (by position or name) and a LIMIT that
// is a constant or a parameter; anything else is "unmergeable", with the reason.

#include <optional>
#include <string>
#include <vector>

#include <pg_query/pg_query.pb-c.h>

#include "router/statement.hpp"

namespace pgroute::router {

struct SortKey {
  int position = 0;    // 1-based output column; 0: by `column` name
  std::string column;  // output column name, matched against the RowDescription at run time
  bool descending = false;
  bool nulls_first = false;  // PostgreSQL's default: NULLS LAST ascending, NULLS FIRST descending
  bool c_collation = false;  // COLLATE "C" (or "POSIX"): text may be compared byte by byte

  bool operator==(const SortKey&) const = default;
};

struct ResultOrder {
  std::vector<SortKey> keys;      // ORDER BY
  std::optional<KeyValue> limit;  // LIMIT n, LIMIT $n, FETCH FIRST n ROWS ONLY (ALL / NULL: none)
  std::string unmergeable;        // "" or why a merge of shards cannot redo these clauses

  bool operator==(const ResultOrder&) const = default;
};

ResultOrder read_result_order(const PgQuery__SelectStmt* select);

}  // namespace pgroute::router
