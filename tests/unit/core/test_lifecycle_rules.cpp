// The pure parts of the connection lifecycle: reading the server's timeouts and when an idle
// connection expires (and for which reason).
#include <doctest/doctest.h>

#include <string>

#include "proxy/pool/connection_expiry.hpp"
#include "proxy/pool/server_timeouts.hpp"

using namespace pgroute;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string be32(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  return {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8), static_cast<char>(u)};
}

// A DataRow body with text columns (nullptr = NULL).
std::string data_row(std::initializer_list<const char*> cols) {
  std::string body{static_cast<char>(0), static_cast<char>(cols.size())};
  for (const char* c : cols) {
    if (!c) {
      body += be32(-1);
      continue;
    }
    body += be32(static_cast<int32_t>(std::string(c).size())) + c;
  }
  return body;
}

struct ConnFixture {
  asio::io_context ctx;
  ServerConnection conn{ctx, 0, std::make_shared<ServerEndpoint>()};
  Clock::time_point t0 = Clock::now();
  ConnFixture() {
    conn.created = conn.last_used = t0;
    conn.lifetime_share = 1.0;
  }
};

config::Lifecycle none() {
  config::Lifecycle l;
  l.max_lifetime.reset();
  l.idle_timeout.reset();
  l.recycle_margin.reset();
  return l;
}

}  // namespace

TEST_CASE("server timeouts: rows of the settings query, in their units") {
  ServerTimeouts t;
  CHECK(apply_server_timeout_row(data_row({"idle_session_timeout", "2000", "ms"}), t));
  CHECK(apply_server_timeout_row(data_row({"tcp_keepalives_idle", "7200", "s"}), t));
  CHECK(apply_server_timeout_row(data_row({"statement_timeout", "0", "ms"}), t));
  CHECK(apply_server_timeout_row(data_row({"idle_in_transaction_session_timeout", "60000", "ms"}), t));
  CHECK(t.idle_session == 2000ms);
  CHECK(t.tcp_keepalives_idle == 7200000ms);
  CHECK(t.statement == 0ms);
  CHECK(t.idle_in_transaction == 60000ms);
}

TEST_CASE("server timeouts: malformed or unexpected rows are refused and change nothing") {
  ServerTimeouts t;
  CHECK_FALSE(apply_server_timeout_row(data_row({"work_mem", "4096", "kB"}), t));
  CHECK_FALSE(apply_server_timeout_row(data_row({"idle_session_timeout", "-1", "ms"}), t));
  CHECK_FALSE(apply_server_timeout_row(data_row({"idle_session_timeout", "2s", "ms"}), t));
  CHECK_FALSE(apply_server_timeout_row(data_row({"idle_session_timeout", "2000"}), t));
  CHECK_FALSE(apply_server_timeout_row(data_row({"idle_session_timeout", nullptr, "ms"}), t));
  std::string truncated = data_row({"idle_session_timeout", "2000", "ms"});
  truncated.pop_back();
  CHECK_FALSE(apply_server_timeout_row(truncated, t));
  CHECK_FALSE(apply_server_timeout_row("", t));
  CHECK(t.idle_session == 0ms);
}

TEST_CASE("expiry: the earliest limit wins and names its reason") {
  ConnFixture f;
  config::Lifecycle l = none();
  CHECK(idle_expiry(f.conn, l).at == Clock::time_point::max());

  l.max_lifetime = 3600000ms;
  l.idle_timeout = 600000ms;
  Expiry e = idle_expiry(f.conn, l);
  CHECK(e.why == CloseReason::idle);
  CHECK(e.at == f.t0 + 600000ms);

  // Server ends idle sessions after 10 s; margin 2 s → close after 8 s idle.
  f.conn.server_timeouts.idle_session = 10000ms;
  l.recycle_margin = 2000ms;
  e = idle_expiry(f.conn, l);
  CHECK(e.why == CloseReason::server_timeout_margin);
  CHECK(e.at == f.t0 + 8000ms);

  // Margin off: the server's timeout is not used.
  l.recycle_margin.reset();
  CHECK(idle_expiry(f.conn, l).why == CloseReason::idle);

  // Lifetime counts from creation, jittered per connection; idle limits from the last return.
  l.max_lifetime = 1000ms;
  f.conn.lifetime_share = 1.1;
  f.conn.last_used = f.t0 + 500ms;
  e = idle_expiry(f.conn, l);
  CHECK(e.why == CloseReason::lifetime);
  CHECK(e.at == f.t0 + 1100ms);
}

TEST_CASE("expiry: a margin as large as the server's timeout keeps half the timeout") {
  ConnFixture f;
  config::Lifecycle l = none();
  f.conn.server_timeouts.idle_session = 2000ms;
  l.recycle_margin = 2000ms;
  Expiry e = idle_expiry(f.conn, l);
  CHECK(e.why == CloseReason::server_timeout_margin);
  CHECK(e.at == f.t0 + 1000ms);
  l.recycle_margin = 0ms;
  CHECK(idle_expiry(f.conn, l).at == f.t0 + 2000ms);
}
