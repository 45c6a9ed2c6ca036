// The admin console: psql on the virtual database "pgroute" as an admin user.
#include <poll.h>

#include <csignal>
#include <regex>

#include "harness.hpp"
#include "http_get.hpp"

using namespace pgroute::it;

namespace {

constexpr const char* kOps = "ops";
constexpr const char* kOpsPassword = "opspass";

ProxyConfig admin_config() {
  ProxyConfig c = default_proxy_config();
  c.users.push_back({kOps, kOpsPassword, std::nullopt});
  c.admin_users = {kOps};
  return c;
}

// psql -At (unaligned, tuples only, '|' between fields) running one admin command.
RunResult admin_psql(const Proxy& proxy, const std::string& command, const std::string& user = kOps,
                     const std::string& password = kOpsPassword) {
  return run({pg_bin("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
              std::to_string(proxy.port()), "-U", user, "-d", "pgroute", "-c", command},
             {.timeout = 20s, .env = {{"PGPASSWORD", password}}});
}

// Output of a command that must succeed.
std::string admin(const Proxy& proxy, const std::string& command) {
  RunResult r = admin_psql(proxy, command);
  INFO(command << ": " << r.describe());
  CHECK(r.exit_code == 0);
  return r.out;
}

bool has_row(const std::string& out, const std::string& regex) {
  return std::regex_search(out, std::regex("(^|\n)" + regex + "(\n|$)"));
}

// True if a result arrives on `c` within `timeout`.
bool readable_within(Conn& c, std::chrono::milliseconds timeout) {
  pollfd p{PQsocket(c.raw()), POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

}  // namespace

TEST_CASE("admin: every SHOW command and EXPLAIN ROUTE through psql") {
  Proxy proxy(admin_config());
  Conn app = proxy.connect(kProxyUser, kProxyPassword, "app", {{"application_name", "it-admin"}});
  for (int i = 0; i < 3; ++i) CHECK(app.scalar("SELECT 1") == "1");

  // alias|user|host|port|database|pool_size|active|idle|waiting|paused|checkouts|waits|wait_timeouts
  const std::string pools = admin(proxy, "SHOW POOLS");
  CHECK(has_row(pools, R"(default\|app\|127\.0\.0\.1\|\d+\|app\|4\|0\|1\|0\|no\|\d+\|0\|0)"));
  const std::string clients = admin(proxy, "show clients;");
  // id|user|database|alias|application_name|address|state|worker|tls (plaintext here: tls empty)
  CHECK(has_row(clients, R"(\d+\|app\|app\|default\|it-admin\|127\.0\.0\.1:\d+\|idle\|\d\|)"));
  CHECK(has_row(clients, R"(\d+\|ops\|pgroute\|\|psql\|127\.0\.0\.1:\d+\|admin\|\d\|)"));
  const std::string servers = admin(proxy, "SHOW SERVERS");
  // ...|state|count|connects|connect_failures|sslmode|tls_connections|tls|server_auth
  CHECK(has_row(servers, R"(default\|app\|127\.0\.0\.1\|\d+\|app\|idle\|1\|1\|0\|disable\|0\|\|SCRAM-SHA-256)"));
  const std::string backends = admin(proxy, "SHOW BACKENDS");
  CHECK(has_row(backends,
                R"(default\|postgresql://app:\*\*\*@127\.0\.0\.1:\d+/app\|127\.0\.0\.1\|\d+\|app\|4\|no\|yes)"));
  CHECK(has_row(backends, R"(analytics\|.*\|no\|no)"));
  CHECK(backends.find(kAppPassword) == std::string::npos);
  const std::string routes = admin(proxy, "SHOW ROUTES");
  CHECK(has_row(routes, R"(\d\|database\|app\|default)"));
  CHECK(has_row(routes, R"(\d\|database\|analytics\|analytics)"));
  const std::string config = admin(proxy, "SHOW CONFIG");
  CHECK(has_row(config, R"(pool\.mode\|transaction)"));
  CHECK(has_row(config, R"(admin\.users\|ops)"));
  CHECK(has_row(config, R"(metrics\.listen\|off)"));
  CHECK(has_row(config, R"(hash\|[0-9a-f]{16})"));
  CHECK(config.find("secret") == std::string::npos);
  // alias|queries|rows|total_time_ms|mean_time_ms|checkouts|...
  const std::string stats = admin(proxy, "SHOW STATS");
  CHECK(has_row(stats, R"(default\|3\|3\|[0-9.]+\|[0-9.]+\|\d+\|0\|0\|1\|0)"));
  // fingerprint|calls|total_time_ms|mean_time_ms|rows|query: three SELECT 1 are one statement.
  const std::string statements = admin(proxy, "SHOW STATEMENTS");
  CHECK(has_row(statements, R"([0-9a-f]+\|3\|[0-9.]+\|[0-9.]+\|3\|SELECT \$1)"));
  // A named statement counts under its text (read from the Parse the proxy keeps), once per execution.
  app.prepare("plus_one", "SELECT $1::int + 1", 1);
  for (int i = 0; i < 2; ++i) CHECK(app.exec_prepared("plus_one", {"41"}).at(0, 0) == "42");
  CHECK(has_row(admin(proxy, "SHOW STATEMENTS"), R"([0-9a-f]+\|2\|[0-9.]+\|[0-9.]+\|2\|SELECT \$1::int \+ 1)"));
  const std::string explain = admin(proxy, "EXPLAIN ROUTE 'SELECT * FROM t WHERE s = ''x'''");
  CHECK(has_row(explain, R"(default\|none\|routing not configured.*)"));
}

TEST_CASE("admin: unknown commands, the extended protocol and non-admins are refused") {
  Proxy proxy(admin_config());
  RunResult unknown = admin_psql(proxy, "SHOW TABLES");
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.err.find("unknown admin command \"SHOW TABLES\"") != std::string::npos);
  CHECK(unknown.err.find("SHOW POOLS|CLIENTS") != std::string::npos);
  Conn ops = proxy.connect(kOps, kOpsPassword, "pgroute");
  CHECK(expect_pg_error([&] { ops.exec("DROP TABLE x"); }).sqlstate == "42601");
  CHECK(expect_pg_error([&] { ops.exec_params("SHOW POOLS", {}); }).sqlstate == "0A000");
  CHECK(expect_pg_error([&] { ops.exec("PAUSE nosuchalias"); }).sqlstate == "42704");
  CHECK(ops.exec("SHOW CONFIG").size() > 5);  // still usable after the errors

  PgError refused = expect_pg_error([&] { proxy.connect(kProxyUser, kProxyPassword, "pgroute"); });
  CHECK(refused.sqlstate == "42501");
  CHECK(refused.message.find("may not use the admin console") != std::string::npos);
  RunResult via_psql = admin_psql(proxy, "SHOW POOLS", kProxyUser, kProxyPassword);
  CHECK(via_psql.exit_code != 0);
  CHECK(via_psql.err.find("may not use the admin console") != std::string::npos);
  // A wrong password is an authentication failure first, as for any database.
  CHECK(expect_pg_error([&] { proxy.connect(kOps, "wrong", "pgroute"); }).sqlstate == "28P01");
}

TEST_CASE("admin: PAUSE holds new transactions of an alias until RESUME") {
  Proxy proxy(admin_config());
  Conn app = proxy.connect();
  Conn analytics = proxy.connect(kProxyUser, kProxyPassword, "analytics");
  CHECK(admin(proxy, "PAUSE default").empty());
  CHECK(has_row(admin(proxy, "SHOW BACKENDS"), R"(default\|.*\|yes\|yes)"));
  REQUIRE(PQsendQuery(app.raw(), "SELECT 5") == 1);
  CHECK_FALSE(readable_within(app, 300ms));    // held while paused
  CHECK(analytics.scalar("SELECT 6") == "6");  // other aliases run
  CHECK(admin(proxy, "RESUME default").empty());
  auto r = app.next_result();
  REQUIRE(r != nullptr);
  CHECK(std::string(PQgetvalue(r.get(), 0, 0)) == "5");
  while (app.next_result()) {}
  // PAUSE without an alias pauses all of them; RESUME without one resumes all.
  admin(proxy, "PAUSE");
  CHECK_FALSE(has_row(admin(proxy, "SHOW BACKENDS"), R"([a-z]+\|.*\|no\|(yes|no))"));
  admin(proxy, "RESUME");
  CHECK(app.scalar("SELECT 7") == "7");
}

TEST_CASE("admin: RELOAD applies a good file and reports a bad one; SHUTDOWN stops the proxy") {
  const int metrics_port = free_port();
  ProxyConfig cfg = admin_config();
  cfg.metrics_port = metrics_port;
  Proxy proxy(cfg);
  CHECK(has_row(admin(proxy, "SHOW CONFIG"), R"(generation\|1)"));
  cfg.pool_size = 3;
  write_file(proxy.config_file(), cfg.to_yaml(proxy.port()));
  CHECK(admin(proxy, "RELOAD").empty());
  const std::string config = admin(proxy, "SHOW CONFIG");
  CHECK(has_row(config, R"(generation\|2)"));
  CHECK(has_row(config, R"(pool\.size\|3)"));

  write_file(proxy.config_file(), cfg.to_yaml(proxy.port()) + "pool_szie: 3\n");
  RunResult bad = admin_psql(proxy, "RELOAD");
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("reload rejected") != std::string::npos);
  CHECK(bad.err.find("pool_szie") != std::string::npos);
  CHECK(has_row(admin(proxy, "SHOW CONFIG"), R"(generation\|2)"));
  auto scrape = http_get(metrics_port, "/metrics");
  REQUIRE(scrape.has_value());
  CHECK(sample_value(scrape->body, R"(pgroute_config_reloads_total{result="ok"})") == 1);
  CHECK(sample_value(scrape->body, R"(pgroute_config_reloads_total{result="failed"})") == 1);
  CHECK(sample_value(scrape->body, "pgroute_config_generation") == 2);

  CHECK(admin(proxy, "SHUTDOWN").empty());
  CHECK(proxy.wait_exit(10s));
}

TEST_CASE("admin and metrics with a router chain: SHOW ROUTES, EXPLAIN ROUTE, queries by router, refusals") {
  const int metrics_port = free_port();
  ProxyConfig cfg = admin_config();
  cfg.metrics_port = metrics_port;
  cfg.extra_yaml = R"(
routers:
  - type: rule
    match: {sql: "marker_analytics"}
    alias: analytics
  - type: shard
    table: events
    key: user_id
    key_type: bigint
    method: hash
    shards: [default, analytics]
    without_key: error
)";
  Proxy proxy(cfg);
  const std::string routes = admin(proxy, "SHOW ROUTES");
  CHECK(has_row(routes, R"(1\|rule\|sql ~ marker_analytics -> analytics\|)"));
  CHECK(has_row(routes, R"(2\|shard\|events by user_id \(int8, hash\) -> default, analytics\|)"));
  const std::string to_analytics = admin(proxy, "EXPLAIN ROUTE 'SELECT ''marker_analytics'''");
  const std::string to_default = admin(proxy, "EXPLAIN ROUTE 'SELECT 1'");
  const std::string refused = admin(proxy, "EXPLAIN ROUTE 'SELECT * FROM events'");
  INFO(to_analytics << "---\n" << to_default << "---\n" << refused);
  CHECK(has_row(to_analytics, R"re(analytics\|rule\(analytics\)\|SQL matches /marker_analytics/)re"));
  CHECK(has_row(to_default, R"(default\|default\|.+)"));
  CHECK(has_row(refused, R"re(\|shard\(events\)\|refused \(0A000\): .*no shard key user_id.*)re"));

