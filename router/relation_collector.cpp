#include "router/relation_collector.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "router/set_config_call.hpp"

namespace pgroute::router {
namespace {

// Deeper trees than this are not walked; the analyzer then reports the statement as too complex.
// The analyzer gives the walk a stack sized for the statement's length (see analyzer.cpp), so this
// is a backstop, not the primary defence.
constexpr int kMaxDepth = 20000;

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

// Fields whose relations a statement writes to (DML targets, DDL subjects), found once by name. At
// most one per message type, so the walk asks once per message rather than once per field.
const ProtobufCFieldDescriptor* written_target_of(const ProtobufCMessageDescriptor* message) {
  struct Target {
    const ProtobufCMessageDescriptor* message;
    const char* field;
  };
  using Entry = std::pair<const ProtobufCMessageDescriptor*, const ProtobufCFieldDescriptor*>;
  static const std::vector<Entry> targets = [] {
    const std::array<Target, 18> names{{
        {&pg_query__insert_stmt__descriptor, "relation"},
        {&pg_query__update_stmt__descriptor, "relation"},
        {&pg_query__delete_stmt__descriptor, "relation"},
        {&pg_query__merge_stmt__descriptor, "relation"},
        {&pg_query__into_clause__descriptor, "rel"},
        {&pg_query__create_stmt__descriptor, "relation"},
        {&pg_query__view_stmt__descriptor, "view"},
        {&pg_query__index_stmt__descriptor, "relation"},
        {&pg_query__alter_table_stmt__descriptor, "relation"},
        {&pg_query__rename_stmt__descriptor, "relation"},
        {&pg_query__refresh_mat_view_stmt__descriptor, "relation"},
        {&pg_query__create_trig_stmt__descriptor, "relation"},
        {&pg_query__rule_stmt__descriptor, "relation"},
        {&pg_query__create_policy_stmt__descriptor, "table"},
        {&pg_query__alter_object_schema_stmt__descriptor, "relation"},
        {&pg_query__truncate_stmt__descriptor, "relations"},
        {&pg_query__create_seq_stmt__descriptor, "sequence"},
        {&pg_query__alter_seq_stmt__descriptor, "sequence"},
    }};
    std::vector<Entry> out;
    for (const auto& t : names)
      if (auto* f = protobuf_c_message_descriptor_get_field_by_name(t.message, t.field)) out.emplace_back(t.message, f);
    return out;
  }();
  for (const auto& [m, f] : targets)
    if (m == message) return f;
  return nullptr;
}

bool is_table_like(PgQuery__ObjectType type) {
  return type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW ||
         type == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW || type == PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE ||
         type == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE;
}

class RelationCollector {
 public:
  StatementFacts facts;

  explicit RelationCollector(uint64_t node_budget) : node_budget_(node_budget) {}

