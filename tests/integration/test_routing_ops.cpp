// Issue 4, operations side of routing: the replicas router against a real streaming standby, the
// example plugin routing through the proxy, and routing rules reloaded (valid and broken) while
// clients keep running queries.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

namespace {
using Clock = std::chrono::steady_clock;

// The value of a one-value query, or "error SQLSTATE" (for loops that tolerate a failure window).
std::string scalar_or_error(Conn& c, const std::string& sql) {
  try {
    return c.scalar(sql);
  } catch (const PgError& e) {
    return "error " + e.sqlstate;
  }
}

std::string port_of(const PgCluster& c) { return std::to_string(c.port()); }

}  // namespace

TEST_CASE("routing ops: replicas router with a streaming standby, read_your_writes, failover to the primary") {
  PgCluster primary("rt_primary", {"wal_level = replica", "max_wal_senders = 4"});
  primary.superuser(kAppDatabase).exec("CREATE TABLE rt_items (id int, v text); GRANT ALL ON rt_items TO app;");
  PgCluster standby("rt_standby", StandbyOf{primary});
  Conn standby_su = standby.superuser(kAppDatabase);
  REQUIRE(standby_su.scalar("SELECT pg_is_in_recovery()") == "t");
  REQUIRE(eventually([&] { return standby_su.scalar("SELECT to_regclass('rt_items') IS NOT NULL") == "t"; }));

  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"primary", primary.url(kAppUser, kAppPassword), std::nullopt},
                  {"replica_1", standby.url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "primary"}};
  cfg.pool_extra = "health_check_interval: 200ms, connect_retry: {initial: 100ms, max: 300ms}";
  cfg.extra_yaml =
      "default: primary\n"
      "routers:\n"
      "  - {type: replicas, primary: primary, replicas: [{alias: replica_1, weight: 1}], read_your_writes: 1s}\n";
  Proxy proxy(cfg);
  Conn c = proxy.connect();

  // Reads, simple and extended, run on the standby.
  CHECK(c.scalar("SELECT pg_is_in_recovery()") == "t");
  CHECK(c.scalar("SELECT inet_server_port()") == port_of(standby));
  CHECK(c.exec_params("SELECT pg_is_in_recovery() AND $1::int = 1", {"1"}).at(0, 0) == "t");

  // Everything in an explicit transaction runs on the primary, reads included.
  c.exec("BEGIN");
  CHECK(c.scalar("SELECT pg_is_in_recovery()") == "f");
  c.exec("INSERT INTO rt_items VALUES (1, 'in a transaction')");
  CHECK(c.scalar("SELECT count(*) FROM rt_items") == "1");
  c.exec("COMMIT");

  // A write goes to the primary (the standby would refuse it with 25006); this client's reads stay
  // there for the read_your_writes window, then return to the standby.
  c.exec("INSERT INTO rt_items VALUES (2, 'autocommit')");
  const auto wrote = Clock::now();
  CHECK(c.scalar("SELECT pg_is_in_recovery()") == "f");
  CHECK(c.scalar("SELECT v FROM rt_items WHERE id = 2") == "autocommit");
  CHECK(primary.superuser(kAppDatabase).scalar("SELECT count(*) FROM rt_items") == "2");
  // Another client has not written: its reads go to the standby meanwhile.
  Conn other = proxy.connect();
  CHECK(other.scalar("SELECT pg_is_in_recovery()") == "t");
  REQUIRE(eventually([&] { return c.scalar("SELECT pg_is_in_recovery()") == "t"; }, 3s));
  CHECK(Clock::now() - wrote >= 900ms);  // not before the window ended

  // Streaming replication brings the rows to the standby; reads through the proxy see them there.
  CHECK(eventually([&] { return standby_su.scalar("SELECT count(*) FROM rt_items") == "2"; }));
  CHECK(eventually([&] { return c.scalar("SELECT count(*) FROM rt_items WHERE pg_is_in_recovery()") == "2"; }));

  // The standby goes away: once health notices, reads go to the primary and stay there.
  standby.stop(Shutdown::fast);
  REQUIRE(eventually([&] { return scalar_or_error(c, "SELECT inet_server_port()") == port_of(primary); }));
  for (int i = 0; i < 5; ++i) CHECK(c.scalar("SELECT pg_is_in_recovery()") == "f");
  CHECK(other.scalar("SELECT count(*) FROM rt_items") == "2");
  INFO(proxy.log_tail(200));
  CHECK(proxy.log_tail(400).find("alias \"replica_1\"") != std::string::npos);
}

