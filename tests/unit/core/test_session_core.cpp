// The session core without sockets: a logged-in ClientSession handles client bytes put into its read
// buffer (handle_buffered) and server bytes put into the attached connection's buffer
// (handle_server_frames); the test reads what would go to the server (server_out), what the client is
// owed (the reply queue) and what it would be sent (the outbox).
//
// Sockets are never connected. The server connections' sockets live on `server_io`, which is never run:
// the pump's first read, started by attach(), completes there at once (no socket) and never runs; it
// is destroyed with `server_io`, before the worker and the runtime the session refers to. The client's
// socket lives on `client_io`, run only to wake a parked session. The worker's own io_context runs only
// what a test spawns on it itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "proxy/pool/runtime.hpp"
#include "proxy/pool/server_connection.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/frontend.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

// Reaches the session's private members (ClientSession declares it a friend).
struct SessionProbe {
  // What a completed login leaves (client_startup.cpp): who the client is, the snapshot, its cancel key
  // and the pool of its alias, with no server connection (transaction mode). Returns the cancel key.
  static CancelRegistry::Key log_in(ClientSession& s, const std::string& user) {
    s.snap_ = s.rt().snapshot();
    s.max_message_ = s.snap_->config->max_message_size;
    ClientIdentity who;
    who.user = who.database = user;
    who.alias = *s.snap_->config->alias_for_database(who.database);
    s.who_ = s.worker_.identities.intern(std::move(who));
    s.session_mode_ = false;
    const CancelRegistry::Key key =
        s.rt().cancels.add(std::shared_ptr<CancelSlot>(s.shared_from_this(), &s.cancel_slot_));
    s.cancel_pid_ = key.pid;
    REQUIRE(s.pool_ready(s.who_->alias));
    s.set_state(SessionState::idle);
    return key;
  }

  // Bytes from the client arrive; every whole message is handled. "drained", "wait" or "stop".
  static std::string receive(ClientSession& s, std::string_view bytes) {
    if (!bytes.empty()) {
      auto [space, len] = s.u().in.prepare(bytes.size());
      REQUIRE(len >= bytes.size());
      std::memcpy(space, bytes.data(), bytes.size());
      s.u().in.commit(bytes.size());
    }
    size_t need = 0;
    switch (s.handle_buffered(need)) {
      case ClientSession::Buffered::drained: return "drained";
      case ClientSession::Buffered::wait: return "wait";
      case ClientSession::Buffered::stop: return "stop";
    }
    return "?";
  }

  static void attach(ClientSession& s, std::unique_ptr<ServerConnection> conn) { s.attach(std::move(conn)); }

  // What the server's socket would take in one write, as send_to_server_now() does when the write
  // succeeds (without waking the pump, which is not running here).
  static std::string written_to_server(ClientSession& s) {
    std::string bytes = std::move(s.u().server_out);
    s.u().server_out.clear();
    s.attaching_ = false;
    s.writing_to_server_ = false;
    return bytes;
  }

  // The server answers: its bytes arrive in the connection's buffer and the pump handles them.
  static bool server_sends(ClientSession& s, std::string_view bytes) {
    REQUIRE(s.server_);
    auto [space, len] = s.server_->rbuf.prepare(bytes.size());
    REQUIRE(len >= bytes.size());
    std::memcpy(space, bytes.data(), bytes.size());
    s.server_->rbuf.commit(bytes.size());
    return s.handle_server_frames();
  }

  // What the client would be sent now (taken, as a flush would).
  static std::string sent_to_client(ClientSession& s) {
    std::string bytes = std::move(s.u().out.buffer());
    s.u().out.buffer().clear();
    return bytes;
  }

  // What the client's messages are owed, in order, by name ("InjectedParse Bind Sync").
  static std::string owed(const ClientSession& s) {
    std::string kinds;
    for (ResponseQueue q = s.u().replies.expect; !q.empty(); q.pop()) {
      if (!kinds.empty()) kinds += ' ';
      kinds += expect_name(q.front().kind);
    }
    return kinds;
  }
  static std::string_view expect_name(Expect e) {
    switch (e) {
      case Expect::Parse: return "Parse";
      case Expect::Bind: return "Bind";
      case Expect::Describe: return "Describe";
      case Expect::Execute: return "Execute";
      case Expect::Close: return "Close";
      case Expect::Sync: return "Sync";
      case Expect::Query: return "Query";
      case Expect::FunctionCall: return "FunctionCall";
      case Expect::SynthParseComplete: return "SynthParseComplete";
      case Expect::SynthCloseComplete: return "SynthCloseComplete";
      case Expect::SynthError: return "SynthError";
      case Expect::InjectedParse: return "InjectedParse";
      case Expect::InjectedClose: return "InjectedClose";
      case Expect::InjectedQuery: return "InjectedQuery";
      case Expect::InjectedDescribe: return "InjectedDescribe";
      case Expect::InjectedSync: return "InjectedSync";
    }
    return "?";
  }

