// One client connection: startup and authentication, then a loop that reads the client's messages,
// borrows a server connection for each transaction (or the whole session in session mode) and forwards.
//
// Startup and login run in a coroutine (a cold path). After that two sides of the session are driven by
// completion handlers on the session's worker thread (so no locks between them), with no coroutine
// frame per message or per transaction:
//  - the client side (serve) reads client messages, rewrites prepared-statement names, and writes to the
//    server connection it holds, attaching one from the pool when a transaction starts; a message that
//    must wait names the wait (client_wait.hpp) and is handled again after it;
//  - the server pump reads that connection's responses, forwards them to the client, and gives the
//    connection back when the server says the transaction is over (ReadyForQuery 'I', nothing pending).
#pragma once
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "proxy/admin/client_info.hpp"
#include "proxy/base/log.hpp"
#include "proxy/io/asio.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/io/outbox.hpp"
#include "proxy/io/read_buffer.hpp"
#include "proxy/io/tls_channel.hpp"
#include "proxy/pool/client_close_reason.hpp"
#include "proxy/pool/close_reason.hpp"
#include "proxy/pool/runtime.hpp"
#include "proxy/pool/server_pool.hpp"
#include "proxy/session/client_identity.hpp"
#include "proxy/session/client_statements.hpp"
#include "proxy/session/client_view.hpp"
#include "proxy/session/client_wait.hpp"
#include "proxy/session/column_order_cache.hpp"
#include "proxy/session/held_unit.hpp"
#include "proxy/session/literal_normalizer.hpp"
#include "proxy/session/response_queue.hpp"
#include "proxy/session/scatter_merge.hpp"
#include "proxy/session/server_replies.hpp"
#include "proxy/session/session_list.hpp"
#include "proxy/session/session_state.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/frontend.hpp"
#include "router/result_order.hpp"
#include "router/router.hpp"

namespace pgroute {

struct Worker;

struct SessionProbe;  // tests/unit/core: drives the session's message handling without sockets

class ClientSession : public std::enable_shared_from_this<ClientSession>, public ServerPool::Receiver {
  friend struct SessionProbe;
  friend class SessionList;

 public:
  ClientSession(Worker& worker, Socket socket);
  ~ClientSession();

  // Startup, then serve().
  awaitable<void> run();
  // Called on the session's worker thread when the proxy shuts down.
  void request_shutdown();

  // Parks the session if it has waited in a read with nothing in flight since before the previous
  // tick of its worker's park sweep (so for at least one sweep period). Call on the worker thread.
  void park_if_idle(uint32_t tick);

  uint64_t id() const { return id_; }
  // For SHOW CLIENTS; call on the session's worker thread.
  admin::ClientInfo info() const;

 private:
  // --- startup (client_startup.cpp)
  awaitable<bool> startup();
  // The time before login: counted apart from logged-in clients and bounded by authentication_timeout.
  // Over max_startup_connections a connection waits, unread, for a free place or for the oldest login
  // to have had its chance; false when even the wait is full or it lasted authentication_timeout (the
  // refusal is queued), or the client left meanwhile.
  awaitable<bool> enter_startup();
  void begin_startup(const config::Config& cfg);  // counted as logging in, under authentication_timeout
  void leave_startup();                           // logged in, or gone
  // Takes the place of the oldest connection of this worker still logging in, if it had its chance.
  bool evict_oldest_starting(const config::Config& cfg);
  // Ends a connection that is still logging in, from outside its coroutine (timeout, eviction):
  // tells the client when that cannot cut into another message, and closes.
  void abort_startup(ClientCloseReason reason, std::string_view sqlstate, const std::string& message);
  awaitable<bool> admit_client();  // counts a logged-in client against max_client_connections
  awaitable<bool> authenticate(const config::User* user, const std::string& name);
  awaitable<bool> read_password_message(wire::Frame& f);
  awaitable<void> handle_cancel(int32_t pid, int32_t secret);
  awaitable<void> forward_cancel(const CancelTarget& target);
  awaitable<bool> login_server();
  awaitable<void> send_fatal(std::string_view sqlstate, const std::string& message, std::string_view hint = {});

