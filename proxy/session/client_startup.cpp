// Startup of a client connection: SSL/GSS negotiation (declined), cancel requests, the startup packet,
// authentication against the configured users, and the first server checkout that tells the client
// its ParameterStatus values.
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <utility>
#include <vector>

#include "proxy/auth/crypto.hpp"
#include "proxy/auth/md5.hpp"
#include "proxy/auth/random.hpp"
#include "proxy/auth/scram.hpp"
#include "proxy/base/log.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/session/admin_control.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/bytes.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {
namespace {
constexpr uint32_t kMaxStartupPacket = 10000;  // what PostgreSQL itself accepts
constexpr uint32_t kMaxAuthMessage = 8192;
// A TLS record's first byte when it carries a handshake message (RFC 8446, ContentType handshake).
constexpr unsigned char kTlsHandshakeRecord = 0x16;

// The SASL mechanism the client chose: SCRAM-SHA-256, or its -PLUS form where that was offered.
bool mechanism_ok(wire::BodyReader& r, std::string_view& mechanism, bool plus_offered) {
  if (!r.read_cstring(mechanism)) return false;
  return mechanism == "SCRAM-SHA-256" || (plus_offered && mechanism == "SCRAM-SHA-256-PLUS");
}

// `options` carries "-c name=value" and "--name=value" words; backslash escapes a space.
std::vector<std::pair<std::string, std::string>> parse_options(std::string_view s, std::string& error) {
  std::vector<std::string> words;
  std::string cur;
  bool have = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      cur.push_back(s[++i]);
      have = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (have) words.push_back(std::move(cur));
      cur.clear();
      have = false;
    } else {
      cur.push_back(c);
      have = true;
    }
  }
  if (have) words.push_back(std::move(cur));
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string setting;
    if (words[i] == "-c" && i + 1 < words.size())
      setting = words[++i];
    else if (words[i].rfind("-c", 0) == 0 && words[i].size() > 2)
      setting = words[i].substr(2);
    else if (words[i].rfind("--", 0) == 0)
      setting = words[i].substr(2);
    else {
      error = "unsupported startup option \"" + words[i] + "\" (pgroute accepts -c name=value)";
      return {};
    }
    auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "malformed startup option \"" + setting + "\" (expected name=value)";
      return {};
    }
    std::string name = setting.substr(0, eq);
    std::replace(name.begin(), name.end(), '-', '_');
    out.emplace_back(name, setting.substr(eq + 1));
  }
  return out;
}
}  // namespace

void ClientSession::begin_startup(const config::Config& cfg) {
  const auto left = std::max(std::chrono::milliseconds(1),
                             cfg.authentication_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                              std::chrono::steady_clock::now() - accepted_at_));
  login_ = std::make_unique<Login>(worker_.ctx, left);
  starting_ = true;
  worker_.starting.emplace(id_, weak_from_this());
  rt().clients_starting.fetch_add(1, std::memory_order_relaxed);
  login_->timer.async_wait(
      [weak = weak_from_this(), timeout = cfg.authentication_timeout](boost::system::error_code ec) {
        if (ec) return;  // logged in (or gone) in time
        if (auto self = weak.lock())
          self->abort_startup(ClientCloseReason::startup_timeout, wire::sqlstate::query_canceled,
                              "canceling authentication due to timeout (pgroute authentication_timeout = " +
                                  std::to_string(timeout.count()) + "ms)");
      });
}

namespace {
// The client of a connection not read yet has closed it (or reset it): its end of input is all there is.
bool peer_gone(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}
}  // namespace

