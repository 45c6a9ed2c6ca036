// The client side of a session is driven by completion handlers: a message that must wait (a pool with
// no idle connection, a pipelined answer routing must see first) waits and is handled again. These cases
// make such waits happen with real clients and check what the client sees.
#include <thread>

#include "harness.hpp"
#include "message_trace.hpp"

using namespace pgroute::it;

namespace {

// A proxy whose alias "default" has one server connection and a model router, so that routing holds
// extended-protocol messages until their Bind and a second client waits for the connection.
ProxyConfig one_connection_routed() {
  ProxyConfig cfg = default_proxy_config();
  cfg.pool_size = 1;
  cfg.extra_yaml = "routers:\n  - type: model\n    tables: {it_cs_elsewhere: analytics}\n";
  return cfg;
}

// The messages up to ReadyForQuery as trace_of() writes them, with each DataRow's first value after a
// space ("D 42"): what a client saw, and what it read.
std::vector<std::string> answers(RawClient& raw) {
  std::vector<std::string> out;
  for (;;) {
    auto m = raw.read_message(10s);
    if (!m) {
      out.push_back("TIMEOUT");
      return out;
    }
    std::string one = trace_of(*m);
    if (m->type == 'D' && m->body.size() >= 6) {
      const auto* b = reinterpret_cast<const unsigned char*>(m->body.data());
      const int32_t len = static_cast<int32_t>((uint32_t(b[2]) << 24) | (uint32_t(b[3]) << 16) | (b[4] << 8) | b[5]);
      one += " " + (len < 0 ? std::string("NULL") : m->body.substr(6, static_cast<size_t>(len)));
    }
    out.push_back(one);
    if (m->type == 'Z') return out;
  }
}

}  // namespace

TEST_CASE("client side: a held unit fed one byte at a time waits for the pool's only connection, then runs whole") {
  Proxy proxy(one_connection_routed());
  RawClient raw(proxy.port());
  raw.startup_trust(kProxyTrustUser, "app");  // a login checks a connection out too: before the holder
  Conn holder = proxy.connect();
  holder.exec("BEGIN");
  holder.exec("SELECT 1");  // the only connection of "default" is now this transaction's
  const std::string unit = parse_message("", "SELECT $1::int + 1") + bind_message("", {"41"}) +
                           describe_portal_message() + execute_message() + sync_message();
  for (char byte : unit) {
    REQUIRE(raw.send(std::string_view(&byte, 1)));
    std::this_thread::sleep_for(1ms);
  }
  // Nothing can be answered while the connection is taken: the unit waits (held, then for the pool).
  bool quiet = false;
  try {
    raw.read_message(300ms);
  } catch (const std::exception&) {
    quiet = true;  // timed out: nothing came
  }
  CHECK(quiet);
  holder.exec("COMMIT");  // the connection goes back: the waiting unit gets it
  CHECK(answers(raw) == std::vector<std::string>{"1", "2", "T", "D 42", "C", "Z I"});
  // The pool's connection is back and serves the next unit at once.
  REQUIRE(raw.send(query_message("SELECT 7")));
  CHECK(answers(raw) == std::vector<std::string>{"T", "D 7", "C", "Z I"});
}

TEST_CASE("client side: a BEGIN, then a unit waiting for the pool: its statements run inside the transaction") {
  Proxy proxy(one_connection_routed());
  RawClient raw(proxy.port());
  raw.startup_trust(kProxyTrustUser, "app");
  Conn holder = proxy.connect();
  holder.exec("BEGIN");
  holder.exec("SELECT 1");
  // BEGIN is answered by the proxy (no server needed yet); the pipelined unit must wait for the pool.
  REQUIRE(raw.send(query_message("BEGIN")));
  CHECK(answers(raw) == std::vector<std::string>{"C", "Z T"});
  REQUIRE(raw.send(parse_message("", "SELECT now() = statement_timestamp()") + bind_message("") +
                   describe_portal_message() + execute_message() + sync_message()));
  std::this_thread::sleep_for(200ms);
  holder.exec("COMMIT");
  // Inside a transaction now() is the transaction's start, before this statement's: false. Autocommit
  // (the BEGIN lost while the unit waited) would make it true.
  CHECK(answers(raw) == std::vector<std::string>{"1", "2", "T", "D f", "C", "Z T"});
  REQUIRE(raw.send(query_message("ROLLBACK")));
  CHECK(answers(raw) == std::vector<std::string>{"C", "Z I"});
}

TEST_CASE("client side: a client that sends while the proxy waits to write it a large result is served") {
  Proxy proxy(default_proxy_config());
  RawClient raw(proxy.port());
  raw.startup_trust(kProxyTrustUser, "app");
  // About 40 MB of rows the client does not read for a while: the proxy's writes to it must wait.
  REQUIRE(raw.send(query_message("SELECT repeat('x', 100000) FROM generate_series(1, 400)")));
  std::this_thread::sleep_for(300ms);
  // More bytes from the client while that write waits (this once sent the proxy into unbounded recursion).
  REQUIRE(raw.send(query_message("SELECT 5")));
  std::this_thread::sleep_for(200ms);
  CHECK(proxy.connect().scalar("SELECT 1") == "1");  // the proxy is alive and serves others
  int rows = 0, ready = 0;
  std::string last_row;
  while (ready < 2) {
    auto m = raw.read_message(10s);
    REQUIRE(m.has_value());
    if (m->type == 'D') {
      ++rows;
      last_row = m->body.substr(6);
    }
    if (m->type == 'Z') ++ready;
  }
  CHECK(rows == 401);
  CHECK(last_row == "5");
}

TEST_CASE("client side: a statement routing answers itself, sent inside an unfinished unit, gets its answer") {
  Proxy proxy(one_connection_routed());
  RawClient raw(proxy.port());
  raw.startup_trust(kProxyTrustUser, "app");
  // Parse/Bind/Execute without Sync: the server keeps its answers until a Sync or Flush. The SET is
  // answered by the proxy, which first needs what the server owes (the transaction status after it).
  REQUIRE(raw.send(parse_message("", "SELECT 3") + bind_message("") + execute_message() +
                   query_message("SET pgroute.shard_key = 5")));
  CHECK(answers(raw) == std::vector<std::string>{"1", "2", "D 3", "C", "C", "Z I"});
  REQUIRE(raw.send(sync_message()));
  CHECK(answers(raw) == std::vector<std::string>{"Z I"});
}
