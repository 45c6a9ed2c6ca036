#pragma once
// Finds the `column = value` facts that can place one statement on a shard: equalities and IN lists
// ANDed at the top level of WHERE (SELECT, UPDATE, DELETE) and the column values of INSERT ... VALUES.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <pg_query/pg_query.pb-c.h>

#include "router/statement.hpp"

namespace pgroute::router {

// Upper bound on the rows one statement yields (IN-list cross products, multi-row INSERTs). Past it the
// extractor gives up on that part: an IN conjunct is dropped (the statement is then less constrained,
// never wrongly constrained), an over-long INSERT yields one empty row (no key known).
inline constexpr size_t kMaxKeyRows = 4096;
// Upper bound on the key values of one WHERE clause's rows together (rows x conjuncts): a conjunct that
// would take the total past it is dropped like an over-wide IN list, so a long AND chain under an IN
// cross product costs memory and time in proportion to this bound, not to their product.
inline constexpr size_t kMaxKeyValues = 65536;

// Rows for one top-level statement (see KeyRow in statement.hpp). EXPLAIN, DECLARE CURSOR and
// COPY (query) are looked through. Always returns at least one row; a row may be empty. Linear in the
// statement's size; `work` (if given) is increased by the elementary steps taken (Analysis::work).
std::vector<KeyRow> extract_key_rows(const PgQuery__Node* statement, uint64_t* work = nullptr);

// The columns an UPDATE assigns, with the new value when it is a constant or parameter (param = -1:
// an expression whose value we cannot know). Empty for other statements.
std::vector<KeyValue> extract_updated_columns(const PgQuery__Node* statement);

// A constant or a parameter, looked through casts, into out.literal / out.param (NULL: neither set).
// false for any other expression.
bool constant_or_param(const PgQuery__Node* node, KeyValue& out);

}  // namespace pgroute::router