awaitable<bool> ClientSession::enter_startup() {
  const config::Config& cfg = *snap_->config;
  accepted_at_ = std::chrono::steady_clock::now();
  // A burst of clients (an application starting its connection pool) waits here, oldest first, instead
  // of being refused: logins take a millisecond or so and places free up fast. A waiting connection is
  // not read (it costs its socket and this frame). A login ending on this worker wakes the first; it
  // also looks again every kRecheck, for places freed on other workers and logins grown old.
  constexpr auto kRecheck = std::chrono::milliseconds(50);
  std::optional<asio::steady_timer> wait;
  for (bool waited = false;; waited = true) {
    const bool my_turn = waited || worker_.startup_queue.empty();
    if (my_turn &&
        (rt().clients_starting.load(std::memory_order_relaxed) < cfg.startup_limit() || evict_oldest_starting(cfg))) {
      if (wait) std::erase_if(worker_.startup_queue, [&](const auto& w) { return w.wake == &*wait; });
      begin_startup(cfg);
      if (waited && !worker_.startup_queue.empty() &&
          rt().clients_starting.load(std::memory_order_relaxed) < cfg.startup_limit())
        worker_.startup_queue.front().wake->cancel();  // more places than this one: the next goes too
      co_return true;
    }
    const auto waited_for = std::chrono::steady_clock::now() - accepted_at_;
    // As many may wait as may be clients (each costs a few KiB): beyond that it is a flood, refused at once.
    if (!waited && static_cast<int>(worker_.startup_queue.size()) >= cfg.max_client_connections)
      std::erase_if(worker_.startup_queue, [](const Worker::StartupWaiter& w) {
        if (!peer_gone(w.fd)) return false;
        w.wake->cancel();  // it sees the same and leaves
        return true;
      });
    if (rt().shutting_down.load() || waited_for >= cfg.authentication_timeout ||
        (!waited && static_cast<int>(worker_.startup_queue.size()) >= cfg.max_client_connections))
      break;
    if (!wait) wait.emplace(worker_.ctx);
    wait->expires_after(kRecheck);
    if (!waited) worker_.startup_queue.push_back({&*wait, socket_.native_handle()});
    co_await wait->async_wait(use_nothrow);
    if (!socket_.is_open() || end_reason_ || peer_gone(socket_.native_handle())) {
      std::erase_if(worker_.startup_queue, [&](const auto& w) { return w.wake == &*wait; });
      note_end(ClientCloseReason::client_closed, "left while waiting for a place to log in");  // unless shut down
      co_return false;
    }
  }
  if (wait) std::erase_if(worker_.startup_queue, [&](const auto& w) { return w.wake == &*wait; });
  if (rt().shutting_down.load()) {
    note_end(ClientCloseReason::shutdown, "pgroute is shutting down");
    wire::put_error(
        u().out.buffer(),
        {.severity = "FATAL", .sqlstate = wire::sqlstate::cannot_connect_now, .message = "pgroute is shutting down"});
    co_return false;
  }
  // One line a second at most per worker: a flood would write one per connection.
  thread_local std::chrono::steady_clock::time_point last_logged{};
  thread_local int refused = 0;
  const int starting = rt().clients_starting.load(std::memory_order_relaxed);
  if (++refused, std::chrono::steady_clock::now() - last_logged >= std::chrono::seconds(1)) {
    PGR_LOG(warn) << "refused " << refused << " connection(s) since the last such message: " << starting
                  << " connections are logging in and " << worker_.startup_queue.size()
                  << " waiting on this worker (max_startup_connections = " << cfg.startup_limit() << ")";
    last_logged = std::chrono::steady_clock::now();
    refused = 0;
  }
  const std::string message =
      "pgroute: too many connections logging in (max_startup_connections = " + std::to_string(cfg.startup_limit()) +
      ", and max_client_connections = " + std::to_string(cfg.max_client_connections) + " waiting)";
  // Counted, but logged at debug: the rate-limited line above speaks for a flood.
  note_end(ClientCloseReason::startup_refused, message, log::Level::debug);
  wire::put_error(u().out.buffer(),
                  {.severity = "FATAL", .sqlstate = wire::sqlstate::too_many_connections, .message = message});
  co_return false;
}