  static bool may_detach(const ClientSession& s) { return s.may_detach(); }

  // The value of a parameter the client asked for or set that follows it ("" if none), and whether the
  // connection must be reset when it goes back.
  static std::string follows(const ClientSession& s, std::string_view name) {
    for (const auto& [n, v] : s.who_->params)
      if (n == name) return v;
    return "";
  }
  static bool dirty(const ClientSession& s) { return s.dirty_session_state_; }
  static std::string_view kept_for(const ClientSession& s) { return router::session_state_name(s.server_kept_for_); }
  // What the pump's step after the server's answers queues: the keep probe, if due.
  static bool keep_probe_queued(ClientSession& s) { return s.queue_keep_probe(); }

  // The pump's detach (pump_step) when may_detach(): the connection goes back through release_now().
  static bool detach(ClientSession& s) {
    if (!s.may_detach()) return false;
    auto done = std::move(s.server_);
    if (s.state_ == SessionState::attached) s.set_state(SessionState::idle);
    s.pump_running_ = false;
    return s.release_now(done);
  }

  static ServerConnection* server(const ClientSession& s) { return s.server_.get(); }
  static ServerPool& pool(const ClientSession& s) { return *s.pool_; }
  static SessionState state(const ClientSession& s) { return s.state_; }
  static bool holds_unit_state(const ClientSession& s) { return s.unit_ != nullptr; }
  static std::optional<ClientCloseReason> end_reason(const ClientSession& s) { return s.end_reason_; }
  static std::string_view wait_named(const ClientSession& s) { return client_wait_name(s.client_wait_); }
  static const std::string& server_out(ClientSession& s) { return s.u().server_out; }

  static bool may_park(const ClientSession& s) { return s.may_park(); }
  static void park(ClientSession& s) { s.park(); }
  // What attach_from_pool() does when the pool hands it a connection, before the message is handled again.
  static void attach_after_wait(ClientSession& s, std::unique_ptr<ServerConnection> conn) {
    REQUIRE(s.client_wait_ == ClientWait::attach);
    s.client_wait_ = ClientWait::none;
    s.u().unit_alias.clear();
    s.attach(std::move(conn));
  }
  // Handles what is buffered again (after a wait).
  static std::string handle_again(ClientSession& s) { return receive(s, {}); }

  static void server_lost(ClientSession& s, const std::string& why) { s.server_lost(why); }

  // The client is gone: the decision its exit makes about the held connection, and the exit itself
  // (finish_server_on_client_exit) spawned on the worker's io_context.
  static std::string exit_cleanup(const ClientSession& s) {
    switch (s.exit_cleanup(*s.server_)) {
      case ClientSession::ExitCleanup::release: return "release";
      case ClientSession::ExitCleanup::roll_back: return "roll_back";
      case ClientSession::ExitCleanup::discard: return "discard";
    }
    return "?";
  }
  static void client_gone(ClientSession& s) {
    s.note_end(ClientCloseReason::client_lost, "unit test: the client is gone");
    s.client_gone_ = true;  // note_client_gone() without its wake-up of the pump, which is not running here
    asio::co_spawn(s.worker_.ctx, s.finish_server_on_client_exit(), asio::detached);
  }

  // A test's session ends with a reason, so its destructor does not count it as a bug.
  static void end_quietly(ClientSession& s) {
    s.note_end(ClientCloseReason::client_closed, "unit test over", log::Level::debug);
  }
};

}  // namespace pgroute

using namespace pgroute;
namespace be = pgroute::wire::backend;
namespace tx = pgroute::wire::tx_status;

namespace {

std::shared_ptr<config::Config> one_backend_config() {
  auto cfg = std::make_shared<config::Config>();
  config::Backend b;
  b.alias = "main";
  b.host = "127.0.0.1";
  b.port = 1;  // never connected
  b.user = "app";
  b.password = "secret";
  b.dbname = "app";
  cfg->backends = {b};
  cfg->default_alias = "main";
  cfg->users = {{"app", "secret", config::AuthMethod::Trust}};
  return cfg;
}

// The runtime and the worker outlive the io_contexts, whose pending completions hold the sessions.
struct Proxy {
  Runtime rt{1};
  Worker worker{rt, 0};
  asio::io_context server_io, client_io;
  std::vector<std::shared_ptr<ClientSession>> sessions;
  std::vector<std::shared_ptr<ServerPool>> pools;

  Proxy() { rt.install(one_backend_config(), nullptr); }
  ~Proxy() {
    for (auto& s : sessions) SessionProbe::end_quietly(*s);
    // Idle connections given back to a pool hold sockets of `server_io`: closed while it exists.
    for (auto& p : rt.pools()) p->close_idle(CloseReason::shutdown);
  }

  ClientSession& logged_in_session(CancelRegistry::Key* key = nullptr) {
    auto s = std::make_shared<ClientSession>(worker, Socket(client_io));
    const CancelRegistry::Key k = SessionProbe::log_in(*s, "app");
    if (key) *key = k;
    sessions.push_back(s);
    return *s;
  }

