// Routing inside a session: which alias runs the client's next unit of work, and the proxy's own
// answers for what needs no server yet (a deferred BEGIN, SET pgroute.shard_key).
//
// A transaction runs on one alias. A simple Query is routed when it arrives. Extended-protocol messages
// arriving while no server is attached are held until a Bind (whose statement and parameter values
// decide), a Flush or a Sync; then they go, in order, to the chosen alias. Once attached, each Bind is
// checked against the alias in use: inside a transaction another alias is refused (0A000), never split.
#include <string>

#include "proxy/base/log.hpp"
#include "proxy/metrics/query_stats.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/literal_normalizer.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

namespace fe = wire::frontend;
namespace be = wire::backend;
namespace tx = wire::tx_status;

namespace {

void put_command_complete(std::string& out, std::string_view tag) {
  std::string body(tag);
  body.push_back('\0');
  wire::put_message(out, be::kCommandComplete, body);
}

// Statements the proxy can answer without a server while none is attached.
bool answerable(const router::Analysis& a, bool begin_pending) {
  if (a.statement_count != 1) return false;
  if (a.set_shard_key) return true;
  if (!begin_pending) return a.kind == router::StatementKind::TransactionBegin;
  return a.kind == router::StatementKind::TransactionEnd && !a.begins_transaction &&
         (a.command == "COMMIT" || a.command == "ROLLBACK");
}

// Statements that do not choose an alias (transaction control, SET, SHOW, empty): they run where the
// transaction already is, or on the client's own alias.
bool chooses_alias(const router::Analysis& a) {
  using K = router::StatementKind;
  return a.kind != K::TransactionBegin && a.kind != K::TransactionEnd && a.kind != K::Savepoint && a.kind != K::Set &&
         a.kind != K::Show && a.kind != K::Empty;
}

}  // namespace

char ClientSession::client_tx_status() const {
  // A BEGIN the proxy answered may still wait while a connection is attached for describing only.
  if (u().pending_begin) return server_ && server_->tx_status != tx::kIdle ? server_->tx_status : tx::kInTransaction;
  return server_ ? server_->tx_status : tx::kIdle;
}

std::shared_ptr<const router::Analysis> ClientSession::analyze(std::string_view sql) {
  uint64_t hits = worker_.analyses.hits();
  auto analysis = worker_.analyses.get(sql);
  metrics::record_cache(worker_.index, worker_.analyses.hits() != hits);
  return analysis;
}

const router::Analysis* ClientSession::analysis_of_statement(std::string_view name) const {
  if (name.empty()) return prepared_view().unnamed_analysis.get();
  const ClientStatement* st = prepared_view().named.find(name);
  return st ? st->analysis.get() : nullptr;
}

// What every routing of this session's statements tells the routers: who, the transaction, the session's
// shard key, the last write, and the aliases' health.
router::RouteContext ClientSession::session_route_context(const router::Analysis& a) const {
  router::RouteContext ctx;
  ctx.analysis = &a;
  ctx.user = who_->user;
  ctx.database = who_->database;
  ctx.application_name = who_->application_name;
  ctx.in_transaction = client_tx_status() != tx::kIdle;
  if (shard_key_) ctx.session_shard_key = *shard_key_;
  if (last_write_ != std::chrono::steady_clock::time_point{}) ctx.last_write = last_write_;
  ctx.alias_healthy = &rt().alias_health;
  ctx.replica_state = &rt().replica_state;
  return ctx;
}