  // --- TLS with the client (client_tls.cpp)
  // The handshake after 'S' to an SSLRequest, or of a client that began with it (direct TLS: what it sent
  // so far is in u().in); false when it failed (noted).
  awaitable<bool> start_tls(bool direct);
  // A client that began with a TLS handshake (libpq 17's sslnegotiation=direct) instead of a packet:
  // the handshake, then ALPN "postgresql" checked; false when refused (noted).
  awaitable<bool> start_direct_tls();
  // Client reads of the login and the admin console: into u().in, through TLS once it is on.
  awaitable<bool> read_client_more(size_t want, std::string& error);
  awaitable<ReadStatus> read_client_startup(uint32_t max_len, wire::StartupPacket& pkt, size_t& consumed,
                                            std::string& error);
  awaitable<ReadStatus> read_client_frame(uint32_t max_body, wire::Frame& f, std::string& error);

  // --- admin console on the virtual database "pgroute" (admin/console_session.cpp)
  awaitable<void> run_admin_console();
  awaitable<bool> run_admin_command(std::string_view sql);

  // --- client side (client_session.cpp)
  // Handles every whole message buffered, sends what they queued, then reads again, or parks when the
  // client is idle. Runs from read completions, from park() and after a wait.
  void serve();
  // The part of serve() without I/O: handles every whole message in the read buffer. drained: none is
  // left (need: the length of one partly read); wait: client_wait_ names what the first one waits for
  // (it stays buffered); stop: the client side is over.
  enum class Buffered : uint8_t { drained, wait, stop };
  Buffered handle_buffered(size_t& need);
  void read_client(size_t need);
  void on_client_read(boost::system::error_code ec, size_t n);
  void client_read_done(boost::system::error_code ec, size_t n);
  void client_input_over();  // the client's input ended
  bool may_park() const;
  void park();
  enum class Handled : uint8_t { next, wait, stop };
  // One client message, without waiting: wait names client_wait_ (the message is handled again after it,
  // or is over for the scatter waits); stop ends the client side (client_side_ends).
  Handled handle_message(const wire::Frame& f);
  Handled handle_copy_message(const wire::Frame& f);
  [[gnu::cold]] Handled fatal(ClientCloseReason reason, const std::string& detail, std::string_view sqlstate,
                              const std::string& message);
  void message_over();
  void pin_alias(const std::string& alias) { wait_data().pinned_alias = alias; }
  void start_wait(ClientWait what);
  awaitable<void> client_waiting(std::shared_ptr<ClientSession> self, ClientWait what);
  // The client side is over (stopped, or its input ended or failed): answers what it still must, then
  // the session ends, or the pump ends it after the server's last answers.
  void client_side_ends();
  awaitable<void> client_ending(std::shared_ptr<ClientSession> self);
  // A server connection for the unit being handled (once per transaction in transaction mode).
  // attach_now() takes one without waiting when the pool has a fit idle connection at hand, as it
  // nearly always has; on must_wait (ClientWait::attach) the pool's acquire_queued() waits for one,
  // opens one or checks one first, then checkout_done() attaches it (or notes attach_failed_) and the
  // message is handled again.
  enum class Attach { attached, failed, must_wait };
  Attach attach_now();
  void checkout_done(ServerPool::Checkout checkout) override;
  void attach(std::unique_ptr<ServerConnection> conn);
  bool pool_ready(const std::string& alias);
  // `alias`'s pool for this client in the session's snapshot (never a newer one: the unit being routed
  // keeps the rules it was routed by), without touching pool_; null with sqlstate and error when none.
  std::shared_ptr<ServerPool> pool_for_alias(const std::string& alias, std::string& sqlstate, std::string& error);
  // Sends what is queued for the server as far as its socket takes it now; must_wait: flush_to_server()
  // writes the rest (server_out keeps it, writing_to_server_ stays set).
  enum class ServerSend : uint8_t { sent, failed, must_wait };
  ServerSend send_to_server_now();
  void server_write_done(bool ok);
  awaitable<bool> flush_to_server();
  std::string session_parameter_sql(const ServerConnection& conn) const;
  void queue_session_parameters(ServerConnection& conn, std::string& out, ResponseQueue& expect);
  // `conn` as the statement translation writes to it (client_statements.hpp).
  StatementTarget statement_target(ServerConnection& conn, std::string& out, ResponseQueue& expect) const;
  void prepare_on_server(const ClientStatement& st);
  bool statement_exists(std::string_view name) const;
  [[gnu::cold]] Handled refuse_duplicate_parse(std::string_view name);
  void note_statement(std::string_view sql, bool simple);
  // Under transaction pooling (kept_server.cpp): if `sql` leaves state in the server session that
  // outlives the transaction (router::SessionStateKind), the session keeps its server connection; if it
  // may end such state, the server is asked once it is idle (the keep probe) and the connection goes
  // back when nothing is left.
  // `followed`: a session setting in `sql` is tracked (client_settings.cpp), so a set_config() in it
  // needs no reset.
  // `words`: router::scan_session_words(sql), taken once per message for this and track_setting().
  void note_session_state(std::string_view sql, bool followed, const router::SessionWords& words);
  bool keep_probe_due() const;
  bool queue_keep_probe();        // true: queued in server_out (the caller writes it)
  bool send_keep_probe_if_due();  // false: the connection is lost (server_lost() ran)
  void on_keep_probe_reply(const wire::Frame& f);
  // The client's own session-level SETs (client_settings.cpp). A ticket (Pending::setting) when `sql`
  // is a SET/RESET of one parameter to constants the proxy can repeat; 0 otherwise.
  uint32_t track_setting(std::string_view sql, const router::SessionWords& words);
  void forget_setting(uint32_t ticket);  // never executed (a portal bound again, or not executed by Sync)
  // Its reply is over: confirmed (now in committing), or not, and then whatever it did is reset.
  void finish_setting(uint32_t ticket);
  // A CommandComplete of the client's: a tracked SET confirmed, or an explicit transaction's end.
  void note_setting_tag(const Pending& head, std::string_view tag, ServerConnection& conn);
  void note_setting_row(uint32_t ticket, const wire::Frame& row);  // the value SELECT set_config() returned
  // A ReadyForQuery of the client's: the confirmed SETs last if their transaction committed.
  void note_setting_ready(char tx_status, ServerConnection& conn);
  void apply_setting(const router::SessionSetting& s, ServerConnection& conn);
  // RESET ALL or DISCARD ALL took effect on `conn`: the client's parameters are its startup packet's.
  void reset_all_settings(ServerConnection& conn);
  void push(Pending p);
  void emit_ready_synthetic() { u().replies.emit_synthetic(u().out.buffer()); }
  [[gnu::cold]] void send_error(std::string_view sqlstate, const std::string& message,
                                std::string_view severity = "ERROR");
  void note_client_gone();
  awaitable<void> end_client_input();
  // Records a ParameterStatus value for the client; true if it differs from what the client has seen.
  bool client_view_changes(std::string_view name, std::string_view value) { return client_view_.changes(name, value); }

