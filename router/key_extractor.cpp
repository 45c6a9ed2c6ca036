#include "router/key_extractor.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace pgroute::router {
namespace {

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

// What a FROM-clause name (alias or table name) stands for: a table, or something whose columns
// cannot place the statement (subquery, function, CTE, aliased join).
struct FromName {
  std::string qualifier;
  std::optional<TableRef> table;  // nullopt: opaque
};

// Looked up through hash indexes, not by scanning: a statement may name tens of thousands of FROM
// items, CTEs and columns, and a scan per column reference would make the analysis quadratic.
struct Scope {
  std::vector<FromName> names;
  std::unordered_map<std::string, size_t> first_named;  // qualifier -> index of its first FROM name
  std::unordered_set<std::string> ctes;
  uint64_t* work;

  explicit Scope(uint64_t& steps) : work(&steps) {}

  void add(FromName name) {
    ++*work;
    first_named.try_emplace(name.qualifier, names.size());
    names.push_back(std::move(name));
  }
};

void add_cte_names(Scope& scope, const PgQuery__WithClause* with) {
  if (!with) return;
  for (size_t i = 0; i < with->n_ctes; ++i) {
    const PgQuery__Node* n = with->ctes[i];
    if (n && n->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR)
      scope.ctes.insert(str(n->common_table_expr->ctename));
  }
  *scope.work += with->n_ctes;
}

void add_range_var(Scope& scope, const PgQuery__RangeVar* rv) {
  if (!rv) return;
  TableRef table{str(rv->schemaname), str(rv->relname), false};
  bool is_cte = table.schema.empty() && scope.ctes.contains(table.name);
  // With an alias, only the alias qualifies columns (PostgreSQL rejects the table name then).
  std::string qualifier =
      rv->alias && rv->alias->aliasname && *rv->alias->aliasname ? str(rv->alias->aliasname) : table.name;
  scope.add({qualifier, is_cte ? std::nullopt : std::optional<TableRef>(table)});
}

void add_from_item(Scope& scope, const PgQuery__Node* item) {
  if (!item) return;
  switch (item->node_case) {
    case PG_QUERY__NODE__NODE_RANGE_VAR: add_range_var(scope, item->range_var); break;
    case PG_QUERY__NODE__NODE_JOIN_EXPR: {
      const PgQuery__JoinExpr* join = item->join_expr;
      if (join->alias && join->alias->aliasname && *join->alias->aliasname) {
        // `(a JOIN b) AS j` hides a and b behind j, whose columns we cannot attribute.
        scope.add({str(join->alias->aliasname), std::nullopt});
        break;
      }
      add_from_item(scope, join->larg);
      add_from_item(scope, join->rarg);
      break;
    }
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
      auto* alias = item->range_subselect->alias;
      scope.add({alias ? str(alias->aliasname) : std::string(), std::nullopt});
      break;
    }
    case PG_QUERY__NODE__NODE_RANGE_FUNCTION: {
      auto* alias = item->range_function->alias;
      scope.add({alias ? str(alias->aliasname) : std::string(), std::nullopt});
      break;
    }
    default: scope.add({std::string(), std::nullopt}); break;
  }
}

// Which table a column reference belongs to. nullopt: it cannot place the statement (opaque source).
// A TableRef with an empty name: unqualified column with several FROM items (ambiguous).
struct ColumnTarget {
  std::string column;
  TableRef table;
};

std::optional<ColumnTarget> resolve_column(const Scope& scope, const PgQuery__ColumnRef* ref) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < ref->n_fields; ++i) {
    const PgQuery__Node* f = ref->fields[i];
    if (!f || f->node_case != PG_QUERY__NODE__NODE_STRING) return std::nullopt;  // `*` or odd shapes
    parts.push_back(str(f->string->sval));
  }
  if (parts.empty() || parts.size() > 3) return std::nullopt;
  ColumnTarget target{parts.back(), {}};
  if (parts.size() == 3) {
    target.table = {parts[0], parts[1], false};
    return target;
  }
  if (parts.size() == 2) {
    if (auto it = scope.first_named.find(parts[0]); it != scope.first_named.end()) {
      const FromName& name = scope.names[it->second];
      if (!name.table) return std::nullopt;
      target.table = *name.table;
      return target;
    }
    target.table.name = parts[0];  // not a FROM name here (outer reference?): keep what was written
    return target;
  }
  if (scope.names.size() == 1) {
    if (!scope.names[0].table) return std::nullopt;
    target.table = *scope.names[0].table;
  }
  return target;
}