  // A logged-in server connection of the session's pool, idle; nothing behind its socket.
  std::unique_ptr<ServerConnection> server_connection(const ClientSession& s, int32_t pid, int32_t secret) {
    auto conn = std::make_unique<ServerConnection>(server_io, 0, SessionProbe::pool(s).endpoint_ptr());
    conn->backend_pid = pid;
    conn->backend_secret = secret;
    conn->created = conn->last_used = std::chrono::steady_clock::now();
    conn->tx_status = tx::kIdle;
    return conn;
  }
};

// Client messages.
std::string parse(std::string_view name, std::string_view sql) {
  std::string out;
  wire::put_parse(out, name, sql, 0, {});
  return out;
}
std::string bind(std::string_view statement) {
  std::string out;
  wire::put_bind_renamed(out, "", statement, std::string(6, '\0'));  // no formats, no parameters, text results
  return out;
}
std::string describe_portal() {
  std::string out;
  wire::put_describe(out, wire::frontend::kTargetPortal, "");
  return out;
}
std::string execute() {
  std::string out;
  wire::put_execute(out, "", 0);
  return out;
}
std::string sync_msg() {
  std::string out;
  wire::put_sync(out);
  return out;
}
std::string close_statement(std::string_view name) {
  std::string out;
  wire::put_close(out, wire::frontend::kTargetStatement, name);
  return out;
}
std::string query(std::string_view sql) {
  std::string out;
  wire::put_query(out, sql);
  return out;
}

// Server messages.
std::string parse_complete() {
  std::string out;
  wire::put_parse_complete(out);
  return out;
}
std::string bind_complete() {
  std::string out;
  wire::put_bind_complete(out);
  return out;
}
std::string one_row(std::string_view value, std::string_view tag) {
  std::string out;
  wire::put_row_description_text(out, {"v"});
  wire::put_data_row(out, {std::string(value)});
  wire::put_command_complete(out, tag);
  return out;
}
// What an Execute of a one-row SELECT gets (no RowDescription: that answers a Describe).
std::string executed_row(std::string_view value) {
  std::string out;
  wire::put_data_row(out, {std::string(value)});
  wire::put_command_complete(out, "SELECT 1");
  return out;
}
std::string command_complete(std::string_view tag) {
  std::string out;
  wire::put_command_complete(out, tag);
  return out;
}
std::string ready(char status) {
  std::string out;
  wire::put_ready_for_query(out, status);
  return out;
}
std::string error(std::string_view sqlstate, std::string_view message) {
  std::string out;
  wire::put_error(out, {.severity = "ERROR", .sqlstate = sqlstate, .message = message});
  return out;
}

// The type bytes of the messages in `bytes`, in order ("12CZ").
std::string types(std::string_view bytes) {
  std::string t;
  wire::for_each_frame(bytes, 1u << 20, [&](const wire::Frame& f) {
    t.push_back(f.type);
    return true;
  });
  return t;
}

std::vector<wire::Frame> frames(std::string_view bytes) {
  std::vector<wire::Frame> out;
  wire::for_each_frame(bytes, 1u << 20, [&](const wire::Frame& f) {
    out.push_back(f);
    return true;
  });
  return out;
}

}  // namespace

TEST_CASE("session core: a pipeline fed one byte at a time goes to the server as the same pipeline in one chunk") {
  Proxy proxy;
  const std::vector<std::string> pipeline = {parse("s1", "SELECT 1"), bind("s1"), describe_portal(), execute(),
                                             sync_msg()};
  std::string all;
  for (const auto& m : pipeline) all += m;

  ClientSession& chunk = proxy.logged_in_session();
  SessionProbe::attach(chunk, proxy.server_connection(chunk, 101, 1));
  REQUIRE(SessionProbe::receive(chunk, all) == "drained");
  const std::string chunk_to_server = SessionProbe::server_out(chunk);
  const std::string chunk_owed = SessionProbe::owed(chunk);

  ClientSession& bytes = proxy.logged_in_session();
  SessionProbe::attach(bytes, proxy.server_connection(bytes, 102, 2));
  // The server's bytes grow only when a byte completes a client message.
  std::vector<size_t> message_ends;
  for (size_t end = 0; const auto& m : pipeline) message_ends.push_back(end += m.size());
  std::vector<size_t> grew_at;
  for (size_t i = 0; i < all.size(); ++i) {
    const size_t before = SessionProbe::server_out(bytes).size();
    REQUIRE(SessionProbe::receive(bytes, all.substr(i, 1)) == "drained");
    if (SessionProbe::server_out(bytes).size() != before) grew_at.push_back(i + 1);
  }
  CHECK(grew_at == message_ends);

  CHECK(SessionProbe::server_out(bytes) == chunk_to_server);
  CHECK(SessionProbe::owed(bytes) == chunk_owed);
  // What that is: the statement under the proxy's name, bound and executed under it, then Sync; the
  // client's Parse is answered by the proxy once the server has prepared it.
  CHECK(types(chunk_to_server) == "PBDES");
  CHECK(chunk_owed == "InjectedParse SynthParseComplete Bind Describe Execute Sync");
  wire::ParseMsg p;
  REQUIRE(wire::parse_parse(frames(chunk_to_server)[0].body, p));
  CHECK(p.name.substr(0, 4) == "pgr_");
  CHECK(p.query == "SELECT 1");
  CHECK(SessionProbe::sent_to_client(bytes).empty());  // nothing is answered before the server speaks
}