  // --- server pump (server_pump.cpp)
  // The attached connection is read with a completion handler and what it answers is handled without a
  // coroutine (pump_step); whatever must wait (a write the socket did not take at once, a rollback, an
  // ending) goes on in a coroutine (pump_wait), server_pump() until the connection goes back.
  // start_pump(): where a connection is attached; it only starts the first read, so nothing can end the
  // attachment under the caller, which goes on to use the connection.
  void start_pump();
  bool handle_server_frames();
  void pump_step();
  void pump_read();
  void on_server_read(boost::system::error_code ec, size_t n);
  enum class PumpWait { pump, detach, client_exit, server_lost };
  void pump_wait(PumpWait what, std::unique_ptr<ServerConnection> unreleased = nullptr);
  awaitable<void> pump_waiting(std::shared_ptr<ClientSession> self, PumpWait what,
                               std::unique_ptr<ServerConnection> unreleased);
  awaitable<void> server_pump(std::shared_ptr<ClientSession> self);
  // After the connection went back (or with one release_server() must still undo): the client's last
  // answers, then the session ends if its input did or the proxy shuts down.
  awaitable<void> finish_detach(std::unique_ptr<ServerConnection> unreleased);
  bool process_server_frame(const wire::Frame& f);
  bool may_detach() const;
  awaitable<void> finish_server_on_client_exit();
  // What the client's exit leaves to do with the connection it held (taken from server_), decided
  // without I/O: give it back, roll back its transaction first, or close it.
  enum class ExitCleanup : uint8_t { release, roll_back, discard };
  ExitCleanup exit_cleanup(const ServerConnection& conn) const;
  struct QueryError {
    std::string sqlstate, message;
    bool broken = false;  // the connection is unusable (not an error the server reported)
  };
  // Runs `sql` on a connection no client is using; first_value: the first column of the first row.
  awaitable<std::optional<QueryError>> run_internal_query(ServerConnection& conn, std::string_view sql,
                                                          std::optional<std::string>* first_value = nullptr);
  awaitable<void> release_server(std::unique_ptr<ServerConnection> conn);
  // Gives the connection back at once when nothing needs undoing on it (the common case); else false,
  // and release_server() must run.
  bool release_now(std::unique_ptr<ServerConnection>& conn);
  [[gnu::cold]] void server_lost(const std::string& why, CloseReason reason = CloseReason::server_error);