// A constant or a parameter, looked through casts: the forms whose value the router can know.
bool value_of(const PgQuery__Node* node, KeyValue& out) {
  while (node && node->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) node = node->type_cast->arg;
  if (!node) return false;
  if (node->node_case == PG_QUERY__NODE__NODE_PARAM_REF) {
    out.param = node->param_ref->number;
    return out.param > 0;
  }
  if (node->node_case != PG_QUERY__NODE__NODE_A_CONST) return false;
  const PgQuery__AConst* c = node->a_const;
  if (c->isnull) return true;  // literal stays nullopt, param 0: NULL
  switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL: out.literal = std::to_string(c->ival ? c->ival->ival : 0); return true;
    case PG_QUERY__A__CONST__VAL_FVAL: out.literal = str(c->fval ? c->fval->fval : nullptr); return true;
    case PG_QUERY__A__CONST__VAL_SVAL: out.literal = str(c->sval ? c->sval->sval : nullptr); return true;
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
      out.literal = c->boolval && c->boolval->boolval ? "true" : "false";
      return true;
    case PG_QUERY__A__CONST__VAL_BSVAL: out.literal = str(c->bsval ? c->bsval->bsval : nullptr); return true;
    default: return false;
  }
}

bool operator_is(const PgQuery__AExpr* e, std::string_view op) {
  if (e->n_name == 0) return false;
  const PgQuery__Node* last = e->name[e->n_name - 1];
  return last && last->node_case == PG_QUERY__NODE__NODE_STRING && last->string->sval && op == last->string->sval;
}

KeyValue key_for(const ColumnTarget& target) {
  KeyValue kv;
  kv.column = target.column;
  kv.table = target.table.name;
  kv.schema = target.table.schema;
  return kv;
}

// The alternatives one WHERE conjunct allows for one column; empty if it is not usable.
std::vector<KeyValue> alternatives(const Scope& scope, const PgQuery__Node* conjunct) {
  if (!conjunct || conjunct->node_case != PG_QUERY__NODE__NODE_A_EXPR) return {};
  const PgQuery__AExpr* e = conjunct->a_expr;
  if (!operator_is(e, "=")) return {};
  auto column_side = [&](const PgQuery__Node* n) -> std::optional<ColumnTarget> {
    if (!n || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF) return std::nullopt;
    return resolve_column(scope, n->column_ref);
  };
  if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP || e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT) {
    const PgQuery__Node* value = e->rexpr;
    auto target = column_side(e->lexpr);
    if (!target) {  // `42 = user_id`
      target = column_side(e->rexpr);
      value = e->lexpr;
    }
    if (!target) return {};
    KeyValue kv = key_for(*target);
    if (!value_of(value, kv)) return {};
    return {kv};
  }
  // `col IN (a, b)` and `col = ANY(ARRAY[a, b])`: every element must be a known value.
  const PgQuery__Node* list_node = e->rexpr;
  size_t n = 0;
  PgQuery__Node** items = nullptr;
  if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_IN && list_node && list_node->node_case == PG_QUERY__NODE__NODE_LIST) {
    n = list_node->list->n_items;
    items = list_node->list->items;
  } else if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY && list_node &&
             list_node->node_case == PG_QUERY__NODE__NODE_A_ARRAY_EXPR) {
    n = list_node->a_array_expr->n_elements;
    items = list_node->a_array_expr->elements;
  } else {
    return {};
  }
  auto target = column_side(e->lexpr);
  if (!target || n == 0) return {};
  std::vector<KeyValue> out;
  for (size_t i = 0; i < n; ++i) {
    KeyValue kv = key_for(*target);
    if (!value_of(items[i], kv)) return {};
    out.push_back(std::move(kv));
  }
  return out;
}

void collect_conjuncts(const PgQuery__Node* node, std::vector<const PgQuery__Node*>& out) {
  if (!node) return;
  if (node->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
      node->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
    for (size_t i = 0; i < node->bool_expr->n_args; ++i) collect_conjuncts(node->bool_expr->args[i], out);
    return;
  }
  out.push_back(node);  // OR, NOT and everything else stay whole: an OR never yields a single key
}

