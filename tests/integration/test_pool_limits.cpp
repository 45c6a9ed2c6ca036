// 7, 8 and unreachable backends: what a client sees when the proxy cannot serve it.
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

namespace {
using Clock = std::chrono::steady_clock;
}

TEST_CASE("proxy: queue timeout gives 53300 naming the alias; the client stays usable") {
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"qt_alias", first_cluster().url(kAppUser, kAppPassword), 1}};
  cfg.databases = {{"app", "qt_alias"}};
  cfg.pool_size = 1;
  cfg.queue_timeout = "1s";
  Proxy proxy(cfg);

  Conn a = proxy.connect();
  Conn b = proxy.connect();
  a.exec("BEGIN");
  CHECK(a.scalar("SELECT 1") == "1");  // A now holds the only server connection

  const auto t0 = Clock::now();
  PgError e = expect_pg_error([&] { b.scalar("SELECT 1"); });
  const auto waited = Clock::now() - t0;
  INFO(e.what());
  CHECK(e.sqlstate == "53300");
  CHECK(e.message.find("qt_alias") != std::string::npos);
  CHECK(waited >= 900ms);  // it waited for the queue timeout...
  CHECK(waited < 3s);      // ...and not much longer

  a.exec("COMMIT");
  CHECK(b.scalar("SELECT 'b got through'") == "b got through");
  CHECK(b.transaction_status() == PQTRANS_IDLE);
  CHECK(a.scalar("SELECT 'a too'") == "a too");
}

TEST_CASE("proxy: max_client_connections refuses the connection over the limit with 53300") {
  ProxyConfig cfg = default_proxy_config();
  cfg.max_client_connections = 3;
  Proxy proxy(cfg);

  std::vector<Conn> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(proxy.connect());
    CHECK(held.back().scalar("SELECT 1") == "1");
  }
  PgError e = expect_pg_error([&] { proxy.connect(); });
  INFO(e.what());
  CHECK(e.sqlstate == "53300");
  for (auto& c : held) CHECK(c.scalar("SELECT 2") == "2");

  // A slot frees up when a client leaves (the proxy may notice a moment later).
  held.pop_back();
  std::optional<Conn> again;
  for (auto deadline = Clock::now() + 3s; !again && Clock::now() < deadline;) {
    try {
      again.emplace(proxy.connect());
    } catch (const PgError&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  REQUIRE(again);
  CHECK(again->scalar("SELECT 3") == "3");
}

TEST_CASE("proxy: an unreachable backend gives 08001 naming the alias") {
  ProxyConfig cfg = default_proxy_config();
  cfg.backends.push_back(
      {"nowhere_alias", "postgresql://app:apppass@127.0.0.1:" + std::to_string(free_port()) + "/app", std::nullopt});
  cfg.databases.emplace_back("gone", "nowhere_alias");
  cfg.queue_timeout = "1s";  // a refused connect is waited out this long (the server may be restarting)
  Proxy proxy(cfg);

  // The proxy may find out at login or at the first query; either way the client is told.
  std::optional<PgError> error;
  try {
    Conn c = proxy.connect(kProxyUser, kProxyPassword, "gone");
    error = expect_pg_error([&] { c.scalar("SELECT 1"); });
  } catch (const PgError& e) {
    error = e;
  }
  REQUIRE(error);
  INFO(error->what());
  CHECK(error->sqlstate == "08001");
  CHECK(error->message.find("nowhere_alias") != std::string::npos);

  CHECK(proxy.connect().scalar("SELECT 'other aliases fine'") == "other aliases fine");
}