TEST_CASE("session core: a transaction keeps its connection until ReadyForQuery I with nothing owed") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 201, 1));
  CHECK(SessionProbe::state(s) == SessionState::attached);

  REQUIRE(SessionProbe::receive(s, query("BEGIN")) == "drained");
  CHECK(SessionProbe::written_to_server(s) == query("BEGIN"));
  CHECK_FALSE(SessionProbe::may_detach(s));  // the BEGIN is owed its answer
  REQUIRE(SessionProbe::server_sends(s, command_complete("BEGIN") + ready(tx::kInTransaction)));
  CHECK(SessionProbe::owed(s).empty());
  CHECK_FALSE(SessionProbe::may_detach(s));  // inside the transaction
  CHECK_FALSE(SessionProbe::detach(s));

  REQUIRE(SessionProbe::receive(s, query("SELECT 1")) == "drained");
  CHECK(SessionProbe::written_to_server(s) == query("SELECT 1"));
  REQUIRE(SessionProbe::server_sends(s, one_row("1", "SELECT 1")));
  CHECK_FALSE(SessionProbe::may_detach(s));  // the answer is not complete yet
  REQUIRE(SessionProbe::server_sends(s, ready(tx::kInTransaction)));
  CHECK_FALSE(SessionProbe::may_detach(s));

  REQUIRE(SessionProbe::receive(s, query("COMMIT")) == "drained");
  CHECK(SessionProbe::written_to_server(s) == query("COMMIT"));
  CHECK_FALSE(SessionProbe::may_detach(s));
  REQUIRE(SessionProbe::server_sends(s, command_complete("COMMIT") + ready(tx::kIdle)));
  CHECK(SessionProbe::owed(s).empty());
  CHECK(SessionProbe::may_detach(s));

  CHECK(SessionProbe::sent_to_client(s) == command_complete("BEGIN") + ready(tx::kInTransaction) +
                                               one_row("1", "SELECT 1") + ready(tx::kInTransaction) +
                                               command_complete("COMMIT") + ready(tx::kIdle));
  const int idle_before = SessionProbe::pool(s).snapshot().idle;
  CHECK(SessionProbe::detach(s));
  CHECK(SessionProbe::server(s) == nullptr);
  CHECK(SessionProbe::state(s) == SessionState::idle);
  CHECK(SessionProbe::pool(s).snapshot().idle == idle_before + 1);  // back in the pool, as it is
}

TEST_CASE("session core: a prepared statement is prepared under the proxy's name on the next connection") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 301, 1));
  REQUIRE(SessionProbe::receive(s, parse("s1", "SELECT 1") + bind("s1") + execute() + sync_msg()) == "drained");
  const std::string to_a = SessionProbe::written_to_server(s);
  REQUIRE(types(to_a) == "PBES");
  wire::ParseMsg parsed;
  REQUIRE(wire::parse_parse(frames(to_a)[0].body, parsed));
  const std::string server_name(parsed.name);
  CHECK(server_name.rfind("pgr_", 0) == 0);
  REQUIRE(SessionProbe::server_sends(
      s, parse_complete() + bind_complete() + command_complete("SELECT 1") + ready(tx::kIdle)));
  std::string client = SessionProbe::sent_to_client(s);
  CHECK(types(client) == "12CZ");  // the server's ParseComplete was for the proxy's Parse; the client gets one
  REQUIRE(SessionProbe::detach(s));

  // The next unit gets connection B, which never saw the statement.
  SessionProbe::attach(s, proxy.server_connection(s, 302, 2));
  REQUIRE(SessionProbe::receive(s, bind("s1") + execute() + sync_msg()) == "drained");
  const std::string to_b = SessionProbe::written_to_server(s);
  REQUIRE(types(to_b) == "PBES");
  const std::vector<wire::Frame> b = frames(to_b);
  wire::ParseMsg reparsed;
  REQUIRE(wire::parse_parse(b[0].body, reparsed));
  CHECK(reparsed.name == server_name);
  CHECK(reparsed.query == "SELECT 1");
  wire::BindMsg bound;
  REQUIRE(wire::parse_bind(b[1].body, bound));
  CHECK(bound.statement == server_name);
  // B's ParseComplete answers the proxy's Parse: swallowed, the client's Parse was answered on A.
  CHECK(SessionProbe::owed(s) == "InjectedParse Bind Execute Sync");
  REQUIRE(SessionProbe::server_sends(
      s, parse_complete() + bind_complete() + command_complete("SELECT 1") + ready(tx::kIdle)));
  const std::string more = SessionProbe::sent_to_client(s);
  CHECK(types(more) == "2CZ");
  const std::string seen = types(client + more);
  CHECK(std::count(seen.begin(), seen.end(), be::kParseComplete) == 1);
  CHECK(SessionProbe::may_detach(s));
}