  Conn app = proxy.connect();
  CHECK(app.scalar("SELECT 1") == "1");
  CHECK(app.scalar("SELECT 2") == "2");
  CHECK(app.scalar("SELECT inet_server_port() /* marker_analytics */") == std::to_string(second_cluster().port()));
  CHECK_FALSE(expect_pg_error([&] { app.exec("SELECT * FROM events"); }).sqlstate.empty());
  CHECK(app.scalar("SELECT 3") == "3");  // the session goes on after a refusal

  auto scrape = http_get(metrics_port, "/metrics");
  REQUIRE(scrape.has_value());
  const std::string& body = scrape->body;
  std::string interesting;
  for (const std::regex re(R"((^|\n)(pgroute_(queries|routing_errors)_total\{[^\n]*))");
       auto& m : std::vector<std::smatch>(std::sregex_iterator(body.begin(), body.end(), re), std::sregex_iterator()))
    interesting += m[2].str() + "\n";
  INFO(interesting);
  CHECK(sample_value(body, R"(pgroute_queries_total{alias="default",router="default",kind="read"})") == 3);
  CHECK(sample_value(body, R"s(pgroute_queries_total{alias="analytics",router="rule(analytics)",kind="read"})s") == 1);
  CHECK(sample_value(body, R"s(pgroute_routing_errors_total{router="shard(events)",sqlstate="0A000"})s") == 1);
  auto hits = sample_value(body, R"(pgroute_parse_cache_total{result="hit"})");
  auto misses = sample_value(body, R"(pgroute_parse_cache_total{result="miss"})");
  REQUIRE(hits.has_value());
  REQUIRE(misses.has_value());
  // SELECT 1/2/3 share one shape (constants become parameters): one miss, then hits.
  CHECK(*misses >= 3);  // three distinct shapes
  CHECK(*hits >= 2);
}