  // --- the session's state and its end (client_session.cpp)
  // The one setter of state_: keeps pgroute_clients_parked in step with the parked state; closed is final.
  void set_state(SessionState next);

  // The one exit: records why the session ends (the first reason given wins; later calls keep it),
  // logs that once and counts it (pgroute_client_closes_total{reason}), then closes the client's socket.
  // `reason` and `detail` only count if no reason was noted before: call sites whose reason was noted
  // earlier (note_end) pass ClientCloseReason::unknown, so a path that forgot to shows up as a bug.
  void end_session(ClientCloseReason reason, std::string_view detail = {});
  // Records the reason now (logged and counted as end_session does) for an end that comes after
  // answers still to send: a FATAL, the rest of what the client asked, the server's last words.
  // `level`: the log line's, when not the reason's own (a refusal during a connection flood: debug).
  [[gnu::cold]] void note_end(ClientCloseReason reason, std::string_view detail, std::optional<log::Level> level = {});
  // After a read found the client's input over: at a message boundary (client_closed) or not.
  void note_input_closed(std::string_view error);
  // Why an end of the client's input at this point is not a clean exit; empty when it is.
  std::string_view input_cut_short() const;
  // Writing to the client failed: the client is gone.
  [[gnu::cold]] void note_write_failed();

  std::string describe() const;

  // --- routing (client_routing.cpp)
  // wait: client_wait_ names what the message waits for (it is handled again after, client_wait.hpp).
  enum class Step { forward, done, stop, wait };
  Step wait_for(ClientWait what) {
    client_wait_ = what;
    return Step::wait;
  }
  bool routing_active() const { return snap_ && snap_->chain && !session_mode_; }
  Step route_message(const wire::Frame& f, std::string_view sql, const wire::ParseMsg& parse,
                     const wire::BindMsg& bind);
  Step route_query(std::string_view sql);
  Step route_bind(const wire::Frame& f, const wire::BindMsg& bind);
  // Attaches to `alias` and replays the held messages; at_sync: the current message is the unit's Sync.
  Step release_held(const std::string& alias, bool at_sync);
  // Where held messages that prepare or describe a statement but bind none go: where the statement's
  // tables are as far as the routers tell without parameter values (a sharded table: one of its shards,
  // which share its definition), else the client's own alias. Drivers prepare so before they execute
  // (psycopg 3 at its prepare threshold, asyncpg always).
  std::string describe_alias();
  // Where a statement may be described: `prefer` (an attached connection's alias) when that will do.
  std::string describe_alias_of(const router::Analysis& a, std::string_view prefer);
  // A Bind for another alias than the attached one's, in a unit that only prepared and described there:
  // the unit may end on that server (an injected Sync) and the Bind go to its own alias.
  bool may_end_unit_for_bind(const wire::BindMsg& bind) const;
  void open_deferred_transaction();
  // Ends the extended-protocol unit open on the server with a Sync of the proxy's (answer swallowed).
  void end_unit_on_server();
  router::RouteContext session_route_context(const router::Analysis& a) const;
  // After a wait for the connection release_held() asked for: the held messages go to it first.
  Step replay_held();
  bool answer_held_unit();
  std::shared_ptr<const router::Analysis> analyze(std::string_view sql);
  std::shared_ptr<const router::Analysis> analyze_query(std::string_view sql, const wire::BindParams*& params);
  const router::Analysis* analysis_of_statement(std::string_view name) const;
  std::variant<router::RouteDecision, router::RouteError> route(const router::Analysis& a, std::string_view sql,
                                                                const wire::BindParams* params,
                                                                ColumnOrderLookup& columns);
  bool answer_locally(const router::Analysis& a, char& status_after);
  bool apply_shard_key(const router::Analysis& a);
  void note_routed(const router::Analysis& a, const router::RouteDecision& d);
  // causal_reads: tables (commit_probe.cpp).
  void note_causal_write(const router::Analysis& a, const std::string& alias);
  void note_causal_unit(const router::Analysis& a);
  // After a Query or Sync is queued for the server: the probe behind it when the unit may commit writes.
  void send_commit_probe_if_due();
  void note_copy_done();
  // A read held back by a causal floor: true when it should wait (ClientWait::replay) and be routed again;
  // else its outcome is counted and the decision stands.
  bool wait_for_replay(const router::RouteDecision& d);
  // A decision a causal floor held back, or one for a read that waited on one (it may have been dropped).
  bool causal_route(const router::RouteDecision& d) const {
    return d.causal || (wait_data_ && wait_data_->replay_wait_since);
  }
  awaitable<void> replay_pause();
  bool sample_primary(const std::string& primary, std::chrono::steady_clock::time_point now);
  void on_commit_probe_reply(const wire::Frame& f);
  // A ReadyForQuery being forwarded now is followed by a commit probe's answers (commit_probe.cpp).
  // Inline: asked for every message a server sends, and without causal reads there is nothing to look at.
  bool commit_probe_next() const { return causal_ && commit_probe_queued_next(); }
  bool commit_probe_queued_next() const;
  char client_tx_status() const;
  // Whether the message being routed must first see the attached server answer what it was asked.
  bool server_busy() const { return server_ && !u().replies.expect.empty(); }
  awaitable<void> wait_server_idle();
  std::string affinity_error(const std::string& alias, const router::RouteDecision& d) const;
  [[gnu::cold]] void queue_route_error(const router::RouteError& e);
  void hold(const wire::Frame& f);
  HeldUnit take_held();  // the held messages, which are no longer held
  void clear_held();

