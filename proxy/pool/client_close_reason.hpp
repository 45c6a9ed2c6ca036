// Why a client session ended: one enum feeds the session's last log line and the metric label
// (pgroute_client_closes_total{reason}). Server connections have their own (close_reason.hpp).
#pragma once
#include <cstdint>
#include <string_view>

namespace pgroute {

enum class ClientCloseReason : uint8_t {
  client_closed,          // Terminate, or end of input between messages outside a transaction
  client_lost,            // read or write error, or end of input inside a message, unit, COPY or transaction
  protocol_violation,     // a message the protocol does not allow (08P01 to the client)
  message_too_large,      // a message longer than its limit (max_message_size)
  authentication_failed,  // wrong password or unknown user
  startup_refused,        // refused at login: too many clients, unknown database, not an admin, bad options ...
  startup_timeout,        // not logged in within authentication_timeout
  evicted,                // still logging in, made room for a new connection (max_startup_connections)
  server_unavailable,     // no server connection for the login (connect failed, queue timeout, alias gone)
  server_lost,            // the server connection broke or the server ended the session (08006 to the client)
  shutdown,               // the proxy is shutting down (SIGTERM, admin SHUTDOWN)
  cancel_request,         // the connection carried a cancel request, which ends it
  tls_failed,             // the TLS handshake failed, or TLS broke on an established connection
  unknown,                // ended without a reason: a pgroute bug (tests assert it stays 0)
};
inline constexpr int kClientCloseReasonCount = 14;

constexpr std::string_view client_close_reason_name(ClientCloseReason r) {
  switch (r) {
    case ClientCloseReason::client_closed: return "client_closed";
    case ClientCloseReason::client_lost: return "client_lost";
    case ClientCloseReason::protocol_violation: return "protocol_violation";
    case ClientCloseReason::message_too_large: return "message_too_large";
    case ClientCloseReason::authentication_failed: return "authentication_failed";
    case ClientCloseReason::startup_refused: return "startup_refused";
    case ClientCloseReason::startup_timeout: return "startup_timeout";
    case ClientCloseReason::evicted: return "evicted";
    case ClientCloseReason::server_unavailable: return "server_unavailable";
    case ClientCloseReason::server_lost: return "server_lost";
    case ClientCloseReason::shutdown: return "shutdown";
    case ClientCloseReason::cancel_request: return "cancel_request";
    case ClientCloseReason::tls_failed: return "tls_failed";
    case ClientCloseReason::unknown: return "unknown";
  }
  return "unknown";
}

}  // namespace pgroute
