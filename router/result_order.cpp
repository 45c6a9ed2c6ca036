#include "router/result_order.hpp"

#include "router/key_extractor.hpp"

namespace pgroute::router {
namespace {

std::string str(const PgQuery__Node* n) {
  return n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string && n->string->sval ? n->string->sval : "";
}

// ORDER BY item -> key; false (with why) when it is not an output column reference.
bool read_sort_key(const PgQuery__SortBy* by, SortKey& key, std::string& why) {
  if (by->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING) {
    why = "ORDER BY ... USING an operator";
    return false;
  }
  key.descending = by->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
  key.nulls_first = by->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                    (by->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST && key.descending);
  const PgQuery__Node* n = by->node;
  if (n && n->node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE) {
    const PgQuery__CollateClause* c = n->collate_clause;
    std::string name = c->n_collname ? str(c->collname[c->n_collname - 1]) : "";
    if (name != "C" && name != "POSIX") {
      why = "ORDER BY ... COLLATE \"" + name + "\" (only \"C\" compares the same outside PostgreSQL)";
      return false;
    }
    key.c_collation = true;
    n = c->arg;
  }
  if (n && n->node_case == PG_QUERY__NODE__NODE_A_CONST && n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL &&
      n->a_const->ival) {
    key.position = n->a_const->ival->ival;
    if (key.position > 0) return true;
  }
  if (n && n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && n->column_ref->n_fields > 0) {
    const PgQuery__ColumnRef* ref = n->column_ref;
    key.column = str(ref->fields[ref->n_fields - 1]);  // a qualified name's column: matched by output name
    if (!key.column.empty()) return true;
  }
  why = "ORDER BY an expression (only output columns, by name or position, can be merged)";
  return false;
}

}  // namespace

ResultOrder read_result_order(const PgQuery__SelectStmt* s) {
  ResultOrder out;
  if (!s) return out;
  for (size_t i = 0; i < s->n_sort_clause && out.unmergeable.empty(); ++i) {
    const PgQuery__Node* item = s->sort_clause[i];
    SortKey key;
    if (!item || item->node_case != PG_QUERY__NODE__NODE_SORT_BY)
      out.unmergeable = "ORDER BY";
    else if (read_sort_key(item->sort_by, key, out.unmergeable))
      out.keys.push_back(std::move(key));
  }
  if (s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES && out.unmergeable.empty())
    out.unmergeable = "FETCH ... WITH TIES";
  if (s->limit_offset && out.unmergeable.empty()) out.unmergeable = "OFFSET (each shard would skip its own rows)";
  if (s->limit_count && out.unmergeable.empty()) {
    KeyValue v;
    if (!constant_or_param(s->limit_count, v))
      out.unmergeable = "LIMIT of an expression";
    else if (v.literal || v.param > 0)
      out.limit = std::move(v);  // LIMIT ALL / NULL: no limit
  }
  if (!out.unmergeable.empty()) {
    out.keys.clear();
    out.limit.reset();
  }
  return out;
}

}  // namespace pgroute::router