// A single alternative is appended to every row in place; only IN lists multiply rows, and since each
// such step at least doubles them (up to kMaxKeyRows), rows are copied at most log2(kMaxKeyRows)
// times. With the total bounded by kMaxKeyValues the whole clause costs linear work.
std::vector<KeyRow> rows_from_where(const Scope& scope, const PgQuery__Node* where) {
  std::vector<KeyRow> rows(1);
  size_t values = 0;  // in all rows together
  std::vector<const PgQuery__Node*> conjuncts;
  collect_conjuncts(where, conjuncts);
  *scope.work += conjuncts.size();
  for (const PgQuery__Node* c : conjuncts) {
    std::vector<KeyValue> alts = alternatives(scope, c);
    *scope.work += alts.size();
    if (alts.empty() || rows.size() * alts.size() > kMaxKeyRows) continue;
    const size_t total = (values + rows.size()) * alts.size();
    if (total > kMaxKeyValues) continue;
    *scope.work += alts.size() == 1 ? rows.size() : total;
    values = total;
    if (alts.size() == 1) {
      for (auto& row : rows) row.push_back(alts.front());
      continue;
    }
    std::vector<KeyRow> next;
    next.reserve(rows.size() * alts.size());
    for (const auto& row : rows) {
      for (const auto& alt : alts) {
        next.push_back(row);
        next.back().push_back(alt);
      }
    }
    rows = std::move(next);
  }
  return rows;
}

std::vector<KeyRow> rows_from_select(const PgQuery__SelectStmt* s, uint64_t& work) {
  if (!s || s->op != PG_QUERY__SET_OPERATION__SETOP_NONE) return {KeyRow{}};  // UNION etc.: per-arm keys unknown
  Scope scope(work);
  add_cte_names(scope, s->with_clause);
  for (size_t i = 0; i < s->n_from_clause; ++i) add_from_item(scope, s->from_clause[i]);
  return rows_from_where(scope, s->where_clause);
}

