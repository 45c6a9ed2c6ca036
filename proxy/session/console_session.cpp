// The admin console: a client logged in to the virtual database "pgroute" talks to the proxy itself.
// Simple Query protocol only; every answer is an ordinary result set, so psql and any driver can use it.
#include <signal.h>
#include <unistd.h>

#include "proxy/admin/command.hpp"
#include "proxy/admin/table.hpp"
#include "proxy/base/log.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/session/admin_control.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frontend.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

namespace fe = wire::frontend;
namespace be = wire::backend;
namespace tx = wire::tx_status;

namespace {
constexpr uint32_t kMaxAdminMessage = 1u << 20;

awaitable<std::vector<admin::ClientInfo>> collect_clients(admin::Control* control, Worker& self) {
  std::vector<Worker*> workers = control ? control->workers : std::vector<Worker*>{&self};
  std::vector<admin::ClientInfo> all;
  for (Worker* w : workers) {
    // Sessions are touched only on their own worker thread: ask each worker for its list there.
    auto part = co_await asio::co_spawn(
        w->ctx,
        [w]() -> awaitable<std::vector<admin::ClientInfo>> {
          std::vector<admin::ClientInfo> out;
          w->sessions.for_each([&](ClientSession& s) { out.push_back(s.info()); });
          co_return out;
        },
        asio::use_awaitable);
    all.insert(all.end(), part.begin(), part.end());
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.id < b.id; });
  co_return all;
}
}  // namespace

admin::ClientInfo ClientSession::info() const {
  admin::ClientInfo i;
  i.id = id_;
  i.worker = worker_.index;
  i.user = who_->user;
  i.database = who_->database;
  i.alias = who_->alias;
  i.application_name = who_->application_name;
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) i.address = ep.address().to_string() + ":" + std::to_string(ep.port());
  i.state = admin_ ? "admin" : std::string(session_state_name(state_));
  if (tls_) i.tls = std::string(tls_->version()) + " " + std::string(tls_->cipher());
  return i;
}

awaitable<void> ClientSession::run_admin_console() {
  const config::Config& cfg = *snap_->config;
  if (!cfg.is_admin(who_->user)) {
    note_end(ClientCloseReason::startup_refused, "user \"" + who_->user + "\" is not an admin user");
    co_await send_fatal(wire::sqlstate::insufficient_privilege,
                        "pgroute: user \"" + who_->user + "\" may not use the admin console",
                        "list the user under admin.users in the configuration");
    co_return;
  }
  admin_ = true;
  set_state(SessionState::idle);
  PGR_LOG(info) << "client " << id_ << ": admin console opened by \"" << who_->user << "\"";
  std::string& out = u().out.buffer();
  // What psql and drivers expect to be told after login.
  for (auto [name, value] : {std::pair<const char*, const char*>{"server_version", "15.0 (pgroute admin)"},
                             {"server_encoding", "UTF8"},
                             {"client_encoding", "UTF8"},
                             {"DateStyle", "ISO, MDY"},
                             {"integer_datetimes", "on"},
                             {"standard_conforming_strings", "on"},
                             {"application_name", who_->application_name.c_str()}})
    wire::put_parameter_status(out, name, value);
  wire::put_ready_for_query(out, tx::kIdle);
  bool skip_until_sync = false;
  for (;;) {
    if (!co_await u().out.flush(socket_)) {
      note_end(ClientCloseReason::client_lost, "writing to the client failed");
      co_return;
    }
    wire::Frame f;
    std::string error;
    ReadStatus st = co_await read_client_frame(kMaxAdminMessage, f, error);
    if (st == ReadStatus::invalid) {
      note_end(wire::frame_too_large(u().in.view(), kMaxAdminMessage) ? ClientCloseReason::message_too_large
                                                                      : ClientCloseReason::protocol_violation,
               error);
      co_await send_fatal(wire::sqlstate::protocol_violation, "pgroute admin: " + error);
      co_return;
    }
    if (st == ReadStatus::closed) {
      note_input_closed(error);
      co_return;
    }
    if (f.type == fe::kTerminate) {
      note_end(ClientCloseReason::client_closed, "Terminate");
      co_return;
    }
    std::string sql;
    if (f.type == fe::kQuery) sql.assign(f.body.data(), f.body.empty() ? 0 : f.body.size() - 1);
    char type = f.type;
    u().in.consume(f.wire_size());
    if (type == fe::kQuery) {
      bool keep_going = co_await run_admin_command(sql);
      wire::put_ready_for_query(out, tx::kIdle);
      if (!keep_going) {
        co_await u().out.flush(socket_);
        co_return;
      }
    } else if (type == fe::kSync) {
      skip_until_sync = false;
      wire::put_ready_for_query(out, tx::kIdle);
    } else if (type == fe::kFlush) {
      continue;
    } else if (!skip_until_sync) {
      skip_until_sync = type == fe::kParse || type == fe::kBind || type == fe::kDescribe || type == fe::kExecute ||
                        type == fe::kClose;
      wire::put_error(out, {.sqlstate = wire::sqlstate::feature_not_supported,
                            .message = "pgroute admin console: only the simple query protocol is supported",
                            .hint = "use psql, or your driver's simple-query mode"});
      if (!skip_until_sync) wire::put_ready_for_query(out, tx::kIdle);
    }
  }
}

