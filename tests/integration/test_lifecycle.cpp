// Issue 5: pooled server connections are recycled before the server or the network kills them, dead
// ones are replaced without the client noticing, a backend that is down fails clients fast and
// recovers, reload keeps or drains pools, SIGTERM lets a transaction finish.
#include <sys/wait.h>

#include <csignal>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

namespace {
using Clock = std::chrono::steady_clock;

// A role whose sessions the server ends after 2 s idle (ALTER ROLE ... SET idle_session_timeout).
constexpr const char* kIdleUser = "idler";
constexpr const char* kIdlePassword = "idlepass";

// A private cluster: these tests restart and kill it. Started on first use, left running.
PgCluster& lifecycle_cluster() {
  static std::unique_ptr<PgCluster> cluster;
  if (!cluster) {
    cluster = std::make_unique<PgCluster>("lifecycle");
    Conn su = cluster->superuser();
    su.exec(std::string("CREATE ROLE ") + kIdleUser + " LOGIN PASSWORD '" + kIdlePassword + "'");
    su.exec(std::string("ALTER ROLE ") + kIdleUser + " SET idle_session_timeout = '2s'");
    su.exec(std::string("GRANT ALL ON DATABASE app TO ") + kIdleUser);
  }
  if (!cluster->running()) cluster->start();
  return *cluster;
}

// Alias "lc" on the private cluster (database app), alias "analytics" on the second shared cluster.
ProxyConfig lifecycle_config(const std::string& user = kAppUser, const std::string& password = kAppPassword) {
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"lc", lifecycle_cluster().url(user, password), std::nullopt},
                  {"analytics", second_cluster().url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "lc"}, {"analytics", "analytics"}};
  cfg.extra_yaml = "default: lc\n";
  return cfg;
}

int count_in(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

constexpr const char* kServerIdleKill = "terminating connection due to idle-session timeout";

// query / 2.5 s idle / query ... against a server that ends sessions idle for 2 s. Returns the distinct
// server pids seen; every round must succeed.
std::set<std::string> idle_rounds(Proxy& proxy, int rounds) {
  Conn c = proxy.connect();
  std::set<std::string> pids;
  std::vector<std::string> errors;
  for (int i = 0; i < rounds; ++i) {
    try {
      pids.insert(c.scalar("SELECT pg_backend_pid()"));
      if (c.scalar("SHOW idle_session_timeout") != "2s") errors.push_back("not the idle role's session");
    } catch (const PgError& e) {
      errors.push_back(std::to_string(i) + ": " + e.what());
    }
    std::this_thread::sleep_for(2500ms);  // the scenario itself: idle longer than the server allows
  }
  INFO(proxy.log_tail());
  CHECK(errors == std::vector<std::string>{});
  CHECK(c.scalar("SELECT 'still fine'") == "still fine");
  return pids;
}

std::string backend_start(Conn& c) {
  return c.scalar("SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()");
}

}  // namespace

TEST_CASE("lifecycle: recycle_margin closes idle connections before the server's idle_session_timeout") {
  ProxyConfig cfg = lifecycle_config(kIdleUser, kIdlePassword);
  cfg.pool_extra = "check_after: off";  // only the margin protects the client here
  Proxy proxy(cfg);
  const int server_kills_before = count_in(lifecycle_cluster().log_tail(100000), kServerIdleKill);
  auto pids = idle_rounds(proxy, 5);
  CHECK(pids.size() == 5);  // a fresh server session every round: the idle one was recycled
  // The proxy closed them first: the server never had to.
  CHECK(count_in(lifecycle_cluster().log_tail(100000), kServerIdleKill) == server_kills_before);
}

TEST_CASE("lifecycle: with the margin off, the pre-use check replaces sessions the server ended") {
  ProxyConfig cfg = lifecycle_config(kIdleUser, kIdlePassword);
  cfg.pool_extra = "recycle_margin: off, check_after: 0";
  Proxy proxy(cfg);
  const int server_kills_before = count_in(lifecycle_cluster().log_tail(100000), kServerIdleKill);
  auto pids = idle_rounds(proxy, 5);
  CHECK(pids.size() == 5);
  // This time the server did end them, and the client never saw it.
  CHECK(count_in(lifecycle_cluster().log_tail(100000), kServerIdleKill) > server_kills_before);
}