TEST_CASE("session core: an error in a pipelined unit skips to its Sync and the next unit's answers still match") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 401, 1));
  const std::string first = parse("", "SELECT $1::int") + bind("") + execute() + sync_msg();
  const std::string second = parse("s2", "SELECT 2") + bind("s2") + execute() + sync_msg();
  REQUIRE(SessionProbe::receive(s, first + second) == "drained");
  CHECK(types(SessionProbe::written_to_server(s)) == "PBESPBES");
  CHECK(SessionProbe::owed(s) == "Parse Bind Execute Sync InjectedParse SynthParseComplete Bind Execute Sync");
  CHECK(SessionProbe::sent_to_client(s).empty());

  // The first Bind fails: the server skips the Execute and answers the Sync.
  const std::string bind_error =
      error("08P01", "bind message supplies 0 parameters, but prepared statement requires 1");
  REQUIRE(SessionProbe::server_sends(s, parse_complete() + bind_error + ready(tx::kIdle)));
  CHECK(SessionProbe::sent_to_client(s) == parse_complete() + bind_error + ready(tx::kIdle));
  CHECK(SessionProbe::owed(s) == "InjectedParse SynthParseComplete Bind Execute Sync");
  CHECK_FALSE(SessionProbe::may_detach(s));

  REQUIRE(SessionProbe::server_sends(s, parse_complete() + bind_complete() + executed_row("2") + ready(tx::kIdle)));
  CHECK(SessionProbe::sent_to_client(s) == parse_complete() + bind_complete() + executed_row("2") + ready(tx::kIdle));
  CHECK(SessionProbe::owed(s).empty());
  CHECK(SessionProbe::may_detach(s));
}

TEST_CASE(
    "session core: a server lost inside a transaction gets the client a FATAL 08006 naming the alias, and no replay") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 501, 1));
  REQUIRE(SessionProbe::receive(s, query("BEGIN")) == "drained");
  SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, command_complete("BEGIN") + ready(tx::kInTransaction)));
  REQUIRE(SessionProbe::receive(s, query("SELECT 1")) == "drained");
  SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, one_row("1", "SELECT 1") + ready(tx::kInTransaction)));
  SessionProbe::sent_to_client(s);
  REQUIRE(SessionProbe::receive(s, query("UPDATE t SET v = 2")) == "drained");
  CHECK(SessionProbe::written_to_server(s) == query("UPDATE t SET v = 2"));
  REQUIRE(SessionProbe::owed(s) == "Query");

  ServerPool& pool = SessionProbe::pool(s);
  const auto lost_before = pool.counters().closes[static_cast<int>(CloseReason::server_error)].load();
  const int idle_before = pool.snapshot().idle;
  SessionProbe::server_lost(s, "the server closed the connection");

  const std::string client = SessionProbe::sent_to_client(s);
  REQUIRE(types(client) == "E");
  wire::ErrorFields e;
  REQUIRE(wire::parse_error_fields(frames(client)[0].body, e));
  CHECK(e.severity == "FATAL");
  CHECK(e.sqlstate == wire::sqlstate::connection_failure);
  CHECK(e.message.find("alias \"main\"") != std::string_view::npos);
  CHECK(e.message.find("the server closed the connection") != std::string_view::npos);
  CHECK(SessionProbe::end_reason(s) == ClientCloseReason::server_lost);
  // The UPDATE's answer is dropped, nothing is queued to send again, and the connection is closed.
  CHECK(SessionProbe::owed(s).empty());
  CHECK(SessionProbe::server(s) == nullptr);
  CHECK(SessionProbe::server_out(s).empty());
  CHECK(pool.counters().closes[static_cast<int>(CloseReason::server_error)].load() == lost_before + 1);
  CHECK(pool.snapshot().idle == idle_before);
}