  // --- INSERT without a column list: a shard key's place in its table (client_column_order.cpp)
  awaitable<router::KeyPosition> learn_key_position(std::string table, std::string column,
                                                    std::vector<std::string> shards, uint64_t generation);
  // Asks for what `columns` missed: the message waits (ClientWait::column_order), and the answer is
  // used by its next routing pass (use_learnt_column_order).
  Step learn_column_order(const ColumnOrderLookup& columns);
  awaitable<void> learn_missing_column_order();
  void use_learnt_column_order(ColumnOrderLookup& columns);
  void note_column_order_error(const wire::Frame& f);
  // A refusal of a statement placed by a cached column order that a changed order would explain (the
  // value taken for the key is not of its type): forgets that order, so routing again learns it anew.
  bool column_order_stale(const std::variant<router::RouteDecision, router::RouteError>& routed,
                          const ColumnOrderLookup& columns);

  // --- reads across shards: a router's scatter decision (client_scatter.cpp)
  struct ScatterUnit {
    router::RouteDecision decision;
    std::string statement;                             // its text, for per-statement statistics
    std::shared_ptr<const router::ResultOrder> order;  // a top-level ORDER BY / LIMIT to redo; null: none
    std::optional<uint64_t> limit;                     // that LIMIT's value
  };
  struct ScatterShard;
  std::optional<router::RouteError> scatter_refusal(const router::Analysis& a, const router::RouteDecision& d) const;
  ScatterUnit scatter_unit(router::RouteDecision d, const router::Analysis& a, std::string statement,
                           const wire::BindParams* params) const;
  Step scatter_query(std::string_view sql, const router::Analysis& a, const router::RouteDecision& d,
                     const wire::BindParams* literals);
  awaitable<Step> scatter_held(bool at_sync);
  awaitable<void> run_scatter(const ScatterUnit& unit, std::string_view bytes, bool simple, bool ready_for_query);
  awaitable<bool> read_scatter_shard(ScatterShard& shard, ScatterMerge& merge);
  std::string statement_text(std::string_view name) const;
  void build_scatter_unit(ServerConnection& conn, std::string_view held, bool describe, std::string& bytes,
                          ResponseQueue& expect);

  Worker& worker_;
  Runtime& rt() const;         // worker_.rt
  SessionListHook list_hook_;  // in worker_.sessions
  Socket socket_;
  std::unique_ptr<TlsChannel> tls_;  // TLS with the client (null: plaintext)
  uint64_t id_;

