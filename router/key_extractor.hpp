#pragma once
// Finds the `column = value` facts that can place one statement on a shard: equalities and IN lists
// ANDed at the top level of WHERE (SELECT, UPDATE, DELETE) and the column values of INSERT ... VALUES.

#include <cstddef>
#include <vector>

#include <pg_query/pg_query.pb-c.h>

#include "router/statement.hpp"

namespace pgroute::router {

// Upper bound on the rows one statement yields (IN-list cross products, multi-row INSERTs). Past it the
// extractor gives up on that part: an IN conjunct is dropped (the statement is then less constrained,
// never wrongly constrained), an over-long INSERT yields one empty row (no key known).
inline constexpr size_t kMaxKeyRows = 4096;

// Rows for one top-level statement (see KeyRow in statement.hpp). EXPLAIN, DECLARE CURSOR and
// COPY (query) are looked through. Always returns at least one row; a row may be empty.
std::vector<KeyRow> extract_key_rows(const PgQuery__Node* statement);

// The columns an UPDATE assigns, with the new value when it is a constant or parameter (param = -1:
// an expression whose value we cannot know). Empty for other statements.
std::vector<KeyValue> extract_updated_columns(const PgQuery__Node* statement);

// A constant or a parameter, looked through casts, into out.literal / out.param (NULL: neither set).
// false for any other expression.
bool constant_or_param(const PgQuery__Node* node, KeyValue& out);

}  // namespace pgroute::router
