#pragma once
// Walks one statement's parse tree (libpg_query protobuf) and collects every relation it touches,
// with what the walk learns on the way: whether data is modified anywhere (CTEs included), whether rows
// are locked (FOR UPDATE/SHARE), whether SELECT INTO creates a table, and the highest $n.

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <pg_query/pg_query.pb-c.h>

#include "router/statement.hpp"

namespace pgroute::router {

// Tables in first-seen order, each once (a repeated one keeps written = written of either). Found by
// hash: a statement may name tens of thousands of tables, and a scan per name would be quadratic.
class TableSet {
 public:
  void add(const TableRef& table);
  size_t size() const { return tables_.size(); }
  const std::vector<TableRef>& items() const { return tables_; }
  std::vector<TableRef> take() {
    index_.clear();
    return std::move(tables_);
  }

 private:
  std::vector<TableRef> tables_;
  std::unordered_map<std::string, size_t> index_;  // "schema\0name" -> position in tables_
};

struct StatementFacts {
  TableSet tables;
  bool modifies_data = false;                               // INSERT/UPDATE/DELETE/MERGE at any depth
  bool locks_rows = false;                                  // a locking clause at any depth
  bool creates_table = false;                               // SELECT ... INTO
  SessionStateKind session_state = SessionStateKind::none;  // what outlives the transaction (first found)
  bool sets_config = false;  // set_config() of a parameter for the session (see Analysis::sets_config)
  int max_param = 0;
  bool too_deep = false;     // the tree was deeper than we walk; facts are incomplete
  bool over_budget = false;  // the tree has more nodes than node_budget: the walk stopped there
  uint64_t nodes = 0;        // nodes walked (each parse tree message once)
};

// Walks at most node_budget nodes, so the cost of one call is bounded whatever the statement.
StatementFacts collect_relations(const PgQuery__Node* statement, uint64_t node_budget);

}  // namespace pgroute::router