std::variant<router::RouteDecision, router::RouteError> ClientSession::route(const router::Analysis& a,
                                                                             std::string_view sql,
                                                                             const wire::BindParams* params,
                                                                             ColumnOrderLookup& columns) {
  router::RouteContext ctx = session_route_context(a);
  if (params) {
    ctx.params = params->values;
    ctx.param_formats = params->formats;
  }
  ctx.sql = sql;
  if (snap_->causal_lookup) {
    ctx.causal_floors = &snap_->causal_lookup;
    if (wait_data_) ctx.causal_sample = wait_data_->causal_sample;
  }
  ctx.column_order = &columns;
  columns.start_route();
  auto result = snap_->chain->route(ctx);
  // The next Query (or Bind and Execute) sent is the statement this placed, if by a column order.
  u().column_order_placed = !columns.used_table().empty();
  if (u().column_order_placed) u().column_order_table.assign(columns.used_table());
  if (auto* d = std::get_if<router::RouteDecision>(&result)) {
    // "No router had an opinion": the client's own database decides (its alias), not the global default.
    if (d->router == "default" && d->scatter.empty()) d->alias = who_->alias;
    // Handled again after waiting for a connection: the alias routed to before the wait stands.
    if (wait_data_ && wait_data_->pinned_alias && d->scatter.empty()) d->alias = *wait_data_->pinned_alias;
    return std::move(*d);  // with scatter set: every shard (client_scatter.cpp)
  }
  return std::move(std::get<router::RouteError>(result));
}

void ClientSession::note_routed(const router::Analysis& a, const router::RouteDecision& d) {
  if (router::is_write_kind(a.kind)) {
    last_write_ = std::chrono::steady_clock::now();
    if (!snap_->causal_floors.empty()) note_causal_write(a, d.alias);
  }
  // Labels of this unit's pgroute_queries_total sample, recorded when its ReadyForQuery arrives.
  u().unit_router = d.router;
  u().unit_kind = router::kind_name(a.kind);
}

std::string ClientSession::affinity_error(const std::string& alias, const router::RouteDecision& d) const {
  if (server_kept_for_ != router::SessionStateKind::none && client_tx_status() == tx::kIdle)
    return "pgroute: this session keeps its server connection on alias \"" + alias + "\" for " +
           std::string(router::session_state_name(server_kept_for_)) +
           " it made there (transaction pooling cannot hand that to other clients), but the statement routes to "
           "alias \"" +
           d.alias + "\" (router " + d.router + ": " + d.reason +
           "); until that is gone (or it disconnects) every statement of the session runs on that connection";
  return "pgroute: this transaction runs on alias \"" + alias + "\" but the statement routes to alias \"" + d.alias +
         "\" (router " + d.router + ": " + d.reason + "); a transaction cannot span aliases";
}

void ClientSession::queue_route_error(const router::RouteError& e) {
  PGR_LOG(info) << describe() << ": refused by router " << e.router << ": " << e.message;
  metrics::record_routing_error(worker_.index, e.router, e.sqlstate);
  wire::put_error(u().out.buffer(),
                  {.severity = "ERROR", .sqlstate = e.sqlstate, .message = e.message, .hint = e.hint});
}

// Sends what is queued and waits until the attached server has answered everything asked of it, or
// started a COPY FROM STDIN (it waits for the client: the message handled again is then the COPY's).
awaitable<void> ClientSession::wait_server_idle() {
  // Inside an extended-protocol unit the server keeps its answers until a Sync or Flush: ask for them.
  if (server_ && unit_open_) wire::put_flush(u().server_out);
  bool written = co_await flush_to_server();
  while (written && server_ && !u().replies.expect.empty() && !client_gone_ && !copy_in_) {
    if (!idle_signal_) idle_signal_ = std::make_unique<asio::steady_timer>(worker_.ctx);
    idle_signal_->expires_at(asio::steady_timer::time_point::max());
    auto [ec] = co_await idle_signal_->async_wait(use_nothrow);
    (void)ec;  // cancelled is the signal
  }
}

// SET [LOCAL] pgroute.shard_key: the key of the statements that follow, for the rest of the session or,
// set inside a transaction block, until it ends. SET LOCAL outside one does nothing (PostgreSQL warns
// 25P01 and ignores it): false then.
bool ClientSession::apply_shard_key(const router::Analysis& a) {
  const bool in_transaction = client_tx_status() != tx::kIdle;
  if (a.shard_key_local && !in_transaction) return false;
  shard_key_ = std::make_unique<std::string>(*a.set_shard_key);
  shard_key_for_transaction_ = in_transaction;
  return true;
}