  void walk(const ProtobufCMessage* msg, int depth) {
    if (!msg || facts.over_budget) return;
    if (depth > kMaxDepth) {
      facts.too_deep = true;
      return;
    }
    if (++facts.nodes > node_budget_) {
      facts.over_budget = true;
      return;
    }
    const ProtobufCMessageDescriptor* d = msg->descriptor;
    if (d == &pg_query__range_var__descriptor) {
      auto* r = reinterpret_cast<const PgQuery__RangeVar*>(msg);
      // Only a relation being created is named with persistence 't' (CREATE TEMP ..., INTO TEMP); one
      // made ON COMMIT DROP ends with its transaction.
      if (r->relpersistence && std::string_view(r->relpersistence) == "t" && !dropped_at_commit_)
        note_state(SessionStateKind::temporary);
      add_table(r, written_depth_ > 0);
    } else if (d == &pg_query__func_call__descriptor) {
      const auto* call = reinterpret_cast<const PgQuery__FuncCall*>(msg);
      if (is_session_advisory_lock(call)) note_state(SessionStateKind::advisory_lock);
      switch (session_config_call(call)) {
        case ConfigCall::none: break;
        case ConfigCall::role: note_state(SessionStateKind::role); break;
        case ConfigCall::other: facts.sets_config = true; break;
        case ConfigCall::unknown:  // the name is not a constant: it may be the role, or any other
          note_state(SessionStateKind::role);
          facts.sets_config = true;
          break;
      }
      walk_fields(msg, depth, nullptr);
    } else if (d == &pg_query__variable_set_stmt__descriptor) {
      // SET ROLE / SET SESSION AUTHORIZATION to a value, not LOCAL. RESET ALL does not undo either.
      const auto* set = reinterpret_cast<const PgQuery__VariableSetStmt*>(msg);
      if (!set->is_local && set->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && set->name &&
          is_role_setting(set->name))
        note_state(SessionStateKind::role);
    } else if (d == &pg_query__listen_stmt__descriptor) {
      note_state(SessionStateKind::listen);
    } else if (d == &pg_query__load_stmt__descriptor) {
      note_state(SessionStateKind::load);
    } else if (d == &pg_query__prepare_stmt__descriptor) {
      note_state(SessionStateKind::prepared_statement);
      walk_fields(msg, depth, nullptr);
    } else if (d == &pg_query__declare_cursor_stmt__descriptor) {
      constexpr int32_t kCursorOptHold = 0x0020;  // CURSOR_OPT_HOLD in PostgreSQL's parsenodes.h
      if (reinterpret_cast<const PgQuery__DeclareCursorStmt*>(msg)->options & kCursorOptHold)
        note_state(SessionStateKind::holdable_cursor);
      walk_fields(msg, depth, nullptr);
    } else if (d == &pg_query__param_ref__descriptor) {
      facts.max_param = std::max(facts.max_param, reinterpret_cast<const PgQuery__ParamRef*>(msg)->number);
    } else if (d == &pg_query__locking_clause__descriptor) {
      // Its relation list names FROM items (often aliases), not tables: do not descend.
      facts.locks_rows = true;
    } else if (d == &pg_query__into_clause__descriptor) {
      facts.creates_table = true;
      const bool drop =
          reinterpret_cast<const PgQuery__IntoClause*>(msg)->on_commit == PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_DROP;
      const bool outer = std::exchange(dropped_at_commit_, dropped_at_commit_ || drop);
      walk_fields(msg, depth, nullptr);
      dropped_at_commit_ = outer;
    } else if (d == &pg_query__create_stmt__descriptor) {
      const bool drop =
          reinterpret_cast<const PgQuery__CreateStmt*>(msg)->oncommit == PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_DROP;
      const bool outer = std::exchange(dropped_at_commit_, dropped_at_commit_ || drop);
      walk_fields(msg, depth, nullptr);
      dropped_at_commit_ = outer;
    } else if (d == &pg_query__select_stmt__descriptor) {
      auto* s = reinterpret_cast<const PgQuery__SelectStmt*>(msg);
      walk_with_ctes(msg, s->with_clause, &s->with_clause, depth);
    } else if (d == &pg_query__insert_stmt__descriptor) {
      facts.modifies_data = true;
      auto* s = reinterpret_cast<const PgQuery__InsertStmt*>(msg);
      walk_with_ctes(msg, s->with_clause, &s->with_clause, depth);
    } else if (d == &pg_query__update_stmt__descriptor) {
      facts.modifies_data = true;
      auto* s = reinterpret_cast<const PgQuery__UpdateStmt*>(msg);
      walk_with_ctes(msg, s->with_clause, &s->with_clause, depth);
    } else if (d == &pg_query__delete_stmt__descriptor) {
      facts.modifies_data = true;
      auto* s = reinterpret_cast<const PgQuery__DeleteStmt*>(msg);
      walk_with_ctes(msg, s->with_clause, &s->with_clause, depth);
    } else if (d == &pg_query__merge_stmt__descriptor) {
      facts.modifies_data = true;
      auto* s = reinterpret_cast<const PgQuery__MergeStmt*>(msg);
      walk_with_ctes(msg, s->with_clause, &s->with_clause, depth);
    } else if (d == &pg_query__copy_stmt__descriptor) {
      auto* s = reinterpret_cast<const PgQuery__CopyStmt*>(msg);
      if (s->relation) add_table(s->relation, s->is_from);  // COPY FROM writes, COPY TO reads
      walk_fields(msg, depth, &s->relation);
    } else if (d == &pg_query__drop_stmt__descriptor) {
      add_dropped(reinterpret_cast<const PgQuery__DropStmt*>(msg));
    } else {
      walk_fields(msg, depth, nullptr);
    }
  }

