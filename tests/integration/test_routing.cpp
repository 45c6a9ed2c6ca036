// Issue 4: statements reach the alias the router chain names — by model (tables) and by shard key
// (literals, bind parameters, hints, SET pgroute.shard_key) — checked by connecting to each cluster
// directly, with satisfies_hash_partition() confirming every shard placement.
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "harness.hpp"
#include "http_get.hpp"
#include "message_trace.hpp"

using namespace pgroute::it;

namespace {

constexpr const char* kPython = "/usr/bin/python3";
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Four aliases on four clusters: default (first), users (second), shard_0 and shard_1 (private).
PgCluster& shard_cluster(int i) {
  static PgCluster shard0("shard0");
  static PgCluster shard1("shard1");
  return i == 0 ? shard0 : shard1;
}

// The same tables everywhere, so a misrouted statement succeeds on the wrong cluster and the checks
// below catch it (rather than an error hiding where it went). hp is a hash-partitioned table used
// only for satisfies_hash_partition().
void create_schema(PgCluster& c) {
  Conn su = c.superuser(kAppDatabase);
  su.exec(
      "DROP TABLE IF EXISTS events, auth_user, votes, hp CASCADE;"
      "CREATE TABLE events (user_id bigint, payload text);"
      "CREATE TABLE auth_user (id int, name text);"
      "CREATE TABLE votes (id int);"
      "CREATE TABLE hp (user_id bigint) PARTITION BY HASH (user_id);"
      "GRANT ALL ON events, auth_user, votes, hp TO app;");
}

// A model router (the given `tables:` map) and a hash shard router over shard_0 and shard_1 on
// `shard_table.user_id`.
std::string model_and_shard_routers(const std::string& model_tables, const std::string& shard_table) {
  return "\nrouters:\n  - type: model\n    tables: {" + model_tables + "}\n  - type: shard\n    table: " + shard_table +
         "\n    key: user_id\n    key_type: bigint\n    method: hash\n    shards: [shard_0, shard_1]\n"
         "    without_key: error\n";
}

ProxyConfig routing_config() {
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"default", first_cluster().url(kAppUser, kAppPassword), std::nullopt},
                  {"users", second_cluster().url(kAppUser, kAppPassword), std::nullopt},
                  {"shard_0", shard_cluster(0).url(kAppUser, kAppPassword), std::nullopt},
                  {"shard_1", shard_cluster(1).url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "default"}};
  cfg.extra_yaml = model_and_shard_routers("\"auth_*\": users, \"public.votes\": users", "events");
  return cfg;
}

// The same, with reads of events that name no key spread over the shards.
ProxyConfig scatter_config() {
  ProxyConfig cfg = routing_config();
  const std::string error_line = "without_key: error";
  cfg.extra_yaml.replace(cfg.extra_yaml.find(error_line), error_line.size(), "without_key: all");
  return cfg;
}

struct Fixture {
  Fixture() {
    for (PgCluster* c : {&first_cluster(), &second_cluster(), &shard_cluster(0), &shard_cluster(1)}) create_schema(*c);
  }
};

// user_id -> shard index, read from the shards themselves; fails if a row sits on a shard
// PostgreSQL's own hash partitioning would not put it on, or on a non-shard cluster.
std::map<long, int> placements(const std::string& payload) {
  std::map<long, int> where;
  for (int i = 0; i < 2; ++i) {
    Conn su = shard_cluster(i).superuser(kAppDatabase);
    Rows rows = su.exec("SELECT user_id, satisfies_hash_partition('hp'::regclass, 2, " + std::to_string(i) +
                        ", user_id) FROM events WHERE payload = '" + payload + "'");
    for (size_t r = 0; r < rows.size(); ++r) {
      INFO("user_id " << rows.at(r, 0) << " on shard_" << i);
      CHECK(rows.at(r, 1) == "t");
      where[std::stol(rows.at(r, 0))] = i;
    }
  }
  for (PgCluster* c : {&first_cluster(), &second_cluster()}) {
    Conn su = c->superuser(kAppDatabase);
    CHECK(su.scalar("SELECT count(*) FROM events WHERE payload = '" + payload + "'") == "0");
  }
  return where;
}

}  // namespace

