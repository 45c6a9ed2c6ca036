// Issue 18: what a newcomer runs first, on the test's own clusters and ports (not the quickstart's):
// examples/pgroute.yaml as shipped, examples/quickstart.sql through it (twice: idempotent), every
// command line tools/quickstart-tour prints, and the Django example (examples/django/run.py).
// Every row the router placed is checked on the database it landed on with satisfies_hash_partition().
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace pgroute::it;

namespace {

using namespace std::chrono_literals;
const std::string kSource = PGROUTE_SOURCE_DIR;
constexpr const char* kPython = "/usr/bin/python3";

// The example's aliases are databases: app and shard_0 on the first cluster, analytics and shard_1 on
// the second (as tools/quickstart lays them out). Made fresh, so migrations and CREATEs really run.
void fresh_databases() {
  for (auto [cluster, databases] : {std::pair{&first_cluster(), std::vector<std::string>{"shard_0"}},
                                    std::pair{&second_cluster(), std::vector<std::string>{"analytics", "shard_1"}}}) {
    Conn su = cluster->superuser();
    for (const auto& db : databases) {
      su.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
      su.exec("CREATE DATABASE " + db + " OWNER app");
    }
  }
  first_cluster().superuser(kAppDatabase).exec("DROP TABLE IF EXISTS django_migrations, shop_note, notes CASCADE");
  // Only for satisfies_hash_partition(): PostgreSQL's own hash placement, modulus 2.
  for (auto [cluster, db] : {std::pair{&first_cluster(), "shard_0"}, std::pair{&second_cluster(), "shard_1"}})
    cluster->superuser(db).exec("CREATE TABLE qs_hp (user_id bigint) PARTITION BY HASH (user_id)");
}

Conn shard_db(int i) { return i == 0 ? first_cluster().superuser("shard_0") : second_cluster().superuser("shard_1"); }

// The shard holding the events rows with user_id = id and `payload`; checks that every one is where
// PostgreSQL's hash puts it and that the other shard has none.
int shard_of_row(long id, const std::string& payload) {
  int found = -1;
  for (int i = 0; i < 2; ++i) {
    Rows rows = shard_db(i).exec("SELECT count(*), bool_and(satisfies_hash_partition('qs_hp'::regclass, 2, " +
                                 std::to_string(i) + ", user_id)) FROM events WHERE user_id = " + std::to_string(id) +
                                 " AND payload = '" + payload + "'");
    if (rows.at(0, 0) == "0") continue;
    INFO("user_id " << id << " on shard_" << i);
    CHECK(rows.at(0, 1) == "t");
    CHECK(found == -1);
    found = i;
  }
  return found;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("quickstart: examples/pgroute.yaml, its tables, the printed tour and the Django example") {
  fresh_databases();
  const int metrics_port = free_port();
  const std::string metrics = "127.0.0.1:" + std::to_string(metrics_port);
  ProxyConfig cfg;
  cfg.file_text = read_file(kSource + "/examples/pgroute.yaml");
  const std::vector<std::pair<std::string, std::string>> env = {
      {"APP_DB_PASSWORD", kAppPassword},
      {"PGROUTE_DEFAULT_PORT", std::to_string(first_cluster().port())},
      {"PGROUTE_ANALYTICS_PORT", std::to_string(second_cluster().port())},
      {"PGROUTE_METRICS_LISTEN", metrics}};
  Proxy proxy(cfg, env);
  const std::string port = std::to_string(proxy.port());

  // The example tables, twice: the second run must change nothing and fail on nothing.
  for (int run_no = 0; run_no < 2; ++run_no) {
    RunResult r = run({pg_bin("psql"), "-h", "127.0.0.1", "-p", port, "-U", "app", "app", "-q", "-v", "ON_ERROR_STOP=1",
                       "-f", kSource + "/examples/quickstart.sql"},
                      {.timeout = 30s, .env = {{"PGPASSWORD", "app"}}});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
  }
  CHECK(shard_db(0).scalar("SELECT to_regclass('events') IS NOT NULL") == "t");
  CHECK(shard_db(1).scalar("SELECT to_regclass('events') IS NOT NULL") == "t");
  CHECK(second_cluster()
            .superuser("analytics")
            .scalar("SELECT count(*) FROM pg_tables WHERE tablename IN "
                    "('auth_user', 'analytics_pageviews')") == "2");
  CHECK(first_cluster().superuser(kAppDatabase).scalar("SELECT to_regclass('notes') IS NOT NULL") == "t");

  // The tour, as tools/quickstart prints it for this pgroute; every command line is run as printed.
  RunResult tour =
      run({kSource + "/tools/quickstart-tour"}, {.timeout = 10s,
                                                 .env = {{"PGROUTE_PORT", port},
                                                         {"PGROUTE_METRICS_LISTEN", metrics},
                                                         {"PGROUTE_BIN", pgroute_binary()},
                                                         {"PGROUTE_CONFIG", proxy.config_file().string()}}});
  REQUIRE(tour.exit_code == 0);
  std::vector<std::string> commands;
  for (const auto& line : lines_of(tour.out))
    if (line.rfind("  ", 0) == 0 && line.rfind("  #", 0) != 0) commands.push_back(line.substr(2));
  REQUIRE(commands.size() == 6);
  std::vector<RunResult> results;
  for (const auto& command : commands)
    results.push_back(run({"/bin/bash", "-c", command}, {.timeout = 30s, .env = env}));
  auto show = [&](size_t i) { return commands[i] + "\n" + results[i].describe(); };
  INFO(show(0));
  CHECK(results[0].exit_code == 0);  // INSERT INTO events VALUES (42, 'hello'): no column list
  CHECK(results[0].out.find("INSERT 0 1") != std::string::npos);
  const int shard = shard_of_row(42, "hello");
  REQUIRE(shard >= 0);
  const std::string shard_name = "shard_" + std::to_string(shard);
  INFO(show(1));
  CHECK(results[1].exit_code == 0);
  CHECK(results[1].out.find(" " + shard_name + " ") != std::string::npos);
  CHECK(results[1].out.find("| hello") != std::string::npos);
  INFO(show(2));
  CHECK(results[2].exit_code == 0);
  CHECK(results[2].out.find("alias: " + shard_name) != std::string::npos);
  CHECK(results[2].out.find("router: shard(events)") != std::string::npos);
  INFO(show(3));
  CHECK(results[3].exit_code != 0);
  CHECK(results[3].err.find("different aliases") != std::string::npos);
  CHECK(results[3].err.find("auth_user") != std::string::npos);
  INFO(show(4));
  CHECK(results[4].exit_code == 0);
  CHECK(results[4].out.find("shard") != std::string::npos);
  CHECK(results[4].out.find("auth_*") != std::string::npos);
  INFO(show(5));
  CHECK(results[5].exit_code == 0);
  CHECK(results[5].out.find("router=\"shard(events)\"") != std::string::npos);

  // Django, with one DATABASES entry pointing at this pgroute: migrate, write, read, print where.
  for (int run_no = 0; run_no < 2; ++run_no) {  // the second run finds its migrations applied
    RunResult django = run({kPython, kSource + "/examples/django/run.py"},
                           {.timeout = 120s, .env = {{"PGROUTE_PORT", port}, {"APP_PASSWORD", "app"}}});
    INFO(django.describe());
    REQUIRE(django.exit_code == 0);
    const std::string id = std::to_string(run_no + 1);
    CHECK(django.out.find("auth_account id=" + id + ": analytics\n") != std::string::npos);
    CHECK(django.out.find("shop_note id=" + id + ": app\n") != std::string::npos);
    CHECK(django.out.find("read back by user_id: " + std::to_string(4 * (run_no + 1)) + " rows\n") !=
          std::string::npos);
    std::regex event_line(R"(events user_id=(\d+) id=\d+: (shard_[01])\n)");
    int events = 0;
    for (auto it = std::sregex_iterator(django.out.begin(), django.out.end(), event_line); it != std::sregex_iterator();
         ++it, ++events) {
      const long user_id = std::stol((*it)[1]);
      CAPTURE(user_id);
      Rows rows = shard_db((*it)[2] == "shard_0" ? 0 : 1)
                      .exec("SELECT count(*) FROM events WHERE user_id = " + std::to_string(user_id) +
                            " AND payload = 'django'");
      CHECK(rows.at(0, 0) == std::to_string(run_no + 1));
      CHECK(shard_of_row(user_id, "django") == ((*it)[2] == "shard_0" ? 0 : 1));
    }
    CHECK(events == 4);
  }
  // Where Django's own tables went: the ones it created through pgroute, by the model router or default.
  CHECK(second_cluster().superuser("analytics").scalar("SELECT to_regclass('auth_account') IS NOT NULL") == "t");
  CHECK(first_cluster().superuser(kAppDatabase).scalar("SELECT to_regclass('shop_note') IS NOT NULL") == "t");
  CHECK(first_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM django_migrations WHERE app = 'shop'") ==
        "1");
}
