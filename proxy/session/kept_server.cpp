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
#include "proxy/session/literal_normalizer.hpp"
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
// so a client that ran LOAD keeps its connection to the end. Every name and operator is qualified: the
// query runs with the client's search_path, where an operator of its own must not decide the answer.
constexpr std::string_view kKeepProbe =
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_listening_channels())"
    " OR EXISTS (SELECT FROM pg_catalog.pg_locks WHERE pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()"
    " AND locktype OPERATOR(pg_catalog.=) 'advisory')"
    " OR EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema())"
    " OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema())"
    " OR EXISTS (SELECT FROM pg_catalog.pg_cursors WHERE is_holdable)"
    " OR EXISTS (SELECT FROM pg_catalog.pg_prepared_statements WHERE from_sql)"
    // the login role (pg_stat_activity keeps it across SET SESSION AUTHORIZATION); none found: kept
    " OR NOT COALESCE((SELECT usename OPERATOR(pg_catalog.=) CURRENT_USER AND usename OPERATOR(pg_catalog.=) SESSION_USER"
    " FROM pg_catalog.pg_stat_activity WHERE pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()), false)";

}  // namespace

void ClientSession::note_session_state(std::string_view sql, bool followed, const router::SessionWords& words) {
  if (session_mode_ || !server_) return;
  const bool kept = server_kept_for_ != router::SessionStateKind::none;
  // Already kept: a statement that may end the state has it checked again once the server is idle.
  const bool recheck = kept && server_kept_for_ != router::SessionStateKind::load && words.ends;
  if (!words.leaves) {
    recheck_keep_ = recheck_keep_ || recheck;
    return;
  }
  // The words are common ("payload", "threshold", a "role" column): the raw text would be parsed and
  // cached once per distinct constant. Its normalized form (constants as $n, one cache entry) has at
  // least the state the raw text has, so when that parses and has none, the raw text is not parsed.
  if (u().normalized_current || normalize_literals(sql, u().normalized)) {
    const auto shape = analyze(u().normalized.text);
    if (shape->kind != router::StatementKind::Unparsed && shape->session_state == router::SessionStateKind::none &&
        !shape->sets_config) {
      recheck_keep_ = recheck_keep_ || recheck;
      return;
    }
  }
  const auto analysis = analyze(sql);
  // set_config() of a parameter for the session that is not followed (client_settings.cpp): reset
  // before another client comes, kept or not (a keep can end without DISCARD ALL).
  if (analysis->sets_config && !followed) dirty_session_state_ = true;
  const router::SessionStateKind state = analysis->session_state;
  if (kept) {
    if (server_kept_for_ == router::SessionStateKind::load) return;
    if (state == router::SessionStateKind::load) {  // nothing undoes it: kept to the end
      server_kept_for_ = router::SessionStateKind::load;
      recheck_keep_ = false;
    } else if (words.ends) {
      recheck_keep_ = true;
    }
    return;
  }
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
bool ClientSession::queue_keep_probe() {
  if (!keep_probe_due()) return false;
  recheck_keep_ = false;
  keep_probe_found_ = true;  // until the answer says otherwise
  wire::put_query(u().server_out, kKeepProbe);
  push({.kind = Expect::InjectedQuery, .keep_probe = true});
  return true;
}

bool ClientSession::send_keep_probe_if_due() {
  if (!queue_keep_probe()) return true;
  // A few hundred bytes to a connection whose every answer has been read: its send buffer is empty and
  // takes them at once. If it does not, the connection is in no state to serve (and a write left
  // pending here would race the client's next one).
  const ServerSend sent = send_to_server_now();
  if (sent == ServerSend::sent) return true;
  if (sent == ServerSend::must_wait) server_write_done(false);
  server_lost("the check for session state could not be written to the server");
  return false;
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
  } else if (f.type != be::kReadyForQuery || keep_probe_found_ || server_kept_for_ == router::SessionStateKind::load) {
    return;
  } else if (!u().replies.expect.empty()) {
    // A message of the client's came meanwhile and runs after the probe: it may make state again (a new
    // lock, LISTEN). Asked again once it is over.
    recheck_keep_ = true;
  } else {
    PGR_LOG(info) << describe() << ": no session state is left on " << server_->endpoint().describe()
                  << ": its server connection goes back to the pool";
    server_kept_for_ = router::SessionStateKind::none;
    rt().clients_keeping_server.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace pgroute
