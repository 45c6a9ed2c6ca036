#include "router/statement_classifier.hpp"

#include <array>
#include <cstring>
#include <string_view>
#include <utility>

#include "router/result_order.hpp"
#include "router/set_config_call.hpp"
#include "router/sql_quote.hpp"

namespace pgroute::router {
namespace {

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

// The message a Node wraps, found through protobuf-c reflection (for the fallback command tag).
const ProtobufCMessage* node_payload(const PgQuery__Node* node) {
  const ProtobufCMessageDescriptor* d = node->base.descriptor;
  for (unsigned i = 0; i < d->n_fields; ++i) {
    if (d->fields[i].id != static_cast<uint32_t>(node->node_case)) continue;
    const ProtobufCMessage* payload;
    std::memcpy(&payload, reinterpret_cast<const char*>(node) + d->fields[i].offset, sizeof payload);
    return payload;
  }
  return nullptr;
}

std::string fallback_command(const PgQuery__Node* node) {
  static constexpr std::array<std::pair<PgQuery__Node__NodeCase, std::string_view>, 16> kTags{{
      {PG_QUERY__NODE__NODE_CREATE_STMT, "CREATE TABLE"},
      {PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, "ALTER TABLE"},
      {PG_QUERY__NODE__NODE_DROP_STMT, "DROP"},
      {PG_QUERY__NODE__NODE_INDEX_STMT, "CREATE INDEX"},
      {PG_QUERY__NODE__NODE_VIEW_STMT, "CREATE VIEW"},
      {PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT, "CREATE TABLE AS"},
      {PG_QUERY__NODE__NODE_GRANT_STMT, "GRANT"},
      {PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT, "CREATE SCHEMA"},
      {PG_QUERY__NODE__NODE_CREATE_SEQ_STMT, "CREATE SEQUENCE"},
      {PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT, "CREATE FUNCTION"},
      {PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT, "CREATE EXTENSION"},
      {PG_QUERY__NODE__NODE_RENAME_STMT, "ALTER"},
      {PG_QUERY__NODE__NODE_COMMENT_STMT, "COMMENT"},
      {PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT, "REFRESH MATERIALIZED VIEW"},
      {PG_QUERY__NODE__NODE_CREATE_ROLE_STMT, "CREATE ROLE"},
      {PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT, "ALTER SYSTEM"},
  }};
  for (const auto& [which, tag] : kTags)
    if (node->node_case == which) return std::string(tag);
  const ProtobufCMessage* payload = node_payload(node);
  return payload ? str(payload->descriptor->short_name) : "UNKNOWN";
}

// True if a transaction-mode list (BEGIN/START TRANSACTION/SET TRANSACTION) asks for READ ONLY.
bool asks_read_only(PgQuery__Node* const* options, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const PgQuery__Node* o = options[i];
    if (!o || o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
    const PgQuery__DefElem* e = o->def_elem;
    if (str(e->defname) != "transaction_read_only" || !e->arg) continue;
    const PgQuery__Node* arg = e->arg;
    if (arg->node_case == PG_QUERY__NODE__NODE_A_CONST && arg->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
      return arg->a_const->ival && arg->a_const->ival->ival != 0;
  }
  return false;
}

std::optional<std::string> constant_text(const PgQuery__Node* n) {
  if (!n || n->node_case != PG_QUERY__NODE__NODE_A_CONST) return std::nullopt;
  const PgQuery__AConst* c = n->a_const;
  switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL: return std::to_string(c->ival ? c->ival->ival : 0);
    case PG_QUERY__A__CONST__VAL_FVAL: return str(c->fval ? c->fval->fval : nullptr);
    case PG_QUERY__A__CONST__VAL_SVAL: return str(c->sval ? c->sval->sval : nullptr);
    default: return std::nullopt;
  }
}

void classify_transaction(const PgQuery__TransactionStmt* t, Classification& out) {
  switch (t->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
      out = {StatementKind::TransactionBegin,
             t->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN ? "BEGIN" : "START TRANSACTION"};
      out.begins_transaction = true;
      out.read_only = asks_read_only(t->options, t->n_options);
      return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
      out = {StatementKind::TransactionEnd, t->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT ? "COMMIT"
                                            : t->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK
                                                ? "ROLLBACK"
                                                : "PREPARE TRANSACTION"};
      out.ends_transaction = true;
      // COMMIT AND CHAIN / ROLLBACK AND CHAIN start the next transaction at once.
      out.begins_transaction = t->chain;
      return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT: out = {StatementKind::Savepoint, "SAVEPOINT"}; return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE: out = {StatementKind::Savepoint, "RELEASE"}; return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO: out = {StatementKind::Savepoint, "ROLLBACK"}; return;
    // COMMIT/ROLLBACK PREPARED run outside any transaction block and act on a stored one.
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
      out = {StatementKind::Utility, "COMMIT PREPARED"};
      return;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
      out = {StatementKind::Utility, "ROLLBACK PREPARED"};
      return;
    default: out = {StatementKind::Utility, "TRANSACTION"}; return;
  }
}

// Parameters whose value lists PostgreSQL writes with identifiers quoted (GUC_LIST_QUOTE).
bool quotes_list_items(const std::string& name) {
  return name == "search_path" || name == "temp_tablespaces" || name == "session_preload_libraries" ||
         name == "shared_preload_libraries" || name == "local_preload_libraries";
}

// SET name = constants, SET name TO DEFAULT, RESET name, as set_config() can repeat them; else none.
std::optional<SessionSetting> session_setting(const PgQuery__VariableSetStmt* s, const std::string& name) {
  if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL) return SessionSetting{{}, std::nullopt, false, true};
  if (s->is_local || name.empty() || name.rfind("pgroute.", 0) == 0 || is_role_setting(name)) return std::nullopt;
  if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT || s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET)
    return SessionSetting{name, std::nullopt};
  if (s->kind != PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE || s->n_args < 1) return std::nullopt;
  std::string value;
  for (size_t i = 0; i < s->n_args; ++i) {
    auto item = constant_text(s->args[i]);
    if (!item) return std::nullopt;  // SET TIME ZONE INTERVAL ..., or anything not a plain constant
    if (i > 0) value += ", ";
    const bool is_string = s->args[i]->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL;
    value += s->n_args > 1 && is_string && quotes_list_items(name) ? quote_ident_if_needed(*item) : *item;
  }
  return SessionSetting{name, std::move(value)};
}

