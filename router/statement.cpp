#include "router/statement.hpp"

#include <cstdint>
#include <initializer_list>

namespace pgroute::router {

int kind_strength(StatementKind kind) {
  switch (kind) {
    case StatementKind::Empty: return 0;
    case StatementKind::TransactionBegin: return 1;
    case StatementKind::TransactionEnd: return 2;
    case StatementKind::Savepoint: return 3;
    case StatementKind::Show: return 4;
    case StatementKind::Set: return 5;
    case StatementKind::Read: return 6;
    case StatementKind::Utility: return 7;
    case StatementKind::Write: return 8;
    case StatementKind::Ddl: return 9;
    case StatementKind::Unparsed: return 10;
  }
  return 10;
}

std::string_view session_state_name(SessionStateKind kind) {
  switch (kind) {
    case SessionStateKind::none: return "nothing";
    case SessionStateKind::listen: return "LISTEN";
    case SessionStateKind::advisory_lock: return "a session advisory lock";
    case SessionStateKind::temporary: return "a temporary table";
    case SessionStateKind::holdable_cursor: return "a cursor WITH HOLD";
    case SessionStateKind::prepared_statement: return "a prepared statement (SQL PREPARE)";
    case SessionStateKind::role: return "a role it set (SET ROLE, SET SESSION AUTHORIZATION)";
    case SessionStateKind::load: return "LOAD";
  }
  return "session state";
}

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether any of `words` (lower case) occurs in `sql`, in any case, as any part of a word. Most
// characters start none of the words and are passed over after one lookup.
bool contains_any(std::string_view sql, std::initializer_list<std::string_view> words) {
  uint32_t starts = 0;  // bit c - 'a' for each word's first letter
  for (std::string_view w : words) starts |= 1u << (w[0] - 'a');
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = lower(sql[i]);
    if (c < 'a' || c > 'z' || !(starts >> (c - 'a') & 1u)) continue;
    for (std::string_view w : words) {
      if (w[0] != c || sql.size() - i < w.size()) continue;
      size_t k = 1;
      while (k < w.size() && lower(sql[i + k]) == w[k]) ++k;
      if (k == w.size()) return true;
    }
  }
  return false;
}

}  // namespace

bool may_set_parameter(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size() && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r')) ++i;
  auto word = [&](std::string_view w) {
    if (sql.size() - i <= w.size()) return false;
    for (size_t k = 0; k < w.size(); ++k)
      if ((sql[i + k] | 0x20) != w[k]) return false;
    const char next = sql[i + w.size()];
    return next == ' ' || next == '\t' || next == '\n' || next == '\r';
  };
  return word("set") || word("reset") || contains_any(sql, {"set_config"});
}

bool may_leave_session_state(std::string_view sql) {
  return contains_any(
      sql, {"listen", "advisory_lock", "temp", "hold", "load", "prepare", "role", "authorization", "set_config"});
}

bool may_end_session_state(std::string_view sql) {
  // UNLISTEN, pg_advisory_unlock*, DISCARD, DROP (a temporary table), CLOSE (a cursor), DEALLOCATE, and
  // a rollback of the transaction that made the state (LISTEN, CREATE TEMP and PREPARE are undone by it).
  // RESET ROLE, SET ROLE NONE, SET SESSION AUTHORIZATION DEFAULT and set_config end a role.
  return contains_any(sql, {"unlisten", "unlock", "discard", "drop", "close", "deallocate", "rollback", "abort", "role",
                            "authorization", "set_config"});
}

std::string_view kind_name(StatementKind kind) {
  switch (kind) {
    case StatementKind::Read: return "read";
    case StatementKind::Write: return "write";
    case StatementKind::Ddl: return "ddl";
    case StatementKind::TransactionBegin: return "transaction_begin";
    case StatementKind::TransactionEnd: return "transaction_end";
    case StatementKind::Savepoint: return "savepoint";
    case StatementKind::Set: return "set";
    case StatementKind::Show: return "show";
    case StatementKind::Utility: return "utility";
    case StatementKind::Empty: return "empty";
    case StatementKind::Unparsed: return "unparsed";
  }
  return "unknown";
}

bool is_write_kind(StatementKind kind) {
  return kind == StatementKind::Write || kind == StatementKind::Ddl || kind == StatementKind::Utility ||
         kind == StatementKind::Unparsed;
}

}  // namespace pgroute::router