 private:
  void note_state(SessionStateKind kind) {
    // The first found, except that LOAD wins: nothing undoes it, so what else is there does not matter.
    if (facts.session_state == SessionStateKind::none || kind == SessionStateKind::load) facts.session_state = kind;
  }

  // pg_advisory_lock, pg_advisory_lock_shared, pg_try_advisory_lock, pg_try_advisory_lock_shared (in any
  // schema): held until unlocked or the session ends. The _xact_ variants end with the transaction.
  static bool is_session_advisory_lock(const PgQuery__FuncCall* f) {
    if (f->n_funcname == 0) return false;
    const PgQuery__Node* last = f->funcname[f->n_funcname - 1];
    if (!last || last->node_case != PG_QUERY__NODE__NODE_STRING || !last->string || !last->string->sval) return false;
    const std::string_view name = last->string->sval;
    return name == "pg_advisory_lock" || name == "pg_advisory_lock_shared" || name == "pg_try_advisory_lock" ||
           name == "pg_try_advisory_lock_shared";
  }

  // set_config(name, value, is_local) for the session: of the role, of another parameter, or of a name
  // that is not a constant (either). Only a constant true is_local makes it last for the transaction.
  enum class ConfigCall : uint8_t { none, role, other, unknown };
  static ConfigCall session_config_call(const PgQuery__FuncCall* f) {
    const auto call = read_set_config(f);
    if (!call || call->local_true) return ConfigCall::none;
    if (!call->name) return ConfigCall::unknown;
    return is_role_setting(*call->name) ? ConfigCall::role : ConfigCall::other;
  }

  uint64_t node_budget_;
  bool dropped_at_commit_ = false;  // inside CREATE TEMP ... ON COMMIT DROP: the table ends with the transaction
  // CTE names visible at the current point: how many open scopes define each (a hash lookup per
  // table name, however many CTEs), and what each open scope added, innermost last.
  std::unordered_map<std::string, int> visible_ctes_;
  std::vector<std::vector<std::string>> cte_scopes_;
  int written_depth_ = 0;

  bool is_cte_name(const std::string& name) const { return visible_ctes_.contains(name); }

  void define_cte(std::string name) {
    ++visible_ctes_[name];
    cte_scopes_.back().push_back(std::move(name));
  }

  void close_cte_scope() {
    for (const auto& name : cte_scopes_.back())
      if (auto it = visible_ctes_.find(name); it != visible_ctes_.end() && --it->second == 0) visible_ctes_.erase(it);
    cte_scopes_.pop_back();
  }

  void add_table(const PgQuery__RangeVar* rv, bool written) {
    TableRef ref{str(rv->schemaname), str(rv->relname), written};
    if (ref.name.empty()) return;
    // An unqualified name that a WITH in scope defines is that CTE, not a table (DML targets
    // always name tables, so they skip this check).
    if (!written && ref.schema.empty() && is_cte_name(ref.name)) return;
    facts.tables.add(ref);
  }

  void add_dropped(const PgQuery__DropStmt* drop) {
    if (!is_table_like(drop->remove_type)) return;
    for (size_t i = 0; i < drop->n_objects; ++i) {
      const PgQuery__Node* obj = drop->objects[i];
      if (!obj || obj->node_case != PG_QUERY__NODE__NODE_LIST) continue;
      std::vector<std::string> parts;
      for (size_t j = 0; j < obj->list->n_items; ++j) {
        const PgQuery__Node* item = obj->list->items[j];
        if (item && item->node_case == PG_QUERY__NODE__NODE_STRING) parts.push_back(str(item->string->sval));
      }
      if (parts.empty()) continue;
      TableRef ref{parts.size() >= 2 ? parts[parts.size() - 2] : "", parts.back(), true};
      facts.tables.add(ref);
    }
  }

