#include "proxy/pool/server_connection.hpp"

#include <netinet/tcp.h>

#include <sys/socket.h>

#include <atomic>
#include <random>

#include "proxy/auth/md5.hpp"
#include "proxy/auth/scram.hpp"
#include "proxy/base/log.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

namespace be = wire::backend;

namespace {
std::atomic<uint64_t> g_next_server_id{1};

// A server that is restarting refuses TCP connections, answers logins with 57P03, or ends a login it
// had accepted with 57P01/57P02 when the shutdown reaches it.
bool restart_connect_error(const boost::system::error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted;
}
bool restart_login_sqlstate(std::string_view sqlstate) {
  return sqlstate == wire::sqlstate::cannot_connect_now || sqlstate == wire::sqlstate::admin_shutdown ||
         sqlstate == wire::sqlstate::crash_shutdown;
}

// Spreads lifetimes over ±10% so connections opened together do not all expire together.
double lifetime_jitter() {
  thread_local std::minstd_rand gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.9, 1.1)(gen);
}

// Keepalives find peers that vanished without a FIN (NAT expiry, dead host) while a connection is pooled.
void tune_socket(Socket& s) {
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  s.set_option(asio::socket_base::keep_alive(true), ec);
  int fd = s.native_handle();
  int idle = 60, interval = 10, count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}
}  // namespace

ServerConnection::ServerConnection(asio::io_context& ctx, int worker, std::shared_ptr<const ServerEndpoint> endpoint)
    : socket_(ctx), worker_(worker), endpoint_(std::move(endpoint)), id_(g_next_server_id.fetch_add(1)) {
  created = last_used = std::chrono::steady_clock::now();
  lifetime_share = lifetime_jitter();
}

ServerConnection::~ServerConnection() {
  if (tls_gauge_) tls_gauge_->fetch_sub(1, std::memory_order_relaxed);
}

void ServerConnection::count_in(std::shared_ptr<std::atomic<int>> gauge) {
  if (tls_gauge_) tls_gauge_->fetch_sub(1, std::memory_order_relaxed);
  tls_gauge_ = std::move(gauge);
  if (tls_gauge_) tls_gauge_->fetch_add(1, std::memory_order_relaxed);
}

void ServerConnection::rebind(asio::io_context& ctx, int worker) {
  if (worker == worker_) return;
  auto protocol = socket_.local_endpoint().protocol();
  int fd = socket_.release();
  socket_ = Socket(ctx, protocol, fd);
  worker_ = worker;
}

void ServerConnection::close() {
  boost::system::error_code ec;
  if (socket_.is_open()) {
    // Tell the server we are leaving so it does not log an unexpected EOF.
    std::string bye, error;
    wire::put_terminate(bye);
    std::string* wire_bytes = to_wire(bye, error);
    if (wire_bytes && tls) tls->close_notify(*wire_bytes);
    socket_.non_blocking(true, ec);
    if (wire_bytes) socket_.write_some(asio::buffer(*wire_bytes), ec);
    socket_.shutdown(Socket::shutdown_both, ec);
    socket_.close(ec);
  }
}

awaitable<std::string> ServerConnection::open(std::chrono::milliseconds timeout, uint32_t max_message,
                                              std::shared_ptr<const BackendTlsContext> tls_context) {
  using namespace asio::experimental::awaitable_operators;
  failure_is_transient = false;
  asio::steady_timer timer(socket_.get_executor(), timeout);
  auto result = co_await (login_and_learn(max_message, std::move(tls_context)) || timer.async_wait(use_nothrow));
  if (result.index() == 1) {
    close();
    failure_is_transient = false;  // whatever the cancelled login concluded: silence is not a restart
    co_return "timed out after " + std::to_string(timeout.count()) + " ms connecting to " + endpoint_->host + ":" +
        std::to_string(endpoint_->port);
  }
  std::string error = std::get<0>(std::move(result));
  if (!error.empty()) close();
  co_return error;
}

awaitable<std::string> ServerConnection::login_and_learn(uint32_t max_message,
                                                         std::shared_ptr<const BackendTlsContext> tls_context) {
  std::string error = co_await login(max_message, std::move(tls_context));
  if (!error.empty()) co_return error;
  created = last_used = std::chrono::steady_clock::now();
  co_return co_await learn_server_timeouts(max_message);
}