// Statements the proxy answers itself. Updates the session state; status_after is the transaction
// status the client is in afterwards.
bool ClientSession::answer_locally(const router::Analysis& a, char& status_after) {
  if (a.statement_count != 1) return false;
  if (a.set_shard_key) {
    if (!apply_shard_key(a))
      wire::put_notice(u().out.buffer(), {.severity = "WARNING",
                                          .sqlstate = wire::sqlstate::no_active_sql_transaction,
                                          .message = "SET LOCAL can only be used in transaction blocks"});
    put_command_complete(u().out.buffer(), "SET");
    status_after = client_tx_status();
    return true;
  }
  if (server_) return false;
  if (!u().pending_begin && a.kind == router::StatementKind::TransactionBegin) {
    status_after = tx::kInTransaction;
    return true;  // the caller records the text
  }
  if (u().pending_begin && a.kind == router::StatementKind::TransactionEnd && !a.begins_transaction &&
      (a.command == "COMMIT" || a.command == "ROLLBACK")) {
    u().pending_begin.reset();
    if (shard_key_for_transaction_) shard_key_.reset();
    put_command_complete(u().out.buffer(), a.command);
    status_after = tx::kIdle;
    return true;
  }
  return false;
}

ClientSession::Step ClientSession::route_message(const wire::Frame& f, std::string_view sql,
                                                 const wire::ParseMsg& parse, const wire::BindMsg& bind) {
  // A held read across shards whose unit the client ends without Sync or Flush: it runs first.
  if (scatter_ && (f.type == fe::kQuery || f.type == fe::kFunctionCall))
    return wait_for(ClientWait::scatter_then_retry);
  switch (f.type) {
    case fe::kQuery: return route_query(sql);
    case fe::kParse: {
      if (!parse.name.empty()) {
        prepared().named.set_analysis(parse.name, analyze(parse.query));
        break;
      }
      Prepared& p = prepared();
      p.unnamed_parse.assign(f.bytes());
      // Drivers parse the same unnamed text again and again, and a held Parse comes here twice.
      if (p.unnamed_analysis && p.unnamed_analysed == parse.query) {
        metrics::record_cache(worker_.index, true);  // a parse saved, as a cache hit is
      } else {
        p.unnamed_analysis = analyze(parse.query);
        p.unnamed_analysed.assign(parse.query);
      }
      break;
    }
    case fe::kBind: return route_bind(f, bind);
    default: break;
  }
  if (server_ && f.type == fe::kParse && !unit_open_ && !replaying_held_ && server_busy()) {
    // The first message of a unit pipelined behind earlier ones: parsed where they run only if its tables
    // are there too (it may fail elsewhere). Else it waits for their answers: the connection then goes
    // back, unless a transaction keeps it, and this unit is routed on its own.
    const std::string& here = server_->endpoint().alias;
    const router::Analysis* a = analysis_of_statement(parse.name);
    if (a && describe_alias_of(*a, here) != here) return wait_for(ClientWait::server_idle);
  }
  if (server_) return Step::forward;
  switch (f.type) {
    case fe::kParse: u().held_statement = parse.name; [[fallthrough]];
    case fe::kDescribe:
    case fe::kClose:
    case fe::kExecute: hold(f); return Step::done;
    case fe::kFlush:
      if (scatter_) return wait_for(ClientWait::scatter_held);
      if (u().held.empty()) return Step::done;  // nothing asked yet: nothing to flush
      if (u().held.binds() == 0 && !u().held.has_execute()) {
        // Only preparing and describing: that goes where the statement's tables are, and a deferred BEGIN
        // waits for the Bind, which decides the transaction's alias (open_deferred_transaction()).
        defer_begin_ = true;
        return release_held(describe_alias(), false);
      }
      // A deferred BEGIN goes now: the unit goes on after a Flush, and its Execute must run in the transaction.
      return release_held(who_->alias, false);
    case fe::kSync:
      if (scatter_) return wait_for(ClientWait::scatter_held_at_sync);
      if (answer_held_unit()) return Step::done;
      if (u().held.empty()) {
        wire::put_ready_for_query(u().out.buffer(), client_tx_status());  // nothing for a server to do
        return Step::done;
      }
      // Preparing or describing only (no Execute) does not choose the transaction's alias yet.
      defer_begin_ = !u().held.has_execute();
      return release_held(u().held.binds() == 0 && !u().held.has_execute() ? describe_alias() : who_->alias, true);
    default:
      u().unit_alias = who_->alias;  // FunctionCall: the client's own alias
      return Step::forward;
  }
}

