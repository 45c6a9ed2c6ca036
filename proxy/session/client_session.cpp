#include "proxy/session/client_session.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <utility>

#include "proxy/auth/md5.hpp"
#include "proxy/auth/scram.hpp"
#include "proxy/base/log.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/io/write_now.hpp"
#include "proxy/metrics/query_stats.hpp"
#include "proxy/session/deallocate_name.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frontend.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"
#include "router/sql_quote.hpp"

namespace pgroute {

namespace fe = wire::frontend;
namespace tx = wire::tx_status;

namespace {
std::atomic<uint64_t> g_next_session_id{1};

// Read sizes: a read while messages are streaming in, and the read a client waits on between them.
constexpr size_t kReadSize = 8192;
constexpr size_t kWaitReadSize = 256;
}  // namespace

ClientSession::ClientSession(Worker& worker, Socket socket)
    : worker_(worker), socket_(std::move(socket)), id_(g_next_session_id.fetch_add(1)) {}

Runtime& ClientSession::rt() const { return worker_.rt; }

ClientSession::~ClientSession() {
  // Every end goes through end_session() before this; one that did not is counted apart. When the proxy
  // stops after its shutdown timeout, the sessions still open end here: by the shutdown.
  if (!end_reason_) {
    if (rt().shutting_down.load())
      note_end(ClientCloseReason::shutdown, "pgroute stopped with the session still open");
    else
      note_end(ClientCloseReason::unknown, "the session ended without a recorded reason (a pgroute bug)");
  }
  if (cancel_pid_) rt().cancels.remove(cancel_pid_);
  if (counted_) rt().clients.fetch_sub(1, std::memory_order_relaxed);
  if (server_kept_for_ != router::SessionStateKind::none)
    rt().clients_keeping_server.fetch_sub(1, std::memory_order_relaxed);
  if (tls_counted_) rt().clients_tls.fetch_sub(1, std::memory_order_relaxed);
  leave_startup();
  set_state(SessionState::closed);  // a parked session leaves pgroute_clients_parked
  worker_.sessions.remove(*this);
}

std::string ClientSession::describe() const {
  std::string s = "client " + std::to_string(id_);
  if (!who_->user.empty()) s += " (" + who_->user + "@" + who_->database + " -> alias \"" + who_->alias + "\")";
  return s;
}

void ClientSession::set_state(SessionState next) {
  if (state_ == next || state_ == SessionState::closed) return;
  if (state_ == SessionState::parked) rt().clients_parked.fetch_sub(1, std::memory_order_relaxed);
  if (next == SessionState::parked) rt().clients_parked.fetch_add(1, std::memory_order_relaxed);
  state_ = next;
}

void ClientSession::note_end(ClientCloseReason reason, std::string_view detail, std::optional<log::Level> level) {
  if (end_reason_) return;
  end_reason_ = reason;
  rt().client_closes[static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
  if (!level) {
    const bool fault = reason == ClientCloseReason::protocol_violation ||
                       reason == ClientCloseReason::message_too_large || reason == ClientCloseReason::server_lost ||
                       reason == ClientCloseReason::unknown;
    level = fault ? log::Level::warn : log::Level::info;
  }
  if (!log::enabled(*level)) return;
  log::Line line(*level);
  line << describe() << ": session ends: " << client_close_reason_name(reason);
  if (!detail.empty()) line << ": " << detail;
}

void ClientSession::end_session(ClientCloseReason reason, std::string_view detail) {
  note_end(reason, detail);
  set_state(SessionState::closed);
  boost::system::error_code ec;
  socket_.shutdown(Socket::shutdown_both, ec);
  socket_.close(ec);
}

void ClientSession::note_input_closed(std::string_view error) {
  if (error == kEndOfStream && u().in.empty())
    note_end(ClientCloseReason::client_closed, "end of input");
  else
    note_end(ClientCloseReason::client_lost, error == kEndOfStream ? "end of input in the middle of a message" : error);
}

std::string_view ClientSession::input_cut_short() const {
  if (!u().in.empty()) return "end of input in the middle of a message";
  if (copy_in_) return "end of input during COPY FROM STDIN";
  if (unit_open_ || !u().held.empty()) return "end of input in the middle of an extended-protocol unit";
  if (client_tx_status() != tx::kIdle) return "end of input inside a transaction";
  return {};
}

void ClientSession::note_write_failed() {
  note_end(ClientCloseReason::client_lost, "writing to the client failed");
  client_gone_ = true;
}

void ClientSession::request_shutdown() {
  shutting_down_ = true;
  if (server_ || state_ == SessionState::scattering) {
    // The pump (or the read across shards) ends the session when done.
    if (state_ == SessionState::attached) set_state(SessionState::draining);
    return;
  }
  note_end(ClientCloseReason::shutdown, "pgroute is shutting down");
  send_error(wire::sqlstate::admin_shutdown, "pgroute is shutting down", "FATAL");
  asio::co_spawn(
      worker_.ctx,
      [self = shared_from_this()]() -> awaitable<void> {
        co_await self->u().out.flush(self->socket_);
        self->end_session(ClientCloseReason::shutdown);
      },
      asio::detached);
}

awaitable<void> ClientSession::run() {
  auto self = shared_from_this();
  worker_.sessions.add(*this);
  if (!co_await startup()) {
    co_await u().out.flush(socket_);
    end_session(ClientCloseReason::unknown);  // startup() noted why
    co_return;
  }
  serve();  // from here on the session is driven by completion handlers
}

const ClientSession::Prepared& ClientSession::prepared_view() const {
  static const Prepared none;
  return prepared_ ? *prepared_ : none;
}

void ClientSession::make_unit() {
  unit_ = std::make_unique<UnitState>();
  unit_->out.use_tls(tls_.get());
}

const ClientSession::UnitState& ClientSession::u() const {
  static const UnitState none;
  return unit_ ? *unit_ : none;
}

bool ClientSession::unit_idle() const {
  if (!unit_) return true;
  const UnitState& s = *unit_;
  return s.held.empty() && !s.pending_begin && s.replies.idle() && s.unit_alias.empty();
}

// Parks an idle client: its buffers are freed and only a readiness wait on the socket is left, whose
// handler starts serve() again. Idle clients are most connections of a pooler,
// and the frames and buffers were most of what one cost.
void ClientSession::park() {
  if (unit_idle()) {
    unit_.reset();
  } else {  // e.g. inside a transaction whose BEGIN is still pending: keep the state, drop the buffers
    unit_->in.release();
    unit_->out.release();
  }
  client_view_.intern(worker_.client_views);
  wait_data_.reset();  // only ever needed across one message's wait
  if (tls_) tls_->release_buffers();
  if (prepared_ && prepared_->named.size() == 0) prepared_.reset();
  cancel_slot_.release_memory();
  pools_.reset();  // looked up again by the next transaction that needs one
  set_state(SessionState::parked);
  socket_.async_wait(Socket::wait_read, [self = shared_from_this()](boost::system::error_code) {
    // An error (the socket was closed) is seen again by serve()'s read, which then ends the session.
    if (self->state_ == SessionState::parked) self->set_state(SessionState::idle);
    self->woken_readable_ = true;
    self->serve();
  });
}

bool ClientSession::may_park() const {
  return !server_ && !pump_running_ && state_ != SessionState::scattering && !writing_to_server_ &&
         !u().out.writing() && u().out.queued() == 0 && u().in.empty() && !client_gone_ && !shutting_down_;
}

void ClientSession::park_if_idle(uint32_t tick) {
  if (idle_read_since_ == kNotIdle || tick - idle_read_since_ < 2 || !may_park()) return;
  park_requested_ = true;
  boost::system::error_code ec;
  socket_.cancel(ec);  // the read ends with operation_aborted; no data is lost
}

ClientSession::Buffered ClientSession::handle_buffered(size_t& need) {
  for (;;) {
    wire::Frame f;
    std::string error;
    need = 0;
    const wire::Decode d = wire::next_frame(u().in.view(), max_message_, f, need, &error);
    if (d == wire::Decode::NeedMore) return Buffered::drained;
    if (d == wire::Decode::Invalid) {
      fatal(wire::frame_too_large(u().in.view(), max_message_) ? ClientCloseReason::message_too_large
                                                               : ClientCloseReason::protocol_violation,
            error, wire::sqlstate::protocol_violation, "pgroute: invalid message from client: " + error);
      return Buffered::stop;
    }
    const Handled handled = handle_message(f);
    if (handled == Handled::wait) return Buffered::wait;  // handled again (or consumed) after the wait
    u().in.consume(f.wire_size());
    message_over();
    if (handled == Handled::stop) return Buffered::stop;
  }
}

void ClientSession::serve() {
  try {
    size_t need = 0;  // the length of a message partly read
    switch (handle_buffered(need)) {
      case Buffered::drained: break;
      case Buffered::wait: start_wait(std::exchange(client_wait_, ClientWait::none)); return;
      case Buffered::stop: client_side_ends(); return;
    }
    // Everything complete is handled: send it on in one write, answer what the proxy answered itself.
    if (send_to_server_now() == ServerSend::must_wait) {
      start_wait(ClientWait::server_write);
      return;
    }
    // A flush by the pump still writing takes what is queued too: nothing to wait for here.
    if (!u().out.writing()) switch (u().out.flush_now(socket_)) {
        case Outbox::FlushNow::done: break;
        case Outbox::FlushNow::must_wait: start_wait(ClientWait::client_write); return;  // the rest of ours
        case Outbox::FlushNow::failed:
          note_write_failed();
          client_side_ends();
          return;
      }
    if (tls_ && tls_->peer_closed()) {  // it ended TLS (close_notify): nothing more will come
      client_input_over();
      return;
    }
    if (u().in.empty() && !last_read_filled_ && !std::exchange(woken_readable_, false) && !sent_any_ && may_park()) {
      // Logged in and silent: an application's pool opens connections ahead and may leave them idle for
      // hours. Later, the client is between statements that pgroute answered itself (a held BEGIN) and
      // its next one is coming: parking it would cost more than the statement (a readiness wait armed,
      // its buffers and TLS's freed and made again). It is parked if it stays idle (park_if_idle()).
      park();
      return;
    }
    read_client(need);
  } catch (const std::exception& e) {
    // A completion handler runs outside any coroutine: nothing may escape it into the worker's loop.
    note_end(ClientCloseReason::unknown, std::string("internal error on the client side: ") + e.what());
    client_side_ends();
  }
}

void ClientSession::read_client(size_t need) {
  if (tls_) {  // whole TLS records: what they decrypt to is appended to u().in when the read completes
    std::string& raw = tls_->raw();
    raw.resize(TlsChannel::kReadSize);
    idle_read_since_ = u().in.empty() ? worker_.park_tick : kNotIdle;
    socket_.async_read_some(asio::buffer(raw.data(), raw.size()),
                            [self = shared_from_this(), len = raw.size()](boost::system::error_code ec, size_t n) {
                              self->last_read_filled_ = n == len;
                              self->on_client_read(ec, n);
                            });
    return;
  }
  size_t want = std::max(kReadSize, need > u().in.size() ? need - u().in.size() : 0);
  if (u().in.empty() && !last_read_filled_) {
    // A server is attached (the answer is coming and the client's next message soon after), or the
    // client woke us from park(). The read is started now (Asio tries it once, then waits for epoll to
    // report the socket readable), into a small buffer: most messages fit, a longer one takes a second read.
    u().in.shrink_to(kWaitReadSize);
    want = kWaitReadSize;
  }
  auto [space, len] = u().in.prepare(want);
  idle_read_since_ = u().in.empty() ? worker_.park_tick : kNotIdle;
  socket_.async_read_some(asio::buffer(space, len),
                          [self = shared_from_this(), len](boost::system::error_code ec, size_t n) {
                            self->last_read_filled_ = n == len;  // more may be waiting: read on with a full-size buffer
                            self->on_client_read(ec, n);
                          });
}

void ClientSession::on_client_read(boost::system::error_code ec, size_t n) {
  try {
    client_read_done(ec, n);
  } catch (const std::exception& e) {
    // A completion handler runs outside any coroutine: nothing may escape it into the worker's loop.
    note_end(ClientCloseReason::unknown, std::string("internal error on the client side: ") + e.what());
    client_side_ends();
  }
}

void ClientSession::client_read_done(boost::system::error_code ec, size_t n) {
  idle_read_since_ = kNotIdle;
  if (std::exchange(park_requested_, false) && ec == asio::error::operation_aborted) {
    // park_if_idle() cancelled the read of a client that stayed idle
    if (may_park()) {
      park();
      return;
    }
    serve();  // something changed meanwhile (a shutdown closes the socket: the next read ends it)
    return;
  }
  if (ec == asio::error::eof || (!ec && n == 0)) {
    client_input_over();
    return;
  }
  if (ec) {
    note_end(ClientCloseReason::client_lost, "reading from the client failed: " + ec.message());
    client_gone_ = true;
    client_side_ends();
    return;
  }
  metrics::record_client_bytes_in(n);
  if (!tls_) {
    u().in.commit(n);
  } else {
    switch (tls_->read({tls_->raw().data(), n}, u().in)) {
      case TlsChannel::Status::ok:
      case TlsChannel::Status::want_more:
      // close_notify: what came before it (a Terminate, usually) is handled first; then its input
      // is over (read_client).
      case TlsChannel::Status::closed: break;
      case TlsChannel::Status::failed:
        note_end(ClientCloseReason::tls_failed, tls_->error());
        client_gone_ = true;  // nothing more can be said to it
        client_side_ends();
        return;
    }
  }
  serve();
}

void ClientSession::client_input_over() {
  client_input_ended_ = true;
  const std::string_view cut = input_cut_short();
  note_end(cut.empty() ? ClientCloseReason::client_closed : ClientCloseReason::client_lost,
           cut.empty() ? std::string_view("end of input") : cut);
  client_side_ends();
}

// What a message carried across its waits is over with it.
void ClientSession::message_over() {
  sent_any_ = true;
  if (unit_) {  // the next message is another, even if its text is the same
    unit_->analyzed.reset();
    unit_->routed_unattached = false;
  }
  attach_failed_ = false;
  held_awaits_attach_ = false;
  defer_begin_ = false;
  reparse_unnamed_ = false;
  unit_ended_for_bind_ = false;
  if (wait_data_) {
    wait_data_->learnt.reset();
    wait_data_->pinned_alias.reset();
    wait_data_->replay_wait_since.reset();
    wait_data_->sample_ticket = wait_data_->causal_sample = 0;
    wait_data_->sample_since.reset();
    wait_data_->causal_counted = false;
    wait_data_->waited_floors = nullptr;
  }
}

void ClientSession::start_wait(ClientWait what) {
  if (what == ClientWait::attach) {  // without a coroutine: see ServerPool::acquire_queued()
    u().unit_alias.clear();
    pool_->acquire_queued(worker_.ctx, worker_.index, shared_from_this());
    return;
  }
  asio::co_spawn(worker_.ctx, client_waiting(shared_from_this(), what), asio::detached);
}

// The cold path of the client side: the wait a message named, then serve() again.
awaitable<void> ClientSession::client_waiting([[maybe_unused]] std::shared_ptr<ClientSession> self, ClientWait what) {
  Step after = Step::forward;  // forward: handle the message again; done: it is over
  switch (what) {
    case ClientWait::none: break;
    case ClientWait::server_idle: co_await wait_server_idle(); break;
    case ClientWait::attach: break;  // start_wait() gives it to the pool, not to this coroutine
    case ClientWait::column_order: co_await learn_missing_column_order(); break;
    case ClientWait::scatter_then_retry:
      if (co_await scatter_held(false) == Step::stop) after = Step::stop;
      break;
    case ClientWait::scatter_held: after = co_await scatter_held(false); break;
    case ClientWait::scatter_held_at_sync: after = co_await scatter_held(true); break;
    case ClientWait::scatter_query: {
      auto unit = std::move(wait_data().scatter);
      std::string query = std::move(wait_data().scatter_query);
      co_await run_scatter(*unit, query, true, true);
      after = client_gone_ ? Step::stop : Step::done;
      break;
    }
    case ClientWait::replay: co_await replay_pause(); break;
    case ClientWait::server_write: co_await flush_to_server(); break;
    case ClientWait::client_write:
      if (!co_await u().out.flush(socket_)) note_write_failed();
      break;
  }
  if (after == Step::stop || client_gone_ || state_ == SessionState::closed) {
    client_side_ends();
    co_return;
  }
  if (after == Step::done) {  // the message waited on is over
    emit_ready_synthetic();
    wire::Frame f;
    size_t need = 0;
    if (wire::next_frame(u().in.view(), max_message_, f, need, nullptr) == wire::Decode::Ready)
      u().in.consume(f.wire_size());
    message_over();
  }
  // Posted, not called: a wait that completed without suspending would otherwise nest serve() in
  // serve() once per message that waits.
  asio::post(worker_.ctx, [self = shared_from_this()] { self->serve(); });
}

void ClientSession::client_side_ends() {
  // Closed already (a shutdown while the message waited): a connection attached meanwhile still goes back.
  if (state_ != SessionState::closed && (client_input_ended_ || (!client_gone_ && u().out.queued() > 0))) {
    asio::co_spawn(worker_.ctx, client_ending(shared_from_this()), asio::detached);
    return;
  }
  note_client_gone();
  if (!server_) end_session(ClientCloseReason::unknown);  // noted where the client side stopped
}

awaitable<void> ClientSession::client_ending([[maybe_unused]] std::shared_ptr<ClientSession> self) {
  if (client_input_ended_) {
    co_await end_client_input();
    co_return;
  }
  co_await u().out.flush(socket_);  // a FATAL the client is owed
  note_client_gone();
  if (!server_) end_session(ClientCloseReason::unknown);  // noted where the client side stopped
}

// The client will send nothing more. What it asked before is still answered (as PostgreSQL does for a
// client that half-closes or pipelines Terminate); the server connection is then given back (rolled
// back if the client left inside a transaction) as on any client exit.
awaitable<void> ClientSession::end_client_input() {
  if (server_ && (copy_in_ || unit_open_)) {
    // The server waits for input that will not come (COPY data, or the rest of an extended-protocol unit):
    // it sees the end of the client's input too, and ends the session as it does for a direct client (a
    // COPY fails with 08006; an unfinished unit gets no answer). The connection is not reused.
    copy_in_ = false;
    unit_open_ = true;
    server_close_expected_ = true;
    if (co_await flush_to_server() && server_) {
      boost::system::error_code ec;
      server_->socket().shutdown(Socket::shutdown_send, ec);
    }
  }
  co_await flush_to_server();  // Terminate may end the loop before what came with it was sent
  if (server_) {
    // The pump forwards the rest and ends the session; it may be waiting with nothing asked.
    if (state_ == SessionState::attached) set_state(SessionState::draining);
    if (u().replies.expect.empty()) server_->socket().cancel();
    co_return;
  }
  // A writer still busy is the pump giving its last answers: it closes the client after them.
  if (u().out.writing()) co_return;
  co_await u().out.flush(socket_);
  end_session(ClientCloseReason::unknown);  // noted where the input ended
}

void ClientSession::note_client_gone() {
  client_gone_ = true;
  // The pump owns the server connection's ending (return, roll back, or close); wake it.
  if (server_ && pump_running_) server_->socket().cancel();
}

void ClientSession::send_error(std::string_view sqlstate, const std::string& message, std::string_view severity) {
  wire::put_error(u().out.buffer(), {.severity = severity, .sqlstate = sqlstate, .message = message});
}

awaitable<void> ClientSession::send_fatal(std::string_view sqlstate, const std::string& message,
                                          std::string_view hint) {
  wire::put_error(u().out.buffer(), {.severity = "FATAL", .sqlstate = sqlstate, .message = message, .hint = hint});
  co_await u().out.flush(socket_);
}

void ClientSession::push(Pending p) { u().replies.expect.push(p); }

// Proxy-made answers at the head of the queue go out now: everything before them has been answered.
// A client message while the server copies in: PostgreSQL takes CopyData, CopyDone and CopyFail, and
// ignores Flush and Sync (libpq sends one after an Execute it did not know was a COPY). Anything else
// ends the COPY with 08P01 and then the session ("protocol synchronization was lost"): it goes to the
// server, unrouted, which says so to this client exactly as to a direct one, then closes. Returns false
// when the client's input is over.
ClientSession::Handled ClientSession::handle_copy_message(const wire::Frame& f) {
  u().server_out.append(f.bytes());
  switch (f.type) {
    case fe::kCopyData:
    case fe::kFlush:
    case fe::kSync: return Handled::next;  // no answer is expected to any of them
    case fe::kCopyDone:
    case fe::kCopyFail:
      copy_in_ = false;
      note_copy_done();      // the commit probe that waited for the data (causal reads)
      return Handled::next;  // the COPY's own answer ends it
    default:
      note_end(ClientCloseReason::protocol_violation, "message type " +
                                                          std::to_string(int(static_cast<unsigned char>(f.type))) +
                                                          " during COPY FROM STDIN: the server ends the session");
      copy_in_ = false;
      unit_open_ = true;  // what the server makes of it is not tracked: the connection is not reused
      server_close_expected_ = true;
      client_input_ended_ = true;
      return Handled::stop;
  }
}

ClientSession::Handled ClientSession::fatal(ClientCloseReason reason, const std::string& detail,
                                            std::string_view sqlstate, const std::string& message) {
  note_end(reason, detail);
  wire::put_error(u().out.buffer(), {.severity = "FATAL", .sqlstate = sqlstate, .message = message});
  return Handled::stop;
}

ClientSession::Handled ClientSession::handle_message(const wire::Frame& f) {
  if (held_awaits_attach_ && server_) {
    // Handled again after the wait for the connection that release_held() asked for: the messages it
    // holds go first.
    if (replay_held() == Step::stop) return Handled::stop;
  }
  if (copy_in_) return handle_copy_message(f);
  if (f.type == fe::kTerminate) {
    client_input_ended_ = true;
    note_end(ClientCloseReason::client_closed, "Terminate");
    return Handled::stop;
  }
  if (skip_until_sync_) {
    if (f.type != fe::kSync) return Handled::next;
    skip_until_sync_ = false;
    bool forward = forward_sync_after_skip_ && server_;
    forward_sync_after_skip_ = false;
    if (!forward) {
      wire::put_ready_for_query(u().out.buffer(), client_tx_status());
      return Handled::next;
    }
    // The server saw this unit's first messages: its Sync closes the unit (and answers ReadyForQuery).
    unit_open_ = unit_bound_ = unit_parsed_unnamed_ = false;
    push({Expect::Sync});
    u().server_out.append(f.bytes());
    return Handled::next;
  }
  switch (f.type) {
    case fe::kFlush:  // Flush: only meaningful while something is outstanding on the server...
      // ...or held by routing, which must now send it on (client_routing.cpp).
      if (!server_ && routing_active() && (!u().held.empty() || scatter_)) break;
      if (server_ && (!u().replies.expect.empty() || unit_open_)) u().server_out.append(f.bytes());
      return Handled::next;
    case fe::kCopyData:
    case fe::kCopyDone:
    case fe::kCopyFail:  // COPY data from the client belongs to the COPY in progress
      if (server_ && !u().replies.expect.empty()) u().server_out.append(f.bytes());
      return Handled::next;
    case fe::kQuery:
    case fe::kFunctionCall:
    case fe::kParse:
    case fe::kBind:
    case fe::kDescribe:
    case fe::kExecute:
    case fe::kClose:
    case fe::kSync: break;
    default: {
      std::string what = f.type >= 32 && f.type < 127 ? std::string("'") + f.type + "'" : std::to_string(int(f.type));
      return fatal(ClientCloseReason::protocol_violation, "unexpected message type " + what,
                   wire::sqlstate::protocol_violation, "pgroute: unexpected message type " + what);
    }
  }
  // Validate before borrowing a server: a malformed message must not reach (and kill) a pooled connection.
  wire::ParseMsg parse;
  wire::BindMsg bind;
  wire::TargetMsg target;
  wire::ExecuteMsg exec;
  std::string_view sql;
  bool valid = true;
  switch (f.type) {
    case fe::kQuery: valid = wire::parse_query(f.body, sql); break;
    case fe::kParse: valid = wire::parse_parse(f.body, parse); break;
    case fe::kBind: valid = wire::parse_bind(f.body, bind); break;
    case fe::kDescribe:
    case fe::kClose: valid = wire::parse_describe_or_close(f.body, target); break;
    case fe::kExecute: valid = wire::parse_execute(f.body, exec); break;
    default: break;
  }
  if (!valid) {
    return fatal(ClientCloseReason::protocol_violation, std::string("malformed message of type '") + f.type + "'",
                 wire::sqlstate::protocol_violation,
                 std::string("pgroute: malformed message of type '") + f.type + "' from client");
  }
  if (f.type == fe::kParse && !parse.name.empty() && statement_exists(parse.name))
    return refuse_duplicate_parse(parse.name);
  u().normalized_current = u().normalize_tried = false;
  // A reload changes the rules for the next unit; one already attached finishes on its alias.
  if (!server_ && snap_->generation != rt().generation()) snap_ = rt().snapshot();
  if (routing_active()) {
    const Step step = route_message(f, sql, parse, bind);
    if (step == Step::stop) return Handled::stop;
    if (step == Step::wait) return Handled::wait;
    if (step == Step::done) {
      emit_ready_synthetic();
      return Handled::next;
    }
  }
  const Attach attached = attach_now();
  if (attached == Attach::must_wait) {
    pin_alias(u().unit_alias.empty() ? who_->alias : u().unit_alias);
    client_wait_ = ClientWait::attach;
    return Handled::wait;
  }
  if (attached == Attach::failed) {
    // The error is queued; finish the unit the way the server would have.
    if (f.type == fe::kQuery || f.type == fe::kFunctionCall || f.type == fe::kSync)
      wire::put_ready_for_query(u().out.buffer(), client_tx_status());
    else
      skip_until_sync_ = true;
    return Handled::next;
  }
  if (u().pending_begin &&
      (f.type == fe::kQuery || f.type == fe::kBind || f.type == fe::kExecute || f.type == fe::kFunctionCall))
    open_deferred_transaction();
  if (f.type == fe::kBind && std::exchange(reparse_unnamed_, false) && bind.statement.empty()) {
    // Parsed on the connection this unit began on (its ParseComplete went to the client from there).
    u().server_out.append(prepared().unnamed_parse);
    push({Expect::InjectedParse});
    unit_open_ = true;
  }
  switch (f.type) {
    case fe::kQuery: {
      note_statement(sql, true);
      // Routing analysed it (`analyzed` lives until the message is over): the words came with the analysis
      // (of the text with its constants as $n when that parsed; a word inside a constant is string
      // content, which leaves no session state).
      const router::SessionWords words = u().analyzed ? u().analyzed->words : router::scan_session_words(sql);
      const uint32_t setting = track_setting(sql, words);
      note_session_state(sql, setting != 0, words);
      if (auto name = deallocated_name(sql); name && prepared_view().named.prepared(*name)) {
        // SQL DEALLOCATE of a statement the client prepared with Parse: the server knows it by the proxy's
        // name. The client's name is gone now (a later Parse may reuse it); the connection's copy when the
        // server confirms (pump: CommandComplete "DEALLOCATE").
        ClientStatement st = std::move(*prepared().named.find(*name));
        prepared().named.forget(*name);
        prepare_on_server(st);
        push({Expect::Query, st.id, {}, parses()});
        wire::put_query(u().server_out, "DEALLOCATE " + st.server_name);
        break;
      }
      push({.kind = Expect::Query,
            .parse_number = parses(),
            .column_order = std::exchange(u().column_order_placed, false),
            .setting = setting});
      u().server_out.append(f.bytes());
      if (causal_) send_commit_probe_if_due();
      break;
    }
    case fe::kFunctionCall:
      push({Expect::FunctionCall});
      u().server_out.append(f.bytes());
      break;
    case fe::kParse:
    case fe::kBind:
    case fe::kDescribe:
    case fe::kClose: {
      unit_open_ = true;
      if (f.type == fe::kBind) unit_bound_ = true;
      if (f.type == fe::kParse && parse.name.empty()) unit_parsed_unnamed_ = true;
      StatementTarget to = statement_target(*server_, u().server_out, u().replies.expect);
      const StatementTranslation t = translate_statement_message({f, &parse, &bind, &target}, prepared().named, to);
      switch (t.answer) {
        case Expect::Parse:  // owed in its place: a proxy answer queued after it waits for it
          if (prepared().unnamed_query != parse.query) {  // drivers parse the same text again and again
            prepared().unnamed_query.assign(parse.query);
            // Routing analysed this very text just now (route_message()): its words came with the analysis.
            const router::Analysis* analysis = routing_active() ? prepared().unnamed_analysis.get() : nullptr;
            prepared().unnamed_words = analysis ? analysis->words : router::scan_session_words(parse.query);
          }
          push({Expect::Parse});
          break;
        // The client's Parse is answered by the proxy; the server sees one (injected) only if it lacks it.
        case Expect::SynthParseComplete: push({Expect::SynthParseComplete, 0, {}, t.statement->parse_number}); break;
        case Expect::Bind: {
          const std::string_view query = t.statement              ? t.statement->query()
                                         : bind.statement.empty() ? std::string_view(prepared().unnamed_query)
                                                                  : std::string_view();
          if (!query.empty()) {
            note_statement(query, false);
            // A SET bound to the unnamed portal (drivers that send everything with the extended protocol):
            // its Execute carries the ticket. A named portal's is not followed: reset when the
            // connection goes back.
            const router::SessionWords words = t.statement ? t.statement->words : prepared().unnamed_words;
            const uint32_t setting = track_setting(query, words);
            note_session_state(query, setting != 0 && bind.portal.empty(), words);
            if (bind.portal.empty()) {
              if (u().portal_setting) forget_setting(u().portal_setting);  // bound again before any Execute
              u().portal_setting = setting;
            } else if (setting) {
              forget_setting(setting);
              dirty_session_state_ = true;
            }
          }
          push({.kind = Expect::Bind, .column_order = u().column_order_placed});
          break;
        }
        // The statement stays prepared on the server for other clients; only this client forgets it.
        case Expect::SynthCloseComplete: prepared().named.forget(target.name); [[fallthrough]];
        default: push({t.answer});
      }
      break;
    }
    case fe::kExecute:
      unit_open_ = unit_bound_ = true;
      push({.kind = Expect::Execute,
            .parse_number = parses(),
            .column_order = u().column_order_placed,
            .setting = exec.portal.empty() ? std::exchange(u().portal_setting, 0) : 0});
      u().server_out.append(f.bytes());
      break;
    case fe::kSync:
      unit_open_ = unit_bound_ = unit_parsed_unnamed_ = false;
      if (u().portal_setting) forget_setting(std::exchange(u().portal_setting, 0));  // bound, not executed
      u().column_order_placed = false;  // the statement placed by it is over
      push({Expect::Sync});
      u().server_out.append(f.bytes());
      if (causal_) send_commit_probe_if_due();
      break;
    case fe::kFlush: u().server_out.append(f.bytes()); break;  // after a held unit was released
  }
  emit_ready_synthetic();
  return Handled::next;
}

// The statement a unit's statistics are kept under (the first of the unit): its text, constants
// replaced by $n for simple queries so "... id = 1" and "... id = 2" count as one statement.
void ClientSession::note_statement(std::string_view sql, bool simple) {
  if (!u().unit_statement.empty()) return;
  if (simple && (u().normalized_current || (!u().normalize_tried && normalize_literals(sql, u().normalized))) &&
      !u().normalized.literals.empty())
    u().unit_statement.assign(u().normalized.text);
  else
    u().unit_statement.assign(sql);
}

// Whether the client's statement `name` exists where its next message would be handled: prepared
// before, or by a Parse routing holds in this unit (and not closed by a held Close after it).
bool ClientSession::statement_exists(std::string_view name) const {
  if (unit_)
    if (const bool* held = u().held.statement_state(name)) return *held;
  return prepared_view().named.prepared(name);
}

// A Parse naming a statement that exists fails as on the server (42P05, the statement is kept), in its
// place among the answers, and the rest of the unit is skipped up to its Sync.
ClientSession::Handled ClientSession::refuse_duplicate_parse(std::string_view name) {
  // Messages routing holds come first: run them where a Flush would (the unit ends here, nothing later
  // in it can choose an alias). After that wait this message is handled again.
  if (!server_ && scatter_) {
    client_wait_ = ClientWait::scatter_then_retry;
    return Handled::wait;
  }
  if (!server_ && !u().held.empty()) {
    const Step step = release_held(who_->alias, false);
    if (step == Step::stop) return Handled::stop;
    if (step == Step::wait) return Handled::wait;
  }
  std::string error;
  wire::put_error(error, {.severity = "ERROR",
                          .sqlstate = wire::sqlstate::duplicate_prepared_statement,
                          .message = "prepared statement \"" + std::string(name) + "\" already exists"});
  if (server_) {
    u().replies.queue_error(std::move(error));
    forward_sync_after_skip_ = true;  // the Sync goes on: the server answers it behind what it has
  } else {
    u().out.buffer() += error;
  }
  skip_until_sync_ = true;
  emit_ready_synthetic();
  return Handled::next;
}

StatementTarget ClientSession::statement_target(ServerConnection& conn, std::string& out, ResponseQueue& expect) const {
  return {conn.prepared, out, expect, snap_->config->pool.max_prepared_statements};
}

void ClientSession::prepare_on_server(const ClientStatement& st) {
  StatementTarget to = statement_target(*server_, u().server_out, u().replies.expect);
  prepare_on(to, st);
}

// Points pool_ at `alias`'s pool in the snapshot in force for this session (handle_message takes a new one per unit).
bool ClientSession::pool_ready(const std::string& alias) {
  std::string sqlstate, error;
  // From the snapshot the unit was routed by (taken when it began): a reload landing between routing
  // and attach must not change the rules for the rest of this transaction.
  auto pool = pool_for_alias(alias, sqlstate, error);
  if (!pool) {
    send_error(sqlstate, error);
    return false;
  }
  pool_ = std::move(pool);
  return true;
}

std::shared_ptr<ServerPool> ClientSession::pool_for_alias(const std::string& alias, std::string& sqlstate,
                                                          std::string& error) {
  const bool own = alias == who_->alias;
  AliasPool* cached = &own_pool_;
  if (!own) {
    if (!pools_) pools_ = std::make_unique<std::vector<std::pair<std::string, AliasPool>>>();
    auto it = std::find_if(pools_->begin(), pools_->end(), [&](const auto& p) { return p.first == alias; });
    cached = it != pools_->end() ? &it->second : &pools_->emplace_back(alias, AliasPool{}).second;
  }
  if (cached->pool && cached->generation == snap_->generation) return cached->pool;
  const config::Backend* backend = snap_->config->backend(alias);
  if (!backend) {
    sqlstate = wire::sqlstate::connection_exception;
    error = "pgroute: alias \"" + alias + "\" is not configured (removed by a reload?)";
    return nullptr;
  }
  const std::string* user = &backend->user;
  const std::string* password = &backend->password;
  if (backend->user.empty()) {
    // Logging in as the client, with its configured password: an md5 hash serves the client's own
    // alias (whose server was checked at login), elsewhere it must be plaintext.
    const config::User* u = snap_->config->user(who_->user);
    if (!u || auth::is_scram_verifier(u->password) || (alias != who_->alias && auth::is_md5_hash(u->password))) {
      sqlstate = wire::sqlstate::invalid_authorization;
      error = "pgroute cannot log in to alias \"" + alias + "\" as \"" + who_->user + "\": its url names no user and " +
              (u ? "this user's password is not stored in plaintext" : "the user is no longer configured");
      return nullptr;
    }
    user = &u->name;
    password = &u->password;
  }
  auto pool = rt().pool_for(*snap_, *backend, *user, *password);
  *cached = {pool, snap_->generation};
  return pool;
}

ClientSession::Attach ClientSession::attach_now() {
  if (std::exchange(attach_failed_, false)) {  // attach_from_pool() found none: said here, in its place
    u().unit_alias.clear();
    defer_begin_ = false;
    send_error(wait_data().attach_sqlstate, wait_data().attach_error);
    return Attach::failed;
  }
  if (server_) {
    // One-shot: a choice made for a unit that found a connection attached must not steer a later attach.
    u().unit_alias.clear();
    return Attach::attached;
  }
  if (!pool_ready(u().unit_alias.empty() ? who_->alias : u().unit_alias)) {
    u().unit_alias.clear();
    defer_begin_ = false;
    return Attach::failed;
  }
  auto conn = pool_->try_acquire_idle(worker_.ctx, worker_.index);
  if (!conn) return Attach::must_wait;
  u().unit_alias.clear();
  attach(std::move(conn));
  return Attach::attached;
}

// The end of the wait start_wait(ClientWait::attach) began, from a handler on this worker. The message
// is handled again after this: attached then, or told by attach_failed_ that no connection came.
void ClientSession::checkout_done(ServerPool::Checkout checkout) {
  try {
    if (checkout.conn) {
      attach(std::move(checkout.conn));
    } else {
      PGR_LOG(warn) << describe() << ": " << checkout.error;
      wait_data().attach_sqlstate = std::move(checkout.sqlstate);
      wait_data().attach_error = std::move(checkout.error);
      attach_failed_ = true;
    }
    if (client_gone_ || state_ == SessionState::closed) return client_side_ends();
    serve();
  } catch (const std::exception& e) {
    // A completion handler runs outside any coroutine: nothing may escape it into the worker's loop.
    note_end(ClientCloseReason::unknown, std::string("internal error on the client side: ") + e.what());
    client_side_ends();
  }
}

void ClientSession::end_unit_on_server() {
  wire::put_sync(u().server_out);
  push({Expect::InjectedSync});
  unit_open_ = unit_bound_ = unit_parsed_unnamed_ = false;
}

// Attached while only describing (a BEGIN the proxy answered was deferred: attach()), the session now
// sends something that may run a statement: the describing unit ends, and the transaction begins here.
void ClientSession::open_deferred_transaction() {
  const bool reparse = unit_open_ && unit_parsed_unnamed_;
  if (unit_open_) end_unit_on_server();
  wire::put_query(u().server_out, *u().pending_begin);
  push({Expect::InjectedQuery});
  u().pending_begin.reset();
  if (reparse) {  // the BEGIN, a Query, dropped the unnamed statement the unit parsed: parsed again
    u().server_out.append(prepared().unnamed_parse);
    push({Expect::InjectedParse});
    unit_open_ = true;
  }
}

void ClientSession::attach(std::unique_ptr<ServerConnection> conn) {
  const bool defer = std::exchange(defer_begin_, false);
  server_ = std::move(conn);
  set_state(SessionState::attached);
  queue_session_parameters(*server_, u().server_out, u().replies.expect);
  if (u().pending_begin && !defer) {
    // The client's BEGIN, answered by the proxy when it came, now opens the transaction on this server.
    wire::put_query(u().server_out, *u().pending_begin);
    push({Expect::InjectedQuery});
    u().pending_begin.reset();
  }
  cancel_slot_.set({server_->endpoint().host, server_->endpoint().port, server_->backend_pid, server_->backend_secret});
  pump_running_ = true;
  attaching_ = true;  // until flush_to_server(): the unit that made us attach is being queued
  start_pump();
}

// SQL that brings a server connection's session parameters to what this client asked for.
std::string ClientSession::session_parameter_sql(const ServerConnection& conn) const {
  if (conn.applied.equal_to(who_->serial)) return {};  // its last client logged in alike (the usual case)
  std::string sets, resets;
  for (const auto& [name, value] : who_->params) {
    auto it = conn.applied.values().find(name);
    if (it != conn.applied.values().end() && it->second == value) continue;
    sets += sets.empty() ? "SELECT " : ", ";
    sets += "pg_catalog.set_config(" + router::quote_literal(name) + ", " + router::quote_literal(value) + ", false)";
  }
  for (const auto& [name, value] : conn.applied.values()) {
    bool wanted = false;
    for (const auto& w : who_->params) wanted |= (w.first == name);
    if (!wanted) resets += "RESET " + router::quote_ident(name) + ";";
  }
  if (!sets.empty()) sets += ";";
  return sets + resets;
}

// Sends what is queued for the server (the pump forwards the answers) as far as the socket takes it now.
ClientSession::ServerSend ClientSession::send_to_server_now() {
  if (std::exchange(attaching_, false) && server_ && u().server_out.empty() && may_detach()) {
    server_->socket().cancel();  // attached for nothing after all: the pump reading its answer gives it back
  }
  // Under TLS what a partial write left is ciphertext on the connection, server_out being empty.
  if (!server_ || (u().server_out.empty() && server_->tls_out.empty())) {
    u().server_out.clear();
    return ServerSend::sent;
  }
  writing_to_server_ = true;
  std::string error;
  std::string* wire_bytes = server_->to_wire(u().server_out, error);  // under TLS: the records
  if (!wire_bytes) {
    PGR_LOG(warn) << server_->endpoint().describe() << ": TLS: " << error;
    server_write_done(false);
    return ServerSend::failed;
  }
  boost::system::error_code ec;
  const size_t n = write_now(server_->socket(), *wire_bytes, ec);
  if (!ec && n < wire_bytes->size()) {
    wire_bytes->erase(0, n);  // the rest is written by flush_to_server()
    return ServerSend::must_wait;
  }
  server_write_done(!ec);
  return ec ? ServerSend::failed : ServerSend::sent;
}

void ClientSession::server_write_done(bool ok) {
  writing_to_server_ = false;
  u().server_out.clear();
  server_->tls_out.clear();
  // A failed write surfaces in the pump as a read error; it owns the client-visible report.
  if (!ok)
    server_->socket().cancel();
  else if (may_detach())
    server_->socket().cancel();  // the pump waits on a read: let it return the connection
}

awaitable<bool> ClientSession::flush_to_server() {
  const ServerSend sent = send_to_server_now();
  if (sent != ServerSend::must_wait) co_return sent == ServerSend::sent;
  ServerConnection* conn = server_.get();
  // What send_to_server_now() left: plaintext, or under TLS the records, kept on the connection.
  std::string& rest = conn->tls ? conn->tls_out : u().server_out;
  auto [ec, n] = co_await asio::async_write(conn->socket(), asio::buffer(rest), use_nothrow);
  (void)n;
  // The pump may have lost the connection meanwhile (server_lost, the client leaving): it is gone.
  if (server_.get() != conn) {
    writing_to_server_ = false;
    u().server_out.clear();
    co_return false;
  }
  server_write_done(!ec);
  co_return !ec;
}

// Brings `conn`'s session parameters to this client's, with a query whose answers are swallowed.
void ClientSession::queue_session_parameters(ServerConnection& conn, std::string& out, ResponseQueue& expect) {
  std::string sql = session_parameter_sql(conn);
  if (sql.empty()) {
    conn.applied.mark_equal_to(who_->serial);
    return;
  }
  wire::put_query(out, sql);
  expect.push({Expect::InjectedQuery});
  conn.applied.assign(who_->params, who_->serial);
}

}  // namespace pgroute