void classify_set(const PgQuery__VariableSetStmt* s, Classification& out) {
  out.kind = StatementKind::Set;
  std::string name = str(s->name);
  bool reset =
      s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET || s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL;
  out.command = reset ? "RESET" : "SET";
  if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI &&
      (name == "TRANSACTION" || name == "SESSION CHARACTERISTICS"))
    out.read_only = asks_read_only(s->args, s->n_args);
  if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL) out.resets_shard_key = true;
  out.session_setting = session_setting(s, name);
  if (name != kShardKeySetting) return;
  if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && s->n_args == 1) {
    out.set_shard_key = constant_text(s->args[0]);
    out.shard_key_local = s->is_local;
  } else if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT || reset)
    out.resets_shard_key = true;
}

// Kind of a statement that wraps a query (EXPLAIN, COPY (query), DECLARE CURSOR): what the walk saw.
StatementKind kind_of_query(const StatementFacts& facts) {
  if (facts.creates_table) return StatementKind::Ddl;
  if (facts.modifies_data || facts.locks_rows) return StatementKind::Write;
  return StatementKind::Read;
}

bool explain_analyzes(const PgQuery__ExplainStmt* e) {
  for (size_t i = 0; i < e->n_options; ++i) {
    const PgQuery__Node* o = e->options[i];
    if (o && o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && str(o->def_elem->defname) == "analyze") {
      const PgQuery__Node* arg = o->def_elem->arg;
      // EXPLAIN (ANALYZE false) is written out; a bare ANALYZE has no argument.
      if (!arg) return true;
      auto text = constant_text(arg);
      return !text || (*text != "false" && *text != "off" && *text != "0");
    }
  }
  return false;
}

}  // namespace

// SELECT set_config('name', expression, false) and nothing else (no FROM, no other column): the
// parameter, its value given by the result row. The role is left to the keep (SessionStateKind::role).
std::optional<SessionSetting> config_setting(const PgQuery__SelectStmt* s) {
  if (s->n_target_list != 1 || s->n_from_clause || s->where_clause || s->n_group_clause || s->having_clause ||
      s->n_values_lists || s->larg || s->rarg || s->limit_count || s->with_clause)
    return std::nullopt;
  const PgQuery__Node* target = s->target_list[0];
  if (!target || target->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !target->res_target->val) return std::nullopt;
  const PgQuery__Node* v = target->res_target->val;
  if (v->node_case != PG_QUERY__NODE__NODE_FUNC_CALL) return std::nullopt;
  const PgQuery__FuncCall* f = v->func_call;
  if (f->n_args != 3 || f->agg_star || f->agg_distinct || f->over) return std::nullopt;
  auto call = read_set_config(f);
  if (!call || !call->local_false || !call->name || call->name->empty()) return std::nullopt;
  if (is_role_setting(*call->name) || call->name->rfind("pgroute.", 0) == 0) return std::nullopt;
  return SessionSetting{std::move(*call->name), std::nullopt, true};
}