TEST_CASE("routing ops: the example plugin routes, refuses and falls through, through the proxy") {
  for (PgCluster* cl : {&first_cluster(), &second_cluster()})
    cl->superuser(kAppDatabase)
        .exec(
            "DROP TABLE IF EXISTS audit_log, tenants, forbidden;"
            "CREATE TABLE audit_log (what text);"
            "CREATE TABLE tenants (tenant_id int, name text);"
            "CREATE TABLE forbidden (x int);"
            "GRANT ALL ON audit_log, tenants, forbidden TO app;");
  ProxyConfig cfg = default_proxy_config();  // default -> first cluster, analytics -> second
  cfg.extra_yaml = std::string(
                       "default: default\n"
                       "routers:\n"
                       "  - type: plugin\n"
                       "    path: \"") +
                   PGROUTE_EXAMPLE_PLUGIN +
                   "\"\n"
                   "    options: {audit_alias: analytics, vip_key: tenant_id, vip_value: \"42\", "
                   "vip_alias: analytics}\n";
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  Conn first = first_cluster().superuser(kAppDatabase);
  Conn second = second_cluster().superuser(kAppDatabase);
  const std::string first_port = port_of(first_cluster()), second_port = port_of(second_cluster());

  // audit_* tables go to audit_alias, simple and extended protocol alike.
  c.exec("INSERT INTO audit_log VALUES ('simple')");
  c.exec_params("INSERT INTO audit_log VALUES ($1)", {"bound"});
  CHECK(second.scalar("SELECT string_agg(what, ',' ORDER BY what) FROM audit_log") == "bound,simple");
  CHECK(first.scalar("SELECT count(*) FROM audit_log") == "0");
  CHECK(c.scalar("SELECT inet_server_port() FROM audit_log LIMIT 1") == second_port);

  // The VIP key, as a literal or a bound parameter, goes to vip_alias; other keys fall through.
  c.exec("INSERT INTO tenants (tenant_id, name) VALUES (42, 'vip literal')");
  c.exec_params("INSERT INTO tenants (tenant_id, name) VALUES ($1, 'vip bound')", {"42"});
  c.exec("INSERT INTO tenants (tenant_id, name) VALUES (7, 'plain')");
  c.exec_params("INSERT INTO tenants (tenant_id, name) VALUES ($1, 'plain bound')", {"8"});
  CHECK(second.scalar("SELECT string_agg(name, ',' ORDER BY name) FROM tenants") == "vip bound,vip literal");
  CHECK(first.scalar("SELECT string_agg(name, ',' ORDER BY name) FROM tenants") == "plain,plain bound");
  CHECK(c.scalar("SELECT name FROM tenants WHERE tenant_id = 42 ORDER BY name LIMIT 1") == "vip bound");
  CHECK(c.scalar("SELECT name FROM tenants WHERE tenant_id = 7") == "plain");

  // Everything else has no opinion from the plugin: the client's alias.
  CHECK(c.scalar("SELECT inet_server_port()") == first_port);
  CHECK(c.scalar("SELECT count(*) FROM tenants") == "2");

  // The plugin's refusal reaches the client with its SQLSTATE and message; the session goes on.
  PgError refused = expect_pg_error([&] { c.exec("SELECT * FROM forbidden"); });
  INFO(refused.what());
  CHECK(refused.sqlstate == "42501");
  CHECK(refused.message.find("table is off limits") != std::string::npos);
  PgError refused_bound = expect_pg_error([&] { c.exec_params("INSERT INTO forbidden VALUES ($1)", {"1"}); });
  CHECK(refused_bound.sqlstate == "42501");
  CHECK(refused_bound.message.find("table is off limits") != std::string::npos);
  CHECK(first.scalar("SELECT count(*) FROM forbidden") == "0");
  CHECK(second.scalar("SELECT count(*) FROM forbidden") == "0");
  CHECK(c.scalar("SELECT 'still usable'") == "still usable");
}