TEST_CASE("routing: shard key from literals and bind parameters lands where PostgreSQL's hash puts it") {
  Fixture fx;
  Proxy proxy(routing_config());
  Conn c = proxy.connect();
  for (int id = 1; id <= 40; ++id)
    c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(id) + ", 'literal')");
  for (int id = 41; id <= 80; ++id)
    c.exec_params("INSERT INTO events (user_id, payload) VALUES ($1, 'bind')", {std::to_string(id)});
  c.prepare("ins", "INSERT INTO events (payload, user_id) VALUES ('prepared', $1)", 1);
  for (int id = 81; id <= 120; ++id) c.exec_prepared("ins", {std::to_string(id)});

  auto literal = placements("literal");
  auto bind = placements("bind");
  auto prepared = placements("prepared");
  CHECK(literal.size() == 40);
  CHECK(bind.size() == 40);
  CHECK(prepared.size() == 40);
  std::set<int> used;
  for (auto& m : {literal, bind, prepared})
    for (auto& [id, shard] : m) used.insert(shard);
  CHECK(used.size() == 2);  // both shards got rows

  // Reads by key find each row through the proxy; UPDATE/DELETE by key reach the right shard.
  for (long id : {3L, 44L, 97L}) {
    CHECK(c.exec_params("SELECT count(*) FROM events WHERE user_id = $1", {std::to_string(id)}).at(0, 0) == "1");
    CHECK(c.scalar("SELECT count(*) FROM events WHERE user_id = " + std::to_string(id)) == "1");
  }
  c.exec("UPDATE events SET payload = 'updated' WHERE user_id = 5");
  c.exec_params("DELETE FROM events WHERE user_id = $1", {"6"});
  auto updated = placements("updated");
  CHECK(updated.size() == 1);
  CHECK(updated.at(5) == literal.at(5));
  CHECK(c.scalar("SELECT count(*) FROM events WHERE user_id = 6") == "0");
  // A multi-row INSERT with keys on one shard goes there; one spanning shards is refused.
  long a = -1, b = -1;
  for (auto& [id, shard] : literal) (shard == 0 ? a : b) = id;
  REQUIRE(a > 0);
  REQUIRE(b > 0);
  PgError span = expect_pg_error([&] {
    c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(a) + ", 'multi'), (" + std::to_string(b) +
           ", 'multi')");
  });
  CHECK(span.sqlstate == "0A000");
  CHECK(span.message.find("shard_0") != std::string::npos);
  CHECK(span.message.find("shard_1") != std::string::npos);
  CHECK(c.scalar("SELECT 'still usable'") == "still usable");
}

TEST_CASE("routing: model router, cross-alias joins, missing keys and transaction affinity") {
  Fixture fx;
  ProxyConfig cfg = routing_config();
  cfg.metrics_port = free_port();
  Proxy proxy(cfg);
  auto checkouts = [&] {
    auto scrape = http_get(*cfg.metrics_port, "/metrics");
    REQUIRE(scrape.has_value());
    double total = 0;
    for (const char* alias : {"default", "users", "shard_0", "shard_1"})
      total +=
          sample_value(scrape->body, std::string("pgroute_pool_checkouts_total{alias=\"") + alias + "\"}").value_or(0);
    return total;
  };
  Conn c = proxy.connect();
  c.exec("INSERT INTO auth_user VALUES (1, 'ann')");
  c.exec_params("INSERT INTO votes VALUES ($1)", {"7"});
  CHECK(second_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM auth_user") == "1");
  CHECK(second_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM votes") == "1");
  CHECK(first_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM auth_user") == "0");
  CHECK(c.scalar("SELECT name FROM auth_user WHERE id = 1") == "ann");
  // Tables no router claims stay on the client's alias.
  CHECK(c.scalar("SELECT inet_server_port()") == std::to_string(first_cluster().port()));

  PgError join = expect_pg_error([&] { c.exec("SELECT * FROM auth_user u JOIN events e ON e.user_id = u.id"); });
  CHECK(join.sqlstate == "0A000");
  CHECK(join.message.find("auth_user") != std::string::npos);
  CHECK(join.message.find("users") != std::string::npos);
  CHECK(join.message.find("events") != std::string::npos);

  PgError nokey = expect_pg_error([&] { c.exec("SELECT count(*) FROM events"); });
  CHECK(nokey.sqlstate == "0A000");
  CHECK(nokey.message.find("events") != std::string::npos);
  CHECK(nokey.message.find("shard") != std::string::npos);

  // BEGIN is answered by the proxy; the first statement decides the alias; another alias is refused.
  c.exec("BEGIN");
  CHECK(c.transaction_status() == PQTRANS_INTRANS);
  c.exec("INSERT INTO auth_user VALUES (2, 'bob')");
  PgError affinity = expect_pg_error([&] { c.exec("INSERT INTO events (user_id, payload) VALUES (1, 'affinity')"); });
  CHECK(affinity.sqlstate == "0A000");
  CHECK(affinity.message.find("\"users\"") != std::string::npos);
  CHECK(affinity.message.find("shard_") != std::string::npos);
  c.exec("COMMIT");
  CHECK(second_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM auth_user") == "2");
  CHECK(placements("affinity").empty());
  // An empty transaction needs no server at all; ROLLBACK discards what ran on the chosen alias.
  const double before_empty = checkouts();
  c.exec("BEGIN");
  c.exec("COMMIT");
  CHECK(checkouts() == before_empty);
  c.exec("BEGIN");
  c.exec("INSERT INTO auth_user VALUES (3, 'carl')");
  c.exec("ROLLBACK");
  CHECK(second_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM auth_user") == "2");
  CHECK(c.transaction_status() == PQTRANS_IDLE);
}

TEST_CASE("routing: hints and SET pgroute.shard_key place statements that carry no key") {
  Fixture fx;
  Proxy proxy(routing_config());
  Conn c = proxy.connect();
  for (int id = 1; id <= 20; ++id)
    c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(id) + ", 'hinted')");
  auto where = placements("hinted");
  REQUIRE(where.size() == 20);
  const std::string port0 = std::to_string(shard_cluster(0).port()), port1 = std::to_string(shard_cluster(1).port());

  CHECK(c.scalar("/* pgroute: alias=shard_1 */ SELECT inet_server_port()") == port1);
  CHECK(c.scalar("/* pgroute: alias=shard_0 */ SELECT inet_server_port()") == port0);
  PgError unknown = expect_pg_error([&] { c.exec("/* pgroute: alias=nowhere */ SELECT 1"); });
  CHECK(unknown.message.find("nowhere") != std::string::npos);
  for (auto& [id, shard] : where) {
    const std::string port = shard == 0 ? port0 : port1;
    CHECK(c.scalar("/* pgroute: shard_key=" + std::to_string(id) +
                   " */ SELECT inet_server_port() FROM events LIMIT 1") == port);
    c.exec("BEGIN");
    c.exec("SET pgroute.shard_key = " + std::to_string(id));
    CHECK(c.scalar("SELECT inet_server_port() FROM events LIMIT 1") == port);
    c.exec("COMMIT");
  }
  // The key set inside a transaction is gone after it.
  PgError after = expect_pg_error([&] { c.exec("SELECT count(*) FROM events"); });
  CHECK(after.sqlstate == "0A000");
  // Outside a transaction it lasts until RESET.
  const auto& [some_id, some_shard] = *where.begin();
  c.exec("SET pgroute.shard_key = " + std::to_string(some_id));
  for (int i = 0; i < 2; ++i)
    CHECK(c.scalar("SELECT inet_server_port() FROM events LIMIT 1") == (some_shard == 0 ? port0 : port1));
  c.exec("RESET pgroute.shard_key");
  CHECK(expect_pg_error([&] { c.exec("SELECT count(*) FROM events"); }).sqlstate == "0A000");
}

TEST_CASE("routing: pgbench -M extended custom script and psycopg server-side binding") {
  Fixture fx;
  Proxy proxy(routing_config());
  TempDir dir("pgbench-script");
  const auto script = dir / "insert.sql";
  {
    std::ofstream out(script);
    out << "\\set uid random(1, 1000000)\n"
           "INSERT INTO events (user_id, payload) VALUES (:uid, 'pgbench');\n"
           "SELECT count(*) FROM events WHERE user_id = :uid;\n";
  }
  RunResult r = run({pg_bin("pgbench"), "-n", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()), "-U", kProxyUser,
                     "-M", "extended", "-c", "4", "-j", "2", "-t", "50", "-f", script.string(), "app"},
                    {.timeout = 60s, .env = {{"PGPASSWORD", kProxyPassword}}});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("error") == std::string::npos);
  const size_t distinct_keys = placements("pgbench").size();
  // Random keys may repeat; every row is on its shard and there are 200 rows in all.
  long total = 0;
  for (int i = 0; i < 2; ++i)
    total += std::stol(
        shard_cluster(i).superuser(kAppDatabase).scalar("SELECT count(*) FROM events WHERE payload = 'pgbench'"));
  CHECK(total == 200);
  CHECK(distinct_keys > 150);

  const std::string py = R"PY(
import sys, psycopg
with psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret",
                     dbname="app", prepare_threshold=0) as conn:
    for uid in range(1000, 1030):
        conn.execute("INSERT INTO events (user_id, payload) VALUES (%s, 'psycopg')", (uid,))
        conn.commit()
    # Autocommit: each SELECT is its own transaction, free to go to its own shard.
    conn.autocommit = True
    # payload too: a pgbench key above may fall in this range (random, 1 in ~170 runs).
    n = sum(conn.execute("SELECT count(*) FROM events WHERE user_id = %s AND payload = 'psycopg'", (uid,)).fetchone()[0]
            for uid in range(1000, 1030))
    print("found", n)
)PY";
  RunResult p = run({kPython, "-c", py, std::to_string(proxy.port())}, {.timeout = 60s});
  INFO(p.describe());
  CHECK(p.exit_code == 0);
  CHECK(p.out == "found 30\n");
  CHECK(placements("psycopg").size() == 30);
}

