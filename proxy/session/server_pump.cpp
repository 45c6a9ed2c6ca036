// The server side of a session: forwards responses, keeps prepared-statement and parameter state true,
// and decides when the borrowed connection goes back to its pool.
#include <array>
#include <functional>
#include <vector>

#include "proxy/base/log.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/metrics/query_stats.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

namespace be = wire::backend;
namespace tx = wire::tx_status;

namespace {

// Reported parameters a client may change with SET; the proxy carries them to its next server connection.
bool is_client_settable(std::string_view name) {
  static constexpr std::array<std::string_view, 6> names = {
      "application_name", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone", "standard_conforming_strings"};
  for (auto n : names)
    if (n == name) return true;
  return false;
}

}  // namespace

bool ClientSession::may_detach() const {
  return server_ && !attaching_ && u().replies.expect.empty() && !unit_open_ && !writing_to_server_ &&
         server_->tx_status == tx::kIdle &&
         ((!session_mode_ && server_kept_for_ == router::SessionStateKind::none) || shutting_down_);
}

// Returns false if the server sent something that makes the connection unusable.
bool ClientSession::process_server_frame(const wire::Frame& f) {
  if (f.type == be::kDataRow) {
    // Rows are most of what a server sends. One answering the client's own statement ends nothing and
    // is forwarded as it is; those of the proxy's queries, a probe's or a set_config()'s go the long way.
    emit_ready_synthetic();
    const ResponseQueue& expect = u().replies.expect;
    if (!expect.empty()) {
      const Pending& head = expect.front();
      if (head.kind != Expect::InjectedQuery && head.kind != Expect::InjectedClose && !head.setting &&
          !head.lsn_probe && !head.keep_probe) {
        u().out.buffer().append(f.bytes());
        return true;
      }
    }
  }
  ServerConnection& conn = *server_;
  std::string& out = u().out.buffer();
  bool injected_head = !u().replies.expect.empty() && u().replies.expect.front().kind == Expect::InjectedQuery;
  switch (f.type) {
    case be::kNotificationResponse:  // asynchronous, and for this client's LISTEN even behind the proxy's query
      out.append(f.bytes());
      return true;
    case be::kNoticeResponse:  // asynchronous: straight through, unless the proxy's own query caused it
      if (!injected_head) out.append(f.bytes());
      return true;
    case be::kParameterStatus: {
      std::string_view name, value;
      if (!wire::parse_parameter_status(f.body, name, value)) return false;
      conn.reported[std::string(name)] = std::string(value);
      if (injected_head) return true;  // the client already believes these values
      if (is_client_settable(name)) {
        // The client set it (SET, or a function that did): it is now one of the values it asks for.
        if (auto changed = who_->with_param(name, value)) who_ = worker_.identities.intern(std::move(*changed));
        conn.applied.set(std::string(name), std::string(value));
      }
      if (client_view_changes(name, value)) out.append(f.bytes());
      return true;
    }
    default: break;
  }
  emit_ready_synthetic();
  std::vector<uint64_t> failed_parses;  // filled only after an error in an extended-protocol unit
  const ServerReplies::Outcome reply = u().replies.on_reply(f.type, conn.prepared, failed_parses);
  if (!reply.expected) {
    // Nothing was asked: a server closing the session says so with an ErrorResponse (FATAL).
    out.append(f.bytes());
    return f.type != be::kErrorResponse;
  }
  const Pending& head = reply.head;
  if (f.type == be::kDataRow && head.setting) note_setting_row(head.setting, f);  // SELECT set_config(...)
  if (f.type == be::kErrorResponse && head.column_order) note_column_order_error(f);
  const bool swallow = !reply.forward;
  if (f.type == be::kErrorResponse && !swallow) u().error_in_unit = true;  // its implicit transaction failed
  if (head.lsn_probe) {
    on_commit_probe_reply(f);
  } else if (head.keep_probe) {
    on_keep_probe_reply(f);
  } else if (head.kind == Expect::InjectedQuery && f.type == be::kErrorResponse) {
    wire::ErrorFields e;
    wire::parse_error_fields(f.body, e);
    PGR_LOG(warn) << describe() << ": setting session parameters on " << conn.endpoint().describe()
                  << " failed: " << e.message;
  }
  if (!swallow) {
    // The commit's ReadyForQuery waits for the commit probe behind it: once the client has it, it may
    // read from anywhere, and the floor must be raised by then.
    std::string& to = commit_probe_next() ? causal_->held_ready : out;
    // A BEGIN the proxy answered is still pending (this unit only prepared): the client is in a transaction.
    if (f.type == be::kReadyForQuery && u().pending_begin)
      wire::put_ready_for_query(to, tx::kInTransaction);
    else
      to.append(f.bytes());
  }
  if (f.type == be::kCopyInResponse) {
    copy_in_ = true;  // the client's next messages are the COPY's data
    // Syncs the client sent after the COPY's Execute (or Query) and before this answer reach the server
    // during the COPY, which ignores them: none will be answered.
    u().replies.expect.drop_after_front(Expect::Sync);
    if (idle_signal_) idle_signal_->cancel();  // a message waiting for this server to go quiet is the COPY's
  } else if (copy_in_ && (f.type == be::kCommandComplete || f.type == be::kErrorResponse)) {
    copy_in_ = false;  // done, or failed (then the server drops the rest of the data)
  }
  if (f.type == be::kReadyForQuery) {
    char status = tx::kIdle;
    wire::parse_ready_for_query(f.body, status);
    conn.tx_status = status;
    if (!swallow) note_setting_ready(status, conn);
    if (status == tx::kIdle && !swallow && shard_key_for_transaction_) {
      shard_key_.reset();  // SET pgroute.shard_key inside a transaction lasts until it ends
      shard_key_for_transaction_ = false;
    }
  } else if (f.type == be::kCommandComplete && !swallow) {
    std::string_view tag;
    wire::parse_command_tag(f.body, tag);
    // Statements the client parsed after sending this (pipelined) were not touched by it.
    const uint64_t parsed_before =
        head.kind == Expect::Query || head.kind == Expect::Execute ? head.parse_number : parses();
    if (tag == "DISCARD ALL" || tag == "DEALLOCATE ALL") {
      conn.prepared.clear();
      if (prepared_) prepared_->named.forget_parsed_up_to(parsed_before);
      // DISCARD ALL runs outside any transaction block: done once it completes.
      if (tag == "DISCARD ALL") reset_all_settings(conn);
      conn.applied.clear();
    } else if (tag == "DEALLOCATE" && head.kind == Expect::Query && head.statement) {
      conn.prepared.remove(head.statement);  // a client's SQL DEALLOCATE, sent with the server's name
    } else if (tag == "SET" || tag == "RESET" || tag == "DISCARD" || tag == "COMMIT" || tag == "ROLLBACK" ||
               tag == "PREPARE TRANSACTION" || head.setting) {
      note_setting_tag(head, tag, conn);
    }
    u().unit_rows += metrics::rows_from_command_tag(tag);
  }
  if (!reply.completed) return true;
  if (head.setting) finish_setting(head.setting);
  if (f.type == be::kReadyForQuery && head.queued != std::chrono::steady_clock::time_point{}) {
    // One client-visible unit is over: per-worker statistics, no lock (proxy/metrics/query_stats.hpp).
    // kind: the statement kind when the router analysed it, else the protocol unit (routing off).
    UnitState& unit = u();
    std::string_view kind = !unit.unit_kind.empty()      ? unit.unit_kind
                            : head.kind == Expect::Query ? std::string_view("simple")
                            : head.kind == Expect::Sync  ? std::string_view("extended")
                                                         : std::string_view("function");
    const auto latency = std::chrono::steady_clock::now() - head.queued;
    metrics::record_query(worker_.index, conn.endpoint().alias, unit.unit_router.empty() ? "none" : unit.unit_router,
                          kind, latency, unit.unit_rows);
    if (!unit.unit_statement.empty()) {
      metrics::record_statement(worker_.index, std::hash<std::string_view>{}(unit.unit_statement), unit.unit_statement,
                                latency, unit.unit_rows);
      unit.unit_statement.clear();
    }
    unit.unit_rows = 0;
    unit.unit_router.clear();
    unit.unit_kind = {};
  }
  // A client Parse the server rejected or skipped made no statement (PostgreSQL accepts a later Parse of
  // that name).
  if (!failed_parses.empty()) prepared().named.forget_parses(failed_parses);
  emit_ready_synthetic();
  if (u().replies.expect.empty() && idle_signal_)
    idle_signal_->cancel();  // a client waiting for this connection to go quiet
  return true;
}

awaitable<void> ClientSession::finish_detach(std::unique_ptr<ServerConnection> unreleased) {
  if (unreleased) co_await release_server(std::move(unreleased));
  bool ok = co_await u().out.flush(socket_);
  if (!ok) {
    note_end(ClientCloseReason::client_lost, "writing to the client failed");
  } else if (shutting_down_ && !client_input_ended_) {
    note_end(ClientCloseReason::shutdown, "pgroute is shutting down");
    co_await send_fatal(wire::sqlstate::admin_shutdown, "pgroute is shutting down");
  }
  // An ended input was noted where it ended.
  if (shutting_down_ || !ok || client_input_ended_) end_session(ClientCloseReason::unknown);
}

// Handles every whole message the server sent so far; false when the connection is lost (server_lost()
// has run: the client's 08006 is queued).
bool ClientSession::handle_server_frames() {
  ServerConnection& conn = *server_;
  for (;;) {
    wire::Frame f;
    size_t need = 0;
    std::string error;
    wire::Decode d = wire::next_frame(conn.rbuf.view(), max_message_, f, need, &error);
    if (d == wire::Decode::NeedMore) return true;
    if (d == wire::Decode::Invalid) {
      server_lost("invalid message from server: " + error, CloseReason::protocol_error);
      return false;
    }
    if (!process_server_frame(f)) {
      server_lost("the server ended the session");
      return false;
    }
    conn.rbuf.consume(f.wire_size());
  }
}

void ClientSession::start_pump() {
  if (server_->rbuf.empty()) {
    pump_read();
    return;
  }
  // Bytes already read (never on a fresh checkout): handled after the caller is done with the connection.
  asio::post(worker_.ctx, [self = shared_from_this()] {
    if (self->server_ && self->pump_running_) self->pump_step();
  });
}

// What server_pump() does, as far as it goes without waiting; runs when a read completes.
void ClientSession::pump_step() {
  for (;;) {
    if (!handle_server_frames()) {
      pump_wait(PumpWait::server_lost);
      return;
    }
    if (!send_keep_probe_if_due()) {
      pump_wait(PumpWait::server_lost);
      return;
    }
    if (may_detach()) {
      auto done = std::move(server_);
      if (state_ == SessionState::attached) set_state(SessionState::idle);
      pump_running_ = false;
      if (idle_signal_) idle_signal_->cancel();
      if (!release_now(done) || shutting_down_ || client_input_ended_) {
        pump_wait(PumpWait::detach, std::move(done));
        return;
      }
      switch (u().out.flush_now(socket_)) {
        case Outbox::FlushNow::done: return;
        case Outbox::FlushNow::must_wait: pump_wait(PumpWait::detach); return;
        case Outbox::FlushNow::failed:
          note_end(ClientCloseReason::client_lost, "writing to the client failed");
          end_session(ClientCloseReason::unknown);
          return;
      }
    }
    if (u().out.queued() > 0) {  // plaintext queued, or TLS records a partial write left
      Outbox::FlushNow flushed = u().out.flush_now(socket_);
      if (flushed == Outbox::FlushNow::must_wait) {
        pump_wait(PumpWait::pump);
        return;
      }
      if (flushed == Outbox::FlushNow::failed) note_write_failed();
    }
    if (client_gone_ || (client_input_ended_ && u().replies.expect.empty())) {
      pump_wait(PumpWait::client_exit);
      return;
    }
    if (may_detach()) continue;  // the client loop finished writing meanwhile
    pump_read();
    return;
  }
}

// One read per response, started at once: no separate wait for readability before it.
void ClientSession::pump_read() {
  server_->socket().async_read_some(
      server_->read_space(),
      [self = shared_from_this()](boost::system::error_code ec, size_t n) { self->on_server_read(ec, n); });
}

void ClientSession::on_server_read(boost::system::error_code ec, size_t n) {
  // A completion handler runs outside any coroutine: nothing may escape it into the worker's loop.
  try {
    if (ec == asio::error::operation_aborted) {  // the client loop wants us to look again
      pump_step();
      return;
    }
    if (ec || n == 0) {
      server_lost(ec ? ec.message() : "the server closed the connection");
      pump_wait(PumpWait::server_lost);
      return;
    }
    if (std::string error; !server_->absorb(n, error)) {
      server_lost("TLS: " + error);
      pump_wait(PumpWait::server_lost);
      return;
    }
    pump_step();
  } catch (const std::exception& e) {
    if (server_) pool_->discard(std::move(server_), CloseReason::server_error);
    pump_running_ = false;
    if (idle_signal_) idle_signal_->cancel();  // a client message waiting for this server to go quiet
    end_session(ClientCloseReason::unknown, std::string("internal error in the server pump: ") + e.what());
  }
}

void ClientSession::pump_wait(PumpWait what, std::unique_ptr<ServerConnection> unreleased) {
  asio::co_spawn(worker_.ctx, pump_waiting(shared_from_this(), what, std::move(unreleased)), asio::detached);
}

awaitable<void> ClientSession::pump_waiting([[maybe_unused]] std::shared_ptr<ClientSession> self, PumpWait what,
                                            std::unique_ptr<ServerConnection> unreleased) {
  switch (what) {
    case PumpWait::pump: co_await server_pump(self); break;
    case PumpWait::detach: co_await finish_detach(std::move(unreleased)); break;
    case PumpWait::client_exit: co_await finish_server_on_client_exit(); break;
    case PumpWait::server_lost:
      co_await u().out.flush(socket_);
      end_session(ClientCloseReason::unknown);  // server_lost() noted why
      break;
  }
}

// The pump where it must wait: it goes on as pump_step() would, with co_await where that one stops.
awaitable<void> ClientSession::server_pump([[maybe_unused]] std::shared_ptr<ClientSession> self) {
  ServerConnection* conn = server_.get();
  for (;;) {
    if (!handle_server_frames()) {
      co_await u().out.flush(socket_);
      end_session(ClientCloseReason::unknown);  // server_lost() noted why
      co_return;
    }
    if (!send_keep_probe_if_due()) {
      co_await u().out.flush(socket_);
      end_session(ClientCloseReason::unknown);  // server_lost() noted why
      co_return;
    }
    if (may_detach()) {
      // Return the connection before writing to the client: the server is idle, another client may use it.
      auto done = std::move(server_);
      if (state_ == SessionState::attached) set_state(SessionState::idle);
      pump_running_ = false;
      if (idle_signal_) idle_signal_->cancel();
      release_now(done);
      co_await finish_detach(std::move(done));
      co_return;
    }
    if (u().out.queued() > 0 && !co_await u().out.flush(socket_)) note_write_failed();
    // A client whose input ended has had every answer: the session ends as on its exit.
    if (client_gone_ || (client_input_ended_ && u().replies.expect.empty())) {
      co_await finish_server_on_client_exit();
      co_return;
    }
    if (may_detach()) continue;  // the client loop finished writing while we flushed
    // One read per response, started at once: no separate wait for readability before it.
    auto [ec, n] = co_await conn->socket().async_read_some(conn->read_space(), use_nothrow);
    if (ec == asio::error::operation_aborted) continue;  // the client loop wants us to look again
    if (ec || n == 0) {
      server_lost(ec ? ec.message() : "the server closed the connection");
      co_await u().out.flush(socket_);
      end_session(ClientCloseReason::unknown);  // server_lost() noted why
      co_return;
    }
    if (std::string error; !conn->absorb(n, error)) {
      server_lost("TLS: " + error);
      co_await u().out.flush(socket_);
      end_session(ClientCloseReason::unknown);  // server_lost() noted why
      co_return;
    }
  }
}

// The server went away under a client. Nothing may be replayed; the client learns which alias failed.
void ClientSession::server_lost(const std::string& why, CloseReason reason) {
  auto conn = std::move(server_);
  if (state_ == SessionState::attached) set_state(SessionState::idle);
  pump_running_ = false;
  copy_in_ = false;
  if (idle_signal_) idle_signal_->cancel();
  cancel_slot_.clear();
  std::string where = conn->endpoint().describe();
  if (std::exchange(server_close_expected_, false)) {
    // The client ended its input mid-COPY or mid-unit: the server said why it ends, as it does to a direct client.
    PGR_LOG(info) << describe() << ": the server connection to " << where << " ended with the client's input: " << why;
    pool_->discard(std::move(conn), CloseReason::client_gone);
    u().replies.clear();
    u().unit_statement.clear();
    return;
  }
  note_end(ClientCloseReason::server_lost, "lost the server connection to " + where + ": " + why);
  send_error(wire::sqlstate::connection_failure,
             "pgroute: lost the server connection to " + where + " while serving this client: " + why, "FATAL");
  pool_->discard(std::move(conn), reason);
  u().replies.clear();
  u().unit_statement.clear();
}

bool ClientSession::release_now(std::unique_ptr<ServerConnection>& conn) {
  // Forgotten as the cancel target, unless the client attached another connection while
  // release_server() waited: that one's target stays.
  const bool cancel_on_its_way = cancel_slot_.detach(conn->endpoint().host, conn->endpoint().port, conn->backend_pid);
  if (dirty_session_state_ || session_mode_ || server_kept_for_ != router::SessionStateKind::none) return false;
  if (cancel_on_its_way) return false;  // release_server() waits for the cancel first
  pool_->release(std::move(conn));
  return true;
}

// Gives a connection back, first undoing what the client left on it that the proxy cannot track.
awaitable<void> ClientSession::release_server(std::unique_ptr<ServerConnection> conn) {
  if (release_now(conn)) co_return;
  // A cancel of this client's statement is still on its way to the server (bounded by its 5 s timer).
  for (asio::steady_timer wait(worker_.ctx); cancel_slot_.forwarding();) {
    wait.expires_after(std::chrono::milliseconds(1));
    co_await wait.async_wait(use_nothrow);
  }
  if (release_now(conn)) co_return;
  auto pool = pool_;
  // Kept for state it left (LISTEN, a lock, a temporary table ...): all of it goes, whatever reset_query says.
  const bool kept = server_kept_for_ != router::SessionStateKind::none;
  // RESET ALL leaves a role set by SET ROLE or set_config() in place; SET SESSION AUTHORIZATION DEFAULT
  // ends it (and any SET SESSION AUTHORIZATION) for whatever the analysis did not see.
  std::string sql = kept            ? std::string("DISCARD ALL")
                    : session_mode_ ? snap_->config->pool.reset_query
                                    : std::string("SET SESSION AUTHORIZATION DEFAULT; RESET ALL");
  dirty_session_state_ = false;
  auto err = co_await run_internal_query(*conn, sql);
  if (err) {
    PGR_LOG(warn) << describe() << ": reset (" << sql << ") failed on " << conn->endpoint().describe() << ": "
                  << err->message;
    pool->discard(std::move(conn), CloseReason::server_error);
    co_return;
  }
  conn->applied.clear();
  if (session_mode_ || kept) conn->prepared.clear();
  pool->release(std::move(conn));
}

awaitable<void> ClientSession::finish_server_on_client_exit() {
  auto conn = std::move(server_);
  pump_running_ = false;
  copy_in_ = false;
  server_close_expected_ = false;
  if (idle_signal_) idle_signal_->cancel();  // a client message waiting for this server to go quiet
  cancel_slot_.clear();
  end_session(ClientCloseReason::unknown);  // noted where the client went (client_gone_) or its input ended
  switch (exit_cleanup(*conn)) {
    case ExitCleanup::release: break;
    case ExitCleanup::roll_back: {
      auto err = co_await run_internal_query(*conn, "ROLLBACK");
      if (err || conn->tx_status != tx::kIdle) {
        pool_->discard(std::move(conn), CloseReason::client_gone);
        co_return;
      }
      break;
    }
    case ExitCleanup::discard: pool_->discard(std::move(conn), CloseReason::client_gone); co_return;
  }
  co_await release_server(std::move(conn));
}

ClientSession::ExitCleanup ClientSession::exit_cleanup(const ServerConnection& conn) const {
  // A query is running or a unit is half sent: the connection's state is unknown. Close it.
  if (!u().replies.expect.empty() || unit_open_ || writing_to_server_) return ExitCleanup::discard;
  // Left inside a transaction: roll it back so the connection is clean for the next client.
  return conn.tx_status != tx::kIdle ? ExitCleanup::roll_back : ExitCleanup::release;
}

awaitable<std::optional<ClientSession::QueryError>> ClientSession::run_internal_query(
    ServerConnection& conn, std::string_view sql, std::optional<std::string>* first_value) {
  std::string msg;
  wire::put_query(msg, sql);
  std::string error;
  if (!co_await conn.send_all(msg, error))
    co_return QueryError{std::string(wire::sqlstate::connection_failure), "write failed: " + error, true};
  std::optional<QueryError> result;
  std::vector<std::optional<std::string_view>> columns;
  for (;;) {
    wire::Frame f;
    ReadStatus st = co_await conn.receive_frame(max_message_, f, error);
    if (st != ReadStatus::ok)
      co_return QueryError{std::string(wire::sqlstate::connection_failure), "server connection lost: " + error, true};
    if (f.type == be::kErrorResponse && !result) {
      wire::ErrorFields e;
      wire::parse_error_fields(f.body, e);
      result = QueryError{std::string(e.sqlstate), std::string(e.message)};
    } else if (f.type == be::kDataRow && first_value && !*first_value && wire::parse_data_row(f.body, columns) &&
               !columns.empty() && columns[0]) {
      *first_value = std::string(*columns[0]);
    } else if (f.type == be::kParameterStatus) {
      std::string_view name, value;
      if (wire::parse_parameter_status(f.body, name, value)) conn.reported[std::string(name)] = std::string(value);
    } else if (f.type == be::kReadyForQuery) {
      wire::parse_ready_for_query(f.body, conn.tx_status);
      conn.rbuf.consume(f.wire_size());
      co_return result;
    }
    conn.rbuf.consume(f.wire_size());
  }
}

}  // namespace pgroute