TEST_CASE("session core: a client gone inside a transaction: rolled back when idle in it, discarded mid-query") {
  Proxy proxy;
  auto client_gone_closes = [](ServerPool& pool) {
    return pool.counters().closes[static_cast<int>(CloseReason::client_gone)].load();
  };

  SUBCASE("ReadyForQuery I, nothing owed: the connection goes back as it is") {
    ClientSession& s = proxy.logged_in_session();
    SessionProbe::attach(s, proxy.server_connection(s, 601, 1));
    REQUIRE(SessionProbe::receive(s, query("SELECT 1")) == "drained");
    SessionProbe::written_to_server(s);
    REQUIRE(SessionProbe::server_sends(s, one_row("1", "SELECT 1") + ready(tx::kIdle)));
    CHECK(SessionProbe::exit_cleanup(s) == "release");
    const int idle_before = SessionProbe::pool(s).snapshot().idle;
    SessionProbe::client_gone(s);
    proxy.worker.ctx.poll();
    CHECK(SessionProbe::server(s) == nullptr);
    CHECK(SessionProbe::state(s) == SessionState::closed);
    CHECK(SessionProbe::pool(s).snapshot().idle == idle_before + 1);
  }

  SUBCASE("ReadyForQuery T, nothing owed: rolled back first, not given back as it is") {
    ClientSession& s = proxy.logged_in_session();
    SessionProbe::attach(s, proxy.server_connection(s, 602, 1));
    REQUIRE(SessionProbe::receive(s, query("BEGIN")) == "drained");
    SessionProbe::written_to_server(s);
    REQUIRE(SessionProbe::server_sends(s, command_complete("BEGIN") + ready(tx::kInTransaction)));
    CHECK(SessionProbe::owed(s).empty());
    CHECK(SessionProbe::exit_cleanup(s) == "roll_back");
    ServerPool& pool = SessionProbe::pool(s);
    const int idle_before = pool.snapshot().idle;
    const auto closes_before = client_gone_closes(pool);
    SessionProbe::client_gone(s);
    // The exit now waits for its ROLLBACK to be written (on `server_io`, never run: no server answers here).
    proxy.worker.ctx.poll();
    CHECK(SessionProbe::server(s) == nullptr);
    CHECK(SessionProbe::state(s) == SessionState::closed);
    CHECK(pool.snapshot().idle == idle_before);
    CHECK(client_gone_closes(pool) == closes_before);
  }

  SUBCASE("a query in flight: the connection is closed") {
    ClientSession& s = proxy.logged_in_session();
    SessionProbe::attach(s, proxy.server_connection(s, 603, 1));
    REQUIRE(SessionProbe::receive(s, query("BEGIN")) == "drained");
    SessionProbe::written_to_server(s);
    REQUIRE(SessionProbe::server_sends(s, command_complete("BEGIN") + ready(tx::kInTransaction)));
    REQUIRE(SessionProbe::receive(s, query("SELECT pg_sleep(10)")) == "drained");
    SessionProbe::written_to_server(s);
    CHECK(SessionProbe::exit_cleanup(s) == "discard");
    ServerPool& pool = SessionProbe::pool(s);
    const int idle_before = pool.snapshot().idle;
    const auto closes_before = client_gone_closes(pool);
    SessionProbe::client_gone(s);
    proxy.worker.ctx.poll();
    CHECK(SessionProbe::server(s) == nullptr);
    CHECK(pool.snapshot().idle == idle_before);
    CHECK(client_gone_closes(pool) == closes_before + 1);
  }

  SUBCASE("an extended-protocol unit half sent (no Sync yet): the connection is closed") {
    ClientSession& s = proxy.logged_in_session();
    SessionProbe::attach(s, proxy.server_connection(s, 604, 1));
    REQUIRE(SessionProbe::receive(s, parse("", "SELECT 1") + bind("")) == "drained");
    SessionProbe::written_to_server(s);
    REQUIRE(SessionProbe::server_sends(s, parse_complete() + bind_complete()));
    CHECK(SessionProbe::owed(s).empty());
    CHECK(SessionProbe::exit_cleanup(s) == "discard");
  }
}

TEST_CASE("session core: the client's cancel key points at the attached connection, and at nothing after it") {
  Proxy proxy;
  CancelRegistry::Key key{};
  ClientSession& s = proxy.logged_in_session(&key);
  auto slot = proxy.rt.cancels.find(key.pid, key.secret);
  REQUIRE(slot);
  CHECK_FALSE(proxy.rt.cancels.find(key.pid, key.secret + 1));
  CHECK(slot->get().empty());  // between transactions nothing runs

  SessionProbe::attach(s, proxy.server_connection(s, 701, 7001));
  auto targets = slot->get();
  REQUIRE(targets.size() == 1);
  CHECK(targets[0].host == "127.0.0.1");
  CHECK(targets[0].port == 1);
  CHECK(targets[0].pid == 701);
  CHECK(targets[0].secret == 7001);

  REQUIRE(SessionProbe::receive(s, query("BEGIN")) == "drained");
  SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, command_complete("BEGIN") + ready(tx::kInTransaction)));
  CHECK(slot->get().size() == 1);  // still inside the transaction
  REQUIRE(SessionProbe::receive(s, query("COMMIT")) == "drained");
  SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, command_complete("COMMIT") + ready(tx::kIdle)));
  REQUIRE(SessionProbe::detach(s));
  CHECK(slot->get().empty());

  // The next transaction's connection is the target then.
  SessionProbe::attach(s, proxy.server_connection(s, 702, 7002));
  targets = slot->get();
  REQUIRE(targets.size() == 1);
  CHECK(targets[0].pid == 702);
  CHECK(targets[0].secret == 7002);
}

