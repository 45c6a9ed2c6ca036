#pragma once
// What the router needs to know about a SQL string: its kind, the tables it touches, the equality
// predicates that can place it on a shard, and the routing hints it carries. Produced by analyze()
// (analyzer.hpp), cached per SQL text (analysis_cache.hpp), consumed by routers (router.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgroute::router {

struct ResultOrder;  // result_order.hpp

struct TableRef {
  std::string schema;  // empty when the statement did not qualify the name
  std::string name;
  bool written = false;  // target of INSERT/UPDATE/DELETE/MERGE/COPY FROM/TRUNCATE or of DDL

  bool operator==(const TableRef&) const = default;
};

enum class StatementKind {
  Read,              // SELECT (without FOR UPDATE/SHARE, INTO or data-modifying CTEs), COPY ... TO, VALUES
  Write,             // INSERT/UPDATE/DELETE/MERGE, SELECT ... FOR UPDATE, COPY FROM, TRUNCATE, LOCK, DO, CALL
  Ddl,               // CREATE/ALTER/DROP/GRANT/..., SELECT INTO, and any statement type not listed here
  TransactionBegin,  // BEGIN, START TRANSACTION
  TransactionEnd,    // COMMIT, ROLLBACK, END, ABORT, PREPARE TRANSACTION
  Savepoint,         // SAVEPOINT, RELEASE, ROLLBACK TO
  Set,               // SET, RESET, SET TRANSACTION, SET CONSTRAINTS, DISCARD
  Show,              // SHOW
  Utility,           // LISTEN/NOTIFY, PREPARE/EXECUTE/DEALLOCATE, FETCH/CLOSE, VACUUM, CHECKPOINT, ...
  Empty,             // no statement (empty string, only comments or semicolons)
  Unparsed,          // PostgreSQL's grammar rejected it; Analysis::error says why
};

// How a multi-statement string is classified: the strongest kind wins
// (Empty < TransactionBegin < TransactionEnd < Savepoint < Show < Set < Read < Utility < Write < Ddl < Unparsed).
int kind_strength(StatementKind kind);
std::string_view kind_name(StatementKind kind);

// State a statement leaves in the server session that outlives its transaction and that a pooler can
// neither track nor hand to another client: under transaction pooling the client must keep that
// server connection (else another client inherits its lock, its temporary table, its notifications).
enum class SessionStateKind : uint8_t {
  none,
  listen,           // LISTEN
  advisory_lock,    // pg_advisory_lock, pg_try_advisory_lock (and _shared): session-level locks
  temporary,        // CREATE TEMP TABLE / VIEW / SEQUENCE, SELECT INTO TEMP
  holdable_cursor,  // DECLARE ... WITH HOLD
  // PREPARE name AS ...: another client's EXECUTE of that name on the connection would run it
  prepared_statement,
  // SET ROLE, SET SESSION AUTHORIZATION, set_config('role', ...): RESET ALL does not undo them, and the
  // next client would run as that role
  role,
  load,  // LOAD of a library
};
// "LISTEN", "a session advisory lock", "a temporary table", ...
std::string_view session_state_name(SessionStateKind kind);
// Which words that matter to session state a statement holds (in any case, as any part of a word): one
// pass over the text, so most statements are ruled out without being parsed.
struct SessionWords {
  bool leaves = false;       // it may leave session state (LISTEN, a lock, TEMP, PREPARE, a role ...)
  bool ends = false;         // it may end such state (UNLISTEN, an unlock, DROP, ROLLBACK ...)
  bool sets_config = false;  // set_config
};
SessionWords scan_session_words(std::string_view sql);
// False when `sql` neither begins with SET or RESET (after white space) nor holds set_config (in any
// case, `words` = scan_session_words(sql)): no SessionSetting, unparsed.
bool may_set_parameter(std::string_view sql, const SessionWords& words);
// Kinds the router treats as writes (db_for_write): Write, Ddl, Utility and Unparsed.
bool is_write_kind(StatementKind kind);

// One `column = value` the statement constrains (WHERE equality, IN-list element, INSERT column value).
struct KeyValue {
  std::string column;
  std::string table;                   // resolved through FROM aliases; empty if unqualified with several FROM items
  std::string schema;                  // when the reference or the resolved table named one
  std::optional<std::string> literal;  // text form of a constant ('abc' -> abc, 42 -> 42)
  int param = 0;                       // $n, 1-based; 0 = not a parameter (-1: unknown expression)
  // INSERT without a column list: the value's 1-based place in the VALUES row, column empty (the
  // table's column order, which names it, is known only to the server: router/column_order.hpp).
  int position = 0;

