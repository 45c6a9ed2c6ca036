// The server's own session timeouts, learned once per connection right after login, so the pool can
// close an idle connection before the server does (recycle_margin) without the operator copying them.
#pragma once
#include <chrono>
#include <string_view>

namespace pgroute {

struct ServerTimeouts {
  using ms = std::chrono::milliseconds;
  ms idle_session{0}, idle_in_transaction{0}, tcp_keepalives_idle{0}, statement{0};  // 0 = off on the server
  bool known = false;                                                                // the settings query answered
};

// One round trip that answers with (name, setting, unit) rows for the four settings above.
inline constexpr std::string_view kServerTimeoutsQuery =
    "SELECT name, setting, unit FROM pg_catalog.pg_settings WHERE name IN ('idle_session_timeout', "
    "'idle_in_transaction_session_timeout', 'tcp_keepalives_idle', 'statement_timeout')";

// Applies one DataRow body of that query; false if the row is not what the query returns.
bool apply_server_timeout_row(std::string_view data_row_body, ServerTimeouts& out);

}  // namespace pgroute
