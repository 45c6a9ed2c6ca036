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
    std::string bye;
    wire::put_terminate(bye);
    socket_.non_blocking(true, ec);
    socket_.write_some(asio::buffer(bye), ec);
    socket_.shutdown(Socket::shutdown_both, ec);
    socket_.close(ec);
  }
}

awaitable<std::string> ServerConnection::open(std::chrono::milliseconds timeout, uint32_t max_message) {
  using namespace asio::experimental::awaitable_operators;
  failure_is_transient = false;
  asio::steady_timer timer(socket_.get_executor(), timeout);
  auto result = co_await (login_and_learn(max_message) || timer.async_wait(use_nothrow));
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

awaitable<std::string> ServerConnection::login_and_learn(uint32_t max_message) {
  std::string error = co_await login(max_message);
  if (!error.empty()) co_return error;
  created = last_used = std::chrono::steady_clock::now();
  co_return co_await learn_server_timeouts(max_message);
}

// A refused settings query (an unusual server) leaves the timeouts unknown; only a lost connection fails.
awaitable<std::string> ServerConnection::learn_server_timeouts(uint32_t max_message) {
  std::string out, error;
  wire::put_query(out, kServerTimeoutsQuery);
  if (!co_await write_all(socket_, out, error)) co_return "cannot send the settings query: " + error;
  bool refused = false;
  for (;;) {
    wire::Frame f;
    if (ReadStatus st = co_await read_frame(socket_, rbuf, max_message, f, error); st != ReadStatus::ok) {
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
  if (!co_await write_all(socket_, out, error)) co_return "write failed: " + error;
  std::string server_error;
  for (;;) {
    wire::Frame f;
    if (co_await read_frame(socket_, rbuf, max_message, f, error) != ReadStatus::ok)
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

awaitable<std::string> ServerConnection::login(uint32_t max_message) {
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

  std::string out;
  wire::put_startup(out, {{"user", ep.user}, {"database", ep.dbname.empty() ? ep.user : ep.dbname}});
  std::string error;
  if (!co_await write_all(socket_, out, error)) co_return "cannot send startup: " + error;

  std::unique_ptr<auth::ScramClient> scram;
  for (;;) {
    wire::Frame f;
    ReadStatus st = co_await read_frame(socket_, rbuf, max_message, f, error);
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
          case wire::kAuthCleartext: wire::put_password(out, ep.password); break;
          case wire::kAuthMd5: {
            if (req.data.size() != 4) co_return "malformed md5 salt from server";
            wire::put_password(out, auth::md5_client_response(ep.user, ep.password, req.data.data()));
            break;
          }
          case wire::kAuthSasl: {
            bool has_scram = false;
            for (auto m : wire::sasl_mechanisms(req.data)) has_scram |= (m == "SCRAM-SHA-256");
            if (!has_scram) co_return "server offers no SASL mechanism pgroute supports (need SCRAM-SHA-256)";
            scram = std::make_unique<auth::ScramClient>(ep.password);
            wire::put_sasl_initial_response(out, "SCRAM-SHA-256", scram->client_first());
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
    if (!out.empty() && !co_await write_all(socket_, out, error)) co_return "cannot send authentication: " + error;
  }
}

}  // namespace pgroute