Classification classify_statement(const PgQuery__Node* n, const StatementFacts& facts) {
  Classification out;
  if (!n) return {StatementKind::Empty, ""};
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: {
      out.kind = kind_of_query(facts);
      out.command = facts.creates_table ? "SELECT INTO" : "SELECT";
      const PgQuery__SelectStmt* s = n->select_stmt;
      if (s->n_sort_clause > 0) out.result_clauses.push_back("ORDER BY");
      if (s->limit_count) out.result_clauses.push_back("LIMIT");
      if (s->limit_offset) out.result_clauses.push_back("OFFSET");
      if (!out.result_clauses.empty()) out.result_order = std::make_shared<ResultOrder>(read_result_order(s));
      out.session_setting = config_setting(s);
      return out;
    }
    case PG_QUERY__NODE__NODE_INSERT_STMT: return {StatementKind::Write, "INSERT"};
    case PG_QUERY__NODE__NODE_UPDATE_STMT: return {StatementKind::Write, "UPDATE"};
    case PG_QUERY__NODE__NODE_DELETE_STMT: return {StatementKind::Write, "DELETE"};
    case PG_QUERY__NODE__NODE_MERGE_STMT: return {StatementKind::Write, "MERGE"};
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: classify_transaction(n->transaction_stmt, out); return out;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: classify_set(n->variable_set_stmt, out); return out;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT: return {StatementKind::Show, "SHOW"};
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT: return {StatementKind::Set, "SET CONSTRAINTS"};
    case PG_QUERY__NODE__NODE_DISCARD_STMT: return {StatementKind::Set, "DISCARD"};
    case PG_QUERY__NODE__NODE_COPY_STMT: {
      const PgQuery__CopyStmt* c = n->copy_stmt;
      return {c->is_from ? StatementKind::Write : kind_of_query(facts), "COPY"};
    }
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
      // Plain EXPLAIN only plans; EXPLAIN ANALYZE runs the statement.
      return {explain_analyzes(n->explain_stmt) ? kind_of_query(facts) : StatementKind::Read, "EXPLAIN"};
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT: return {kind_of_query(facts), "DECLARE CURSOR"};
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT: return {StatementKind::Write, "TRUNCATE TABLE"};
    case PG_QUERY__NODE__NODE_LOCK_STMT: return {StatementKind::Write, "LOCK TABLE"};
    case PG_QUERY__NODE__NODE_DO_STMT: return {StatementKind::Write, "DO"};
    case PG_QUERY__NODE__NODE_CALL_STMT: return {StatementKind::Write, "CALL"};
    case PG_QUERY__NODE__NODE_PREPARE_STMT: return {StatementKind::Utility, "PREPARE"};
    case PG_QUERY__NODE__NODE_EXECUTE_STMT: return {StatementKind::Utility, "EXECUTE"};
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT: return {StatementKind::Utility, "DEALLOCATE"};
    case PG_QUERY__NODE__NODE_FETCH_STMT: return {StatementKind::Utility, n->fetch_stmt->ismove ? "MOVE" : "FETCH"};
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT: return {StatementKind::Utility, "CLOSE CURSOR"};
    case PG_QUERY__NODE__NODE_LISTEN_STMT: return {StatementKind::Utility, "LISTEN"};
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT: return {StatementKind::Utility, "UNLISTEN"};
    case PG_QUERY__NODE__NODE_NOTIFY_STMT: return {StatementKind::Utility, "NOTIFY"};
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
      return {StatementKind::Utility, n->vacuum_stmt->is_vacuumcmd ? "VACUUM" : "ANALYZE"};
    case PG_QUERY__NODE__NODE_CHECK_POINT_STMT: return {StatementKind::Utility, "CHECKPOINT"};
    case PG_QUERY__NODE__NODE_LOAD_STMT: return {StatementKind::Utility, "LOAD"};
    case PG_QUERY__NODE__NODE_CLUSTER_STMT: return {StatementKind::Utility, "CLUSTER"};
    case PG_QUERY__NODE__NODE_REINDEX_STMT: return {StatementKind::Utility, "REINDEX"};
    default: return {StatementKind::Ddl, fallback_command(n)};
  }
}

}  // namespace pgroute::router