std::vector<KeyRow> rows_from_insert(const PgQuery__InsertStmt* s, uint64_t& work) {
  const PgQuery__Node* source = s->select_stmt;
  if (!s->relation || !source || source->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) return {KeyRow{}};
  const PgQuery__SelectStmt* values = source->select_stmt;
  // INSERT ... SELECT has no values of its own. Without a column list the values follow the table's
  // column order, which only the server knows: they are recorded by position (KeyValue::position).
  if (values->n_values_lists == 0 || values->n_values_lists > kMaxKeyRows) return {KeyRow{}};
  const bool by_position = s->n_cols == 0;
  std::vector<std::string> columns;
  for (size_t i = 0; i < s->n_cols; ++i) {
    const PgQuery__Node* col = s->cols[i];
    bool plain = col && col->node_case == PG_QUERY__NODE__NODE_RES_TARGET && col->res_target->n_indirection == 0;
    columns.push_back(plain ? str(col->res_target->name) : std::string());  // `a[1]`, `a.b`: not a key
  }
  std::vector<KeyRow> rows;
  rows.reserve(values->n_values_lists);
  for (size_t r = 0; r < values->n_values_lists; ++r) {
    KeyRow row;
    const PgQuery__Node* list = values->values_lists[r];
    ++work;
    if (list && list->node_case == PG_QUERY__NODE__NODE_LIST) {
      const size_t items = by_position ? list->list->n_items : std::min(list->list->n_items, columns.size());
      work += items;
      for (size_t i = 0; i < items; ++i) {
        KeyValue kv;
        if (by_position)
          kv.position = static_cast<int>(i) + 1;
        else if (columns[i].empty())
          continue;
        else
          kv.column = columns[i];
        kv.table = str(s->relation->relname);
        kv.schema = str(s->relation->schemaname);
        if (value_of(list->list->items[i], kv)) row.push_back(std::move(kv));  // DEFAULT, expressions: absent
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<KeyRow> rows_from_update(const PgQuery__UpdateStmt* s, uint64_t& work) {
  Scope scope(work);
  add_cte_names(scope, s->with_clause);
  add_range_var(scope, s->relation);
  for (size_t i = 0; i < s->n_from_clause; ++i) add_from_item(scope, s->from_clause[i]);
  return rows_from_where(scope, s->where_clause);
}

std::vector<KeyRow> rows_from_delete(const PgQuery__DeleteStmt* s, uint64_t& work) {
  Scope scope(work);
  add_cte_names(scope, s->with_clause);
  add_range_var(scope, s->relation);
  for (size_t i = 0; i < s->n_using_clause; ++i) add_from_item(scope, s->using_clause[i]);
  return rows_from_where(scope, s->where_clause);
}

}  // namespace

namespace {

// `EXCLUDED.<column>` in an ON CONFLICT DO UPDATE: the value the INSERT proposed for that column.
bool is_excluded_column(const PgQuery__Node* node, const std::string& column) {
  if (!node || node->node_case != PG_QUERY__NODE__NODE_COLUMN_REF) return false;
  const PgQuery__ColumnRef* ref = node->column_ref;
  if (ref->n_fields != 2) return false;
  for (size_t i = 0; i < 2; ++i)
    if (!ref->fields[i] || ref->fields[i]->node_case != PG_QUERY__NODE__NODE_STRING) return false;
  return str(ref->fields[0]->string->sval) == "excluded" && str(ref->fields[1]->string->sval) == column;
}

// SET col = value, ... of an UPDATE or of an INSERT's ON CONFLICT DO UPDATE on `relation`.
void add_assignments(const PgQuery__RangeVar* relation, PgQuery__Node* const* targets, size_t n, bool upsert,
                     std::vector<KeyValue>& out) {
  for (size_t i = 0; i < n; ++i) {
    const PgQuery__Node* t = targets[i];
    if (!t || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET) continue;
    KeyValue kv;
    kv.column = str(t->res_target->name);
    // SET key = EXCLUDED.key: the row takes the key the INSERT was routed by, so it stays where it is.
    if (upsert && t->res_target->n_indirection == 0 && is_excluded_column(t->res_target->val, kv.column)) continue;
    if (relation) {
      kv.table = str(relation->relname);
      kv.schema = str(relation->schemaname);
    }
    // An unknown new value (expression, `(a, b) = (...)`) is recorded as parameter -1 so that it is
    // neither NULL nor a known value.
    if (t->res_target->n_indirection != 0 || !value_of(t->res_target->val, kv)) {
      kv.literal.reset();
      kv.param = -1;
    }
    out.push_back(std::move(kv));
  }
}

void add_updated_columns(const PgQuery__Node* statement, std::vector<KeyValue>& out, int depth);

// Data-modifying statements in WITH: their assignments count as the statement's own.
void add_cte_updates(const PgQuery__WithClause* with, std::vector<KeyValue>& out, int depth) {
  if (!with) return;
  for (size_t i = 0; i < with->n_ctes; ++i) {
    const PgQuery__Node* cte = with->ctes[i];
    if (cte && cte->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR)
      add_updated_columns(cte->common_table_expr->ctequery, out, depth + 1);
  }
}

void add_updated_columns(const PgQuery__Node* statement, std::vector<KeyValue>& out, int depth) {
  // Deeper nesting is refused by the analysis before this runs (facts.too_deep); a bound all the same.
  if (!statement || depth > 64) return;
  switch (statement->node_case) {
    case PG_QUERY__NODE__NODE_UPDATE_STMT: {
      const PgQuery__UpdateStmt* s = statement->update_stmt;
      add_cte_updates(s->with_clause, out, depth);
      add_assignments(s->relation, s->target_list, s->n_target_list, false, out);
      return;
    }
    case PG_QUERY__NODE__NODE_INSERT_STMT: {
      const PgQuery__InsertStmt* s = statement->insert_stmt;
      add_cte_updates(s->with_clause, out, depth);
      const PgQuery__OnConflictClause* c = s->on_conflict_clause;
      if (c && c->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE)
        add_assignments(s->relation, c->target_list, c->n_target_list, true, out);
      return;
    }
    case PG_QUERY__NODE__NODE_DELETE_STMT: add_cte_updates(statement->delete_stmt->with_clause, out, depth); return;
    case PG_QUERY__NODE__NODE_SELECT_STMT: add_cte_updates(statement->select_stmt->with_clause, out, depth); return;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: add_updated_columns(statement->explain_stmt->query, out, depth + 1); return;
    default: return;
  }
}

}  // namespace

std::vector<KeyValue> extract_updated_columns(const PgQuery__Node* statement) {
  std::vector<KeyValue> out;
  add_updated_columns(statement, out, 0);
  return out;
}

std::vector<KeyRow> extract_key_rows(const PgQuery__Node* statement, uint64_t* work) {
  uint64_t ignored = 0;
  uint64_t& steps = work ? *work : ignored;
  if (!statement) return {KeyRow{}};
  switch (statement->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: return rows_from_select(statement->select_stmt, steps);
    case PG_QUERY__NODE__NODE_INSERT_STMT: return rows_from_insert(statement->insert_stmt, steps);
    case PG_QUERY__NODE__NODE_UPDATE_STMT: return rows_from_update(statement->update_stmt, steps);
    case PG_QUERY__NODE__NODE_DELETE_STMT: return rows_from_delete(statement->delete_stmt, steps);
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: return extract_key_rows(statement->explain_stmt->query, work);
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT: return extract_key_rows(statement->declare_cursor_stmt->query, work);
    case PG_QUERY__NODE__NODE_COPY_STMT:
      if (statement->copy_stmt->query) return extract_key_rows(statement->copy_stmt->query, work);
      return {KeyRow{}};
    default: return {KeyRow{}};
  }
}

bool constant_or_param(const PgQuery__Node* node, KeyValue& out) { return value_of(node, out); }

}  // namespace pgroute::router