namespace {

// Clients querying rl_items in a loop (simple queries, bound queries, two-statement transactions),
// recording the port each answer came from and every error.
class RoutingLoad {
 public:
  RoutingLoad(const Proxy& proxy, int clients) : last_port_(clients) {
    for (int i = 0; i < clients; ++i) threads_.emplace_back([this, &proxy, i] { run(proxy, i); });
  }
  ~RoutingLoad() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  // Every client's latest answer came from `port`, and each has answered since this was called.
  bool all_on(const std::string& port) {
    const long mark = rounds_.load();
    return eventually([&] {
      if (rounds_.load() < mark + 3 * static_cast<long>(last_port_.size())) return false;
      for (auto& p : last_port_)
        if (std::to_string(p.load()) != port) return false;
      return true;
    });
  }
  long rounds() const { return rounds_.load(); }
  ThreadErrors errors;

 private:
  void run(const Proxy& proxy, int i) {
    try {
      Conn c = proxy.connect();
      for (int n = 0; !stop_; ++n) {
        std::string port;
        if (n % 3 == 0) {
          port = c.scalar("SELECT inet_server_port() FROM rl_items LIMIT 1");
        } else if (n % 3 == 1) {
          port = c.exec_params("SELECT inet_server_port() FROM rl_items WHERE id = $1", {"1"}).at(0, 0);
        } else {
          c.exec("BEGIN");
          port = c.scalar("SELECT inet_server_port() FROM rl_items LIMIT 1");
          const std::string again = c.scalar("SELECT inet_server_port() FROM rl_items LIMIT 1");
          c.exec("COMMIT");
          if (again != port) errors.add("transaction split over ports " + port + " and " + again);
        }
        last_port_[i] = std::stoi(port);
        ++rounds_;
      }
    } catch (const std::exception& e) {
      errors.add("client " + std::to_string(i) + ": " + e.what());
    }
  }

  std::vector<std::atomic<int>> last_port_;
  std::atomic<long> rounds_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

ProxyConfig reload_config(const std::string& rl_items_alias) {
  ProxyConfig cfg = default_proxy_config();  // default -> first cluster, analytics -> second
  cfg.extra_yaml =
      "default: default\n"
      "routers:\n"
      "  - type: model\n"
      "    tables: {rl_items: " +
      rl_items_alias + "}\n";
  return cfg;
}

}  // namespace

TEST_CASE("routing ops: reload under load moves a table; a broken file keeps the old rules") {
  for (PgCluster* cl : {&first_cluster(), &second_cluster()})
    cl->superuser(kAppDatabase)
        .exec(
            "DROP TABLE IF EXISTS rl_items; CREATE TABLE rl_items (id int); INSERT INTO rl_items VALUES (1);"
            "GRANT ALL ON rl_items TO app;");
  const std::string first_port = port_of(first_cluster()), second_port = port_of(second_cluster());
  Proxy proxy(reload_config("analytics"));
  auto applied = [&](int generation) {
    return eventually([&] {
      return proxy.log_tail(400).find("(generation " + std::to_string(generation) + ")") != std::string::npos;
    });
  };

  RoutingLoad load(proxy, 3);
  CHECK(load.all_on(second_port));

  // A valid file routes rl_items to the other alias: new transactions follow it.
  proxy.write_config(reload_config("default"));
  proxy.signal(SIGHUP);
  REQUIRE(applied(2));
  CHECK(load.all_on(first_port));

  // A broken one (a router naming an alias that does not exist) is rejected with its position.
  ProxyConfig broken = reload_config("nowhere");
  proxy.write_config(broken);
  const std::string text = read_file(proxy.config_file());
  const std::string located = proxy.config_file().string() + ":" + position_of(text, "nowhere");
  proxy.signal(SIGHUP);
  REQUIRE(
      eventually([&] { return proxy.log_tail(400).find("keeping the previous configuration") != std::string::npos; }));
  const std::string log = proxy.log_tail(400);
  INFO(log);
  CHECK(log.find(located) != std::string::npos);
  CHECK(log.find("(generation 3)") == std::string::npos);
  // The rules of generation 2 stay in force.
  CHECK(load.all_on(first_port));
  load.stop();
  INFO(load.errors.summary());
  CHECK(load.errors.list().empty());
  CHECK(load.rounds() > 0);

  RunResult check = run({pgroute_binary(), "--check", proxy.config_file().string()}, {.timeout = 10s});
  INFO(check.describe());
  CHECK(check.exit_code == 1);
  CHECK((check.out + check.err).find(located) != std::string::npos);
}