  bool is_null() const { return !literal && param == 0; }  // `= NULL` or an INSERTed NULL
  bool operator==(const KeyValue&) const = default;
};

// A row of key_rows is one alternative the statement may touch: a conjunction of column = value.
// Several rows are alternatives (IN-list elements, rows of a multi-row INSERT, statements of a
// multi-statement string). A statement that touches tables but constrains nothing usable (no WHERE,
// OR at the top level, INSERT ... SELECT, ...) contributes an empty row, so "every row names the key"
// is exactly the test for "this statement can be placed by that key".
using KeyRow = std::vector<KeyValue>;

// A session-level SET or RESET of one parameter, as the proxy can repeat it on another server connection
// (pg_catalog.set_config): the client's own SETs follow it across a transaction pool.
struct SessionSetting {
  std::string name;                  // as PostgreSQL names it (lower case: "statement_timeout", "timezone")
  std::optional<std::string> value;  // the value text; none: RESET name, SET name TO DEFAULT
  // SELECT set_config('name', expression, false): the value is the one the server returns (the row).
  bool value_from_result = false;
  bool all = false;  // RESET ALL: every parameter back to what the session began with (name is empty)
  bool operator==(const SessionSetting&) const = default;
};

struct Analysis {
  StatementKind kind = StatementKind::Empty;
  std::vector<StatementKind> statement_kinds;  // one per statement, in order
  std::string command;           // tag of the first statement of the strongest kind: "SELECT", "INSERT", "BEGIN", ...
  std::vector<TableRef> tables;  // every table touched, once each; CTE names are not tables
  std::vector<KeyRow> key_rows;
  // Columns an UPDATE assigns (SET col = value), an INSERT's ON CONFLICT DO UPDATE too (but not
  // `SET col = EXCLUDED.col`), and those of data-modifying WITH queries, so a router can refuse moving a
  // row between shards. param == -1: the new value is an expression we cannot evaluate.
  std::vector<KeyValue> updated_columns;
  std::optional<std::string> hint_shard_key;  // /* pgroute: shard_key=42 */
  std::optional<std::string> hint_alias;      // /* pgroute: alias=shard_1 */
  std::optional<std::string> set_shard_key;   // SET pgroute.shard_key = 42
  bool shard_key_local = false;               // SET LOCAL: only inside a transaction block
  bool resets_shard_key = false;              // RESET pgroute.shard_key, SET ... TO DEFAULT, RESET ALL
  // The string is one session-level SET/RESET of one parameter whose value is constants the proxy can
  // write again (not SET LOCAL, not pgroute.*, not role or session_authorization).
  std::optional<SessionSetting> session_setting;
  std::string error;  // why the statement is Unparsed
  // Unparsed because it was too long or too deeply nested to analyze safely (not a syntax error):
  // the chain refuses it unless an alias hint names where it goes.
  bool too_complex = false;
  bool read_only = false;  // BEGIN / START TRANSACTION / SET TRANSACTION ... READ ONLY
  bool begins_transaction = false;
  bool ends_transaction = false;
  SessionStateKind session_state = SessionStateKind::none;  // the first such state any statement leaves
  // set_config(name, value, is_local) with is_local not a constant true, for a parameter other than the
  // role: the session's settings change where no SET tag shows it (a pooler must reset them after,
  // unless session_setting is that call, value_from_result, and it follows it).
  bool sets_config = false;
  int statement_count = 0;
  int max_param = 0;  // highest $n referenced anywhere (0: none)
  // Clauses of a top-level SELECT that shape its whole result ("ORDER BY", "LIMIT", "OFFSET"): rows
  // merged from several shards must be ordered and cut again (result_order.hpp).
  std::vector<std::string> result_clauses;
  std::shared_ptr<const ResultOrder> result_order;  // set with result_clauses
  // scan_session_words() of the text analysed, kept with it: a driver's unnamed Parse of a text seen
  // before takes them from the cache.
  SessionWords words;
  // Elementary steps the analysis took after parsing (tree nodes walked, FROM names and key values
  // built): linear in the statement's size, which tests check.
  uint64_t work = 0;
};

}  // namespace pgroute::router
