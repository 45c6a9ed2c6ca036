// Why a server connection was closed: one enum feeds the log line, the metric label and the client's error.
#pragma once
#include <string_view>

namespace pgroute {

enum class CloseReason {
  lifetime,
  idle,
  server_timeout_margin,
  failed_check,
  server_error,
  reload,
  shutdown,
  client_gone,
  protocol_error,
  connect_failed,
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
