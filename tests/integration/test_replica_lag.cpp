// Issue 20, lag-aware rotation: a replicas router with max_lag / max_lag_bytes against a real primary
// and streaming standbys. Lag is made with recovery_min_apply_delay on a standby; reads are told apart by
// the server's port (SELECT inet_server_port()).
#include <csignal>
#include <set>
#include <thread>

#include "harness.hpp"
#include "http_get.hpp"
#include "replication.hpp"

using namespace pgroute::it;

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kOps = "ops";
constexpr const char* kOpsPassword = "opspass";

std::string port_of(const PgCluster& c) { return std::to_string(c.port()); }

// Backends primary, replica_1, replica_2 (the shared set), an admin user and a metrics port; `router` is
// the replicas router's flow mapping after its replicas.
ProxyConfig lag_config(int metrics_port, const std::string& router, const PgCluster* replica_1 = nullptr) {
  ReplicationSet& rs = replication_set();
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"primary", rs.primary.url(kAppUser, kAppPassword), std::nullopt},
                  {"replica_1", (replica_1 ? *replica_1 : rs.standby1).url(kAppUser, kAppPassword), std::nullopt},
                  {"replica_2", rs.standby2.url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "primary"}};
  cfg.users.push_back({kOps, kOpsPassword, std::nullopt});
  cfg.admin_users = {kOps};
  cfg.metrics_port = metrics_port;
  cfg.pool_extra = "health_check_interval: 200ms, connect_retry: {initial: 100ms, max: 300ms}";
  cfg.extra_yaml = "default: primary\nrouters:\n  - {type: replicas, primary: primary, " + router + "}\n";
  return cfg;
}

struct ReplicaRow {
  std::string replay_lsn, lag_seconds, lag_bytes, in_rotation, why;
};

// SHOW REPLICAS by alias.
std::map<std::string, ReplicaRow> show_replicas(const Proxy& proxy) {
  Conn admin = proxy.connect(kOps, kOpsPassword, "pgroute");
  Rows rows = admin.exec("SHOW REPLICAS");
  REQUIRE(rows.columns ==
          std::vector<std::string>{"alias", "primary", "replay_lsn", "lag_seconds", "lag_bytes", "in_rotation", "why"});
  std::map<std::string, ReplicaRow> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows.at(i, 1) == "primary");
    out[rows.at(i, 0)] = {rows.at(i, 2), rows.at(i, 3), rows.at(i, 4), rows.at(i, 5), rows.at(i, 6)};
  }
  return out;
}

std::optional<double> metric(int port, const std::string& series) {
  auto r = http_get(port, "/metrics");
  return r ? sample_value(r->body, series) : std::nullopt;
}

std::string in_rotation(const Proxy& proxy, const std::string& alias) {
  return show_replicas(proxy)[alias].in_rotation;
}

// The ports `n` reads through the proxy ran on.
std::set<std::string> read_ports(Conn& c, int n) {
  std::set<std::string> ports;
  for (int i = 0; i < n; ++i) ports.insert(c.scalar("SELECT inet_server_port()"));
  return ports;
}

void prepare_tables() {
  ReplicationSet& rs = replication_set();
  rs.primary.superuser(kAppDatabase)
      .exec(
          "CREATE TABLE IF NOT EXISTS lag_marks (id serial, note text);"
          "CREATE TABLE IF NOT EXISTS lag_fill (id int, pad text);"
          "GRANT ALL ON lag_marks, lag_fill, lag_marks_id_seq TO app;");
  wait_replayed(rs.primary, rs.standby1, 10s);
  wait_replayed(rs.primary, rs.standby2, 10s);
}

}  // namespace