TEST_CASE("routing: without_key: all reads every shard and merges the rows; what it cannot merge is refused") {
  Fixture fx;
  ProxyConfig cfg = scatter_config();
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  for (int id = 1; id <= 40; ++id)
    c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(id) + ", 'spread')");
  auto where = placements("spread");
  REQUIRE(where.size() == 40);
  long on_shard_1 = -1;
  for (auto& [id, shard] : where)
    if (shard == 1) on_shard_1 = id;
  REQUIRE(on_shard_1 > 0);

  auto ids = [](const Rows& rows) {
    std::set<long> out;
    for (size_t r = 0; r < rows.size(); ++r) out.insert(std::stol(rows.at(r, 0)));
    return out;
  };
  std::set<long> all;
  for (long id = 1; id <= 40; ++id) all.insert(id);

  // Simple protocol: every row once, one CommandComplete counting them all.
  Rows simple = c.exec("SELECT user_id, payload FROM events WHERE payload = 'spread'");
  CHECK(simple.size() == 40);
  CHECK(ids(simple) == all);
  CHECK(simple.command == "SELECT 40");
  CHECK(simple.columns == std::vector<std::string>{"user_id", "payload"});
  // UNION ALL semantics: an aggregate gives one row per shard.
  Rows counts = c.exec("SELECT count(*) FROM events WHERE payload = 'spread'");
  REQUIRE(counts.size() == 2);
  CHECK(std::stol(counts.at(0, 0)) + std::stol(counts.at(1, 0)) == 40);
  // Extended protocol, unnamed and named statements, run twice (the second time already prepared).
  CHECK(ids(c.exec_params("SELECT user_id FROM events WHERE payload = $1", {"spread"})) == all);
  c.prepare("spread_read", "SELECT user_id FROM events WHERE payload = $1 AND user_id > $2", 2);
  for (int round = 0; round < 2; ++round) {
    Rows named = c.exec_prepared("spread_read", {"spread", "30"});
    CHECK(named.size() == 10);
    CHECK(named.command == "SELECT 10");
  }
  // An empty result from every shard still completes.
  CHECK(c.exec("SELECT user_id FROM events WHERE payload = 'nothing'").command == "SELECT 0");

  // An error on one shard reaches the client naming that alias; the session and pools carry on.
  PgError div = expect_pg_error([&] {
    c.exec("SELECT 1 / (user_id - " + std::to_string(on_shard_1) + ") FROM events WHERE payload = 'spread'");
  });
  CHECK(div.sqlstate == "22012");
  CHECK(div.message.find("alias \"shard_1\"") != std::string::npos);
  PgError div_bind = expect_pg_error([&] {
    c.exec_params("SELECT 1 / (user_id - $1) FROM events WHERE payload = 'spread'", {std::to_string(on_shard_1)});
  });
  CHECK(div_bind.sqlstate == "22012");
  // pool_size is 4 per alias: leaked connections would make these wait and time out.
  for (int i = 0; i < 10; ++i) CHECK(c.exec("SELECT user_id FROM events WHERE payload = 'spread'").size() == 40);

  // ORDER BY output columns and LIMIT are redone on the merged rows.
  Rows ordered = c.exec("SELECT user_id FROM events WHERE payload = 'spread' ORDER BY user_id DESC LIMIT 5");
  CHECK(ordered.command == "SELECT 5");
  REQUIRE(ordered.size() == 5);
  for (size_t r = 0; r < 5; ++r) CHECK(ordered.at(r, 0) == std::to_string(40 - r));
  Rows star = c.exec("SELECT * FROM events WHERE payload = 'spread' ORDER BY user_id");
  REQUIRE(star.size() == 40);
  for (size_t r = 0; r < 40; ++r) CHECK(star.at(r, 0) == std::to_string(r + 1));
  Rows bound =
      c.exec_params("SELECT payload, user_id FROM events WHERE payload = $1 ORDER BY 2 LIMIT $2", {"spread", "3"});
  REQUIRE(bound.size() == 3);
  CHECK(bound.at(0, 1) == "1");
  CHECK(bound.at(2, 1) == "3");
  Rows by_text = c.exec(
      "SELECT p, user_id FROM (SELECT payload || (user_id % 3) AS p, user_id FROM events "
      "WHERE payload = 'spread') s ORDER BY p COLLATE \"C\", user_id DESC LIMIT 2");
  REQUIRE(by_text.size() == 2);
  CHECK(by_text.at(0, 0) == "spread0");
  CHECK(by_text.at(0, 1) == "39");
  CHECK(by_text.at(1, 1) == "36");

  // psycopg, server-side prepared, text and binary parameters and results.
  const std::string py = R"PY(