  // Non-recursive WITH: each CTE sees only the ones before it; the main statement sees all.
  // WITH RECURSIVE: every CTE sees every name, itself included.
  void walk_with_ctes(const ProtobufCMessage* msg, const PgQuery__WithClause* with, const void* with_field, int depth) {
    if (!with) {
      walk_fields(msg, depth, nullptr);
      return;
    }
    cte_scopes_.emplace_back();
    auto cte_at = [&](size_t i) -> const PgQuery__CommonTableExpr* {
      const PgQuery__Node* n = with->ctes[i];
      return n && n->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR ? n->common_table_expr : nullptr;
    };
    if (with->recursive)
      for (size_t i = 0; i < with->n_ctes; ++i)
        if (auto* cte = cte_at(i)) define_cte(str(cte->ctename));
    for (size_t i = 0; i < with->n_ctes; ++i) {
      auto* cte = cte_at(i);
      if (!cte) continue;
      walk(reinterpret_cast<const ProtobufCMessage*>(cte->ctequery), depth + 1);
      if (!with->recursive) define_cte(str(cte->ctename));
    }
    walk_fields(msg, depth, with_field);
    close_cte_scope();
  }

  // Generic descent through every message-typed field, via protobuf-c's reflection: new statement
  // types are covered without a case each. `skip` is the address of a field already handled.
  void walk_fields(const ProtobufCMessage* msg, int depth, const void* skip) {
    const ProtobufCMessageDescriptor* d = msg->descriptor;
    const char* base = reinterpret_cast<const char*>(msg);
    if (d == &pg_query__node__descriptor) {
      // Node is a oneof over ~240 node types: look the active one up instead of scanning them all.
      auto* node = reinterpret_cast<const PgQuery__Node*>(msg);
      const ProtobufCFieldDescriptor* f = protobuf_c_message_descriptor_get_field(d, node->node_case);
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage* child;
        std::memcpy(&child, base + f->offset, sizeof child);
        walk(child, depth + 1);
      }
      return;
    }
    const ProtobufCFieldDescriptor* written_field = written_target_of(d);
    for (unsigned i = 0; i < d->n_fields; ++i) {
      const ProtobufCFieldDescriptor& f = d->fields[i];
      if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
      if (base + f.offset == skip) continue;
      if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        // Only the active member of a oneof may be read: the others share its storage.
        uint32_t active;
        std::memcpy(&active, base + f.quantifier_offset, sizeof active);
        if (active != f.id) continue;
      }
      const bool written = &f == written_field;
      if (written) ++written_depth_;
      if (f.label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n;
        std::memcpy(&n, base + f.quantifier_offset, sizeof n);
        ProtobufCMessage* const* items;
        std::memcpy(&items, base + f.offset, sizeof items);
        for (size_t j = 0; j < n && items; ++j) walk(items[j], depth + 1);
      } else {
        const ProtobufCMessage* child;
        std::memcpy(&child, base + f.offset, sizeof child);
        walk(child, depth + 1);
      }
      if (written) --written_depth_;
    }
  }
};

}  // namespace

void TableSet::add(const TableRef& table) {
  std::string key;
  key.reserve(table.schema.size() + 1 + table.name.size());
  key.append(table.schema).push_back('\0');
  key.append(table.name);
  auto [it, fresh] = index_.try_emplace(std::move(key), tables_.size());
  if (fresh)
    tables_.push_back(table);
  else
    tables_[it->second].written = tables_[it->second].written || table.written;
}

StatementFacts collect_relations(const PgQuery__Node* statement, uint64_t node_budget) {
  RelationCollector collector(node_budget);
  collector.walk(reinterpret_cast<const ProtobufCMessage*>(statement), 0);
  return std::move(collector.facts);
}

}  // namespace pgroute::router