// The analysis of a simple query: of its text with constants made parameters when that parses (one
// cache entry for all "... WHERE id = <n>"), with the constants in literal_params; else of the text.
std::shared_ptr<const router::Analysis> ClientSession::analyze_query(std::string_view sql,
                                                                     const wire::BindParams*& params) {
  UnitState& unit = u();
  unit.normalize_tried = true;
  if (unit.analyzed) {  // the same message again, after a wait (message_over() forgets it)
    unit.normalized_current = unit.analyzed_normalized;
    params = unit.analyzed_with_literals ? &unit.literal_params : nullptr;
    return unit.analyzed;
  }
  params = nullptr;
  unit.normalized_current = normalize_literals(sql, unit.normalized);
  if (unit.normalized_current) {
    auto analysis = analyze(unit.normalized.text);
    // SET/SHOW/transaction control keep their constants: SET pgroute.shard_key needs its value.
    if (analysis->kind != router::StatementKind::Unparsed && chooses_alias(*analysis)) {
      unit.literal_params.formats.clear();
      unit.literal_params.values.clear();
      for (const auto& v : unit.normalized.literals) unit.literal_params.values.emplace_back(v);
      params = &unit.literal_params;
      unit.analyzed = analysis;
    }
  }
  if (!unit.analyzed) unit.analyzed = analyze(sql);
  unit.analyzed_normalized = unit.normalized_current;
  unit.analyzed_with_literals = params != nullptr;
  return unit.analyzed;
}

ClientSession::Step ClientSession::route_query(std::string_view sql) {
  const wire::BindParams* literals = nullptr;
  auto analysis = analyze_query(sql, literals);
  const router::Analysis& a = *analysis;
  note_causal_unit(a);
  // Answering it here needs the transaction status after what is in flight.
  if (server_busy() && answerable(a, u().pending_begin.has_value())) return wait_for(ClientWait::server_idle);
  char status = tx::kIdle;
  if (answer_locally(a, status)) {
    if (a.kind == router::StatementKind::TransactionBegin && !a.set_shard_key) {
      u().pending_begin = std::string(sql);
      put_command_complete(u().out.buffer(), a.command.empty() ? "BEGIN" : a.command);
    }
    wire::put_ready_for_query(u().out.buffer(), status);
    return Step::done;
  }
  if (a.resets_shard_key) shard_key_.reset();
  if (!chooses_alias(a) && !a.hint_alias) {
    if (!server_) u().unit_alias = who_->alias;
    return Step::forward;
  }
  if (u().routed_unattached && wait_data_ && wait_data_->pinned_alias) {
    // Handled again after waiting for a connection (nothing else waits after routing): routed before it.
    if (client_gone_) return Step::stop;
    u().unit_alias = *wait_data_->pinned_alias;
    return Step::forward;
  }
  ColumnOrderLookup columns(worker_.column_orders, snap_->generation);
  use_learnt_column_order(columns);
  auto routed = route(a, sql, literals, columns);
  if (column_order_stale(routed, columns)) routed = route(a, sql, literals, columns);
  if (columns.missing()) return learn_column_order(columns);  // INSERT without a column list, table not seen yet
  if (auto* e = std::get_if<router::RouteError>(&routed)) {
    if (server_busy()) return wait_for(ClientWait::server_idle);  // the error comes after earlier answers
    queue_route_error(*e);
    wire::put_ready_for_query(u().out.buffer(), client_tx_status());
    return Step::done;
  }
  auto& d = std::get<router::RouteDecision>(routed);
  if (causal_route(d) && wait_for_replay(d)) return wait_for(ClientWait::replay);
  if (!d.scatter.empty()) return scatter_query(sql, a, d, literals);
  if (server_ && server_->endpoint().alias != d.alias) {
    // A pipelined earlier query may still hold the connection.
    if (server_busy()) return wait_for(ClientWait::server_idle);
    std::string current = server_->endpoint().alias;
    PGR_LOG(info) << describe() << ": " << affinity_error(current, d);
    wire::put_error(u().out.buffer(), {.severity = "ERROR",
                                       .sqlstate = wire::sqlstate::feature_not_supported,
                                       .message = affinity_error(current, d),
                                       .hint = "Commit first, or route these tables to the same alias."});
    wire::put_ready_for_query(u().out.buffer(), client_tx_status());
    return Step::done;
  }
  if (client_gone_) return Step::stop;
  note_routed(a, d);
  u().unit_alias = d.alias;
  u().routed_unattached = !server_;  // attach_now() may wait
  return Step::forward;
}

