#include "proxy/pool/connection_expiry.hpp"

#include <algorithm>

namespace pgroute {

Expiry idle_expiry(const ServerConnection& conn, const config::Lifecycle& life) {
  using Clock = std::chrono::steady_clock;
  Expiry e{Clock::time_point::max(), CloseReason::idle};
  auto consider = [&e](Clock::time_point at, CloseReason why) {
    if (at < e.at) e = {at, why};
  };
  if (life.max_lifetime)
    consider(conn.created + std::chrono::duration_cast<Clock::duration>(*life.max_lifetime * conn.lifetime_share),
             CloseReason::lifetime);
  if (life.idle_timeout) consider(conn.last_used + *life.idle_timeout, CloseReason::idle);
  auto server_idle = conn.server_timeouts.idle_session;
  if (life.recycle_margin && server_idle.count() > 0) {
    auto keep = std::max<std::chrono::milliseconds>(server_idle - *life.recycle_margin, server_idle / 2);
    consider(conn.last_used + keep, CloseReason::server_timeout_margin);
  }
  return e;
}

}  // namespace pgroute