TEST_CASE("session core: an idle session parks without buffers and a query after it wakes is sent once attached") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 801, 1));
  REQUIRE(SessionProbe::receive(s, query("SELECT 1")) == "drained");
  SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, one_row("1", "SELECT 1") + ready(tx::kIdle)));
  SessionProbe::sent_to_client(s);
  REQUIRE(SessionProbe::detach(s));
  CHECK(SessionProbe::holds_unit_state(s));

  REQUIRE(SessionProbe::may_park(s));
  const int parked_before = proxy.rt.clients_parked.load();
  SessionProbe::park(s);
  CHECK(SessionProbe::state(s) == SessionState::parked);
  CHECK_FALSE(SessionProbe::holds_unit_state(s));  // no read buffer, outbox or reply queue while parked
  CHECK(proxy.rt.clients_parked.load() == parked_before + 1);

  // The client's socket turns readable: the readiness wait park() left completes and serve() reads.
  CHECK(proxy.client_io.poll_one() == 1);
  CHECK(SessionProbe::state(s) == SessionState::idle);
  CHECK(proxy.rt.clients_parked.load() == parked_before);

  // The query arrives. The pool has no connection at hand (the one given back has no socket behind it
  // and is closed as dead), so the query waits for one...
  CHECK(SessionProbe::receive(s, query("SELECT 2")) == "wait");
  CHECK(SessionProbe::wait_named(s) == "attach");
  CHECK(SessionProbe::server_out(s).empty());
  // ...and once attached is handled again and queued for the server.
  SessionProbe::attach_after_wait(s, proxy.server_connection(s, 802, 1));
  CHECK(SessionProbe::handle_again(s) == "drained");
  CHECK(SessionProbe::server_out(s) == query("SELECT 2"));
  CHECK(SessionProbe::state(s) == SessionState::attached);
  CHECK(SessionProbe::owed(s) == "Query");
}

TEST_CASE("session core: an unnamed Parse is owed its answer: what the proxy answers after it waits for it") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 901, 1));
  REQUIRE(SessionProbe::receive(s, parse("s1", "SELECT 1") + sync_msg()) == "drained");
  SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, parse_complete() + ready(tx::kIdle)));
  REQUIRE(types(SessionProbe::sent_to_client(s)) == "1Z");

  // The Close of s1 is answered by the proxy (the server keeps the statement for other clients), but
  // only after the server has answered the unnamed Parse sent before it.
  REQUIRE(SessionProbe::receive(s, parse("", "SELECT 2") + close_statement("s1") + sync_msg()) == "drained");
  CHECK(SessionProbe::written_to_server(s) == parse("", "SELECT 2") + sync_msg());
  CHECK(SessionProbe::owed(s) == "Parse SynthCloseComplete Sync");
  CHECK(SessionProbe::sent_to_client(s).empty());
  REQUIRE(SessionProbe::server_sends(s, parse_complete() + ready(tx::kIdle)));
  CHECK(types(SessionProbe::sent_to_client(s)) == "13Z");  // as PostgreSQL answers them: in order
  CHECK(SessionProbe::may_detach(s));
}

