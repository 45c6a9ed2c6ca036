#include <doctest/doctest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "config/loader.hpp"
#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using std::chrono::milliseconds;

namespace {

const std::string kFullFile = yaml(R"(
listen: {host: 0.0.0.0, port: 7432}
threads: 4
max_client_connections: 500
max_message_size: 16MB
default: main
backends:
  main: {url: "postgresql://app:${DB_PASSWORD}@10.0.0.1:5433/appdb?sslmode=prefer", pool_size: 30}
  analytics: {url: "postgres://[::1]"}
databases:
  app: main
  reports: analytics
users:
  - {name: app, password: "${APP_PASSWORD}"}
  - {name: report, password: "x", auth: md5}
  - {name: ops, auth: trust}
  - name: legacy
    password: md5ABCDEF0123456789abcdef0123456789
    auth: cleartext
pool: {mode: session, size: 7, queue_timeout: 250ms, connect_timeout: 2m, reset_query: "", max_prepared_statements: 0}
)");

std::filesystem::path example_file() {
  return std::filesystem::path(__FILE__).parent_path() / "../../../examples/pgroute.yaml";
}

}  // namespace

TEST_CASE("loader: a full file sets every field") {
  auto c = config_of(kFullFile, fake_env({{"DB_PASSWORD", "p@ss"}, {"APP_PASSWORD", "apppw"}}));
  CHECK(c->source == "pgroute.yaml");
  CHECK(c->listen.host == "0.0.0.0");
  CHECK(c->listen.port == 7432);
  CHECK(c->threads == 4);
  CHECK(c->max_client_connections == 500);
  CHECK(c->max_message_size == 16u << 20);
  CHECK(c->default_alias == "main");

  REQUIRE(c->backends.size() == 2);
  const Backend& main = c->backends[0];
  CHECK(main.alias == "main");
  CHECK(main.url == "postgresql://app:p@ss@10.0.0.1:5433/appdb?sslmode=prefer");
  CHECK(main.masked_url() == "postgresql://app:***@10.0.0.1:5433/appdb?sslmode=prefer");
  CHECK(main.host == "10.0.0.1");
  CHECK(main.port == 5433);
  CHECK(main.user == "app");
  CHECK(main.password == "p@ss");
  CHECK(main.dbname == "appdb");
  CHECK(main.sslmode == SslMode::prefer);
  CHECK(main.pool_size == 30);
  const Backend& analytics = c->backends[1];
  CHECK(analytics.alias == "analytics");
  CHECK(analytics.host == "::1");
  CHECK(analytics.port == 5432);
  CHECK(analytics.user.empty());
  CHECK(analytics.dbname.empty());
  CHECK(analytics.sslmode == SslMode::disable);
  CHECK(analytics.pool_size == 0);

  CHECK(c->databases_listed);
  CHECK(c->databases == std::map<std::string, std::string>{{"app", "main"}, {"reports", "analytics"}});

  REQUIRE(c->users.size() == 4);
  CHECK(c->users[0].name == "app");
  CHECK(c->users[0].password == "apppw");
  CHECK(c->users[0].auth == AuthMethod::ScramSha256);
  CHECK(c->users[1].name == "report");
  CHECK(c->users[1].password == "x");
  CHECK(c->users[1].auth == AuthMethod::Md5);
  CHECK(c->users[2].name == "ops");
  CHECK(c->users[2].password.empty());
  CHECK(c->users[2].auth == AuthMethod::Trust);
  CHECK(c->users[3].auth == AuthMethod::Cleartext);
  CHECK(c->users[3].password == "md5abcdef0123456789abcdef0123456789");  // hex kept lower-case
  CHECK(c->users[3].password_kind() == PasswordKind::Md5Hash);

  CHECK(c->pool.mode == PoolMode::Session);
  CHECK(c->pool.size == 7);
  CHECK(c->pool.queue_timeout == milliseconds(250));
  CHECK(c->pool.connect_timeout == milliseconds(120'000));
  CHECK(c->pool.reset_query.empty());
  CHECK(c->pool.max_prepared_statements == 0);
}

TEST_CASE("loader: lookups on the snapshot") {
  auto c = config_of(kFullFile, fake_env({{"DB_PASSWORD", "x"}, {"APP_PASSWORD", "y"}}));
  REQUIRE(c->backend("analytics") != nullptr);
  CHECK(c->backend("analytics") == &c->backends[1]);
  CHECK(c->backend("nope") == nullptr);
  REQUIRE(c->user("report") != nullptr);
  CHECK(c->user("report")->auth == AuthMethod::Md5);
  CHECK(c->user("nobody") == nullptr);
  CHECK(c->pool_size_for(c->backends[0]) == 30);
  CHECK(c->pool_size_for(c->backends[1]) == 7);  // 0 → pool.size
  // Empty user/dbname in the url: the client's own user name.
  CHECK(c->backends[1].login_user("alice") == "alice");
  CHECK(c->backends[1].login_dbname("alice") == "alice");
  CHECK(c->backends[0].login_user("alice") == "app");
  CHECK(c->backends[0].login_dbname("alice") == "appdb");
  CHECK(to_string(c->pool.mode) == "session");
  CHECK(to_string(AuthMethod::ScramSha256) == "scram-sha-256");
}

TEST_CASE("loader: omitted keys keep their defaults") {
  auto c = config_of("backends:\n  default: {url: \"postgresql://h\"}\n");
  CHECK(c->listen.host == "127.0.0.1");
  CHECK(c->listen.port == 6432);
  CHECK(c->threads == 0);
  CHECK(c->max_client_connections == 10000);
  CHECK(c->max_message_size == 64u << 20);
  CHECK(c->default_alias == "default");
  CHECK_FALSE(c->databases_listed);
  CHECK(c->users.empty());
  CHECK(c->pool.mode == PoolMode::Transaction);
  CHECK(c->pool.size == 20);
  CHECK(c->pool.queue_timeout == milliseconds(5000));
  CHECK(c->pool.connect_timeout == milliseconds(5000));
  CHECK(c->pool.reset_query == "DISCARD ALL");
  CHECK(c->pool.max_prepared_statements == 1000);
  CHECK(c->pool_size_for(c->backends[0]) == 20);
}

TEST_CASE("loader: plain integers are seconds or bytes; quoted numbers are numbers too") {
  auto c = config_of(yaml(R"(
backends: {default: {url: "postgresql://h"}}
max_message_size: 65536
listen: {port: "6500"}
pool: {queue_timeout: 7, connect_timeout: "1h"}
)"));
  CHECK(c->max_message_size == 65536u);
  CHECK(c->listen.port == 6500);
  CHECK(c->pool.queue_timeout == milliseconds(7000));
  CHECK(c->pool.connect_timeout == milliseconds(3'600'000));
}

TEST_CASE("loader: alias_for_database without a databases section → always the default") {
  auto c = config_of(yaml(R"(
default: main
backends:
  main: {url: "postgresql://h1"}
  other: {url: "postgresql://h2"}
)"));
  CHECK_FALSE(c->databases_listed);
  CHECK(c->alias_for_database("anything") == std::optional<std::string>("main"));
  CHECK(c->alias_for_database("other") == std::optional<std::string>("main"));
  CHECK(c->alias_for_database("") == std::optional<std::string>("main"));
}

TEST_CASE("loader: alias_for_database with a databases section → listed names and alias names") {
  auto c = config_of(yaml(R"(
backends:
  default: {url: "postgresql://h1"}
  analytics: {url: "postgresql://h2"}
databases:
  app: default
  default: analytics
)"));
  CHECK(c->databases_listed);
  CHECK(c->alias_for_database("app") == std::optional<std::string>("default"));
  CHECK(c->alias_for_database("analytics") == std::optional<std::string>("analytics"));
  // A listed name wins over an alias of the same name.
  CHECK(c->alias_for_database("default") == std::optional<std::string>("analytics"));
  CHECK_FALSE(c->alias_for_database("postgres").has_value());

  auto empty = config_of("backends: {default: {url: \"postgresql://h\"}}\ndatabases: {}\n");
  CHECK(empty->databases_listed);
  CHECK(empty->alias_for_database("default") == std::optional<std::string>("default"));
  CHECK_FALSE(empty->alias_for_database("app").has_value());
}

TEST_CASE("loader: the example file loads with its fallbacks and with overrides") {
  LoadResult r = load_file(example_file().string(), fake_env());
  std::string all;
  for (const Problem& p : r.problems) all += p.to_string() + "\n";
  INFO(all);
  REQUIRE(r.problems.empty());
  REQUIRE(r.config != nullptr);
  const Config& c = *r.config;
  CHECK(c.listen.host == "127.0.0.1");
  CHECK(c.listen.port == 6432);
  REQUIRE(c.backends.size() == 4);
  CHECK(c.backends[0].alias == "default");
  CHECK(c.backends[0].url == "postgresql://app:app@127.0.0.1:5432/app");
  CHECK(c.backends[0].password == "app");
  CHECK(c.backends[0].port == 5432);
  CHECK(c.backends[1].alias == "analytics");
  CHECK(c.backends[1].port == 5433);
  CHECK(c.backends[1].dbname == "analytics");
  // The shards are databases on the same two servers.
  CHECK(c.backends[2].alias == "shard_0");
  CHECK(c.backends[2].port == 5432);
  CHECK(c.backends[2].dbname == "shard_0");
  CHECK(c.backends[3].alias == "shard_1");
  CHECK(c.backends[3].port == 5433);
  CHECK(c.backends[3].dbname == "shard_1");
  CHECK(c.routers.size() == 2);  // model, then shard
  CHECK(c.alias_for_database("analytics") == std::optional<std::string>("analytics"));
  CHECK(c.alias_for_database("app") == std::optional<std::string>("default"));
  CHECK_FALSE(c.alias_for_database("postgres").has_value());
  REQUIRE(c.users.size() == 2);
  CHECK(c.users[0].name == "app");
  CHECK(c.users[0].password == "app");
  CHECK(c.users[1].name == "ops");
  CHECK(c.is_admin("ops"));
  REQUIRE(c.metrics.has_value());
  CHECK(c.metrics->port == 9930);
  CHECK(c.pool.mode == PoolMode::Transaction);

  LoadResult o = load_file(example_file().string(), fake_env({{"PGROUTE_PORT", "7000"},
                                                              {"APP_DB_PASSWORD", "dbpw"},
                                                              {"PGROUTE_DEFAULT_PORT", "6001"},
                                                              {"PGROUTE_ANALYTICS_PORT", "6002"},
                                                              {"APP_PASSWORD", "clientpw"},
                                                              {"PGROUTE_METRICS_LISTEN", "0.0.0.0:9187"}}));
  REQUIRE(o.config != nullptr);
  CHECK(o.config->listen.port == 7000);
  CHECK(o.config->backends[0].password == "dbpw");
  CHECK(o.config->backends[0].port == 6001);
  CHECK(o.config->backends[1].port == 6002);
  CHECK(o.config->backends[2].port == 6001);
  CHECK(o.config->backends[3].port == 6002);
  CHECK(o.config->users[0].password == "clientpw");
  REQUIRE(o.config->metrics.has_value());
  CHECK(o.config->metrics->host == "0.0.0.0");
  CHECK(o.config->metrics->port == 9187);
}

TEST_CASE("loader: load_file reads a file and names it in Config::source") {
  auto path = std::filesystem::temp_directory_path() / ("pgroute_config_test_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << "backends: {default: {url: \"postgresql://h:7000\"}}\nthreads: 3\n";
  }
  LoadResult r = load_file(path.string(), fake_env());
  std::filesystem::remove(path);
  REQUIRE(r.config != nullptr);
  CHECK(r.config->source == path.string());
  CHECK(r.config->threads == 3);
  CHECK(r.config->backends[0].port == 7000);
}

TEST_CASE("loader: load_file on a missing file is one problem without a position") {
  LoadResult r = load_file("/nonexistent/dir/pgroute.yaml", fake_env());
  CHECK(r.config == nullptr);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].line == 0);
  CHECK(r.problems[0].to_string() == "/nonexistent/dir/pgroute.yaml: cannot open: No such file or directory");
}

TEST_CASE("loader: load_file on a directory is one problem") {
  LoadResult r = load_file(std::filesystem::temp_directory_path().string(), fake_env());
  CHECK(r.config == nullptr);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].message == "cannot read: Is a directory");
}

TEST_CASE("problem: rendering with and without a position") {
  CHECK(Problem{"f.yaml", 3, 9, "pool.size: bad"}.to_string() == "f.yaml:3:9: pool.size: bad");
  CHECK(Problem{"f.yaml", 0, 0, "backends: missing"}.to_string() == "f.yaml: backends: missing");
}

TEST_CASE("loader: a lone backend is the default alias even when not named default") {
  auto c = config_of("backends:\n  main: {url: \"postgresql://h1\"}\n");
  CHECK(c->default_alias == "main");
  REQUIRE(c->alias_for_database("anything"));
  CHECK(*c->alias_for_database("anything") == "main");
}
