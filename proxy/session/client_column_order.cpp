// INSERT without a column list on a sharded table: where the shard key stands in the table is asked of
// every shard's catalog (pg_attribute) on one of its pooled connections, then cached per worker
// (column_order_cache.hpp). A cold path: once per table and worker, again after a reload or a server
// error that a changed column order would cause (note_column_order_error).
#include <algorithm>
#include <string>
#include <vector>

#include "proxy/base/log.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"
#include "router/sql_quote.hpp"

namespace pgroute {
namespace {

using router::KeyPosition;

// "events" or "public.events" as a quoted name for to_regclass (the configuration spells names as
// PostgreSQL folds them, so quoting keeps them as written).
std::string regclass_text(std::string_view table) {
  std::string out;
  size_t dot = table.find('.');
  if (dot != std::string_view::npos)
    out = router::quote_ident(table.substr(0, dot)) + "." + router::quote_ident(table.substr(dot + 1));
  else
    out = router::quote_ident(table);
  return router::quote_literal(out);
}

// One row, one column: the key's 1-based place among the table's live columns (the order INSERT
// without a column list takes values in), 0 if the table has no such column, -1 if there is no table.
std::string key_position_sql(std::string_view table, std::string_view column) {
  return "SELECT CASE WHEN t.oid IS NULL THEN -1 ELSE (SELECT count(*) FROM pg_catalog.pg_attribute b "
         "WHERE b.attrelid = t.oid AND b.attnum > 0 AND NOT b.attisdropped AND b.attnum <= a.attnum) END "
         "FROM (SELECT pg_catalog.to_regclass(" +
         regclass_text(table) +
         ") AS oid) t LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 "
         "AND NOT a.attisdropped AND a.attname = " +
         router::quote_literal(column);
}

KeyPosition failed(std::string_view sqlstate, std::string message) {
  return {KeyPosition::State::Failed, 0, std::string(sqlstate), std::move(message)};
}

// Server errors that a table whose columns moved would cause for a statement placed by position: an
// unknown column or table, a value of the wrong type or shape, too many values.
bool column_order_suspect(std::string_view sqlstate) {
  namespace code = wire::sqlstate;
  return sqlstate == code::undefined_column || sqlstate == code::undefined_table ||
         sqlstate == code::datatype_mismatch || sqlstate == code::invalid_text_representation ||
         sqlstate == code::syntax_error;
}

}  // namespace

awaitable<KeyPosition> ClientSession::learn_key_position(std::string table, std::string column,
                                                         std::vector<std::string> shards, uint64_t generation) {
  const std::string what = "where " + column + " stands in " + table + " (for an INSERT without a column list)";
  const std::string sql = key_position_sql(table, column);
  std::vector<std::pair<std::string, int>> found;  // shard, position (-1: no table, 0: no column)
  // The shard whose connection this session holds (inside a transaction): not asked. Checking a second
  // connection out of its pool could wait on ourselves (pool size 1), and its own connection is not
  // ours to use: the pump reads from it, and a failing query would abort the client's transaction.
  // The others answer; the answer then is not cached (the skipped shard could disagree).
  std::string held;
  if (server_) held = server_->endpoint().alias;
  bool skipped = false;
  if (std::find(shards.begin(), shards.end(), held) != shards.end() && shards.size() > 1) {
    PGR_LOG(info) << describe() << ": learning " << what << " without \"" << held
                  << "\", whose connection this session holds";
    skipped = true;
  }
  for (const auto& alias : shards) {
    if (skipped && alias == held) continue;
    std::string sqlstate, error;
    auto pool = pool_for_alias(alias, sqlstate, error);
    if (!pool) co_return failed(sqlstate, "cannot learn " + what + ": " + error);
    auto checkout = co_await pool->acquire(worker_.ctx, worker_.index);
    if (!checkout.conn) co_return failed(checkout.sqlstate, "cannot learn " + what + ": " + checkout.error);
    std::optional<std::string> value;
    auto err = co_await run_internal_query(*checkout.conn, sql, &value);
    if ((err && err->broken) || checkout.conn->tx_status != wire::tx_status::kIdle)
      pool->discard(std::move(checkout.conn), CloseReason::server_error);
    else
      pool->release(std::move(checkout.conn));
    if (!value) {
      // The connection may be fine (a catalog query refused): not 08xxx, which drivers take for a lost connection.
      co_return failed(wire::sqlstate::internal_error, "pgroute: cannot learn " + what + " from alias \"" + alias +
                                                           "\": " + (err ? err->message : std::string("no answer")));
    }
    int position = std::atoi(value->c_str());
    if (position < 0)
      co_return failed(wire::sqlstate::undefined_table,
                       "table " + table + " does not exist on alias \"" + alias + "\"");
    if (position == 0)
      co_return failed(wire::sqlstate::undefined_column,
                       "table " + table + " has no column " + column + " on alias \"" + alias + "\"");
    found.emplace_back(alias, position);
  }
  if (found.empty())
    co_return failed(wire::sqlstate::feature_not_supported, "the router names no shard to learn " + what + " from");
  for (const auto& [alias, position] : found) {
    if (position == found.front().second) continue;
    co_return failed(wire::sqlstate::feature_not_supported,
                     "shards disagree on where " + column + " stands in " + table + ": column " +
                         std::to_string(found.front().second) + " on \"" + found.front().first + "\", column " +
                         std::to_string(position) + " on \"" + alias +
                         "\"; an INSERT without a column list cannot be placed");
  }
  PGR_LOG(info) << describe() << ": learnt that " << column << " is column " << found.front().second << " of " << table
                << " on " << router::join(shards);
  KeyPosition known{KeyPosition::State::Known, found.front().second, {}, {}};
  // Learnt under a configuration a reload replaced meanwhile: good for this statement (routed by the old
  // routers to the old shards), not for the cache, which now holds the new configuration's orders.
  if (!skipped && rt().generation() == generation)
    worker_.column_orders.store(table, column, known, ColumnOrderCache::Clock::now());
  co_return known;
}

// Routes again with what the shards' catalogs say, after the cache had nothing for the statement.
ClientSession::Step ClientSession::learn_column_order(const ColumnOrderLookup& columns) {
  // Views into the routers of the snapshot that routed the statement: copied for the wait.
  const auto& request = *columns.missing();
  WaitData& w = wait_data();
  w.table.assign(request.table);
  w.column.assign(request.column);
  w.shards.assign(request.shards.begin(), request.shards.end());
  w.learnt.reset();
  w.learnt_generation = snap_->generation;
  return wait_for(ClientWait::column_order);
}

awaitable<void> ClientSession::learn_missing_column_order() {
  WaitData& w = wait_data();
  const uint64_t generation = w.learnt_generation;
  KeyPosition learnt = co_await learn_key_position(w.table, w.column, std::move(w.shards), generation);
  // Kept briefly (ColumnOrderCache::kSettle): a client repeating the failing INSERT does not ask every shard again.
  if (learnt.state == KeyPosition::State::Failed && rt().generation() == generation)
    worker_.column_orders.store(w.table, w.column, learnt, ColumnOrderCache::Clock::now());
  w.learnt = std::move(learnt);
}

// The statement is routed again after learning: by the routers that asked (a reload meanwhile makes the
// answer unusable: the new routers may ask again).
void ClientSession::use_learnt_column_order(ColumnOrderLookup& columns) {
  if (!wait_data_ || !wait_data_->learnt) return;
  if (wait_data_->learnt_generation == snap_->generation) columns.set_learnt(std::move(*wait_data_->learnt));
  wait_data_->learnt.reset();
}

bool ClientSession::column_order_stale(const std::variant<router::RouteDecision, router::RouteError>& routed,
                                       const ColumnOrderLookup& columns) {
  const auto* e = std::get_if<router::RouteError>(&routed);
  if (!e || e->sqlstate != wire::sqlstate::invalid_text_representation || columns.used_table().empty() ||
      columns.learnt() || !worker_.column_orders.forget(columns.used_table(), ColumnOrderCache::Clock::now()))
    return false;
  PGR_LOG(info) << describe() << ": the value taken for the shard key of " << columns.used_table()
                << " is not of its type: learning its column order again";
  return true;
}

void ClientSession::note_column_order_error(const wire::Frame& f) {
  wire::ErrorFields e;
  wire::parse_error_fields(f.body, e);
  if (!column_order_suspect(e.sqlstate)) return;
  if (worker_.column_orders.forget(u().column_order_table, ColumnOrderCache::Clock::now()))
    PGR_LOG(info) << describe() << ": " << e.sqlstate << " from a statement placed by the column order of "
                  << u().column_order_table << ": learning it again on next use";
  u().column_order_table.clear();
}

}  // namespace pgroute