TEST_CASE("replica lag: a standby delayed past max_lag leaves rotation within two check intervals, then returns") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  const int metrics_port = free_port();
  Proxy proxy(lag_config(metrics_port, "replicas: [replica_1, replica_2], max_lag: 500ms, lag_check_interval: 100ms"));
  Conn c = proxy.connect();

  REQUIRE(eventually([&] {
    auto r = show_replicas(proxy);
    return r["replica_1"].in_rotation == "yes" && r["replica_2"].in_rotation == "yes";
  }));
  auto before = show_replicas(proxy);
  CHECK(before["replica_1"].why == "");
  CHECK_FALSE(before["replica_1"].replay_lsn.empty());
  CHECK(eventually([&] { return read_ports(c, 20) == std::set{port_of(rs.standby1), port_of(rs.standby2)}; }));

  UndelayOnExit undelay{rs.standby1};
  set_apply_delay(rs.standby1, 10s);
  rs.primary.superuser(kAppDatabase).exec("INSERT INTO lag_marks (note) VALUES ('delayed')");
  const auto wrote = Clock::now();
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_1") == "no"; }, 5s));
  const auto out_after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - wrote);
  MESSAGE("replica_1 left rotation " << out_after.count() << " ms after the write (max_lag 500ms, checks 100ms)");
  // Not before the limit (less one check's sampling), and within two check intervals of it (+ this
  // loop's own SHOW REPLICAS round trips on a shared machine).
  CHECK(out_after >= 400ms);
  CHECK(out_after <= 500ms + 2 * 100ms + 300ms);
  auto during = show_replicas(proxy);
  INFO(during["replica_1"].why);
  CHECK(during["replica_1"].why.find("behind (max_lag 500ms)") != std::string::npos);
  CHECK(during["replica_2"].in_rotation == "yes");
  CHECK(metric(metrics_port, R"(pgroute_replica_in_rotation{alias="replica_1"})") == 0.0);
  CHECK(metric(metrics_port, R"(pgroute_replica_in_rotation{alias="replica_2"})") == 1.0);
  CHECK(metric(metrics_port, R"(pgroute_replica_lag_seconds{alias="replica_1"})").value_or(0) > 0.5);
  CHECK(metric(metrics_port, R"(pgroute_replica_lag_bytes{alias="replica_1"})").value_or(0) > 0);
  // Its reads go to the other replica, and they see the row (replica_2 is not delayed).
  CHECK(read_ports(c, 20) == std::set{port_of(rs.standby2)});
  CHECK(eventually([&] { return c.scalar("SELECT count(*) FROM lag_marks WHERE note = 'delayed'") == "1"; }));

  // The delay removed, the standby replays, and it is back.
  set_apply_delay(rs.standby1, 0ms);
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_1") == "yes"; }, 5s));
  CHECK(metric(metrics_port, R"(pgroute_replica_in_rotation{alias="replica_1"})") == 1.0);
  CHECK(eventually([&] { return read_ports(c, 20).count(port_of(rs.standby1)) == 1; }));
}

TEST_CASE("replica lag: standbys of an idle primary whose WAL ends at a page boundary stay in rotation") {
  // After pg_switch_wal() (or a record ending exactly at a page's end) the primary's insert position is
  // past the next page header, where no replay position ever lands. Read naively, the standbys are
  // behind by the time since their last replayed commit, and leave rotation while fully caught up.
  ReplicationSet& rs = replication_set();
  prepare_tables();
  const int metrics_port = free_port();
  Proxy proxy(lag_config(metrics_port, "replicas: [replica_1, replica_2], max_lag: 500ms, lag_check_interval: 100ms"));
  REQUIRE(eventually([&] {
    auto r = show_replicas(proxy);
    return r["replica_1"].in_rotation == "yes" && r["replica_2"].in_rotation == "yes";
  }));
  rs.primary.superuser(kAppDatabase).exec("INSERT INTO lag_marks (note) VALUES ('before the switch')");
  rs.primary.superuser().exec("SELECT pg_switch_wal()");
  // Well past max_lag since the last commit: the standbys must still count as caught up.
  std::this_thread::sleep_for(1500ms);
  auto after = show_replicas(proxy);
  for (const char* alias : {"replica_1", "replica_2"}) {
    INFO(alias << ": " << after[alias].why << " (lag " << after[alias].lag_seconds << " s, replay "
               << after[alias].replay_lsn << ")");
    CHECK(after[alias].in_rotation == "yes");
    CHECK(after[alias].lag_bytes == "0");
  }
}

TEST_CASE("replica lag: a standby further behind than max_lag_bytes leaves rotation, then returns") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  const int metrics_port = free_port();
  Proxy proxy(
      lag_config(metrics_port, "replicas: [replica_1, replica_2], max_lag_bytes: 1MB, lag_check_interval: 100ms"));
  Conn c = proxy.connect();
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_2") == "yes"; }));

  UndelayOnExit undelay{rs.standby2};
  set_apply_delay(rs.standby2, 10s);
  Conn primary = rs.primary.superuser(kAppDatabase);
  // Replay stops at the first commit it must delay: everything after it, ~3 MB of WAL, stays unreplayed.
  primary.exec("INSERT INTO lag_marks (note) VALUES ('before the fill')");
  primary.exec("INSERT INTO lag_fill SELECT g, repeat('x', 500) FROM generate_series(1, 5000) g");
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_2") == "no"; }, 5s));
  auto during = show_replicas(proxy);
  INFO(during["replica_2"].why);
  CHECK(during["replica_2"].why.find("bytes behind (max_lag_bytes 1048576)") != std::string::npos);
  CHECK(std::stoull(during["replica_2"].lag_bytes) > (1u << 20));
  // The healthy standby replays the same 3 MB: on a loaded machine it may be past max_lag_bytes for a
  // moment too (the full suite saw it 2.8 MB behind right after the fill), and must come back by itself.
  CHECK(eventually([&] { return in_rotation(proxy, "replica_1") == "yes"; }, 5s));
  CHECK(in_rotation(proxy, "replica_2") == "no");  // its replay still waits on the delayed commit
  CHECK(metric(metrics_port, R"(pgroute_replica_lag_bytes{alias="replica_2"})").value_or(0) > (1u << 20));
  CHECK(read_ports(c, 20) == std::set{port_of(rs.standby1)});

  set_apply_delay(rs.standby2, 0ms);
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_2") == "yes"; }, 5s));
  CHECK(eventually([&] { return read_ports(c, 20).count(port_of(rs.standby2)) == 1; }));
  primary.exec("TRUNCATE lag_fill");
}

