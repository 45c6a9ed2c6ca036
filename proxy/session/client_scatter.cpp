// Reads across shards: a shard router with `without_key: all` answers a SELECT that names no shard key
// with every shard. The session borrows one connection per shard (in alias order, so two clients doing
// this never wait on each other's connections), sends each the same statement, and merges the answers
// (scatter_merge.hpp) as rows of one result, UNION ALL style.
//
// Only a single plain SELECT outside a transaction is spread: a transaction runs on one alias, and
// ORDER BY / LIMIT / OFFSET would not hold for the merged rows, so those are refused with 0A000.
// A simple Query runs at once. In the extended protocol the deciding Bind is held with the rest of its
// unit until the client's Sync (or Flush), then the whole unit runs on each shard.
#include <algorithm>
#include <charconv>
#include <functional>
#include <string>

#include "proxy/base/log.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/metrics/query_stats.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/row_order.hpp"
#include "proxy/session/scatter_merge.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"
#include "router/scatter_rules.hpp"

namespace pgroute {

namespace fe = wire::frontend;
namespace be = wire::backend;
namespace tx = wire::tx_status;

namespace {

bool iso_dates(const ServerConnection& conn) {
  auto it = conn.reported.find("DateStyle");
  return it != conn.reported.end() && it->second.starts_with("ISO");
}

// Client output is flushed while rows arrive once this much is queued: a large read is streamed,
// not collected.
constexpr size_t kStreamChunk = 64 * 1024;

// The limit a LIMIT clause names: a constant, or a parameter's value (text, or binary int2/int4/int8).
// nullopt: none (LIMIT ALL, NULL) or not a usable count (the shards then report the problem).
std::optional<uint64_t> limit_value(const router::KeyValue& v, const wire::BindParams* params) {
  std::string_view text;
  if (v.literal) {
    text = *v.literal;
  } else if (v.param > 0 && params) {
    router::RouteContext ctx;
    ctx.params = params->values;
    ctx.param_formats = params->formats;
    router::BoundParam p = router::bound_param(ctx, v.param);
    if (p.state == router::BoundParam::State::Binary) {
      // int2, int4 or int8, big-endian: a negative one (its top bit set) is no usable count.
      if (p.bytes.size() != 2 && p.bytes.size() != 4 && p.bytes.size() != 8) return std::nullopt;
      if (static_cast<unsigned char>(p.bytes[0]) & 0x80) return std::nullopt;
      uint64_t n = 0;
      for (unsigned char ch : p.bytes) n = (n << 8) | ch;
      return n;
    }
    if (p.state != router::BoundParam::State::Text) return std::nullopt;  // NULL: no limit
    text = p.bytes;
  } else {
    return std::nullopt;
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<router::RouteError> ClientSession::scatter_refusal(const router::Analysis& a,
                                                                 const router::RouteDecision& d) const {
  if (auto refusal = router::scatter_refusal(a, d, client_tx_status() != tx::kIdle)) return refusal;
  if (server_)
    return router::RouteError{
        std::string(wire::sqlstate::feature_not_supported),
        router::scatter_refusal_prefix(&a, d) +
            (server_kept_for_ != router::SessionStateKind::none
                 ? "the session keeps its server connection on alias \"" + server_->endpoint().alias + "\" for " +
                       std::string(router::session_state_name(server_kept_for_)) + " it made there"
                 : "earlier messages of its unit already run on alias \"" + server_->endpoint().alias + "\""),
        "Send Sync before it, or narrow it to one shard.", d.router};
  return std::nullopt;
}

ClientSession::ScatterUnit ClientSession::scatter_unit(router::RouteDecision d, const router::Analysis& a,
                                                       std::string statement, const wire::BindParams* params) const {
  ScatterUnit unit{std::move(d), std::move(statement), a.result_order, std::nullopt};
  if (unit.order && unit.order->limit) unit.limit = limit_value(*unit.order->limit, params);
  return unit;
}

ClientSession::Step ClientSession::scatter_query(std::string_view sql, const router::Analysis& a,
                                                 const router::RouteDecision& d, const wire::BindParams* literals) {
  // A pipelined earlier query may still hold a connection.
  if (server_busy()) return wait_for(ClientWait::server_idle);
  if (auto refusal = scatter_refusal(a, d)) {
    queue_route_error(*refusal);
    wire::put_ready_for_query(u().out.buffer(), client_tx_status());
    return Step::done;
  }
  WaitData& w = wait_data();
  w.scatter_query.clear();
  wire::put_query(w.scatter_query, sql);
  const bool normalized = u().normalized_current && !u().normalized.literals.empty();
  std::string statement(normalized ? std::string_view(u().normalized.text) : sql);
  w.scatter = std::make_unique<ScatterUnit>(scatter_unit(d, a, std::move(statement), literals));
  return wait_for(ClientWait::scatter_query);  // runs on the shards' connections, then the query is over
}

// The text of the client's statement `name` ("" = unnamed): from a Parse held in this unit, else from
// the statement the client prepared earlier.
std::string ClientSession::statement_text(std::string_view name) const {
  std::string text(u().held.parsed_query(name));
  if (!text.empty() || name.empty()) return text;
  if (const ClientStatement* st = prepared_view().named.find(name)) text.assign(st->query());
  return text;
}

// Runs the held unit of a spreading Bind: at the client's Sync (answered with ReadyForQuery) or Flush.
awaitable<ClientSession::Step> ClientSession::scatter_held(bool at_sync) {
  auto unit = std::move(scatter_);
  HeldUnit held = take_held();
  // The unit must be the read alone: one Bind, one Execute of all its rows, then Sync.
  const int binds = held.binds(), executes = held.executes();
  const wire::Frame last = held.empty() ? wire::Frame{} : held.message(held.size() - 1);
  const bool execute_last = last.type == fe::kExecute;
  wire::ExecuteMsg e;
  const bool all_rows = !execute_last || (wire::parse_execute(last.body, e) && e.max_rows == 0);
  std::string problem;
  if (binds != 1 || executes != 1 || !execute_last)
    problem = "its unit must be one Bind and one Execute followed by Sync (this one has " + std::to_string(binds) +
              " Bind(s) and " + std::to_string(executes) + " Execute(s))";
  else if (!all_rows)
    problem = "its Execute asks for a limited number of rows (a portal cannot be resumed across shards)";
  if (!problem.empty()) {
    const auto& d = unit->decision;
    queue_route_error({std::string(wire::sqlstate::feature_not_supported),
                       router::scatter_refusal_prefix(nullptr, d) + problem,
                       "Execute the statement alone with max_rows 0, or narrow it to one shard.", d.router});
    if (at_sync)
      wire::put_ready_for_query(u().out.buffer(), client_tx_status());
    else
      skip_until_sync_ = true;
    co_return Step::done;
  }
  co_await run_scatter(*unit, held.bytes(), false, at_sync);
  co_return client_gone_ ? Step::stop : Step::done;
}

// The held extended-protocol unit as `conn` must see it: client statement names turned into the proxy's
// (prepared first where the connection lacks them), a Describe of the portal when the merge orders rows
// (`describe`), then our own Sync. `expect` lists the answers.
void ClientSession::build_scatter_unit(ServerConnection& conn, std::string_view held, bool describe, std::string& bytes,
                                       ResponseQueue& expect) {
  StatementTarget to = statement_target(conn, bytes, expect);
  wire::for_each_frame(held, max_message_, [&](const wire::Frame& f) {
    wire::ParseMsg parse;
    wire::BindMsg bind;
    wire::TargetMsg target;
    switch (f.type) {
      case fe::kParse:
      case fe::kBind:
      case fe::kDescribe:
      case fe::kClose: {
        if (f.type == fe::kParse)
          wire::parse_parse(f.body, parse);
        else if (f.type == fe::kBind)
          wire::parse_bind(f.body, bind);
        else
          wire::parse_describe_or_close(f.body, target);
        // A named Close: the client forgets the statement once every shard has run the unit (run_scatter).
        expect.push({translate_statement_message({f, &parse, &bind, &target}, prepared().named, to).answer});
        break;
      }
      case fe::kExecute: {
        wire::ExecuteMsg e;
        if (describe && wire::parse_execute(f.body, e)) {
          wire::put_describe(bytes, fe::kTargetPortal, e.portal);  // the merge needs the row types
          expect.push({Expect::InjectedDescribe});
        }
        bytes.append(f.bytes());
        expect.push({Expect::Execute});
        break;
      }
      default: break;
    }
    return true;
  });
  wire::put_sync(bytes);
  expect.push({Expect::Sync});
}

// One shard of a read across shards: its connection, and the row it offers next to an ordered merge.
struct ClientSession::ScatterShard {
  std::string alias;
  std::shared_ptr<ServerPool> pool;
  std::unique_ptr<ServerConnection> conn;
  size_t index = 0;       // in the merge
  bool finished = false;  // its ReadyForQuery arrived
  bool broken = false;    // its connection failed or misbehaved: closed, not returned
  std::string why;
  std::string row;    // ordered merge: the shard's next DataRow (whole message)
  uint64_t rows = 0;  // ordered merge: its rows the client got
  bool has_row = false;
};

// Reads `shard`'s answers into the merge until it offers a row (true) or it is finished or broken.
awaitable<bool> ClientSession::read_scatter_shard(ScatterShard& shard, ScatterMerge& merge) {
  ServerConnection& conn = *shard.conn;
  shard.has_row = false;
  while (!shard.finished && !shard.broken && !client_gone_) {
    wire::Frame f;
    std::string error;
    ReadStatus st = co_await conn.receive_frame(max_message_, f, error);
    if (st != ReadStatus::ok) {
      shard.broken = true;
      shard.why = error.empty() ? "the server closed the connection" : error;
      break;
    }
    if (f.type == be::kParameterStatus) {
      std::string_view name, value;
      if (wire::parse_parameter_status(f.body, name, value)) conn.reported[std::string(name)] = std::string(value);
    } else if (f.type == be::kReadyForQuery) {
      wire::parse_ready_for_query(f.body, conn.tx_status);
    }
    auto fed = merge.feed(shard.index, f);
    if (fed == ScatterMerge::Fed::row) shard.row.assign(f.bytes());
    conn.rbuf.consume(f.wire_size());
    if (fed == ScatterMerge::Fed::done) shard.finished = true;
    if (fed == ScatterMerge::Fed::unexpected) {
      shard.broken = true;
      shard.why = "unexpected message '" + std::string(1, f.type) + "' from the server";
    }
    if (fed == ScatterMerge::Fed::row) {
      shard.has_row = true;
      co_return true;
    }
    if (u().out.queued() >= kStreamChunk && !co_await u().out.flush(socket_)) note_write_failed();
  }
  if (shard.broken) {
    PGR_LOG(warn) << describe() << ": reading every shard: " << conn.endpoint().describe() << ": " << shard.why;
    merge.fail(shard.index, wire::sqlstate::connection_failure, "lost its connection: " + shard.why);
  }
  co_return false;
}

awaitable<void> ClientSession::run_scatter(const ScatterUnit& unit, std::string_view bytes, bool simple,
                                           bool ready_for_query) {
  const auto started = std::chrono::steady_clock::now();
  const router::RouteDecision& d = unit.decision;
  // One acquisition order for everyone: two clients spreading reads never hold what the other waits for.
  std::vector<std::string> aliases = d.scatter;
  std::sort(aliases.begin(), aliases.end());
  std::vector<ScatterShard> shards;
  set_state(SessionState::scattering);
  bool acquired = true;
  for (const auto& alias : aliases) {
    if (!pool_ready(alias)) {
      acquired = false;
      break;
    }
    auto checkout = co_await pool_->acquire(worker_.ctx, worker_.index);
    if (!checkout.conn) {
      PGR_LOG(warn) << describe() << ": reading every shard for router " << d.router << ": " << checkout.error;
      send_error(checkout.sqlstate,
                 checkout.error + " (router \"" + d.router + "\" reads every shard: " + router::join(d.scatter) + ")");
      acquired = false;
      break;
    }
    ScatterShard shard;
    shard.alias = alias;
    shard.pool = pool_;
    shard.conn = std::move(checkout.conn);
    shards.push_back(std::move(shard));
  }
  if (!acquired) {
    for (auto& s : shards) s.pool->release(std::move(s.conn));
    set_state(SessionState::idle);
    if (ready_for_query)
      wire::put_ready_for_query(u().out.buffer(), client_tx_status());
    else
      skip_until_sync_ = true;
    co_return;
  }

  // Send every shard its unit first, so they work in parallel; then read their answers.
  const bool ordered = unit.order && !unit.order->keys.empty();
  ScatterMerge merge(u().out.buffer());
  if (unit.limit) merge.set_limit(*unit.limit);
  if (ordered) merge.hold_rows();
  // A cancel request may come as soon as the first shard has the statement: every target is known first.
  std::vector<CancelTarget> targets;
  for (auto& shard : shards) {
    const ServerConnection& conn = *shard.conn;
    targets.push_back({conn.endpoint().host, conn.endpoint().port, conn.backend_pid, conn.backend_secret});
  }
  cancel_slot_.set_all(std::move(targets));
  for (auto& shard : shards) {
    ServerConnection& conn = *shard.conn;
    std::string out;
    ResponseQueue expected;
    queue_session_parameters(conn, out, expected);
    if (simple) {
      out.append(bytes);
      expected.push({Expect::Query});
    } else {
      build_scatter_unit(conn, bytes, ordered, out, expected);
    }
    shard.index = merge.add_shard(shard.alias, std::move(expected), &conn.prepared);
    std::string error;
    if (!co_await conn.send_all(out, error)) {
      shard.broken = true;
      shard.why = "write failed: " + error;
    }
  }

  if (!ordered) {
    for (auto& shard : shards) {
      uint64_t rows_before = merge.rows();
      co_await read_scatter_shard(shard, merge);
      if (shard.finished && !client_gone_)
        metrics::record_query(worker_.index, shard.alias, d.router, "read", std::chrono::steady_clock::now() - started,
                              merge.rows() - rows_before);
    }
  } else {
    // Every shard sorted its rows: repeatedly forward the smallest offered row (ties: shard order).
    for (auto& shard : shards) co_await read_scatter_shard(shard, merge);
    RowOrder order;
    if (!merge.failed()) {
      std::string problem = order.prepare(merge.row_description(), unit.order->keys, iso_dates(*shards.front().conn));
      if (!problem.empty()) merge.fail(0, wire::sqlstate::feature_not_supported, problem);
    }
    for (;;) {
      ScatterShard* next = nullptr;
      auto body = [](const ScatterShard& s) { return std::string_view(s.row).substr(5); };  // after type, length
      for (auto& shard : shards)
        if (shard.has_row && (!next || order.before(body(shard), body(*next)))) next = &shard;
      if (!next) break;
      uint64_t rows_before = merge.rows();
      merge.emit_row(next->row);
      next->rows += merge.rows() - rows_before;
      // Streamed, not collected: most frames are rows here, so read_scatter_shard rarely flushes.
      if (u().out.queued() >= kStreamChunk && !co_await u().out.flush(socket_)) note_write_failed();
      if (!merge.wants_rows()) {
        // The limit is reached (or an error ended the read): the rest is read and dropped.
        for (auto& shard : shards)
          while (shard.has_row) co_await read_scatter_shard(shard, merge);
        break;
      }
      co_await read_scatter_shard(*next, merge);
    }
    for (auto& shard : shards)
      if (shard.finished && !client_gone_)
        metrics::record_query(worker_.index, shard.alias, d.router, "read", std::chrono::steady_clock::now() - started,
                              shard.rows);
  }
  cancel_slot_.clear();
  if (!merge.injected_error().empty())
    PGR_LOG(warn) << describe()
                  << ": setting session parameters for a read across shards failed: " << merge.injected_error();
  merge.finish(ready_for_query);
  if (merge.failed() && !ready_for_query) skip_until_sync_ = true;  // the rest of the unit is skipped

  // Connections go back only if they answered everything and are idle; otherwise their state is unknown.
  for (auto& shard : shards) {
    if (shard.broken)
      shard.pool->discard(std::move(shard.conn), CloseReason::server_error);
    else if (!shard.finished)
      shard.pool->discard(std::move(shard.conn), CloseReason::client_gone);
    else if (shard.conn->tx_status != tx::kIdle)
      shard.pool->discard(std::move(shard.conn), CloseReason::server_error);
    else
      shard.pool->release(std::move(shard.conn));
  }
  if (!simple) {
    // A Close of a named statement in the unit: the client forgets it (the servers keep it for others).
    wire::for_each_frame(bytes, max_message_, [&](const wire::Frame& f) {
      wire::TargetMsg t;
      if (f.type == fe::kClose && wire::parse_describe_or_close(f.body, t) && t.kind == fe::kTargetStatement &&
          !t.name.empty())
        prepared().named.forget(t.name);
      return true;
    });
  }
  if (!unit.statement.empty() && !client_gone_)
    metrics::record_statement(worker_.index, std::hash<std::string_view>{}(unit.statement), unit.statement,
                              std::chrono::steady_clock::now() - started, merge.rows());
  set_state(SessionState::idle);
  if (shutting_down_ && !client_gone_) {
    note_end(ClientCloseReason::shutdown, "pgroute is shutting down");
    co_await send_fatal(wire::sqlstate::admin_shutdown, "pgroute is shutting down");
    client_gone_ = true;
    end_session(ClientCloseReason::shutdown);
  }
}

}  // namespace pgroute
