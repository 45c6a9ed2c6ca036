// A client that left state in its server session which outlives the transaction (LISTEN, a session
// advisory lock, a temporary table, a cursor WITH HOLD, a statement made by SQL PREPARE, a role it set, LOAD) keeps that server connection under
// transaction pooling. It gives it back once the state is gone: after a statement that may have ended
// it (UNLISTEN, an unlock, DROP, DEALLOCATE ...), and after the one that made it (a pg_try_advisory_lock that got
// nothing, a LISTEN rolled back), the proxy asks the server, outside any transaction, whether anything
// is left. Without that, clients that take and release session locks would each hold a server
// connection until they disconnect, and the pool would run dry.
#include <optional>
#include <string_view>
#include <vector>

#include "proxy/base/log.hpp"
#include "proxy/pool/runtime.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/message_type.hpp"
#include "router/statement.hpp"

namespace pgroute {

namespace be = wire::backend;
namespace tx = wire::tx_status;

namespace {

// One row, one boolean: true while anything is left that another client must not inherit. Only
// session-level advisory locks remain outside a transaction; nothing tells whether a library was LOADed,
// so a client that ran LOAD keeps its connection to the end.
constexpr std::string_view kKeepProbe =
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_listening_channels())"
    " OR EXISTS (SELECT FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid() AND locktype = 'advisory')"
    " OR EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())"
    " OR EXISTS (SELECT FROM pg_catalog.pg_cursors WHERE is_holdable)"
    " OR EXISTS (SELECT FROM pg_catalog.pg_prepared_statements WHERE from_sql)"
    // the login role (pg_stat_activity keeps it across SET SESSION AUTHORIZATION); none found: kept
    " OR current_user IS DISTINCT FROM (SELECT usename FROM pg_catalog.pg_stat_activity"
    " WHERE pid = pg_catalog.pg_backend_pid())";

}  // namespace

void ClientSession::note_session_state(std::string_view sql) {
  if (session_mode_ || !server_ || server_kept_for_ == router::SessionStateKind::load) return;
  if (server_kept_for_ != router::SessionStateKind::none) {
    // Already kept: LOAD makes it for good; a statement that may end the state has it checked again.
    if (router::may_leave_session_state(sql) && analyze(sql)->session_state == router::SessionStateKind::load) {
      server_kept_for_ = router::SessionStateKind::load;
      recheck_keep_ = false;
    } else if (router::may_end_session_state(sql)) {
      recheck_keep_ = true;
    }
    return;
  }
  if (!router::may_leave_session_state(sql)) return;
  const auto analysis = analyze(sql);
  // set_config() of a parameter for the session that is not followed (client_settings.cpp): reset
  // before another client comes.
  if (analysis->sets_config && !(analysis->session_setting && analysis->session_setting->value_from_result))
    dirty_session_state_ = true;
  const router::SessionStateKind state = analysis->session_state;
  if (state == router::SessionStateKind::none) return;
  server_kept_for_ = state;
  // Checked once the statement's transaction is over: it may have left nothing after all.
  recheck_keep_ = state != router::SessionStateKind::load;
  rt().clients_keeping_server.fetch_add(1, std::memory_order_relaxed);
  PGR_LOG(info) << describe() << ": keeps its server connection (" << server_->endpoint().describe()
                << "): " << router::session_state_name(state)
                << " lasts beyond the transaction, and another client must not inherit it";
}

bool ClientSession::keep_probe_due() const {
  return recheck_keep_ && server_ && server_kept_for_ != router::SessionStateKind::none && !session_mode_ &&
         !attaching_ && !unit_open_ && !writing_to_server_ && u().replies.expect.empty() &&
         server_->tx_status == tx::kIdle && !client_gone_ && !client_input_ended_ && !shutting_down_;
}

// Called by the pump when the server has answered everything: the probe goes alone, outside any
// transaction, so it can neither see nor disturb one of the client's. A message the client sends
// meanwhile queues behind it on the same connection.
void ClientSession::send_keep_probe_if_due() {
  if (!keep_probe_due()) return;
  recheck_keep_ = false;
  keep_probe_found_ = true;  // until the answer says otherwise
  wire::put_query(u().server_out, kKeepProbe);
  push({.kind = Expect::InjectedQuery, .keep_probe = true});
  // A few dozen bytes to an idle connection: the socket takes them at once. Should it not, the rest is
  // written as the client side does; an error surfaces in the pump's read.
  if (send_to_server_now() == ServerSend::must_wait)
    asio::co_spawn(
        worker_.ctx, [self = shared_from_this()]() -> awaitable<void> { co_await self->flush_to_server(); },
        asio::detached);
}

void ClientSession::on_keep_probe_reply(const wire::Frame& f) {
  if (f.type == be::kDataRow) {
    std::vector<std::optional<std::string_view>> columns;
    keep_probe_found_ = !(wire::parse_data_row(f.body, columns) && columns.size() == 1 && columns[0] == "f");
  } else if (f.type == be::kErrorResponse) {
    wire::ErrorFields e;
    wire::parse_error_fields(f.body, e);
    keep_probe_found_ = true;
    PGR_LOG(warn) << describe() << ": checking for session state on " << server_->endpoint().describe()
                  << " failed, the connection stays with the client: " << e.message;
  } else if (f.type == be::kReadyForQuery && !keep_probe_found_ && server_kept_for_ != router::SessionStateKind::load) {
    PGR_LOG(info) << describe() << ": no session state is left on " << server_->endpoint().describe()
                  << ": its server connection goes back to the pool";
    server_kept_for_ = router::SessionStateKind::none;
    rt().clients_keeping_server.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace pgroute
