// Where a client session is in its life: one value, set through ClientSession::set_state() at each
// transition, shown in SHOW CLIENTS. closed is final.
#pragma once
#include <cstdint>
#include <string_view>

namespace pgroute {

enum class SessionState : uint8_t {
  starting,        // accepted: encryption requests, the startup packet
  authenticating,  // the password exchange and the first server checkout of the login
  idle,            // logged in, no server connection: between transactions (or an admin console)
  parked,          // idle for a sweep period: no buffers or coroutine frames, a readiness wait only
  attached,        // holds a server connection (a transaction, a unit in flight, or session mode)
  scattering,      // a read across shards is running on connections of its own
  draining,        // its input ended or the proxy shuts down: what was asked is answered, then it ends
  closed,          // ended (end_session): its socket is closed
};
inline constexpr int kSessionStateCount = 8;

constexpr std::string_view session_state_name(SessionState s) {
  switch (s) {
    case SessionState::starting: return "starting";
    case SessionState::authenticating: return "authenticating";
    case SessionState::idle: return "idle";
    case SessionState::parked: return "parked";
    case SessionState::attached: return "attached";
    case SessionState::scattering: return "scattering";
    case SessionState::draining: return "draining";
    case SessionState::closed: return "closed";
  }
  return "unknown";
}

}  // namespace pgroute