// A refused settings query (an unusual server) leaves the timeouts unknown; only a lost connection fails.
awaitable<std::string> ServerConnection::learn_server_timeouts(uint32_t max_message) {
  std::string out, error;
  wire::put_query(out, kServerTimeoutsQuery);
  if (!co_await send_all(out, error)) co_return "cannot send the settings query: " + error;
  bool refused = false;
  for (;;) {
    wire::Frame f;
    if (ReadStatus st = co_await receive_frame(max_message, f, error); st != ReadStatus::ok) {
      failure_is_transient = st == ReadStatus::closed;
      co_return "server closed the connection after login: " + error;
    }
    if (f.type == be::kDataRow) {
      apply_server_timeout_row(f.body, server_timeouts);
    } else if (f.type == be::kErrorResponse) {
      refused = true;
    } else if (f.type == be::kReadyForQuery) {
      wire::parse_ready_for_query(f.body, tx_status);
      rbuf.consume(f.wire_size());
      break;
    }
    rbuf.consume(f.wire_size());
  }
  server_timeouts.known = !refused;
  if (refused) PGR_LOG(warn) << endpoint_->describe() << ": cannot read the server's timeout settings";
  co_return "";
}

ServerConnection::IdleState ServerConnection::peek_idle() {
  if (!socket_.is_open()) return IdleState::closed;
  if (!rbuf.empty()) return IdleState::has_data;
  if (tls) return peek_idle_tls();
  char byte;
  ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return IdleState::has_data;
  if (n == 0) return IdleState::closed;
  return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? IdleState::quiet : IdleState::closed;
}

awaitable<std::string> ServerConnection::ping(std::chrono::milliseconds timeout, uint32_t max_message) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(socket_.get_executor(), timeout);
  auto result = co_await (ping_exchange(max_message) || timer.async_wait(use_nothrow));
  if (result.index() == 1) co_return "no answer to the check within " + std::to_string(timeout.count()) + " ms";
  co_return std::get<0>(std::move(result));
}

// Whatever arrived while idle (a FATAL before the server hung up, a notice) is read first; an error
// anywhere means the session is not fit for a client.
awaitable<std::string> ServerConnection::ping_exchange(uint32_t max_message) {
  std::string out, error;
  wire::put_query(out, "");
  if (!co_await send_all(out, error)) co_return "write failed: " + error;
  std::string server_error;
  for (;;) {
    wire::Frame f;
    if (co_await receive_frame(max_message, f, error) != ReadStatus::ok)
      co_return "server closed the connection" + (server_error.empty() ? "" : " (" + server_error + ")");
    if (f.type == be::kErrorResponse) {
      wire::ErrorFields e;
      wire::parse_error_fields(f.body, e);
      server_error = std::string(e.message) + " (SQLSTATE " + std::string(e.sqlstate) + ")";
    } else if (f.type == be::kParameterStatus) {
      std::string_view name, value;
      if (wire::parse_parameter_status(f.body, name, value)) reported[std::string(name)] = std::string(value);
    } else if (f.type == be::kReadyForQuery) {
      wire::parse_ready_for_query(f.body, tx_status);
      rbuf.consume(f.wire_size());
      if (!server_error.empty()) co_return server_error;
      if (tx_status != wire::tx_status::kIdle) co_return std::string("session is not idle");
      co_return "";
    }
    rbuf.consume(f.wire_size());
  }
}