ClientSession::Step ClientSession::route_bind(const wire::Frame& f, const wire::BindMsg& bind) {
  if (std::exchange(unit_ended_for_bind_, false) && std::exchange(u().error_in_unit, false)) {
    // The unit this Bind belongs to failed where it began (its error went to the client): as the server
    // would, everything up to the client's Sync is skipped, and that Sync is answered here.
    reparse_unnamed_ = false;
    skip_until_sync_ = true;
    return Step::done;
  }
  if (scatter_) {
    hold(f);  // a second Bind in a unit spread over shards: refused at its Sync
    return Step::done;
  }
  const router::Analysis* a = analysis_of_statement(bind.statement);
  if (a) note_causal_unit(*a);
  if (!a) {
    // Unknown statement: let the server report it (on the attached or the client's own alias).
    if (server_) return Step::forward;
    hold(f);
    return Step::done;
  }
  if (a->set_shard_key && a->statement_count == 1) apply_shard_key(*a);  // its warning comes with its answer
  if (!chooses_alias(*a) && !a->hint_alias) {
    if (server_) return Step::forward;
    hold(f);
    return Step::done;
  }
  wire::BindParams& params = u().literal_params;  // reused: no allocation per Bind
  if (!wire::parse_bind_params(bind.after_statement, params)) {
    fatal(ClientCloseReason::protocol_violation, "malformed Bind message", wire::sqlstate::protocol_violation,
          "pgroute: malformed Bind message from client");
    return Step::stop;
  }
  std::string_view sql;  // the rule router's regex looks at the text; held in the statement's Parse
  ColumnOrderLookup columns(worker_.column_orders, snap_->generation);
  use_learnt_column_order(columns);
  auto routed = route(*a, sql, &params, columns);
  if (column_order_stale(routed, columns)) routed = route(*a, sql, &params, columns);
  // INSERT without a column list, table not seen yet. Handled again after: a pipelined DISCARD ALL
  // answered meanwhile makes the statement unknown, and the server reports it as it would have.
  if (columns.missing()) return learn_column_order(columns);
  if (auto* d = std::get_if<router::RouteDecision>(&routed); d && causal_route(*d) && wait_for_replay(*d))
    return wait_for(ClientWait::replay);
  if (auto* d = std::get_if<router::RouteDecision>(&routed); d && !d->scatter.empty()) {
    if (auto refusal = scatter_refusal(*a, *d)) {
      routed = std::move(*refusal);
    } else {
      hold(f);
      scatter_ =
          std::make_unique<ScatterUnit>(scatter_unit(std::move(*d), *a, statement_text(bind.statement), &params));
      return Step::done;
    }
  }
  if (auto* e = std::get_if<router::RouteError>(&routed)) {
    clear_held();
    if (server_) {
      // Earlier messages of this unit are on the server: the error takes its place behind their answers.
      std::string bytes;
      wire::put_error(bytes, {.severity = "ERROR", .sqlstate = e->sqlstate, .message = e->message, .hint = e->hint});
      PGR_LOG(info) << describe() << ": refused by router " << e->router << ": " << e->message;
      metrics::record_routing_error(worker_.index, e->router, e->sqlstate);
      u().replies.queue_error(std::move(bytes));
      forward_sync_after_skip_ = true;
    } else {
      queue_route_error(*e);
    }
    skip_until_sync_ = true;
    return Step::done;
  }
  auto& d = std::get<router::RouteDecision>(routed);
  if (server_) {
    if (server_->endpoint().alias == d.alias) {
      note_routed(*a, d);
      return Step::forward;
    }
    if (!unit_open_ && server_busy()) {
      // The first message of a unit pipelined behind earlier ones (a prepared statement's Bind): once they
      // are answered the connection goes back, unless a transaction keeps it (then refused below).
      return wait_for(ClientWait::server_idle);
    }
    if (may_end_unit_for_bind(bind)) {
      // The unit only prepared and described its statement here (asyncpg: Parse, Describe, Flush, then
      // Bind, Execute, Sync; the describing went where describe_alias() said). It ends here with a Sync
      // of ours; once that is answered the connection goes back, and this Bind, handled again, goes where
      // it routes, its statement prepared there as a named statement is on any connection.
      PGR_LOG(debug) << describe() << ": statement described on alias \"" << server_->endpoint().alias
                     << "\", bound for alias \"" << d.alias << "\" (router " << d.router << ")";
      end_unit_on_server();
      reparse_unnamed_ = bind.statement.empty();
      unit_ended_for_bind_ = true;
      return wait_for(ClientWait::server_idle);
    }
    std::string bytes;
    std::string current = server_->endpoint().alias;
    PGR_LOG(info) << describe() << ": " << affinity_error(current, d);
    wire::put_error(bytes, {.severity = "ERROR",
                            .sqlstate = wire::sqlstate::feature_not_supported,
                            .message = affinity_error(current, d),
                            .hint = "Commit first (and wait for the results of earlier statements), or route these "
                                    "tables to the same alias."});
    u().replies.queue_error(std::move(bytes));
    forward_sync_after_skip_ = true;
    skip_until_sync_ = true;
    return Step::done;
  }
  note_routed(*a, d);
  return release_held(d.alias, false);
}