TEST_CASE("replica lag: a promoted standby leaves rotation (not in recovery)") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  PgCluster promoted("repl_promoted", StandbyOf{rs.primary});  // its own: promotion cannot be undone
  const int metrics_port = free_port();
  Proxy proxy(lag_config(metrics_port, "replicas: [replica_1], max_lag: 1s, lag_check_interval: 100ms", &promoted));
  Conn c = proxy.connect();
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_1") == "yes"; }));
  CHECK(c.scalar("SELECT inet_server_port()") == port_of(promoted));

  promote(promoted);
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_1") == "no"; }, 3s));
  CHECK(show_replicas(proxy)["replica_1"].why == "not in recovery (promoted?)");
  CHECK(metric(metrics_port, R"(pgroute_replica_in_rotation{alias="replica_1"})") == 0.0);
  // No replica left: reads go to the primary.
  CHECK(read_ports(c, 10) == std::set{port_of(rs.primary)});
}

TEST_CASE("replica lag: a stopped standby leaves rotation; with none left, the primary or when_no_replica: error") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  const std::string one_replica = "replicas: [replica_1], max_lag: 1s, lag_check_interval: 100ms";
  Proxy to_primary(lag_config(free_port(), one_replica));
  Proxy refusing(lag_config(free_port(), one_replica + ", when_no_replica: error"));
  Conn c = to_primary.connect();
  Conn e = refusing.connect();
  REQUIRE(eventually([&] { return in_rotation(to_primary, "replica_1") == "yes"; }));
  REQUIRE(eventually([&] { return in_rotation(refusing, "replica_1") == "yes"; }));
  CHECK(e.scalar("SELECT inet_server_port()") == port_of(rs.standby1));

  struct RestartOnExit {
    PgCluster& standby;
    ~RestartOnExit() {
      try {
        standby.start();
      } catch (...) {}
    }
  } restart{rs.standby1};
  rs.standby1.stop(Shutdown::fast);
  REQUIRE(eventually([&] { return in_rotation(to_primary, "replica_1") == "no"; }, 3s));
  // Under load its last sample may first put it out for lag ("replay ... behind"); the failed checks
  // then name the cause.
  CHECK(eventually([&] { return show_replicas(to_primary)["replica_1"].why == "not answering lag checks"; }, 3s));
  CHECK(read_ports(c, 10) == std::set{port_of(rs.primary)});
  // EXPLAIN ROUTE on the admin console uses the live checks and says why no replica took the read.
  Rows explained = to_primary.connect(kOps, kOpsPassword, "pgroute").exec("EXPLAIN ROUTE 'SELECT 1'");
  REQUIRE(explained.size() == 1);
  CHECK(explained.at(0, 0) == "primary");
  INFO(explained.at(0, 2));
  CHECK(explained.at(0, 2).find("a read, but no replica is in rotation (replica_1: ") != std::string::npos);

  REQUIRE(eventually([&] { return in_rotation(refusing, "replica_1") == "no"; }, 3s));
  PgError refused = expect_pg_error([&] { e.exec("SELECT inet_server_port()"); });
  INFO(std::string(refused.what()));
  CHECK(refused.sqlstate == "57P03");
  CHECK(refused.message.find("replicas(primary): no replica can take this read (replica_1: ") != std::string::npos);
  CHECK(refused.message.find("when_no_replica is error") != std::string::npos);
  // Writes are not refused, and the session goes on.
  e.exec("INSERT INTO lag_marks (note) VALUES ('while no replica')");
  CHECK_THROWS_AS(e.exec("SELECT 1"), PgError);

  // The standby back: both proxies read from it again.
  rs.standby1.start();
  REQUIRE(eventually([&] { return in_rotation(refusing, "replica_1") == "yes"; }, 5s));
  CHECK(eventually([&] {
    try {
      return e.scalar("SELECT inet_server_port()") == port_of(rs.standby1);
    } catch (const PgError&) {
      return false;  // the pool may still see the alias as down for a moment
    }
  }));
  CHECK(eventually([&] { return c.scalar("SELECT inet_server_port()") == port_of(rs.standby1); }));
}

