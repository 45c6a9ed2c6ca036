// One authenticated connection from the proxy to a PostgreSQL server, owned by a pool while idle and
// by one client session while it serves a transaction (or a whole session in session mode).
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "proxy/io/asio.hpp"
#include "proxy/io/read_buffer.hpp"
#include "proxy/pool/server_prepared_set.hpp"
#include "proxy/pool/server_timeouts.hpp"
#include "proxy/wire/message_type.hpp"

namespace pgroute {

// Where and as whom to log in. Shared by all connections of a pool.
struct ServerEndpoint {
  std::string alias, host;
  uint16_t port = 5432;
  std::string user, password, dbname;
  std::string describe() const { return "alias \"" + alias + "\" (" + host + ":" + std::to_string(port) + ")"; }
};

class ServerConnection {
 public:
  ServerConnection(asio::io_context& ctx, int worker, std::shared_ptr<const ServerEndpoint> endpoint);

  // Connects, authenticates, waits for the first ReadyForQuery and learns the server's timeouts, all
  // within `timeout`. Returns "" on success, else why not (and sets failure_is_transient).
  awaitable<std::string> open(std::chrono::milliseconds timeout, uint32_t max_message);
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

  Socket& socket() { return socket_; }
  int worker() const { return worker_; }
  const ServerEndpoint& endpoint() const { return *endpoint_; }
  uint64_t id() const { return id_; }

  int32_t backend_pid = 0, backend_secret = 0;
  std::map<std::string, std::string, std::less<>> reported;  // ParameterStatus values the server announced
  std::map<std::string, std::string, std::less<>> applied;   // session parameters set for the current client
  ServerPreparedSet prepared;                                // proxy names prepared on this connection
  ReadBuffer rbuf;                                           // bytes read from the server, kept with it
  char tx_status = wire::tx_status::kIdle;
  std::chrono::steady_clock::time_point created, last_used;
  ServerTimeouts server_timeouts;  // learned by open()
  double lifetime_share = 1.0;     // this connection's jittered fraction of max_lifetime (0.9–1.1)

 private:
  awaitable<std::string> login(uint32_t max_message);
  awaitable<std::string> login_and_learn(uint32_t max_message);
  awaitable<std::string> learn_server_timeouts(uint32_t max_message);
  awaitable<std::string> ping_exchange(uint32_t max_message);

  Socket socket_;
  int worker_;
  std::shared_ptr<const ServerEndpoint> endpoint_;
  uint64_t id_;
};

}  // namespace pgroute