bool ClientSession::may_end_unit_for_bind(const wire::BindMsg& bind) const {
  // A named statement is prepared on whatever connection it is bound on; the unnamed one is parsed again
  // there (Prepared::unnamed_parse). Nothing bound or run in the unit yet, and no transaction or session
  // state known to hold the connection (a BEGIN still deferred has not gone to this server: it goes with
  // the Bind, wherever that goes). Earlier pipelined units may still be unanswered: the connection goes
  // back only if their ReadyForQuery says no transaction is open, else the Bind is refused as before.
  return (!bind.statement.empty() || !prepared_view().unnamed_parse.empty()) && unit_open_ && !unit_bound_ &&
         server_->tx_status == tx::kIdle && !session_mode_ && server_kept_for_ == router::SessionStateKind::none &&
         !copy_in_ && !writing_to_server_;
}

// Keeps an extended-protocol message until its unit's alias is known.
void ClientSession::hold(const wire::Frame& f) { u().held.hold(f); }

HeldUnit ClientSession::take_held() {
  HeldUnit held = std::move(u().held);
  clear_held();
  return held;
}

void ClientSession::clear_held() {
  u().held.clear();
  u().held_statement.reset();
}

std::string ClientSession::describe_alias() {
  const router::Analysis* a = u().held_statement ? analysis_of_statement(*u().held_statement) : nullptr;
  return a ? describe_alias_of(*a, {}) : who_->alias;
}

std::string ClientSession::describe_alias_of(const router::Analysis& a, std::string_view prefer) {
  if (!chooses_alias(a) && !a.hint_alias) return prefer.empty() ? who_->alias : std::string(prefer);
  router::RouteContext ctx = session_route_context(a);
  ctx.describe_only = true;
  ctx.describe_on = prefer;
  const auto routed = snap_->chain->route(ctx);
  const auto* d = std::get_if<router::RouteDecision>(&routed);
  // A refusal (tables on two aliases) is the Bind's to report; "no opinion" is the client's own alias.
  if (!d || d->router == "default") return who_->alias;
  return d->scatter.empty() ? d->alias : d->scatter.front();
}

// Attaches to `alias` and replays the held messages; the caller then handles the current one. When the
// pool has no connection at hand the held messages stay held and the current message waits for one
// (handle_message replays them first when it is handled again).
ClientSession::Step ClientSession::release_held(const std::string& alias, bool at_sync) {
  u().unit_alias = alias;
  const Attach attached = attach_now();
  if (attached == Attach::must_wait) {
    held_awaits_attach_ = true;
    pin_alias(alias);
    return wait_for(ClientWait::attach);
  }
  held_awaits_attach_ = false;
  if (attached == Attach::failed) {
    clear_held();
    // Its error is queued: the unit ends as the server would have ended it.
    if (at_sync)
      wire::put_ready_for_query(u().out.buffer(), client_tx_status());
    else
      skip_until_sync_ = true;
    return Step::done;
  }
  return replay_held();
}