import sys, psycopg
with psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret", dbname="app",
                     autocommit=True, prepare_threshold=0) as conn:
    q = "SELECT user_id FROM events WHERE payload = %s ORDER BY user_id DESC LIMIT %s"
    for binary in (False, True, True):
        print([r[0] for r in conn.execute(q, ("spread", 3), binary=binary).fetchall()])
)PY";
  RunResult p = run({kPython, "-c", py, std::to_string(proxy.port())}, {.timeout = 60s});
  INFO(p.describe());
  CHECK(p.exit_code == 0);
  CHECK(p.out == "[40, 39, 38]\n[40, 39, 38]\n[40, 39, 38]\n");

  // Refused with 0A000 naming the router: orders the proxy cannot redo, inside a transaction, writes,
  // anything but SELECT.
  for (const char* sql : {"SELECT user_id FROM events ORDER BY lower(payload)", "SELECT user_id FROM events OFFSET 3",
                          "SELECT payload FROM events ORDER BY payload"}) {
    PgError e = expect_pg_error([&] { c.exec(sql); });
    INFO(sql << ": " << e.message);
    CHECK(e.sqlstate == "0A000");
    CHECK((e.message.find("every shard") != std::string::npos));
  }
  CHECK(c.exec("SELECT user_id FROM events WHERE payload = 'spread'").size() == 40);
  c.exec("BEGIN");
  PgError in_tx = expect_pg_error([&] { c.exec("SELECT count(*) FROM events"); });
  CHECK(in_tx.sqlstate == "0A000");
  CHECK(in_tx.message.find("transaction") != std::string::npos);
  c.exec("ROLLBACK");
  PgError write = expect_pg_error([&] { c.exec("UPDATE events SET payload = 'x'"); });
  CHECK(write.sqlstate == "0A000");
  PgError explain = expect_pg_error([&] { c.exec("EXPLAIN SELECT * FROM events"); });
  CHECK(explain.sqlstate == "0A000");
  CHECK(placements("x").empty());

  // Cancel reaches every shard the read runs on.
  c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(on_shard_1) + ", 'sleep')");
  for (auto& [id, shard] : where)
    if (shard == 0) {
      c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(id) + ", 'sleep')");
      break;
    }
  REQUIRE(PQsendQuery(c.raw(), "SELECT pg_sleep(20) FROM events WHERE payload = 'sleep'") == 1);
  auto sleeping = [](int shard) {
    return shard_cluster(shard)
        .superuser(kAppDatabase)
        .scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%' AND state = 'active'");
  };
  REQUIRE(eventually([&] { return sleeping(0) == "1" && sleeping(1) == "1"; }));
  std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(c.raw()), PQfreeCancel);
  char errbuf[256] = {};
  const auto cancelled_at = Clock::now();
  REQUIRE(PQcancel(cancel.get(), errbuf, sizeof errbuf) == 1);
  ResultPtr r = c.next_result();
  REQUIRE(r);
  CHECK(std::string(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) == "57014");
  while (c.next_result()) {}
  CHECK(Clock::now() - cancelled_at < 2s);
  CHECK(sleeping(0) == "0");
  CHECK(sleeping(1) == "0");
  CHECK(c.exec("SELECT user_id FROM events WHERE payload = 'spread'").size() == 40);
}