  // Identity and routing (fixed at startup).
  std::shared_ptr<const Snapshot> snap_;
  // User, database, alias, application_name and the session parameters asked for (shared: interned).
  std::shared_ptr<const ClientIdentity> who_ = ClientIdentity::unknown();
  std::shared_ptr<ServerPool> pool_;  // the pool of the attached server connection
  struct AliasPool {
    std::shared_ptr<ServerPool> pool;
    uint64_t generation = 0;
  };
  AliasPool own_pool_;  // the pool of the client's own alias (alias_)
  // Of other aliases, as this client logs in to each (few); dropped when the session parks.
  std::unique_ptr<std::vector<std::pair<std::string, AliasPool>>> pools_;
  uint32_t max_message_ = 64u << 20;
  int32_t cancel_pid_ = 0;  // the cancel key's pid: this session's entry in rt().cancels

  // ParameterStatus values the client has seen (shared with other idle clients that saw the same).
  ClientView client_view_;

  // Cancel key handed to the client, and where its query runs now.
  // Inline (the registry holds it through a pointer that shares this session's ownership).
  CancelSlot cancel_slot_;

  // The client's prepared statements by its names (client_statements.hpp), and its unnamed statement.
  // Made by the first Parse (most clients of a pooler never send one) and freed when the session parks
  // with no named statement left: an unnamed statement does not outlive its server connection anyway.
  struct Prepared {
    ClientStatements named;
    std::string unnamed_query;                                 // text of the last unnamed Parse
    router::SessionWords unnamed_words;                        // scan_session_words(unnamed_query)
    std::shared_ptr<const router::Analysis> unnamed_analysis;  // routing's analysis of it
    // The text unnamed_analysis is of (routing sees a held Parse before it is forwarded, and again when
    // its unit is released): a Parse of the same text again is not looked up again.
    std::string unnamed_analysed;
    // With routing: the last unnamed Parse as the client sent it, to prepare it again on the connection
    // its Bind goes to when that is not the one it was parsed on (may_end_unit_for_bind()).
    std::string unnamed_parse;
  };
  std::unique_ptr<Prepared> prepared_;
  Prepared& prepared() {
    if (!prepared_) prepared_ = std::make_unique<Prepared>();
    return *prepared_;
  }
  const Prepared& prepared_view() const;  // never makes one: an empty one when there is none
  uint64_t parses() const { return prepared_ ? prepared_->named.parses() : 0; }

  // What the session needs while it has messages in hand or answers to wait for. Allocated by the
  // first message and freed when the session parks with none of it in use (unit_idle()): an idle
  // client then costs only the fields outside it.
  struct UnitState {
    ReadBuffer in;  // bytes from the client
    Outbox out;     // bytes to the client
    // Routing: where the next attach goes (read and cleared by attach_now(); empty = the client's
    // own alias), and extended-protocol messages kept (not yet sent anywhere) until a Bind, Flush or
    // Sync decides the alias of their unit.
    std::string unit_alias;
    HeldUnit held;
    // The statement the last held Parse made (a name, "" for the unnamed one): where a unit that only
    // prepares goes (describe_alias()).
    std::optional<std::string> held_statement;
    std::optional<std::string> pending_begin;  // BEGIN answered by the proxy, sent with the first statement
    NormalizedSql normalized;                  // reused per simple query (literal_normalizer.hpp)
    bool normalized_current = false;           // normalized holds the message being handled (routing made it)
    bool normalize_tried = false;              // routing ran the normalizer on it (so no constants if not current)
    wire::BindParams literal_params;           // its constants, viewed as text parameters
    // The analysis of the simple query being handled, until the message is over (message_over()): a
    // message that waited (for a server connection) is handled again from the start and need not be
    // normalized and analysed again.
    std::shared_ptr<const router::Analysis> analyzed;
    bool analyzed_normalized = false;     // `normalized` holds it
    bool analyzed_with_literals = false;  // `literal_params` hold its constants
    // It was routed with no connection attached: when it then waits for one, it is not routed again
    // (its alias is pinned for the wait, and what routing noted stands).
    bool routed_unattached = false;
    // Messages for the attached server connection, and the answers owed by it (with the proxy's own).
    std::string server_out;
    ServerReplies replies;
    // Statistics of the unit in flight.
    uint64_t unit_rows = 0;      // rows reported by CommandComplete since the last ReadyForQuery
    std::string unit_statement;  // the unit's statement text for per-statement statistics
    std::string unit_router;     // router that placed the unit's statement ("" = not routed)
    std::string_view unit_kind;  // its statement kind (router::kind_name)
    // The sharded table whose column order placed the last statement so placed (INSERT without a
    // column list); placed: the routed statement not sent yet is one (its Pending entries are marked,
    // and some server errors to them mean that order changed).
    std::string column_order_table;
    bool column_order_placed = false;
    // The client's session-level SETs in flight that the proxy repeats on later connections once the
    // server confirms them, by ticket (Pending::setting).
    std::vector<std::pair<uint32_t, router::SessionSetting>> settings;  // a vector: empty costs no allocation
    uint32_t last_setting = 0;
    uint32_t portal_setting = 0;  // the ticket of a SET bound to the unnamed portal, for its Execute
    // SETs the server confirmed in the transaction still open: they last if it commits.
    std::vector<router::SessionSetting> committing;
    bool rolled_back = false;    // a ROLLBACK completed; its ReadyForQuery says whether to a savepoint
    bool error_in_unit = false;  // an error since the last ReadyForQuery: the implicit transaction failed
  };
  std::unique_ptr<UnitState> unit_;
  UnitState& u() {
    if (!unit_) [[unlikely]]
      make_unit();
    return *unit_;
  }
  void make_unit();  // out of line: u() is called many times per message and inlined
  const UnitState& u() const;
  // Nothing in the unit state is needed between transactions: it can be freed.
  bool unit_idle() const;
  // Cancelled by the pump when nothing is outstanding; made by the first wait (routing waits rarely).
  std::unique_ptr<asio::steady_timer> idle_signal_;

