// When a pooled server connection must be closed at the latest, and why: the earliest of its jittered
// max_lifetime, idle_timeout, and the server's own idle_session_timeout minus recycle_margin.
#pragma once
#include <chrono>

#include "config/config.hpp"
#include "proxy/pool/close_reason.hpp"
#include "proxy/pool/server_connection.hpp"

namespace pgroute {

struct Expiry {
  std::chrono::steady_clock::time_point at;  // time_point::max(): never
  CloseReason why;                           // lifetime, idle or server_timeout_margin
};

// From conn.created, conn.last_used (when it was last returned), conn.lifetime_share and
// conn.server_timeouts. A margin as large as the server's timeout keeps half of that timeout instead.
Expiry idle_expiry(const ServerConnection& conn, const config::Lifecycle& life);

}  // namespace pgroute