TEST_CASE("routing: reads across shards from many clients at once on one connection per shard all complete") {
  // Each spreading read holds a connection of every shard at once, and with one connection per shard
  // every other client waits for it: a read that kept a connection, or two that each held one shard
  // while waiting for the other's, would show here as 53300 after the queue timeout.
  Fixture fx;
  ProxyConfig cfg = scatter_config();
  cfg.pool_size = 1;
  cfg.queue_timeout = "3s";
  Proxy proxy(cfg);
  {
    Conn c = proxy.connect();
    for (int id = 1; id <= 20; ++id)
      c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(id) + ", 'crowd')");
  }
  constexpr int kClients = 6, kReads = 25;
  std::vector<std::string> failures[kClients];
  int complete[kClients] = {};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kClients; ++t)
      threads.emplace_back([&, t] {
        try {
          Conn c = proxy.connect();
          for (int i = 0; i < kReads; ++i) {
            // Alternate simple and extended so both scatter paths meet.
            Rows r = (i % 2) ? c.exec_params("SELECT user_id FROM events WHERE payload = $1", {"crowd"})
                             : c.exec("SELECT user_id FROM events WHERE payload = 'crowd'");
            if (r.size() == 20)
              ++complete[t];
            else
              failures[t].push_back(std::to_string(r.size()) + " rows");
          }
        } catch (const std::exception& e) {
          failures[t].push_back(e.what());
        }
      });
  }
  for (int t = 0; t < kClients; ++t) {
    INFO("client " << t);
    CHECK(failures[t] == std::vector<std::string>{});
    CHECK(complete[t] == kReads);
  }
  Conn c = proxy.connect();
  CHECK(c.exec("SELECT user_id FROM events WHERE payload = 'crowd'").size() == 20);
}

TEST_CASE("routing: a read across shards with a shard down fails at once naming it, and holds no connection") {
  Fixture fx;
  ProxyConfig cfg = scatter_config();
  cfg.backends.push_back(
      {"zz_down", "postgresql://app:apppass@127.0.0.1:" + std::to_string(free_port()) + "/app", std::nullopt});
  cfg.pool_size = 1;            // a connection kept by a failed read would make the next one wait and time out
  cfg.queue_timeout = "500ms";  // below the first back-off: a down shard fails the read at once
  const std::string shards = "shards: [shard_0, shard_1]";
  cfg.extra_yaml.replace(cfg.extra_yaml.find(shards), shards.size(), "shards: [shard_0, shard_1, zz_down]");
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  for (int i = 0; i < 3; ++i) {
    const auto started = Clock::now();
    PgError down = expect_pg_error([&] { c.exec("SELECT count(*) FROM events"); });
    CHECK(down.sqlstate.substr(0, 2) == "08");
    CHECK(down.message.find("zz_down") != std::string::npos);
    CHECK(down.message.find("every shard") != std::string::npos);
    CHECK(Clock::now() - started < 1500ms);
  }
  // shard_0 and shard_1 were taken first (alias order) and given back: their only connection is free.
  CHECK(c.scalar("/* pgroute: alias=shard_0 */ SELECT inet_server_port()") == std::to_string(shard_cluster(0).port()));
  CHECK(c.scalar("/* pgroute: alias=shard_1 */ SELECT inet_server_port()") == std::to_string(shard_cluster(1).port()));
}