TEST_CASE("replica lag: a hung standby is out after the check timeout and does not hold up the other's checks") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  Proxy proxy(lag_config(free_port(), "replicas: [replica_1, replica_2], max_lag: 500ms, lag_check_interval: 100ms"));
  Conn c = proxy.connect();
  REQUIRE(eventually([&] {
    auto r = show_replicas(proxy);
    return r["replica_1"].in_rotation == "yes" && r["replica_2"].in_rotation == "yes";
  }));

  // Freeze standby2 whole: its postmaster (new connections hang after the TCP handshake) and the backend
  // of the lag check's connection (the check in flight hangs).
  Conn standby2 = rs.standby2.superuser();
  const std::string check_pid =
      standby2.scalar("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgroute lag check'");
  struct Thaw {
    PgCluster& standby;
    pid_t backend;
    ~Thaw() {
      ::kill(backend, SIGCONT);
      try {
        standby.signal_postmaster(SIGCONT);
      } catch (...) {}
    }
  } thaw{rs.standby2, static_cast<pid_t>(std::stol(check_pid))};
  rs.standby2.signal_postmaster(SIGSTOP);
  REQUIRE(::kill(thaw.backend, SIGSTOP) == 0);
  const auto frozen = Clock::now();
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_2") == "no"; }, 5s));
  MESSAGE("hung replica_2 out after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - frozen).count()
          << " ms (check timeout 1s)");
  CHECK(show_replicas(proxy)["replica_2"].why == "not answering lag checks");

  // Meanwhile replica_1's checks go on at their interval: a delay on it is seen as quickly as ever.
  UndelayOnExit undelay{rs.standby1};
  set_apply_delay(rs.standby1, 10s);
  rs.primary.superuser(kAppDatabase).exec("INSERT INTO lag_marks (note) VALUES ('while standby2 hangs')");
  const auto wrote = Clock::now();
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_1") == "no"; }, 5s));
  const auto out_after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - wrote);
  MESSAGE("replica_1 left rotation " << out_after.count() << " ms after the write, with replica_2 hung");
  CHECK(out_after <= 500ms + 2 * 100ms + 300ms);
  CHECK(read_ports(c, 5) == std::set{port_of(rs.primary)});
}

TEST_CASE("replica lag: the checks follow reloads: lag limits removed, the checks stop and their connections close") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  const int metrics_port = free_port();
  ProxyConfig cfg =
      lag_config(metrics_port, "replicas: [replica_1, replica_2], max_lag: 1s, lag_check_interval: 100ms");
  Proxy proxy(cfg);
  auto checks_on = [](const PgCluster& server) {
    return server.superuser().scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgroute lag check'");
  };
  REQUIRE(eventually([&] { return show_replicas(proxy).size() == 2 && in_rotation(proxy, "replica_1") == "yes"; }));
  CHECK(checks_on(rs.primary) == "1");
  CHECK(checks_on(rs.standby1) == "1");

  cfg.extra_yaml =
      "default: primary\nrouters:\n  - {type: replicas, primary: primary, replicas: [replica_1, replica_2]}\n";
  proxy.write_config(cfg);
  proxy.signal(SIGHUP);
  REQUIRE(eventually([&] { return show_replicas(proxy).empty(); }));
  CHECK(eventually([&] { return checks_on(rs.primary) == "0" && checks_on(rs.standby1) == "0"; }));
  CHECK_FALSE(metric(metrics_port, R"(pgroute_replica_in_rotation{alias="replica_1"})").has_value());
  // Back on: checked again.
  cfg.extra_yaml =
      "default: primary\nrouters:\n  - {type: replicas, primary: primary, replicas: [replica_2], max_lag_bytes: 16MB}\n";
  proxy.write_config(cfg);
  proxy.signal(SIGHUP);
  REQUIRE(eventually([&] { return in_rotation(proxy, "replica_2") == "yes"; }));
  CHECK(show_replicas(proxy).size() == 1);
  CHECK(eventually([&] { return checks_on(rs.standby2) == "1" && checks_on(rs.standby1) == "0"; }));
}