TEST_CASE("lifecycle: pg_ctl restart -m fast between transactions; the next one succeeds") {
  Proxy proxy(lifecycle_config());
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  const std::string before = a.scalar("SELECT pg_backend_pid()");
  CHECK(b.scalar("SELECT 1") == "1");
  lifecycle_cluster().restart(Shutdown::fast);
  CHECK(a.scalar("SELECT 'after restart'") == "after restart");
  CHECK(b.scalar("SELECT 'b too'") == "b too");
  CHECK(a.scalar("SELECT pg_backend_pid()") != before);
}

TEST_CASE("lifecycle: backend killed mid-transaction: 08xxx naming the alias, others unaffected, recovery") {
  ProxyConfig cfg = lifecycle_config();
  cfg.pool_extra = "connect_retry: {initial: 100ms, max: 400ms}";
  cfg.queue_timeout = "1s";  // a refusing server is waited for this long (it may be restarting)
  Proxy proxy(cfg);
  Conn a = proxy.connect();
  Conn other = proxy.connect(kProxyUser, kProxyPassword, "analytics");
  a.exec("BEGIN");
  CHECK(a.scalar("SELECT 1") == "1");

  lifecycle_cluster().stop(Shutdown::immediate);
  PgError lost = expect_pg_error([&] { a.scalar("SELECT 2"); });
  INFO(lost.what());
  CHECK(lost.sqlstate == "08006");  // connection_failure, as the README says
  CHECK(lost.message.find("\"lc\"") != std::string::npos);
  CHECK(other.scalar("SELECT 'other alias fine'") == "other alias fine");

  // While it is down a new client is refused quickly, with the alias and the connect error.
  const auto t0 = Clock::now();
  std::optional<PgError> refused;
  try {
    Conn c = proxy.connect();
    refused = expect_pg_error([&] { c.scalar("SELECT 1"); });
  } catch (const PgError& e) {
    refused = e;
  }
  REQUIRE(refused);
  INFO(refused->what());
  CHECK(refused->sqlstate == "08001");
  CHECK(refused->message.find("\"lc\"") != std::string::npos);
  CHECK(refused->message.find("onnect") != std::string::npos);
  CHECK(Clock::now() - t0 < 2s);  // the 1 s queue timeout, not more

  lifecycle_cluster().start();
  Conn back = proxy.connect();  // waits out at most the short back-off window
  CHECK(back.scalar("SELECT 'alias recovered'") == "alias recovered");
  CHECK(other.scalar("SELECT 'still fine'") == "still fine");
  const std::string log = proxy.log_tail(400);
  CHECK(log.find("alias \"lc\"") != std::string::npos);
  CHECK(log.find("is down") != std::string::npos);
  CHECK(log.find("is up again") != std::string::npos);
}

TEST_CASE("lifecycle: min_size is kept warm; pg_terminate_backend of pooled connections is invisible") {
  ProxyConfig cfg = lifecycle_config();
  cfg.pool_size = 3;
  cfg.backend("lc").extra = "min_size: 3";
  Proxy proxy(cfg);
  Conn su = lifecycle_cluster().superuser("app");
  auto pooled_pids = [&] {
    return su.exec("SELECT pid FROM pg_stat_activity WHERE usename = 'app' AND datname = 'app' ORDER BY pid");
  };
  // Warm before any client arrives.
  REQUIRE(eventually([&] { return pooled_pids().size() == 3; }));

  Conn a = proxy.connect();
  Conn b = proxy.connect();
  CHECK(a.scalar("SELECT 1") == "1");
  CHECK(b.scalar("SELECT 1") == "1");
  // Materialized first, or the planner may call pg_terminate_backend on our own session too.
  const std::string killed = su.scalar(
      "WITH pooled AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE usename = 'app' AND datname = 'app') "
      "SELECT string_agg(pid::text, ',') FROM pooled WHERE pg_terminate_backend(pid, 5000)");  // waits for each
  INFO("terminated " << killed);
  for (int i = 0; i < 5; ++i) {
    CHECK(a.scalar("SELECT 'a' || " + std::to_string(i)) == "a" + std::to_string(i));
    CHECK(b.scalar("SELECT 'b' || " + std::to_string(i)) == "b" + std::to_string(i));
  }
  CHECK(killed.find(a.scalar("SELECT pg_backend_pid()::text")) == std::string::npos);
  // And min_size is back to 3 fresh connections.
  CHECK(eventually([&] { return pooled_pids().size() == 3; }));
}