TEST_CASE("routing: a deferred BEGIN reaches the server when a unit is flushed before its Execute") {
  Fixture fx;
  first_cluster()
      .superuser(kAppDatabase)
      .exec("DROP TABLE IF EXISTS flushed; CREATE TABLE flushed (id int); GRANT ALL ON flushed TO app;");
  Proxy proxy(routing_config());
  RawClient raw(proxy.port());
  raw.startup_trust(kProxyTrustUser, "app");
  const std::string zero16("\0\0", 2), zero32("\0\0\0\0", 4);
  auto expect = [&](std::initializer_list<char> types) {
    std::string seen;
    for (size_t i = 0; i < types.size(); ++i) {
      auto m = raw.read_message();
      REQUIRE(m);
      seen += m->type;
      if (m->type == 'Z') seen += m->body;
    }
    return seen;
  };
  REQUIRE(raw.send(query_message("BEGIN")));
  CHECK(expect({'C', 'Z'}) == "CZT");
  // Parse + Describe, then Flush: the client waits for the description before it binds.
  REQUIRE(raw.send(typed_message('P', std::string("\0INSERT INTO flushed VALUES (1)\0", 32) + zero16) +
                   typed_message('D', std::string("S\0", 2)) + typed_message('H', "")));
  CHECK(expect({'1', 't', 'n'}) == "1tn");
  REQUIRE(raw.send(typed_message('B', std::string("\0\0", 2) + zero16 + zero16 + zero16) +
                   typed_message('E', std::string("\0", 1) + zero32) + typed_message('S', "")));
  CHECK(expect({'2', 'C', 'Z'}) == "2CZT");
  REQUIRE(raw.send(query_message("ROLLBACK")));
  CHECK(expect({'C', 'Z'}) == "CZI");
  // Rolled back with the transaction: it ran inside it, not in autocommit.
  CHECK(first_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM flushed") == "0");
}

TEST_CASE("routing: a read across shards refuses an Execute with a row limit, and the session goes on") {
  Fixture fx;
  ProxyConfig cfg = scatter_config();
  Proxy proxy(cfg);
  RawClient raw(proxy.port());
  raw.startup_trust(kProxyTrustUser, "app");
  const std::string zero16("\0\0", 2);
  const std::string five("\0\0\0\5", 4);
  REQUIRE(raw.send(typed_message('P', std::string("\0SELECT user_id FROM events\0", 28) + zero16) +
                   typed_message('B', std::string("\0\0", 2) + zero16 + zero16 + zero16) +
                   typed_message('E', std::string("\0", 1) + five) + typed_message('S', "")));
  auto error = raw.read_message();
  REQUIRE(error);
  REQUIRE(error->type == 'E');
  auto fields = error_fields(error->body);
  CHECK(fields['C'] == "0A000");
  CHECK(fields['M'].find("limited number of rows") != std::string::npos);
  auto ready = raw.read_message();
  REQUIRE(ready);
  CHECK(ready->type == 'Z');
  REQUIRE(raw.send(query_message("SELECT 1")));
  std::string seen;
  for (auto m = raw.read_message(); m; m = raw.read_message()) {
    seen += m->type;
    if (m->type == 'Z') break;
  }
  CHECK(seen == "TDCZ");
}

TEST_CASE("routing: BEGIN as a named prepared statement opens the transaction the next statement runs in") {
  Fixture fx;
  Conn su = first_cluster().superuser(kAppDatabase);
  su.exec("DROP TABLE IF EXISTS named_begin; CREATE TABLE named_begin (id int); GRANT ALL ON named_begin TO app;");
  Proxy proxy(routing_config());
  Conn c = proxy.connect();
  // JDBC-style: BEGIN prepared once, executed per transaction. The proxy answers it (no server yet) and
  // later opens the transaction with the text it keeps in the statement's Parse.
  c.prepare("begin_tx", "BEGIN", 0);
  for (int round = 0; round < 2; ++round) {
    c.exec_prepared("begin_tx", {});
    CHECK(c.transaction_status() == PQTRANS_INTRANS);
    c.exec("INSERT INTO named_begin VALUES (1)");
    CHECK(c.scalar("SELECT count(*) FROM named_begin") == "1");
    c.exec("ROLLBACK");
    CHECK(su.scalar("SELECT count(*) FROM named_begin") == "0");  // it ran inside the transaction
  }
}

TEST_CASE(
    "routing: a client idle after a BEGIN the proxy answered parks, and its next statement runs in that transaction") {
  Fixture fx;
  first_cluster()
      .superuser(kAppDatabase)
      .exec("DROP TABLE IF EXISTS parked_tx; CREATE TABLE parked_tx (id int); GRANT ALL ON parked_tx TO app;");
  ProxyConfig cfg = routing_config();
  const int metrics_port = free_port();
  cfg.metrics_port = metrics_port;
  Proxy proxy(cfg);
  auto parked = [&] {
    auto r = http_get(metrics_port, "/metrics");
    return r ? sample_value(r->body, "pgroute_clients_parked").value_or(-1) : -1;
  };
  auto client = std::make_unique<Conn>(proxy.connect());
  Conn& c = *client;
  c.exec("BEGIN");  // answered by the proxy; sent with the first statement
  // No server connection is held, so the park sweep parks it (2 to 4 s), keeping the pending BEGIN.
  CHECK(eventually([&] { return parked() == 1; }, 8s));
  c.exec("INSERT INTO parked_tx VALUES (1)");
  CHECK(c.scalar("SELECT count(*) FROM parked_tx") == "1");
  c.exec("ROLLBACK");
  CHECK(first_cluster().superuser(kAppDatabase).scalar("SELECT count(*) FROM parked_tx") == "0");
  // A parked client whose connection drops leaves no session behind.
  CHECK(eventually([&] { return parked() == 1; }, 8s));
  client.reset();
  CHECK(eventually([&] { return parked() == 0; }));
}

TEST_CASE(
    "routing: SET LOCAL pgroute.shard_key outside a transaction warns 25P01 and sets nothing, as PostgreSQL does") {
  Fixture fx;
  Proxy proxy(routing_config());
  const std::string set_local = "SET LOCAL pgroute.shard_key = 7";
  std::vector<std::string> from_server, via_proxy, extended_from_server, extended_via_proxy;
  const std::string extended = parse_message("", set_local) + bind_message("") + execute_message() + sync_message();
  for (const bool through_proxy : {false, true}) {
    RawClient raw(through_proxy ? proxy.port() : first_cluster().port());
    raw.startup_trust(through_proxy ? kProxyTrustUser : kTrustUser, kAppDatabase);
    raw.send(query_message(set_local));
    (through_proxy ? via_proxy : from_server) = trace_until_ready(raw);
    raw.send(extended);
    (through_proxy ? extended_via_proxy : extended_from_server) = trace_until_ready(raw);
    if (through_proxy) {
      // The key is not set: a statement without one is refused exactly as if no SET had come.
      raw.send(query_message("SELECT count(*) FROM events"));
      auto refused = trace_until_ready(raw);
      REQUIRE(refused.size() == 2);
      CHECK(refused[0].rfind("E ERROR 0A000 ", 0) == 0);
    }
  }
  CHECK(from_server ==
        std::vector<std::string>{"N WARNING 25P01 SET LOCAL can only be used in transaction blocks", "C", "Z I"});
  CHECK(via_proxy == from_server);
  CHECK(extended_via_proxy == extended_from_server);

  // Inside a transaction it holds until the transaction ends.
  Conn c = proxy.connect();
  c.exec("INSERT INTO events (user_id, payload) VALUES (7, 'local')");
  const auto where = placements("local");
  REQUIRE(where.size() == 1);
  const std::string port = std::to_string(shard_cluster(where.at(7)).port());
  c.exec("BEGIN");
  c.exec(set_local);
  CHECK(c.scalar("SELECT inet_server_port() FROM events LIMIT 1") == port);
  c.exec("COMMIT");
  CHECK(expect_pg_error([&] { c.exec("SELECT count(*) FROM events"); }).sqlstate == "0A000");
}

TEST_CASE("routing: a read across shards that takes a session advisory lock is refused, naming why") {
  // Each shard's connection goes back to its pool right after the read: a lock taken there would pass
  // to whichever client got that connection next.
  Fixture fx;
  ProxyConfig cfg = scatter_config();
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  for (int id = 1; id <= 6; ++id)
    c.exec("INSERT INTO events (user_id, payload) VALUES (" + std::to_string(id) + ", 'locks')");
  PgError locked = expect_pg_error([&] { c.exec("SELECT user_id, pg_try_advisory_lock(user_id) FROM events"); });
  INFO(locked.what());
  CHECK(locked.sqlstate == "0A000");
  CHECK(locked.message.find("a session advisory lock") != std::string::npos);
  // A transaction-level lock ends with the read's own transaction on each shard: that read runs.
  CHECK(c.exec("SELECT user_id FROM events WHERE payload = 'locks' AND pg_try_advisory_xact_lock(user_id)").size() ==
        6);
  CHECK(c.scalar("SELECT 'session goes on'") == "session goes on");
}

namespace {

// Tables that exist only where their router sends them: a statement prepared on the wrong alias fails.
ProxyConfig prepared_routing_config() {
  ProxyConfig cfg = routing_config();
  cfg.extra_yaml = model_and_shard_routers("\"auth_*\": users", "ledger");
  return cfg;
}

void create_prepared_routing_tables() {
  first_cluster().superuser(kAppDatabase).exec("DROP TABLE IF EXISTS auth_profile, ledger");
  Conn users = second_cluster().superuser(kAppDatabase);
  users.exec(
      "DROP TABLE IF EXISTS auth_profile, ledger; CREATE TABLE auth_profile (id int); INSERT INTO auth_profile "
      "VALUES (1), (2); GRANT ALL ON auth_profile TO app");
  for (int i = 0; i < 2; ++i)
    shard_cluster(i)
        .superuser(kAppDatabase)
        .exec(
            "DROP TABLE IF EXISTS auth_profile, ledger; CREATE TABLE ledger (user_id bigint, amount int); GRANT ALL ON "
            "ledger TO app");
}

}  // namespace

TEST_CASE("routing: a statement prepared before it is bound goes where its tables are (psycopg 3 prepare threshold)") {
  create_prepared_routing_tables();
  Proxy proxy(prepared_routing_config());
  // psycopg 3 prepares a statement it has run 5 times (Parse and Sync, no Bind), then binds it.
  static constexpr const char* kScript = R"PY(
import sys, psycopg
with psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret", dbname="app",
                     autocommit=True) as conn:
    for i in range(12):
        conn.execute("INSERT INTO ledger (user_id, amount) VALUES (%s, %s)", (i, i * 10))
    total = sum(conn.execute("SELECT amount FROM ledger WHERE user_id = %s", (i,)).fetchone()[0] for i in range(12))
    profiles = [conn.execute("SELECT count(*) FROM auth_profile").fetchone()[0] for _ in range(8)]
    prepared = [conn.execute("SELECT amount FROM ledger WHERE user_id = %s", (i,), prepare=True).fetchone()[0]
                for i in range(12)]
    print("total", total, "profiles", profiles[-1], "prepared", sum(prepared))
)PY";
  RunResult r = run({kPython, "-c", kScript, std::to_string(proxy.port())}, {.timeout = 60s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "total 660 profiles 2 prepared 660\n");
  // Every row on the shard its key hashes to (the placement checks above), and twelve in all.
  const int on0 = std::stoi(shard_cluster(0).superuser(kAppDatabase).scalar("SELECT count(*) FROM ledger"));
  const int on1 = std::stoi(shard_cluster(1).superuser(kAppDatabase).scalar("SELECT count(*) FROM ledger"));
  CHECK(on0 + on1 == 12);
  CHECK(on0 > 0);
  CHECK(on1 > 0);

  // asyncpg prepares and describes first (Parse, Describe, Flush), then binds (Bind, Execute, Sync): the
  // describing goes to one shard, and a Bind for the other ends that unit and goes there.
  static constexpr const char* kAsyncpg = R"PY(
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret",
                                 database="app")
    total = 0
    for i in range(12):
        total += await conn.fetchval("SELECT amount FROM ledger WHERE user_id = $1", i)
    stmt = await conn.prepare("SELECT amount + 1 FROM ledger WHERE user_id = $1")
    again = sum([await stmt.fetchval(i) for i in reversed(range(12))])
    profiles = await conn.fetchval("SELECT count(*) FROM auth_profile")
    async with conn.transaction():
        await conn.execute("INSERT INTO ledger (user_id, amount) VALUES ($1, $2)", 100, 1)
        one = await conn.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL FROM ledger WHERE user_id = $1",
                                  100)
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO ledger (user_id, amount) VALUES ($1, $2)", 101, 1)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    gone = await conn.fetchval("SELECT count(*) FROM ledger WHERE user_id = $1", 101)
    await conn.close()
    # Without its statement cache (as behind poolers) asyncpg's statements are unnamed: a transaction
    # described on one shard and bound for the other runs there, whole.
    plain = await asyncpg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret",
                                  database="app", statement_cache_size=0)
    inside = []
    for key in (200, 201, 202, 203):
        async with plain.transaction():
            await plain.execute("INSERT INTO ledger (user_id, amount) VALUES ($1, $2)", key, 1)
            inside.append(await plain.fetchval(
                "SELECT pg_current_xact_id_if_assigned() IS NOT NULL FROM ledger WHERE user_id = $1", key))
    await plain.close()
    print("total", total, "again", again, "profiles", profiles, "one transaction", one, "rolled back", gone == 0,
          "unnamed", all(inside))