bool ClientSession::evict_oldest_starting(const config::Config& cfg) {
  // A login over loopback takes a millisecond and over a slow network a few round trips; one still
  // going after this long has had its chance while others wait.
  constexpr auto kMinAge = std::chrono::seconds(1);
  const auto now = std::chrono::steady_clock::now();
  for (auto& [id, weak] : worker_.starting) {
    auto other = weak.lock();
    if (!other || other.get() == this || !other->socket_.is_open() || !other->login_) continue;
    if (now - other->login_->began < kMinAge) return false;  // oldest first: the rest are younger
    other->abort_startup(ClientCloseReason::evicted, wire::sqlstate::too_many_connections,
                         "pgroute: too many connections logging in (max_startup_connections = " +
                             std::to_string(cfg.startup_limit()) + "); this one, the oldest, made room");
    return true;
  }
  return false;
}

void ClientSession::leave_startup() {
  if (!std::exchange(starting_, false)) return;
  rt().clients_starting.fetch_sub(1, std::memory_order_relaxed);
  worker_.starting.erase(id_);
  login_.reset();  // its timer's wait ends with operation_aborted
  // A place is free: the connection waiting longest on this worker takes it (enter_startup).
  if (!worker_.startup_queue.empty()) worker_.startup_queue.front().wake->cancel();
}