awaitable<std::string> ServerConnection::login(uint32_t max_message,
                                               std::shared_ptr<const BackendTlsContext> tls_context) {
  const ServerEndpoint& ep = *endpoint_;
  tcp::resolver resolver(socket_.get_executor());
  auto [rec, results] = co_await resolver.async_resolve(ep.host, std::to_string(ep.port), use_nothrow);
  if (rec) co_return "cannot resolve " + ep.host + ": " + rec.message();
  auto [cec, connected] = co_await asio::async_connect(socket_, results, use_nothrow);
  (void)connected;
  if (cec) {
    failure_is_transient = restart_connect_error(cec);
    co_return "cannot connect to " + ep.host + ":" + std::to_string(ep.port) + ": " + cec.message();
  }
  tune_socket(socket_);
  if (tls_context) {
    std::string tls_error = co_await start_tls(std::move(tls_context));
    if (!tls_error.empty()) co_return tls_error;
  }

  std::string out;
  wire::put_startup(out, {{"user", ep.user}, {"database", ep.dbname.empty() ? ep.user : ep.dbname}});
  std::string error;
  if (!co_await send_all(out, error)) co_return "cannot send startup: " + error;

  std::unique_ptr<auth::ScramClient> scram;
  for (;;) {
    wire::Frame f;
    ReadStatus st = co_await receive_frame(max_message, f, error);
    if (st != ReadStatus::ok) {
      failure_is_transient = st == ReadStatus::closed;
      co_return "server closed the connection during login: " + error;
    }
    out.clear();
    switch (f.type) {
      case be::kAuthentication: {
        wire::AuthRequest req;
        if (!wire::parse_auth_request(f.body, req)) co_return "malformed authentication request from server";
        switch (req.code) {
          case wire::kAuthOk: break;
          case wire::kAuthCleartext:
            wire::put_password(out, ep.password);
            auth_method = "password";
            break;
          case wire::kAuthMd5: {
            if (req.data.size() != 4) co_return "malformed md5 salt from server";
            wire::put_password(out, auth::md5_client_response(ep.user, ep.password, req.data.data()));
            auth_method = "md5";
            break;
          }
          case wire::kAuthSasl: {
            bool has_scram = false, has_plus = false;
            for (auto m : wire::sasl_mechanisms(req.data)) {
              has_scram |= (m == "SCRAM-SHA-256");
              has_plus |= (m == "SCRAM-SHA-256-PLUS");
            }
            if (!has_scram && !has_plus)
              co_return "server offers no SASL mechanism pgroute supports (need SCRAM-SHA-256)";
            scram = std::make_unique<auth::ScramClient>(ep.password);
            // Over TLS, channel binding proves the server that checked the password is the one TLS
            // reached (no man in the middle holding a certificate we did not verify).
            std::string end_point = tls && has_plus ? tls->peer_end_point() : std::string();
            const bool bind = !end_point.empty();
            if (bind) scram->bind_channel(std::move(end_point));
            auth_method = bind ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
            wire::put_sasl_initial_response(out, auth_method, scram->client_first());
            break;
          }
          case wire::kAuthSaslContinue: {
            if (!scram) co_return "unexpected SASL continue from server";
            auto reply = scram->handle_server_first(req.data);
            if (!reply) co_return "SCRAM exchange with server failed: " + scram->error();
            wire::put_sasl_response(out, *reply);
            break;
          }
          case wire::kAuthSaslFinal:
            if (!scram || !scram->verify_server_final(req.data))
              co_return "server's SCRAM signature did not verify" + (scram ? ": " + scram->error() : "");
            break;
          default:
            co_return "server asks for authentication method " + std::to_string(req.code) +
                " which pgroute does not support (use trust, password, md5 or scram-sha-256 in pg_hba.conf)";
        }
        break;
      }
      case be::kErrorResponse: {
        wire::ErrorFields e;
        wire::parse_error_fields(f.body, e);
        failure_is_transient = restart_login_sqlstate(e.sqlstate);
        co_return "server refused login: " + std::string(e.message) + " (SQLSTATE " + std::string(e.sqlstate) + ")";
      }
      case be::kParameterStatus: {
        std::string_view name, value;
        if (wire::parse_parameter_status(f.body, name, value)) reported[std::string(name)] = std::string(value);
        break;
      }
      case be::kBackendKeyData: wire::parse_backend_key_data(f.body, backend_pid, backend_secret); break;
      case be::kReadyForQuery: {
        wire::parse_ready_for_query(f.body, tx_status);
        rbuf.consume(f.wire_size());
        co_return "";
      }
      default: break;  // NoticeResponse, NegotiateProtocolVersion: nothing to do
    }
    rbuf.consume(f.wire_size());
    if (!out.empty() && !co_await send_all(out, error)) co_return "cannot send authentication: " + error;
  }
}