asyncio.run(main())
)PY";
  RunResult ar = run({kPython, "-c", kAsyncpg, std::to_string(proxy.port())}, {.timeout = 60s});
  INFO(ar.describe());
  CHECK(ar.exit_code == 0);
  CHECK(ar.out == "total 660 again 672 profiles 2 one transaction True rolled back True unnamed True\n");
  CHECK(proxy.log_tail(100).find("unknown") == std::string::npos);
}

TEST_CASE("routing: pipelined statements with a Sync after each go each to its own alias (libpq pipeline mode)") {
  create_prepared_routing_tables();
  Proxy proxy(prepared_routing_config());
  // Each statement is its own implicit transaction: the first pipelined unit's connection must not take
  // the next one's, whatever alias that routes to. psycopg's libpq wrapper, statements unnamed.
  static constexpr const char* kScript = R"PY(
import select, sys, psycopg, psycopg.pq as pq
conn = psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret", dbname="app",
                       autocommit=True, prepare_threshold=None)
for i in range(6):
    conn.execute("INSERT INTO ledger (user_id, amount) VALUES (%s, %s)", (i, i * 10))
pg = conn.pgconn
pg.prepare(b"by_key", b"SELECT amount + 1 FROM ledger WHERE user_id = $1")  # Parse, Sync: a shard
pg.enter_pipeline_mode()
units = [(b"SELECT amount FROM ledger WHERE user_id = $1", [str(i).encode()]) for i in (0, 1, 2, 3, 4, 5, 0)]
units += [(b"SELECT count(*) FROM auth_profile", None), (b"SELECT 'default'", None), (b"SELECT 1/0", None),
          (b"SELECT amount FROM ledger WHERE user_id = $1", [b"5"])]
for sql, params in units:
    pg.send_query_params(sql, params)
    pg.pipeline_sync()
for key in (b"5", b"0", b"3", b"2"):  # units of a Bind each, pipelined behind the others
    pg.send_query_prepared(b"by_key", [key])
    pg.pipeline_sync()
    units.append(None)
pg.flush()
out, syncs = [], 0
while syncs < len(units):
    select.select([pg.socket], [], [], 5)
    pg.consume_input()
    while not pg.is_busy():
        r = pg.get_result()
        if r is None:
            continue
        if r.status == pq.ExecStatus.PIPELINE_SYNC:
            syncs += 1
            break
        out.append(r.get_value(0, 0).decode() if r.status == pq.ExecStatus.TUPLES_OK else
                   r.error_field(pq.DiagnosticField.SQLSTATE).decode())
print(" ".join(out))
)PY";
  RunResult r = run({kPython, "-c", kScript, std::to_string(proxy.port())}, {.timeout = 60s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "0 10 20 30 40 50 0 2 default 22012 50 51 1 31 21\n");
  CHECK(proxy.log_tail(100).find("cannot span aliases") == std::string::npos);
}
