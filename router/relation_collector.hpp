#pragma once
// Walks one statement's parse tree (libpg_query protobuf) and collects every relation it touches,
// with what the walk learns on the way: whether data is modified anywhere (CTEs included), whether rows
// are locked (FOR UPDATE/SHARE), whether SELECT INTO creates a table, and the highest $n.

#include <vector>

#include <pg_query/pg_query.pb-c.h>

#include "router/statement.hpp"

namespace pgroute::router {

struct StatementFacts {
    std::vector<TableRef> tables;
    bool modifies_data = false;  // INSERT/UPDATE/DELETE/MERGE at any depth
    bool locks_rows = false;     // a locking clause at any depth
    bool creates_table = false;  // SELECT ... INTO
    int max_param = 0;
    bool too_deep = false;  // the tree was deeper than we walk; facts are incomplete
};

StatementFacts collect_relations(const PgQuery__Node* statement);

// Adds `table` to `tables` unless present; a repeated table keeps written = written of either.
void merge_table(std::vector<TableRef>& tables, const TableRef& table);

}  // namespace pgroute::router