  // A Bind the router spreads over several shards: its unit is held until Sync (or Flush) and then run
  // on every shard (client_scatter.cpp). Null otherwise: most sessions never scatter.
  std::unique_ptr<ScatterUnit> scatter_;
  std::unique_ptr<std::string> shard_key_;  // SET pgroute.shard_key (a pointer: most sessions never set one)
  // When this client last wrote through a router (routers may read their replicas after it); epoch: never.
  std::chrono::steady_clock::time_point last_write_{};
  // causal_reads: tables: the tables this client wrote on a primary with causal floors, until a commit
  // probe sent right behind the commit reports its WAL position (null until the first such write).
  struct CausalWrites {
    std::shared_ptr<router::CausalFloors> floors;
    std::vector<std::string> tables;               // written, commit not probed yet
    std::deque<std::vector<std::string>> probing;  // per probe in flight, its tables
    std::optional<uint64_t> probed_lsn;            // the head probe's answer so far
    bool may_commit = false;                       // the unit being sent may end the transaction
    bool copy_from = false;  // a COPY FROM STDIN is among the writes: no probe until its data has gone
    std::string held_ready;  // the committing unit's ReadyForQuery, given to the client after the probe
  };
  std::unique_ptr<CausalWrites> causal_;
  // The client side's wait (client_wait.hpp), and what a message carries across it. wait_data_ is made by
  // the first wait that needs it (learning a column order, a query across shards): most sessions never do.
  ClientWait client_wait_ = ClientWait::none;
  bool attach_failed_ = false;       // the attach waited for failed: the message handled again says why
  bool held_awaits_attach_ = false;  // release_held() waits for a connection: the held messages go first
  bool woken_readable_ = false;      // park()'s readiness wait ended: the first read goes ahead
  bool sent_any_ = false;            // a message came since login: idle now, it is parked by the sweep
  struct WaitData {
    std::string table, column;  // a column order to learn, on these shards
    std::vector<std::string> shards;
    std::optional<router::KeyPosition> learnt;  // what learning found, for the next routing pass
    uint64_t learnt_generation = 0;             // of the snapshot whose routers asked
    std::unique_ptr<ScatterUnit> scatter;       // a simple query to run on every shard...
    std::string scatter_query;                  // ...and its bytes
    // The alias the message was routed to before it waited for a connection: handled again, it keeps
    // that decision (a router may draw another replica, and an attached connection changes what
    // in_transaction says while a BEGIN the proxy answered is pending).
    std::optional<std::string> pinned_alias;
    std::string attach_sqlstate, attach_error;  // why no connection came (attach_failed_)
    // Causal reads: when this message began to wait for a replica to replay its floor.
    std::optional<std::chrono::steady_clock::time_point> replay_wait_since;
    // causal_reads: strict: the primary check asked for, and the position it found (the read's floor).
    uint64_t sample_ticket = 0;
    std::optional<std::chrono::steady_clock::time_point> sample_since;
    uint64_t causal_sample = 0;
    bool sample_fresh = false;    // just found: routed again without a pause
    bool causal_counted = false;  // its outcome is counted (routed again after an attach wait: not twice)
    router::CausalFloors* waited_floors = nullptr;  // the floors it waits on (its snapshot keeps them)
  };
  std::unique_ptr<WaitData> wait_data_;
  WaitData& wait_data() {
    if (!wait_data_) wait_data_ = std::make_unique<WaitData>();
    return *wait_data_;
  }