TEST_CASE("lifecycle: max_lifetime and idle_timeout expiry show in pg_stat_activity.backend_start") {
  SUBCASE("max_lifetime: replaced although never idle for long") {
    ProxyConfig cfg = lifecycle_config();
    cfg.pool_size = 1;
    cfg.pool_extra = "max_lifetime: 1s, idle_timeout: off";
    Proxy proxy(cfg);
    Conn c = proxy.connect();
    const std::string first = backend_start(c);
    for (int i = 0; i < 6; ++i) {  // in use every 250 ms
      CHECK(c.scalar("SELECT 1") == "1");
      std::this_thread::sleep_for(250ms);
    }
    CHECK(backend_start(c) != first);
  }
  SUBCASE("idle_timeout") {
    ProxyConfig cfg = lifecycle_config();
    cfg.pool_size = 1;
    cfg.pool_extra = "idle_timeout: 1s, max_lifetime: off";
    Proxy proxy(cfg);
    Conn c = proxy.connect();
    const std::string first = backend_start(c);
    CHECK(backend_start(c) == first);  // in use: the same session
    std::this_thread::sleep_for(1500ms);
    CHECK(backend_start(c) != first);
  }
  SUBCASE("defaults keep the same session") {
    ProxyConfig cfg = lifecycle_config();
    cfg.pool_size = 1;
    Proxy proxy(cfg);
    Conn c = proxy.connect();
    const std::string first = backend_start(c);
    std::this_thread::sleep_for(1500ms);
    CHECK(backend_start(c) == first);
  }
}

TEST_CASE("lifecycle: reload applies pool settings keeping connections, and drains a moved backend") {
  ProxyConfig cfg = lifecycle_config();
  cfg.pool_size = 1;
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  const std::string pid = c.scalar("SELECT pg_backend_pid()");
  auto reload = [&](int generation) {
    proxy.write_config(cfg);
    proxy.signal(SIGHUP);
    REQUIRE(eventually([&] {
      return proxy.log_tail(200).find("(generation " + std::to_string(generation) + ")") != std::string::npos;
    }));
  };

  cfg.pool_size = 2;
  cfg.pool_extra = "idle_timeout: 30s, check_after: 0";
  reload(2);
  CHECK(c.scalar("SELECT pg_backend_pid()") == pid);  // same pool, same server session

  cfg.backend("lc").url = first_cluster().url(kAppUser, kAppPassword);
  reload(3);
  CHECK(c.scalar("SELECT inet_server_port()") == std::to_string(first_cluster().port()));
  Conn su = lifecycle_cluster().superuser("app");
  CHECK(eventually([&] { return su.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) == "0"; }));
}