void ClientSession::abort_startup(ClientCloseReason reason, std::string_view sqlstate, const std::string& message) {
  if (!starting_ || !socket_.is_open()) return;
  note_end(reason, message);
  if (!u().out.writing()) {
    // Best effort and never waiting: the client may read nothing at all.
    std::string error;
    wire::put_error(error, {.severity = "FATAL", .sqlstate = sqlstate, .message = message});
    std::string cipher;  // on a TLS connection, as a TLS record
    const std::string& bytes = tls_ && tls_->write(error, cipher) ? cipher : error;
    if (!tls_ || !cipher.empty()) [[maybe_unused]]
      auto n = ::send(socket_.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  end_session(reason);  // the coroutine's read or write ends with an error, and the session with it
}

// Counts the client, logged in now, against max_client_connections: the last admin_reserve() of its
// slots are for admin users, so one can always log in to look and act.
awaitable<bool> ClientSession::admit_client() {
  const config::Config& cfg = *snap_->config;
  counted_ = true;
  const int clients = rt().clients.fetch_add(1, std::memory_order_relaxed) + 1;
  const int reserve = cfg.admin_reserve();
  if (clients <= cfg.max_client_connections - (cfg.is_admin(who_->user) ? 0 : reserve)) co_return true;
  std::string limit = "max_client_connections = " + std::to_string(cfg.max_client_connections);
  if (reserve > 0) limit += ", of which " + std::to_string(reserve) + " reserved for admin users";
  note_end(ClientCloseReason::startup_refused, "too many client connections (" + limit + ")", log::Level::warn);
  co_await send_fatal(wire::sqlstate::too_many_connections, "pgroute: too many client connections (" + limit + ")");
  co_return false;
}

awaitable<bool> ClientSession::startup() {
  snap_ = rt().snapshot();
  const config::Config& cfg = *snap_->config;
  max_message_ = cfg.max_message_size;
  if (!co_await enter_startup()) co_return false;
  wire::StartupPacket pkt;
  bool ssl_requested = false, gss_requested = false;
  for (int round = 0;; ++round) {
    size_t consumed = 0;
    std::string error;
    ReadStatus st = co_await read_client_startup(kMaxStartupPacket, pkt, consumed, error);
    if (st == ReadStatus::closed) {
      note_input_closed(error);
      co_return false;
    }
    if (st == ReadStatus::invalid && round == 0 && !u().in.empty() &&
        static_cast<unsigned char>(u().in.view()[0]) == kTlsHandshakeRecord) {
      // No packet starts so (its length would be over 369 MB): the record of a ClientHello, from a client
      // that skips SSLRequest (libpq 17's sslnegotiation=direct).
      const bool direct = co_await start_direct_tls();
      if (!direct) co_return false;
      continue;
    }
    if (st == ReadStatus::invalid) {
      // 0A000 only for a well-formed packet of another protocol version (2.0, 4.0); a length out of bounds
      // (garbage, an HTTP request) is a protocol violation, as in PostgreSQL.
      const uint32_t length = u().in.size() >= 4 ? wire::get_u32(u().in.view().data()) : 0;
      const bool version = u().in.size() >= 8 && length >= 8 && length <= kMaxStartupPacket &&
                           (wire::get_u32(u().in.view().data() + 4) >> 16) != 3 &&
                           (wire::get_u32(u().in.view().data() + 4) >> 16) != 1234;
      note_end(ClientCloseReason::protocol_violation, "rejected startup packet: " + error);
      co_await send_fatal(version ? wire::sqlstate::feature_not_supported : wire::sqlstate::protocol_violation,
                          "pgroute: " + error);
      co_return false;
    }
    u().in.consume(consumed);
    if (pkt.kind == wire::StartupKind::SslRequest || pkt.kind == wire::StartupKind::GssEncRequest) {
      // Bytes sent before our answer cannot belong to a negotiated session: a man in the middle may
      // have put them there (CVE-2021-23222 class). The request is read exactly, so whatever followed
      // it is still in the socket: ask the kernel too. Like PostgreSQL: answer, then refuse.
      if (round > 2) {
        note_end(ClientCloseReason::protocol_violation, "too many encryption requests");
        co_await send_fatal(wire::sqlstate::protocol_violation, "pgroute: too many encryption requests");
        co_return false;
      }
      // One of each, as PostgreSQL takes them (GSSENCRequest answered N, then SSLRequest): a second of a kind
      // would otherwise be answered again and again until authentication_timeout.
      const bool ssl_request = pkt.kind == wire::StartupKind::SslRequest;
      if (std::exchange(ssl_request ? ssl_requested : gss_requested, true)) {
        const std::string what = std::string("a second ") + (ssl_request ? "SSL" : "GSSAPI encryption") + " request";
        note_end(ClientCloseReason::protocol_violation, what);
        co_await send_fatal(wire::sqlstate::protocol_violation, "pgroute: " + what + " on one connection");
        co_return false;
      }
      if (tls_) {
        note_end(ClientCloseReason::protocol_violation, "an encryption request inside TLS");
        co_await send_fatal(wire::sqlstate::protocol_violation, "pgroute: an encryption request inside TLS");
        co_return false;
      }
      boost::system::error_code ec;
      const bool pipelined = !u().in.empty() || socket_.available(ec) > 0;
      // TLS when it is configured (GSSAPI encryption never): 'S', then the handshake.
      const bool tls = pkt.kind == wire::StartupKind::SslRequest && snap_->tls;
      u().out.buffer().push_back(tls ? wire::kSslAccepted : wire::kSslRefused);
      if (pipelined) {
        const bool ssl = pkt.kind == wire::StartupKind::SslRequest;
        note_end(
            ClientCloseReason::protocol_violation,
            std::string("data sent after its ") + (ssl ? "SSL" : "GSSAPI encryption") + " request before the answer");
        wire::put_error(u().out.buffer(),
                        {.severity = "FATAL",
                         .sqlstate = wire::sqlstate::protocol_violation,
                         .message = ssl ? "received unencrypted data after SSL request"
                                        : "received unencrypted data after GSSAPI encryption request",
                         .detail = "The client sent more before reading the answer: a client bug, or bytes "
                                   "put there by someone between the client and pgroute."});
        co_return false;  // run() flushes and closes
      }
      if (!co_await u().out.flush(socket_)) {
        note_end(ClientCloseReason::client_lost, "writing to the client failed");
        co_return false;
      }
      if (tls && !co_await start_tls(false)) co_return false;
      continue;
    }
    if (pkt.kind == wire::StartupKind::Cancel) {  // allowed in the clear: libpq sends them so
      note_end(ClientCloseReason::cancel_request, "a cancel request");
      co_await handle_cancel(pkt.cancel_pid, pkt.cancel_secret);
      co_return false;
    }
    break;
  }
  if (!tls_ && snap_->tls && snap_->tls->mode() == config::Tls::Mode::require) {
    note_end(ClientCloseReason::startup_refused, "a startup without TLS (tls.mode: require)");
    co_await send_fatal(wire::sqlstate::invalid_authorization,
                        "pgroute: this server accepts only TLS connections (tls.mode: require)",
                        "connect with sslmode=require (or verify-ca, verify-full)");
    co_return false;
  }

  std::vector<std::string> unsupported;
  ClientIdentity who;
  for (auto& [name, value] : pkt.params) {
    if (name == "user")
      who.user = value;
    else if (name == "database")
      who.database = value;
    else if (name == "replication") {
      if (value != "false" && value != "0" && value != "off" && value != "no") {
        note_end(ClientCloseReason::startup_refused, "a replication connection");
        co_await send_fatal(wire::sqlstate::feature_not_supported,
                            "pgroute does not proxy replication connections; connect to the server directly");
        co_return false;
      }
    } else if (name == "options") {
      std::string error;
      auto opts = parse_options(value, error);
      if (!error.empty()) {
        note_end(ClientCloseReason::startup_refused, error);
        co_await send_fatal(wire::sqlstate::feature_not_supported, "pgroute: " + error);
        co_return false;
      }
      for (auto& o : opts) who.params.push_back(std::move(o));
    } else if (name.rfind("_pq_.", 0) == 0) {
      unsupported.push_back(name);
    } else {
      if (name == "application_name") who.application_name = value;
      who.params.emplace_back(name, value);
    }
  }
  who.startup_params = who.params;
  int minor = pkt.protocol & 0xffff;
  if (minor > 0 || !unsupported.empty()) wire::put_negotiate_protocol_version(u().out.buffer(), 0, unsupported);
  if (who.user.empty()) {
    note_end(ClientCloseReason::startup_refused, "no user name in the startup packet");
    co_await send_fatal(wire::sqlstate::invalid_authorization, "no PostgreSQL user name specified in startup packet");
    co_return false;
  }
  if (who.database.empty()) who.database = who.user;
  who_ = std::make_shared<const ClientIdentity>(who);  // shared once its alias is known

  if (rt().shutting_down.load()) {
    note_end(ClientCloseReason::shutdown, "pgroute is shutting down");
    co_await send_fatal(wire::sqlstate::cannot_connect_now, "pgroute is shutting down");
    co_return false;
  }
  if (who_->database == admin::kDatabase) {  // the admin console, for admin users only (after a normal login)
    if (!co_await authenticate(cfg.user(who_->user), who_->user)) co_return false;
    leave_startup();
    if (co_await admit_client()) co_await run_admin_console();
    co_return false;
  }
  // Authentication comes first, as in PostgreSQL: before it, an unknown database name gets the same
  // answer as a known one, so database names cannot be probed without a password.
  const config::User* user = cfg.user(who_->user);
  if (!co_await authenticate(user, who_->user)) co_return false;
  auto alias = cfg.alias_for_database(who_->database);
  if (!alias) {
    // `databases:` names and aliases (each also a database name), each once, in order.
    std::vector<std::string_view> names;
    for (auto& [db, a] : cfg.databases) names.push_back(db);
    for (auto& b : cfg.backends) names.push_back(b.alias);
    std::string known;
    for (size_t i = 0; i < names.size(); ++i)
      if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) ==
          names.begin() + static_cast<std::ptrdiff_t>(i))
        known += (known.empty() ? "" : ", ") + std::string(names[i]);
    note_end(ClientCloseReason::startup_refused, "database \"" + who_->database + "\" does not exist");
    co_await send_fatal(wire::sqlstate::invalid_catalog_name, "database \"" + who_->database + "\" does not exist",
                        "pgroute accepts these database names: " + known);
    co_return false;
  }
  who.alias = *alias;
  who_ = worker_.identities.intern(std::move(who));
  leave_startup();
  if (!co_await admit_client()) co_return false;

  // The pool logs in with the url's user, or else as the client with its configured password
  // (pool_for_alias finds which again for each alias: nothing of it is kept per session).
  const config::Backend* backend = cfg.backend(who_->alias);
  if (backend->user.empty()) {
    if (auth::is_scram_verifier(user->password)) {
      note_end(ClientCloseReason::startup_refused,
               "its password is a SCRAM verifier and the url of alias \"" + who_->alias + "\" names no user");
      co_await send_fatal(wire::sqlstate::invalid_authorization,
                          "pgroute cannot log in to alias \"" + who_->alias + "\" as \"" + who_->user +
                              "\": its url names no user and this user's password is stored as a SCRAM verifier",
                          "put a user and password in the backend url, or a plaintext password for this user");
      co_return false;
    }
  }
  session_mode_ = cfg.pool.mode == config::PoolMode::Session;
  auto key = rt().cancels.add(std::shared_ptr<CancelSlot>(shared_from_this(), &cancel_slot_));
  cancel_pid_ = key.pid;
  if (!co_await login_server()) co_return false;
  wire::put_backend_key_data(u().out.buffer(), key.pid, key.secret);
  wire::put_ready_for_query(u().out.buffer(), wire::tx_status::kIdle);
  PGR_LOG(debug) << describe() << ": logged in";
  set_state(server_ ? SessionState::attached : SessionState::idle);  // session mode keeps its connection
  if (co_await u().out.flush(socket_)) co_return true;
  note_end(ClientCloseReason::client_lost, "writing to the client failed");
  co_return false;
}

