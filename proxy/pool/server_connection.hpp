// One authenticated connection from the proxy to a PostgreSQL server, owned by a pool while idle and
// by one client session while it serves a transaction (or a whole session in session mode).
#pragma once
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "proxy/io/asio.hpp"
#include "proxy/io/backend_tls_context.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/io/read_buffer.hpp"
#include "proxy/io/tls_channel.hpp"
#include "proxy/pool/applied_parameters.hpp"
#include "proxy/pool/server_prepared_set.hpp"
#include "proxy/pool/server_timeouts.hpp"
#include "proxy/wire/message_type.hpp"

namespace pgroute {

// Where and as whom to log in. Shared by all connections of a pool.
struct ServerEndpoint {
  std::string alias, host;
  uint16_t port = 5432;
  std::string user, password, dbname;
  config::SslMode sslmode = config::SslMode::disable;
  std::string tls_settings;  // sslmode and file names: part of the pool's identity
  std::string describe() const { return "alias \"" + alias + "\" (" + host + ":" + std::to_string(port) + ")"; }
};

class ServerConnection {
 public:
  ServerConnection(asio::io_context& ctx, int worker, std::shared_ptr<const ServerEndpoint> endpoint);
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Connects, negotiates TLS when `tls` is set (the backend's sslmode), authenticates, waits for the first
  // ReadyForQuery and learns the server's timeouts, all within `timeout`. Returns "" on success, else why
  // not (and sets failure_is_transient).
  awaitable<std::string> open(std::chrono::milliseconds timeout, uint32_t max_message,
                              std::shared_ptr<const BackendTlsContext> tls = nullptr);
  // After a failed open(): the server is restarting or briefly away (connection refused or reset, 57P03
  // "starting up / shutting down", 57P01/57P02 during login, hung up mid-login), so another attempt in a
  // moment is likely to succeed. False for timeouts, authentication and configuration errors.
  bool failure_is_transient = false;

  // What an idle connection's socket says without a round trip.
  enum class IdleState { quiet, closed, has_data };
  IdleState peek_idle();
  // A cheap round trip (empty Query → EmptyQueryResponse + ReadyForQuery 'I'). "" if the server answered
  // as an idle healthy session would within `timeout`, else why not (the connection is then unusable).
  awaitable<std::string> ping(std::chrono::milliseconds timeout, uint32_t max_message);

  // Moves the socket to another worker's io_context (only while no operation is pending on it).
  void rebind(asio::io_context& ctx, int worker);
  void close();

  // --- I/O that goes through TLS when the connection has it --------------------------------------
  // Where the next read of the socket lands: rbuf's free space, or the ciphertext buffer under TLS.
  asio::mutable_buffer read_space();
  // After a read of n bytes into read_space(): the plaintext is in rbuf (under TLS: whole records only,
  // so it may have grown by nothing). False, with `error`, when TLS failed or the server ended it.
  bool absorb(size_t n, std::string& error);
  // The bytes to write to the socket for `plain`: `plain` itself, or under TLS tls_out, with `plain`
  // encrypted onto its end and cleared. Null (with `error`) when encrypting fails.
  std::string* to_wire(std::string& plain, std::string& error);
  // One whole message into rbuf (frame_io's read_frame, through TLS); the caller consumes it.
  awaitable<ReadStatus> receive_frame(uint32_t max_message, wire::Frame& frame, std::string& error);
  // All of `data` written (encrypted under TLS); false with `error` when the server is gone.
  awaitable<bool> send_all(std::string_view data, std::string& error);

  Socket& socket() { return socket_; }
  int worker() const { return worker_; }
  const ServerEndpoint& endpoint() const { return *endpoint_; }
  uint64_t id() const { return id_; }

  int32_t backend_pid = 0, backend_secret = 0;
  std::map<std::string, std::string, std::less<>> reported;  // ParameterStatus values the server announced
  AppliedParameters applied;                                 // session parameters set for the clients it serves
  ServerPreparedSet prepared;                                // proxy names prepared on this connection
  ReadBuffer rbuf;                                           // bytes read from the server, kept with it
  char tx_status = wire::tx_status::kIdle;
  std::chrono::steady_clock::time_point created, last_used;
  ServerTimeouts server_timeouts;   // learned by open()
  double lifetime_share = 1.0;      // this connection's jittered fraction of max_lifetime (0.9–1.1)
  std::unique_ptr<TlsChannel> tls;  // set when the login negotiated TLS; null: plaintext
  // How the server had the login authenticate: trust, password, md5, SCRAM-SHA-256 or
  // SCRAM-SHA-256-PLUS (channel binding to the TLS connection).
  std::string_view auth_method = "trust";
  std::string tls_out;  // under TLS: ciphertext a partial write left for the socket
  // Counts this connection in `gauge` (its pool's TLS connections) until it is destroyed.
  void count_in(std::shared_ptr<std::atomic<int>> gauge);

 private:
  awaitable<std::string> login(uint32_t max_message, std::shared_ptr<const BackendTlsContext> tls_context);
  awaitable<std::string> login_and_learn(uint32_t max_message, std::shared_ptr<const BackendTlsContext> tls_context);
  // SSLRequest, then the handshake. "" when TLS is up, or when the server has none and sslmode=prefer.
  awaitable<std::string> start_tls(std::shared_ptr<const BackendTlsContext> tls_context);
  awaitable<std::string> learn_server_timeouts(uint32_t max_message);
  awaitable<std::string> ping_exchange(uint32_t max_message);
  IdleState peek_idle_tls();

  Socket socket_;
  int worker_;
  std::shared_ptr<const ServerEndpoint> endpoint_;
  uint64_t id_;
  std::shared_ptr<std::atomic<int>> tls_gauge_;
};

}  // namespace pgroute