ClientSession::Step ClientSession::replay_held() {
  held_awaits_attach_ = false;
  HeldUnit held = take_held();
  for (size_t i = 0; i < held.size(); ++i) {
    // The unit's own messages, to the connection just attached for it: none waits for what is queued there.
    replaying_held_ = true;
    const Handled handled = handle_message(held.message(i));
    replaying_held_ = false;
    if (handled == Handled::stop) return Step::stop;
    if (handled == Handled::wait) {
      // A held message waits only for what a server attached already has (a bug if not): say so, not hang.
      client_wait_ = ClientWait::none;
      note_end(ClientCloseReason::unknown, "a held message waited after its unit was attached (a pgroute bug)");
      return Step::stop;
    }
  }
  // Its buffers back for the next unit: a unit is held and replayed once per transaction, and each would
  // allocate them again.
  if (u().held.empty()) {
    held.clear();
    u().held = std::move(held);
  }
  return Step::forward;
}

// A held unit that only opens a transaction, sets the shard key or ends a transaction nothing ran in:
// answered by the proxy, message by message, as the server would have. Called at Sync with no server.
bool ClientSession::answer_held_unit() {
  if (u().held.empty() || server_) return false;
  // First pass: is every Execute one the proxy may answer?
  bool begin_pending = u().pending_begin.has_value();
  const HeldUnit& held = u().held;
  const router::Analysis* portal = nullptr;
  int executes = 0;
  for (size_t i = 0; i < held.size(); ++i) {
    const wire::Frame f = held.message(i);
    if (f.type == fe::kBind) {
      wire::BindMsg b;
      if (!wire::parse_bind(f.body, b) || !b.portal.empty()) return false;
      portal = analysis_of_statement(b.statement);
      if (!portal) return false;
    } else if (f.type == fe::kExecute) {
      if (!portal || !answerable(*portal, begin_pending)) return false;
      ++executes;
      if (portal->kind == router::StatementKind::TransactionBegin)
        begin_pending = true;
      else if (portal->kind == router::StatementKind::TransactionEnd)
        begin_pending = false;
    } else if (f.type == fe::kDescribe) {
      wire::TargetMsg t;
      if (!wire::parse_describe_or_close(f.body, t) || t.kind != fe::kTargetPortal) return false;
    } else if (f.type != fe::kParse) {
      return false;
    }
  }
  if (executes == 0) return false;  // a Parse alone is for a server to check
  // Second pass: answer.
  std::string& out = u().out.buffer();
  std::string begin_sql;
  for (size_t i = 0; i < held.size(); ++i) {
    const wire::Frame f = held.message(i);
    switch (f.type) {
      case fe::kParse: {
        wire::ParseMsg p;
        wire::parse_parse(f.body, p);
        if (p.name.empty())
          begin_sql = std::string(p.query);
        else
          prepared().named.remember(p);
        wire::put_parse_complete(out);
        break;
      }
      case fe::kBind: {
        wire::BindMsg b;
        wire::parse_bind(f.body, b);
        portal = analysis_of_statement(b.statement);
        if (!b.statement.empty()) {
          const ClientStatement* st = prepared_view().named.find(b.statement);
          // Its text, kept in simple-query form for the server later.
          begin_sql = st ? std::string(st->query()) : std::string();
        }
        wire::put_bind_complete(out);
        break;
      }
      case fe::kDescribe: wire::put_message(out, be::kNoData, {}); break;  // a portal of a utility statement: NoData
      case fe::kExecute: {
        char status = tx::kIdle;
        answer_locally(*portal, status);
        if (portal->kind == router::StatementKind::TransactionBegin && !portal->set_shard_key) {
          u().pending_begin = begin_sql;
          put_command_complete(out, portal->command.empty() ? "BEGIN" : portal->command);
        }
        break;
      }
    }
  }
  clear_held();
  wire::put_ready_for_query(out, client_tx_status());
  return true;
}

}  // namespace pgroute