TEST_CASE("session core: a client's SET follows it once its transaction commits, not when it rolls back") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 301, 1));

  // Inside an explicit block: at COMMIT.
  REQUIRE(SessionProbe::receive(s, query("BEGIN")) == "drained");
  REQUIRE(SessionProbe::server_sends(s, command_complete("BEGIN") + ready(tx::kInTransaction)));
  REQUIRE(SessionProbe::receive(s, query("SET work_mem = '64MB'")) == "drained");
  REQUIRE(SessionProbe::server_sends(s, command_complete("SET") + ready(tx::kInTransaction)));
  CHECK(SessionProbe::follows(s, "work_mem").empty());  // not before the transaction commits
  REQUIRE(SessionProbe::receive(s, query("COMMIT")) == "drained");
  REQUIRE(SessionProbe::server_sends(s, command_complete("COMMIT") + ready(tx::kIdle)));
  CHECK(SessionProbe::follows(s, "work_mem") == "64MB");

  // Rolled back: gone, and nothing to reset.
  REQUIRE(SessionProbe::receive(s, query("BEGIN")) == "drained");
  REQUIRE(SessionProbe::server_sends(s, command_complete("BEGIN") + ready(tx::kInTransaction)));
  REQUIRE(SessionProbe::receive(s, query("SET lock_timeout = '3s'")) == "drained");
  REQUIRE(SessionProbe::server_sends(s, command_complete("SET") + ready(tx::kInTransaction)));
  REQUIRE(SessionProbe::receive(s, query("ROLLBACK")) == "drained");
  REQUIRE(SessionProbe::server_sends(s, command_complete("ROLLBACK") + ready(tx::kIdle)));
  CHECK(SessionProbe::follows(s, "lock_timeout").empty());
  CHECK_FALSE(SessionProbe::dirty(s));

  // An extended-protocol unit whose later statement fails: its implicit transaction, and the SET, are undone.
  REQUIRE(SessionProbe::receive(s, parse("", "SET lock_timeout = '4s'") + bind("") + execute() +
                                       parse("", "SELECT 1/0") + bind("") + execute() + sync_msg()) == "drained");
  REQUIRE(SessionProbe::server_sends(s, parse_complete() + bind_complete() + command_complete("SET") +
                                            parse_complete() + bind_complete() + error("22012", "division by zero") +
                                            ready(tx::kIdle)));
  CHECK(SessionProbe::follows(s, "lock_timeout").empty());
  // The same unit without the failure: the SET follows.
  REQUIRE(SessionProbe::receive(s, parse("", "SET lock_timeout = '5s'") + bind("") + execute() + sync_msg()) ==
          "drained");
  REQUIRE(
      SessionProbe::server_sends(s, parse_complete() + bind_complete() + command_complete("SET") + ready(tx::kIdle)));
  CHECK(SessionProbe::follows(s, "lock_timeout") == "5s");

  // SELECT set_config(..., false): the value is the row's.
  REQUIRE(SessionProbe::receive(s, parse("", "SELECT set_config('app.tenant', $1, false)") + bind("") + execute() +
                                       sync_msg()) == "drained");
  REQUIRE(SessionProbe::server_sends(s, parse_complete() + bind_complete() + executed_row("42") + ready(tx::kIdle)));
  CHECK(SessionProbe::follows(s, "app.tenant") == "42");
  CHECK_FALSE(SessionProbe::dirty(s));
  SessionProbe::end_quietly(s);
}

TEST_CASE("session core: the keep probe goes out once the server is idle; a client message behind it keeps the keep") {
  Proxy proxy;
  ClientSession& s = proxy.logged_in_session();
  SessionProbe::attach(s, proxy.server_connection(s, 302, 1));
  REQUIRE(SessionProbe::receive(s, query("SELECT pg_advisory_lock(1)")) == "drained");
  (void)SessionProbe::written_to_server(s);
  CHECK(SessionProbe::kept_for(s) == "a session advisory lock");
  CHECK_FALSE(SessionProbe::keep_probe_queued(s));  // the lock's answer is still owed
  REQUIRE(SessionProbe::server_sends(s, one_row("", "SELECT 1") + ready(tx::kIdle)));
  CHECK_FALSE(SessionProbe::may_detach(s));  // kept

  // After the statement that made the state, the probe; the client's next statement lines up behind it.
  REQUIRE(SessionProbe::keep_probe_queued(s));
  CHECK(types(SessionProbe::written_to_server(s)) == "Q");
  CHECK_FALSE(SessionProbe::keep_probe_queued(s));  // one at a time
  REQUIRE(SessionProbe::receive(s, query("SELECT pg_advisory_lock(2)")) == "drained");
  (void)SessionProbe::written_to_server(s);
  CHECK(SessionProbe::owed(s) == "InjectedQuery Query");
  // The probe found nothing (lock 1 was released meanwhile, say), but lock 2 runs after it: still kept.
  REQUIRE(SessionProbe::server_sends(s, one_row("f", "SELECT 1") + ready(tx::kIdle)));
  CHECK(SessionProbe::kept_for(s) == "a session advisory lock");
  REQUIRE(SessionProbe::server_sends(s, one_row("", "SELECT 1") + ready(tx::kIdle)));
  CHECK_FALSE(SessionProbe::may_detach(s));
  // Asked again now that nothing is owed: lock 2 is there.
  REQUIRE(SessionProbe::keep_probe_queued(s));
  (void)SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, one_row("t", "SELECT 1") + ready(tx::kIdle)));
  CHECK(SessionProbe::kept_for(s) == "a session advisory lock");
  CHECK_FALSE(SessionProbe::keep_probe_queued(s));  // nothing since that could end it

  // An unlock: asked again; nothing left, and nothing behind it: the connection may go back.
  REQUIRE(SessionProbe::receive(s, query("SELECT pg_advisory_unlock_all()")) == "drained");
  (void)SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, one_row("", "SELECT 1") + ready(tx::kIdle)));
  REQUIRE(SessionProbe::keep_probe_queued(s));
  (void)SessionProbe::written_to_server(s);
  REQUIRE(SessionProbe::server_sends(s, one_row("f", "SELECT 1") + ready(tx::kIdle)));
  CHECK(SessionProbe::kept_for(s) == "nothing");
  CHECK(SessionProbe::may_detach(s));
  // The client saw its own answers only, not the probe's.
  CHECK(types(SessionProbe::sent_to_client(s)) == "TDCZTDCZTDCZ");
  SessionProbe::end_quietly(s);
}