// Answers one command into u().out; false when the session must end (SHUTDOWN).
awaitable<bool> ClientSession::run_admin_command(std::string_view sql) {
  std::string& out = u().out.buffer();
  std::string error;
  auto cmd = admin::parse_command(sql, error);
  if (!cmd) {
    // psql sends an empty query for ";" alone: answer as PostgreSQL does.
    if (error == "empty command") {
      wire::put_message(out, be::kEmptyQueryResponse, {});
      co_return true;
    }
    wire::put_error(out, {.sqlstate = wire::sqlstate::syntax_error,
                          .message = "pgroute admin: " + error,
                          .hint = std::string("commands: ") + std::string(admin::kCommandList)});
    co_return true;
  }
  PGR_LOG(info) << "admin \"" << who_->user << "\" (client " << id_ << "): " << sql.substr(0, 200);
  auto snap = rt().snapshot();
  const config::Config& cfg = *snap->config;
  auto known_alias = [&](const std::string& alias) {
    if (alias.empty() || cfg.backend(alias)) return true;
    wire::put_error(out, {.sqlstate = wire::sqlstate::undefined_object,
                          .message = "pgroute admin: unknown alias \"" + alias + "\"",
                          .hint = "SHOW BACKENDS lists the configured aliases"});
    return false;
  };
  auto set_paused = [&](const std::string& alias, bool pause) {
    auto apply = [&](const std::string& a) {
      auto gate = rt().pauses.gate(a);
      if (pause)
        gate->pause();
      else
        gate->resume();
      PGR_LOG(info) << "admin: alias \"" << a << "\" " << (pause ? "paused" : "resumed");
    };
    if (!alias.empty())
      apply(alias);
    else
      for (const auto& b : cfg.backends) apply(b.alias);
  };
  switch (cmd->verb) {
    case admin::Verb::Show: {
      const std::string& what = cmd->argument;
      admin::Table t;
      if (what == "POOLS")
        t = admin::show_pools(rt());
      else if (what == "SERVERS")
        t = admin::show_servers(rt());
      else if (what == "CLIENTS")
        t = admin::show_clients(co_await collect_clients(worker_.control, worker_));
      else if (what == "BACKENDS")
        t = admin::show_backends(rt(), cfg);
      else if (what == "ROUTES")
        t = admin::show_routes(cfg);
      else if (what == "REPLICAS")
        t = admin::show_replicas(rt(), cfg);
      else if (what == "CONFIG")
        t = admin::show_config(*snap);
      else if (what == "STATS")
        t = admin::show_stats(rt());
      else
        t = admin::show_statements();
      admin::put_table(out, t, "SHOW");
      break;
    }
    case admin::Verb::ExplainRoute:
      admin::put_table(out, admin::explain_route(*snap, who_->user, cmd->argument, &rt()), "EXPLAIN");
      break;
    case admin::Verb::Reload: {
      if (!worker_.control) {
        wire::put_error(out, {.sqlstate = wire::sqlstate::feature_not_supported,
                              .message = "pgroute admin: reload is not available"});
        break;
      }
      admin::Control* control = worker_.control;
      std::string problems = co_await asio::co_spawn(
          control->ctx, [control]() -> awaitable<std::string> { co_return control->reload(); }, asio::use_awaitable);
      if (problems.empty())
        wire::put_command_complete(out, "RELOAD");
      else
        wire::put_error(out, {.sqlstate = wire::sqlstate::config_file_error,
                              .message = "pgroute admin: reload rejected, the previous configuration stays",
                              .detail = problems});
      break;
    }
    case admin::Verb::Pause:
    case admin::Verb::Resume:
      if (!known_alias(cmd->argument)) break;
      set_paused(cmd->argument, cmd->verb == admin::Verb::Pause);
      wire::put_command_complete(out, cmd->verb == admin::Verb::Pause ? "PAUSE" : "RESUME");
      break;
    case admin::Verb::Shutdown:
      wire::put_command_complete(out, "SHUTDOWN");
      PGR_LOG(info) << "admin \"" << who_->user << "\": shutdown requested";
      // The same path as SIGTERM: drain clients, keep the metrics endpoint up, tell systemd.
      note_end(ClientCloseReason::shutdown, "SHUTDOWN from the admin console");
      ::kill(::getpid(), SIGTERM);
      co_return false;
  }
  co_return true;
}

}  // namespace pgroute
