// Why a server connection was closed: one enum feeds the log line, the metric label and the client's error.
#pragma once
#include <string_view>

namespace pgroute {

enum class CloseReason {
  lifetime,               // max_lifetime reached
  idle,                   // idle_timeout reached
  server_timeout_margin,  // recycle_margin before the server's own idle/session timeout
  failed_check,           // found closed by the server while pooled, or failed its pre-use check
  server_error,           // broke while in use (read/write error, FATAL, left mid-transaction)
  reload,                 // its backend left or moved, or the pool is over a smaller pool_size
  shutdown,               // the proxy is exiting
  client_gone,            // its client left mid-transaction or mid-answer (the session state is unknown)
  protocol_error,         // the server sent what the protocol does not allow
  connect_failed,         // the connection or its login failed (counted, never pooled)
};
inline constexpr int kCloseReasonCount = 10;

constexpr std::string_view close_reason_name(CloseReason r) {
  switch (r) {
    case CloseReason::lifetime: return "lifetime";
    case CloseReason::idle: return "idle";
    case CloseReason::server_timeout_margin: return "server_timeout_margin";
    case CloseReason::failed_check: return "failed_check";
    case CloseReason::server_error: return "server_error";
    case CloseReason::reload: return "reload";
    case CloseReason::shutdown: return "shutdown";
    case CloseReason::client_gone: return "client_gone";
    case CloseReason::protocol_error: return "protocol_error";
    case CloseReason::connect_failed: return "connect_failed";
  }
  return "unknown";
}

}  // namespace pgroute