awaitable<std::string> ServerConnection::start_tls(std::shared_ptr<const BackendTlsContext> tls_context) {
  const ServerEndpoint& ep = *endpoint_;
  const std::string mode(config::ssl_mode_name(tls_context->mode()));
  std::string request, error;
  wire::put_ssl_request(request);
  if (!co_await pgroute::write_all(socket_, request, error)) co_return "cannot send SSLRequest: " + error;
  // Exactly one byte: whatever follows 'S' is the server's TLS, never plaintext taken as if it had come
  // through TLS (CVE-2021-23214).
  char answer = 0;
  auto [ec, n] = co_await asio::async_read(socket_, asio::buffer(&answer, 1), use_nothrow);
  if (ec || n != 1) {
    failure_is_transient = true;
    co_return "server closed the connection after SSLRequest: " + (ec ? ec.message() : std::string(kEndOfStream));
  }
  if (answer == wire::kSslRefused) {
    if (tls_context->plaintext_allowed()) co_return "";
    co_return "server does not support TLS (it answered 'N' to SSLRequest) and sslmode=" + mode +
        " needs it (ssl = on in its postgresql.conf, or sslmode=prefer/disable in the URL)";
  }
  if (answer != wire::kSslAccepted)
    co_return "server answered SSLRequest with neither 'S' nor 'N' (byte " + std::to_string(int(answer)) +
        "): not a PostgreSQL server, or one too old for TLS";
  tls = std::make_unique<TlsChannel>(std::move(tls_context), ep.host);
  for (;;) {
    std::string out;
    const TlsChannel::Status st = tls->handshake(out);
    if (!out.empty() && !co_await pgroute::write_all(socket_, out, error))
      co_return "TLS handshake with the server failed: " + error;
    if (st == TlsChannel::Status::ok) break;
    if (st != TlsChannel::Status::want_more) {
      const std::string why = tls->verify_error();
      co_return tls->error() + (why.empty() ? "" : " (" + why + ")") + " [sslmode=" + mode + "]";
    }
    std::string& raw = tls->raw();
    raw.resize(TlsChannel::kReadSize);
    auto [rec, got] = co_await socket_.async_read_some(asio::buffer(raw), use_nothrow);
    if (rec || got == 0) {
      const std::string why = tls->verify_error();
      co_return "server closed the connection during the TLS handshake" + (why.empty() ? "" : " (" + why + ")");
    }
    tls->feed(std::string_view(raw).substr(0, got));
  }
  // What came with the last handshake records (a session ticket) is taken now, so nothing waits in TLS's
  // buffers while a read waits on the socket.
  if (tls->read(rbuf) != TlsChannel::Status::ok) co_return "TLS failed after the handshake: " + tls->error();
  co_return "";
}

asio::mutable_buffer ServerConnection::read_space() {
  if (!tls) {
    auto [space, len] = rbuf.prepare(8192);
    return asio::buffer(space, len);
  }
  std::string& raw = tls->raw();
  if (raw.size() < TlsChannel::kReadSize) raw.resize(TlsChannel::kReadSize);
  return asio::buffer(raw.data(), raw.size());
}

bool ServerConnection::absorb(size_t n, std::string& error) {
  if (!tls) {
    rbuf.commit(n);
    return true;
  }
  switch (tls->read(std::string_view(tls->raw()).substr(0, n), rbuf)) {
    case TlsChannel::Status::ok:
    case TlsChannel::Status::want_more: return true;
    case TlsChannel::Status::closed: error = "the server ended TLS (close_notify)"; return false;
    case TlsChannel::Status::failed: error = tls->error(); return false;
  }
  return false;
}

std::string* ServerConnection::to_wire(std::string& plain, std::string& error) {
  if (!tls) return &plain;
  if (!tls->write(plain, tls_out)) {
    error = tls->error();
    return nullptr;
  }
  plain.clear();
  return &tls_out;
}

awaitable<ReadStatus> ServerConnection::receive_frame(uint32_t max_message, wire::Frame& frame, std::string& error) {
  if (!tls) co_return co_await read_frame(socket_, rbuf, max_message, frame, error);
  for (;;) {
    size_t need = 0;
    switch (wire::next_frame(rbuf.view(), max_message, frame, need, &error)) {
      case wire::Decode::Ready: co_return ReadStatus::ok;
      case wire::Decode::Invalid: co_return ReadStatus::invalid;
      case wire::Decode::NeedMore: break;
    }
    auto [ec, n] = co_await socket_.async_read_some(read_space(), use_nothrow);
    if (ec || n == 0) {
      error = ec && ec != asio::error::eof ? ec.message() : std::string(kEndOfStream);
      co_return ReadStatus::closed;
    }
    if (!absorb(n, error)) co_return ReadStatus::closed;
  }
}

awaitable<bool> ServerConnection::send_all(std::string_view data, std::string& error) {
  if (!tls) co_return co_await write_all(socket_, data, error);
  std::string plain(data);
  std::string* cipher = to_wire(plain, error);
  if (!cipher) co_return false;
  const bool ok = co_await write_all(socket_, *cipher, error);
  cipher->clear();
  co_return ok;
}

// Under TLS a peek sees ciphertext, which may be no message at all (a session ticket): what is there is
// read and decrypted now, and only plaintext, or the end of the connection, counts.
ServerConnection::IdleState ServerConnection::peek_idle_tls() {
  std::string& raw = tls->raw();
  if (raw.size() < TlsChannel::kReadSize) raw.resize(TlsChannel::kReadSize);
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), raw.data(), raw.size(), MSG_DONTWAIT);
    if (n == 0) return IdleState::closed;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return IdleState::closed;
    }
    std::string error;
    if (!absorb(static_cast<size_t>(n), error)) return IdleState::closed;
  }
  return rbuf.empty() ? IdleState::quiet : IdleState::has_data;
}

}  // namespace pgroute