// Reads the client's next authentication message ('p'); the caller consumes it.
awaitable<bool> ClientSession::read_password_message(wire::Frame& f) {
  std::string error;
  co_await u().out.flush(socket_);
  ReadStatus st = co_await read_client_frame(kMaxAuthMessage, f, error);
  if (st == ReadStatus::ok && f.type == wire::frontend::kPasswordMessage) co_return true;
  if (st == ReadStatus::closed) {
    note_input_closed(error);
    co_return false;
  }
  std::string what = st == ReadStatus::invalid ? error : std::string("expected a password message");
  note_end(st == ReadStatus::invalid && wire::frame_too_large(u().in.view(), kMaxAuthMessage)
               ? ClientCloseReason::message_too_large
               : ClientCloseReason::protocol_violation,
           what);
  co_await send_fatal(wire::sqlstate::protocol_violation, "pgroute: " + what);
  co_return false;
}

awaitable<bool> ClientSession::authenticate(const config::User* user, const std::string& name) {
  // Unknown users go through the same exchange as known ones and fail at its end, so probing for
  // user names learns nothing: asked for the method a user gets when the file names none, shown a
  // salt that is the same on every attempt, as fast (no key derivation), with the same error.
  set_state(SessionState::authenticating);
  config::AuthMethod method = user ? user->auth : config::User{}.auth;
  bool ok = false;
  std::string secret = user ? user->password : std::string();
  wire::Frame f;
  switch (method) {
    case config::AuthMethod::Trust: ok = user != nullptr; break;
    case config::AuthMethod::Cert:
      // A certificate the configured CA signed, for this user: its CN is the user name (as PostgreSQL's
      // cert method). Nothing is asked of the client: it already showed it in the handshake.
      ok = user != nullptr && tls_ && tls_->verified_peer_name() == name;
      if (!ok) {
        note_end(ClientCloseReason::authentication_failed,
                 "certificate authentication failed for user \"" + name + "\"" +
                     (!tls_ ? ": not a TLS connection"
                      : tls_->verified_peer_name().empty()
                          ? ": no client certificate"
                          : ": the certificate is for \"" + std::string(tls_->verified_peer_name()) + "\""));
        co_await send_fatal(wire::sqlstate::invalid_authorization,
                            "certificate authentication failed for user \"" + name + "\"");
        co_return false;
      }
      break;
    case config::AuthMethod::Cleartext: {
      wire::put_auth(u().out.buffer(), wire::kAuthCleartext);
      if (!co_await read_password_message(f)) co_return false;
      std::string_view given(f.body.data(), f.body.empty() ? 0 : f.body.size() - 1);
      if (user) {
        auto it = snap_->scram.find(name);
        if (auth::is_md5_hash(secret))
          ok = auth::md5_password_hash(name, given) == secret;
        else if (it != snap_->scram.end() && auth::is_scram_verifier(secret))
          ok = auth::make_scram_secret(given, it->second.salt, it->second.iterations).stored_key ==
               it->second.stored_key;
        else
          ok = auth::constant_time_equal(auth::sha256(given), auth::sha256(secret));
      }
      u().in.consume(f.wire_size());
      break;
    }
    case config::AuthMethod::Md5: {
      char salt[4];
      auth::random_bytes(salt, sizeof salt);
      wire::put_auth(u().out.buffer(), wire::kAuthMd5, std::string_view(salt, 4));
      if (!co_await read_password_message(f)) co_return false;
      std::string_view given(f.body.data(), f.body.empty() ? 0 : f.body.size() - 1);
      ok = user && auth::md5_verify(given, name, secret, salt);
      u().in.consume(f.wire_size());
      break;
    }
    case config::AuthMethod::ScramSha256: {
      auto it = snap_->scram.find(name);
      auth::ScramServer server(user && it != snap_->scram.end() ? it->second
                                                                : auth::mock_scram_secret(name, rt().mock_scram_key));
      // Over TLS SCRAM-SHA-256-PLUS comes first: the client then proves it sees our certificate, so a
      // man in the middle with another certificate cannot relay the login.
      if (tls_ && !snap_->tls->tls_server_end_point().empty())
        server.offer_channel_binding(snap_->tls->tls_server_end_point());
      if (server.offers_channel_binding())
        wire::put_auth_sasl(u().out.buffer(), {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
      else
        wire::put_auth_sasl(u().out.buffer(), {"SCRAM-SHA-256"});
      if (!co_await read_password_message(f)) co_return false;
      wire::BodyReader r(f.body);
      std::string_view mechanism, data;
      int32_t len = 0;
      const bool ok_mechanism = mechanism_ok(r, mechanism, server.offers_channel_binding());
      if (!ok_mechanism || !r.read_i32(len) || len < 0 || !r.read_bytes(static_cast<size_t>(len), data)) {
        note_end(ClientCloseReason::protocol_violation, "malformed SASL initial response");
        co_await send_fatal(wire::sqlstate::protocol_violation, "pgroute: malformed SASL initial response");
        co_return false;
      }
      auto first = server.handle_client_first(data, mechanism == "SCRAM-SHA-256-PLUS");
      u().in.consume(f.wire_size());
      if (!first) {
        note_end(ClientCloseReason::protocol_violation, "SCRAM: " + server.error());
        co_await send_fatal(wire::sqlstate::protocol_violation, "pgroute: SCRAM: " + server.error());
        co_return false;
      }
      wire::put_auth(u().out.buffer(), wire::kAuthSaslContinue, *first);
      if (!co_await read_password_message(f)) co_return false;
      auto final_msg = server.handle_client_final(f.body);
      u().in.consume(f.wire_size());
      if (final_msg && user) {
        wire::put_auth(u().out.buffer(), wire::kAuthSaslFinal, *final_msg);
        ok = true;
      }
      break;
    }
  }
  if (!ok) {
    note_end(ClientCloseReason::authentication_failed, "authentication failed for user \"" + name + "\"");
    co_await send_fatal(wire::sqlstate::invalid_password, "password authentication failed for user \"" + name + "\"");
    co_return false;
  }
  wire::put_auth(u().out.buffer(), wire::kAuthOk);
  co_return true;
}

// The first checkout: applies the client's startup parameters so the ParameterStatus values it is told
// are exactly what the server reports for them. In session mode the connection stays attached.
awaitable<bool> ClientSession::login_server() {
  if (!pool_ready(who_->alias)) {
    note_end(ClientCloseReason::server_unavailable, "alias \"" + who_->alias + "\" is not configured");
    co_await send_fatal(wire::sqlstate::connection_exception,
                        "pgroute: alias \"" + who_->alias + "\" is not configured");
    co_return false;
  }
  auto checkout = co_await pool_->acquire(worker_.ctx, worker_.index);
  if (!checkout.conn) {
    note_end(ClientCloseReason::server_unavailable, checkout.error);
    co_await send_fatal(checkout.sqlstate, checkout.error);
    co_return false;
  }
  server_ = std::move(checkout.conn);
  std::string sql = session_parameter_sql(*server_);
  if (!sql.empty()) {
    auto err = co_await run_internal_query(*server_, sql);
    if (err) {
      note_end(err->broken ? ClientCloseReason::server_lost : ClientCloseReason::startup_refused,
               "setting the session parameters failed: " + err->message);
      co_await release_server(std::move(server_));
      co_await send_fatal(err->sqlstate, err->message);
      co_return false;
    }
    server_->applied.assign(who_->params, who_->serial);
  }
  for (auto& [name, value] : server_->reported) {
    client_view_changes(name, value);
    wire::put_parameter_status(u().out.buffer(), name, value);
  }
  if (session_mode_) {
    cancel_slot_.set(
        {server_->endpoint().host, server_->endpoint().port, server_->backend_pid, server_->backend_secret});
    pump_running_ = true;
    start_pump();
  } else {
    co_await release_server(std::move(server_));
  }
  co_return true;
}

awaitable<void> ClientSession::handle_cancel(int32_t pid, int32_t secret) {
  auto slot = rt().cancels.find(pid, secret);
  if (!slot) co_return;  // unknown keys are ignored silently, as PostgreSQL does
  CancelForward forward(std::move(slot));
  for (const CancelTarget& target : forward.targets()) co_await forward_cancel(target);
}

awaitable<void> ClientSession::forward_cancel(const CancelTarget& target) {
  using namespace asio::experimental::awaitable_operators;
  Socket sock(worker_.ctx);
  auto send = [&]() -> awaitable<void> {
    tcp::resolver resolver(worker_.ctx);
    auto [rec, results] = co_await resolver.async_resolve(target.host, std::to_string(target.port), use_nothrow);
    if (rec) co_return;
    auto [cec, ep] = co_await asio::async_connect(sock, results, use_nothrow);
    (void)ep;
    if (cec) co_return;
    std::string msg, error;
    wire::put_cancel_request(msg, target.pid, target.secret);
    if (!co_await write_all(sock, msg, error)) co_return;
    // PostgreSQL signals the backend before it closes the connection: then the cancel has arrived.
    char byte;
    co_await sock.async_read_some(asio::buffer(&byte, 1), use_nothrow);
  };
  asio::steady_timer timer(worker_.ctx, std::chrono::seconds(5));
  co_await (send() || timer.async_wait(use_nothrow));
  PGR_LOG(info) << "forwarded cancel request to " << target.host << ":" << target.port << " backend pid " << target.pid;
}

}  // namespace pgroute