TEST_CASE("lifecycle: reload to a smaller pool_size closes idle connections over it now, busy ones when returned") {
  ProxyConfig cfg = lifecycle_config();
  cfg.pool_size = 4;
  Proxy proxy(cfg);
  Conn su = lifecycle_cluster().superuser("app");
  auto server_sessions = [&] {
    return std::stoi(su.scalar(std::string("SELECT count(*) FROM pg_stat_activity WHERE usename = '") + kAppUser +
                               "' AND datname = 'app'"));
  };
  // Four clients in transactions at once: four server connections; two go back to the pool.
  std::vector<Conn> clients;
  std::set<std::string> pids;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(proxy.connect());
    clients.back().exec("BEGIN");
    pids.insert(clients.back().scalar("SELECT pg_backend_pid()"));
  }
  REQUIRE(pids.size() == 4);
  clients[2].exec("COMMIT");
  clients[3].exec("COMMIT");
  REQUIRE(server_sessions() == 4);

  cfg.pool_size = 1;
  proxy.write_config(cfg);
  proxy.signal(SIGHUP);
  REQUIRE(eventually([&] { return proxy.log_tail(200).find("(generation 2)") != std::string::npos; }));
  CHECK(eventually([&] { return server_sessions() == 2; }));  // the two idle ones; two still busy

  // Busy ones finish their transactions untouched; the first returned closes, the pool is then at 1.
  CHECK(clients[0].scalar("SELECT 'in flight'") == "in flight");
  clients[0].exec("COMMIT");
  CHECK(eventually([&] { return server_sessions() == 1; }));
  clients[1].exec("COMMIT");
  CHECK(server_sessions() == 1);
  for (auto& c : clients) CHECK(c.scalar("SELECT 1") == "1");
  CHECK(server_sessions() == 1);
}

TEST_CASE("lifecycle: an alias whose server is down is unhealthy: the replicas router skips it until it is back") {
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"primary", first_cluster().url(kAppUser, kAppPassword), std::nullopt},
                  {"lc", lifecycle_cluster().url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "primary"}};
  cfg.pool_extra = "health_check_interval: 200ms, connect_retry: {initial: 100ms, max: 300ms}";
  cfg.extra_yaml = "default: primary\nrouters:\n  - {type: replicas, primary: primary, replicas: [lc]}\n";
  Proxy proxy(cfg);
  const std::string primary_port = std::to_string(first_cluster().port());
  const std::string replica_port = std::to_string(lifecycle_cluster().port());
  Conn c = proxy.connect();
  // Reads go where the router sends them; a read routed to the dead replica before its health
  // flips fails (that is the moment the pool learns it), which the loop tolerates.
  auto read_port = [&]() -> std::string {
    try {
      return c.scalar("SELECT inet_server_port()");
    } catch (const PgError& e) {
      return std::string("error ") + e.sqlstate;
    }
  };
  CHECK(read_port() == replica_port);

  lifecycle_cluster().stop(Shutdown::fast);
  REQUIRE(eventually([&] { return read_port() == primary_port; }));
  for (int i = 0; i < 5; ++i) CHECK(read_port() == primary_port);  // stays out of rotation

  lifecycle_cluster().start();
  CHECK(eventually([&] { return read_port() == replica_port; }));  // re-admitted by the health probe
  const std::string log = proxy.log_tail(400);
  CHECK(log.find("alias \"lc\"") != std::string::npos);
  CHECK(log.find("is up again") != std::string::npos);
}

TEST_CASE("lifecycle: SIGTERM with a transaction in flight: it commits, then the proxy exits 0") {
  Proxy proxy(lifecycle_config());
  Conn c = proxy.connect();
  c.exec("CREATE TABLE IF NOT EXISTS lc_sigterm (v text)");
  c.exec("TRUNCATE lc_sigterm");
  c.exec("BEGIN");
  c.exec("INSERT INTO lc_sigterm VALUES ('before')");

  proxy.signal(SIGTERM);
  // The proxy has taken the signal once it refuses new clients.
  REQUIRE(eventually([&] {
    try {
      Conn late = proxy.connect();
      return false;
    } catch (const PgError&) {
      return true;
    }
  }));
  c.exec("INSERT INTO lc_sigterm VALUES ('after the signal')");
  c.exec("COMMIT");

  auto status = proxy.wait_exit(10s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  Conn direct(lifecycle_cluster().params(kAppUser, kAppPassword));
  CHECK(direct.scalar("SELECT count(*) FROM lc_sigterm") == "2");
}