  // The borrowed server connection and the protocol state of what is in flight on it.
  std::unique_ptr<ServerConnection> server_;
  bool unit_open_ = false;            // extended-protocol messages sent since the last Sync
  bool unit_bound_ = false;           // of those, a Bind or an Execute: the unit may have run a statement
  bool unit_parsed_unnamed_ = false;  // of those, a Parse of the unnamed statement
  bool reparse_unnamed_ = false;      // the Bind handled again goes to another connection: parse it there first
  bool replaying_held_ = false;       // replay_held() is handling a held message
  bool unit_ended_for_bind_ = false;  // the Bind handled again after its unit was ended on another alias
  bool skip_until_sync_ = false;      // the proxy reported an error in this unit; drop until Sync
  bool pump_running_ = false;
  bool attaching_ = false;  // attach() ran and flush_to_server() has not: no detach yet
  static constexpr uint32_t kNotIdle = ~0u;
  uint32_t idle_read_since_ = kNotIdle;  // worker park tick when a read began with nothing buffered
  bool park_requested_ = false;          // park_if_idle() cancelled that read
  bool last_read_filled_ = false;        // the last client read filled its buffer: more is likely waiting
  bool writing_to_server_ = false;
  bool counted_ = false;                    // counted in rt().clients
  bool starting_ = false;                   // counted in rt().clients_starting and listed in worker_.starting
  bool forward_sync_after_skip_ = false;    // skip_until_sync_ with a server attached: the Sync goes on
  bool defer_begin_ = false;                // this attach is for a unit that executes nothing: keep the BEGIN pending
  bool shard_key_for_transaction_ = false;  // shard_key_ was set inside a transaction: forgotten when it ends
  // While logging in (made by begin_startup(), gone after login): the authentication_timeout timer, and
  // when the login began (the oldest login gives way first, evict_oldest_starting()).
  struct Login {
    explicit Login(asio::io_context& ctx, std::chrono::milliseconds timeout) : timer(ctx, timeout) {}
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
  };
  std::unique_ptr<Login> login_;
  std::chrono::steady_clock::time_point accepted_at_;
  bool client_gone_ = false;
  std::optional<ClientCloseReason> end_reason_;  // why the session ends, once that is known (note_end)
  // parked: park() ran and serve() has not resumed; scattering: shutdown waits for the read across shards
  // as for a server connection.
  SessionState state_ = SessionState::starting;
  // The client sent Terminate or closed its sending side: like PostgreSQL, the proxy still answers what
  // it asked before, and then ends the session (the pump does when a server is attached).
  bool client_input_ended_ = false;
  bool copy_in_ = false;                // the server sent CopyInResponse; the COPY has not ended
  bool server_close_expected_ = false;  // the server ends the session for a reason the client knows
  bool shutting_down_ = false;
  bool dirty_session_state_ = false;  // the client ran SET/RESET the proxy does not track
  bool admin_ = false;                // an admin console session
  bool tls_counted_ = false;          // the TLS handshake completed: counted in rt().clients_tls
  bool session_mode_ = false;         // pool.mode session: the server connection stays for the whole session
  // Not none: a statement of the client left that state in its server session, so the connection stays
  // with it until the state is gone or it disconnects (then DISCARD ALL), as in session mode
  // (kept_server.cpp).
  router::SessionStateKind server_kept_for_ = router::SessionStateKind::none;
  bool recheck_keep_ = false;      // the keep probe is due once the server is idle
  bool keep_probe_found_ = false;  // the probe in flight found state (or failed): the connection stays
};

}  // namespace pgroute
