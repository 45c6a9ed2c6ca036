// Issue 18: INSERT without a column list into a sharded table. The proxy learns where the key stands
// from the shards' catalogs and routes like the named-column form; every row is checked on the shard
// it landed on with satisfies_hash_partition(). The two shared clusters serve as the two shards.
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

namespace {

using namespace std::chrono_literals;

PgCluster& shard(int i) { return i == 0 ? first_cluster() : second_cluster(); }

// pos_events: key first. pos_late: key third in attnum but second in place (a dropped column before
// it). pos_mixed: the key's place differs between the shards. pos_hp: only for satisfies_hash_partition().
void create_schema() {
  for (int i = 0; i < 2; ++i) {
    Conn su = shard(i).superuser(kAppDatabase);
    su.exec(
        "DROP TABLE IF EXISTS pos_events, pos_late, pos_mixed, pos_hp CASCADE;"
        "CREATE TABLE pos_events (user_id bigint, payload text, n int DEFAULT 0);"
        "CREATE TABLE pos_late (junk int, payload text, user_id bigint);"
        "ALTER TABLE pos_late DROP COLUMN junk;"
        "CREATE TABLE pos_hp (user_id bigint) PARTITION BY HASH (user_id);"
        "GRANT ALL ON pos_events, pos_late, pos_hp TO app;");
    su.exec(i == 0 ? "CREATE TABLE pos_mixed (user_id bigint, payload text)"
                   : "CREATE TABLE pos_mixed (payload text, user_id bigint)");
    su.exec("GRANT ALL ON pos_mixed TO app");
  }
}

std::string shard_router(const std::string& table) {
  return "  - type: shard\n"
         "    table: " +
         table +
         "\n"
         "    key: user_id\n"
         "    key_type: bigint\n"
         "    method: hash\n"
         "    shards: [shard_0, shard_1]\n";
}

ProxyConfig config() {
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"default", first_cluster().url(kAppUser, kAppPassword), std::nullopt},
                  {"shard_0", first_cluster().url(kAppUser, kAppPassword), std::nullopt},
                  {"shard_1", second_cluster().url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "default"}};
  cfg.extra_yaml = "routers:\n" + shard_router("pos_events") + shard_router("pos_late") + shard_router("pos_mixed");
  return cfg;
}

// user_id -> shard index of the rows of `table` with `payload`; every row must satisfy PostgreSQL's
// own hash partitioning for the shard it is on (modulus 2).
std::map<long, int> placements(const std::string& table, const std::string& payload) {
  std::map<long, int> where;
  for (int i = 0; i < 2; ++i) {
    Conn su = shard(i).superuser(kAppDatabase);
    Rows rows = su.exec("SELECT user_id, satisfies_hash_partition('pos_hp'::regclass, 2, " + std::to_string(i) +
                        ", user_id) FROM " + table + " WHERE payload = '" + payload + "'");
    for (size_t r = 0; r < rows.size(); ++r) {
      INFO(table << " user_id " << rows.at(r, 0) << " on shard_" << i);
      CHECK(rows.at(r, 1) == "t");
      where[std::stol(rows.at(r, 0))] = i;
    }
  }
  return where;
}

long count_rows(const std::string& table, const std::string& payload) {
  long total = 0;
  for (int i = 0; i < 2; ++i)
    total += std::stol(shard(i)
                           .superuser(kAppDatabase)
                           .scalar("SELECT count(*) FROM " + table + " WHERE payload = '" + payload + "'"));
  return total;
}

}  // namespace

TEST_CASE("insert by position: VALUES without a column list lands where PostgreSQL's hash puts it") {
  create_schema();
  Proxy proxy(config());
  Conn c = proxy.connect();
  for (int id = 1; id <= 30; ++id) c.exec("INSERT INTO pos_events VALUES (" + std::to_string(id) + ", 'literal')");
  for (int id = 31; id <= 60; ++id)
    c.exec_params("INSERT INTO pos_events VALUES ($1, 'bind', $2)", {std::to_string(id), "7"});
  c.prepare("ins", "INSERT INTO pos_events VALUES ($1, 'prepared')", 1);
  for (int id = 61; id <= 90; ++id) c.exec_prepared("ins", {std::to_string(id)});
  // The key behind a dropped column: second in place, third in attnum.
  for (int id = 1; id <= 30; ++id) c.exec("INSERT INTO pos_late VALUES ('late', " + std::to_string(id) + ")");

  auto literal = placements("pos_events", "literal");
  CHECK(literal.size() == 30);
  CHECK(placements("pos_events", "bind").size() == 30);
  CHECK(placements("pos_events", "prepared").size() == 30);
  auto late = placements("pos_late", "late");
  CHECK(late.size() == 30);
  CHECK(late == literal);  // same keys, same shards
  std::set<int> used;
  for (auto& [id, s] : literal) used.insert(s);
  CHECK(used.size() == 2);

  // Reads by key find them through the proxy.
  CHECK(c.scalar("SELECT payload FROM pos_late WHERE user_id = 17") == "late");

  // Multi-row VALUES: on one shard it goes there; across shards it is refused as the named form is.
  long a0 = -1, b0 = -1, a1 = -1;
  for (auto& [id, s] : literal) {
    if (s == 1)
      a1 = a1 < 0 ? id : a1;
    else if (a0 < 0)
      a0 = id;
    else if (b0 < 0)
      b0 = id;
  }
  REQUIRE(a0 > 0);
  REQUIRE(b0 > 0);
  REQUIRE(a1 > 0);
  c.exec("INSERT INTO pos_events VALUES (" + std::to_string(a0) + ", 'multi'), (" + std::to_string(b0) + ", 'multi')");
  auto multi = placements("pos_events", "multi");
  CHECK(multi == std::map<long, int>{{a0, 0}, {b0, 0}});
  const std::string spanning = "(" + std::to_string(a0) + ", 'span'), (" + std::to_string(a1) + ", 'span')";
  PgError named = expect_pg_error([&] { c.exec("INSERT INTO pos_events (user_id, payload) VALUES " + spanning); });
  PgError positional = expect_pg_error([&] { c.exec("INSERT INTO pos_events VALUES " + spanning); });
  CHECK(positional.sqlstate == "0A000");
  CHECK(positional.message == named.message);
  CHECK(positional.message.find("multi-row INSERT spans shards shard_0, shard_1") != std::string::npos);
  CHECK(count_rows("pos_events", "span") == 0);

  // DEFAULT VALUES carries no key: refused, naming the router and the key.
  PgError defaults = expect_pg_error([&] { c.exec("INSERT INTO pos_events DEFAULT VALUES"); });
  CHECK(defaults.sqlstate == "0A000");
  CHECK(defaults.message.find("shard router for \"pos_events\": no shard key user_id") != std::string::npos);
  // So is a row too short to reach the key.
  PgError short_row = expect_pg_error([&] { c.exec("INSERT INTO pos_late VALUES ('short')"); });
  CHECK(short_row.sqlstate == "0A000");
  CHECK(c.scalar("SELECT 'still usable'") == "still usable");
}

TEST_CASE("insert by position: shards that disagree on the key's place are refused, naming both") {
  create_schema();
  Proxy proxy(config());
  Conn c = proxy.connect();
  for (auto send : {0, 1}) {  // simple and extended protocol
    PgError e = expect_pg_error([&] {
      if (send == 0)
        c.exec("INSERT INTO pos_mixed VALUES (1, 'x')");
      else
        c.exec_params("INSERT INTO pos_mixed VALUES ($1, 'x')", {"1"});
    });
    CHECK(e.sqlstate == "0A000");
    CHECK(e.message.find("shard router for \"pos_mixed\"") != std::string::npos);
    CHECK(e.message.find("column 1 on \"shard_0\"") != std::string::npos);
    CHECK(e.message.find("column 2 on \"shard_1\"") != std::string::npos);
  }
  // Naming the columns works as always; nothing landed by position.
  c.exec("INSERT INTO pos_mixed (user_id, payload) VALUES (1, 'named')");
  for (int i = 0; i < 2; ++i)
    CHECK(shard(i).superuser(kAppDatabase).scalar("SELECT count(*) FROM pos_mixed WHERE payload = 'x'") == "0");
}

TEST_CASE("insert by position: a table whose columns moved is learnt again after the error it causes") {
  create_schema();
  Proxy proxy(config());
  Conn c = proxy.connect();
  c.exec("INSERT INTO pos_late VALUES ('before', 5)");  // learnt: user_id is column 2
  CHECK(placements("pos_late", "before").size() == 1);
  auto recreate = [](const std::string& columns) {
    for (int i = 0; i < 2; ++i)
      shard(i)
          .superuser(kAppDatabase)
          .exec("DROP TABLE pos_late; CREATE TABLE pos_late (" + columns + "); GRANT ALL ON pos_late TO app");
  };
  // Now user_id is column 1. A client still writing the old order: placed by the stale column 2 (5), the
  // server refuses 'stale' as a bigint: that error makes the proxy forget the order (learnt over a
  // second ago: a fresher order is kept, so that bad rows in a burst do not each ask every shard).
  recreate("user_id bigint, n bigint, payload text");
  std::this_thread::sleep_for(1100ms);
  PgError server_side = expect_pg_error([&] { c.exec("INSERT INTO pos_late VALUES ('stale', 5)"); });
  CHECK(server_side.sqlstate == "22P02");
  CHECK(server_side.message.find("invalid input syntax for type bigint") != std::string::npos);
  // The new order is learnt on the next statement: with the stale place, every row would go where
  // the constant 2 hashes to.
  for (int id = 1; id <= 20; ++id) c.exec("INSERT INTO pos_late VALUES (" + std::to_string(id) + ", 2, 'after')");
  CHECK(placements("pos_late", "after").size() == 20);

  // Back to user_id as column 2: the stale column 1 holds 'again', not a bigint, so the proxy itself
  // learns the order again before routing.
  recreate("payload text, user_id bigint");
  std::this_thread::sleep_for(1100ms);
  for (int id = 1; id <= 20; ++id) c.exec("INSERT INTO pos_late VALUES ('again', " + std::to_string(id) + ")");
  CHECK(placements("pos_late", "again").size() == 20);
  // A value that is not a bigint in the key's place, with the order fresh: refused, naming the value.
  PgError bad = expect_pg_error([&] { c.exec("INSERT INTO pos_late VALUES ('bad', 'x')"); });
  CHECK(bad.sqlstate == "22P02");
  CHECK(bad.message.find("\"x\"") != std::string::npos);
  CHECK(bad.message.find("is not a valid bigint for shard key user_id") != std::string::npos);
}

TEST_CASE("insert by position: pgbench custom script in extended and prepared mode") {
  create_schema();
  Proxy proxy(config());
  TempDir dir("pgbench-positional");
  const auto script = dir / "insert.sql";
  {
    std::ofstream out(script);
    out << "\\set uid random(1, 1000000)\n"
           "insert into pos_events values (:uid, :mode, 1);\n"
           "select count(*) from pos_events where user_id = :uid;\n";
  }
  for (const std::string mode : {"extended", "prepared"}) {
    CAPTURE(mode);
    RunResult r = run({pg_bin("pgbench"),
                       "-n",
                       "-h",
                       "127.0.0.1",
                       "-p",
                       std::to_string(proxy.port()),
                       "-U",
                       kProxyUser,
                       "-M",
                       mode,
                       "-D",
                       "mode=" + mode,
                       "-c",
                       "4",
                       "-j",
                       "2",
                       "-t",
                       "50",
                       "-f",
                       script.string(),
                       "app"},
                      {.timeout = 60s, .env = {{"PGPASSWORD", kProxyPassword}}});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("error") == std::string::npos);
    CHECK(count_rows("pos_events", mode) == 200);
    std::set<int> used;
    for (auto& [id, s] : placements("pos_events", mode)) used.insert(s);
    CHECK(used.size() == 2);
  }
}

namespace {

// A user_id that PostgreSQL's hash (modulus 2) puts on shard `i`.
long key_on_shard(int i) {
  Conn su = shard(0).superuser(kAppDatabase);
  for (long id = 1;; ++id)
    if (su.scalar("SELECT satisfies_hash_partition('pos_hp'::regclass, 2, " + std::to_string(i) + ", " +
                  std::to_string(id) + "::bigint)") == "t")
      return id;
}

}  // namespace

TEST_CASE("insert by position: inside a transaction on a shard with one pooled connection, no self-deadlock") {
  create_schema();
  ProxyConfig cfg = config();
  cfg.pool_size = 1;
  for (const char* alias : {"default", "shard_0", "shard_1"}) cfg.backend(alias).pool_size = 1;
  cfg.queue_timeout = "2s";
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  const std::string k0 = std::to_string(key_on_shard(0));
  c.exec("BEGIN");
  c.exec("INSERT INTO pos_events (user_id, payload) VALUES (" + k0 + ", 'tx')");  // holds shard_0's one connection
  const auto started = std::chrono::steady_clock::now();
  c.exec("INSERT INTO pos_events VALUES (" + k0 + ", 'tx')");  // the order is not known yet: learnt now
  CHECK(std::chrono::steady_clock::now() - started < 1500ms);  // not a wait for the queue timeout
  c.exec("COMMIT");
  CHECK(placements("pos_events", "tx") == std::map<long, int>{{std::stol(k0), 0}});
  // Outside the transaction the order is learnt from every shard as usual.
  c.exec("INSERT INTO pos_events VALUES (" + k0 + ", 'after')");
  CHECK(placements("pos_events", "after").size() == 1);
}

TEST_CASE("insert by position: a refused catalog query is an internal error naming alias and table, not 08006") {
  create_schema();
  Proxy proxy(config());
  Conn c = proxy.connect();
  struct Revoke {
    Revoke() { shard(1).superuser(kAppDatabase).exec("REVOKE SELECT ON pg_catalog.pg_attribute FROM PUBLIC"); }
    ~Revoke() { shard(1).superuser(kAppDatabase).exec("GRANT SELECT ON pg_catalog.pg_attribute TO PUBLIC"); }
  };
  {
    Revoke revoke;
    PgError e = expect_pg_error([&] { c.exec("INSERT INTO pos_events VALUES (1, 'refused')"); });
    CHECK(e.sqlstate == "XX000");
    CHECK(e.message.find("alias \"shard_1\"") != std::string::npos);
    CHECK(e.message.find("pos_events") != std::string::npos);
    CHECK(e.message.find("permission denied") != std::string::npos);
  }
  CHECK(c.scalar("SELECT 'still usable'") == "still usable");
  // The failure is kept for a second (ColumnOrderCache::kSettle): a client repeating the INSERT does
  // not ask every shard each time, though the grant is back already.
  PgError cached = expect_pg_error([&] { c.exec("INSERT INTO pos_events VALUES (1, 'refused')"); });
  CHECK(cached.sqlstate == "XX000");
  CHECK(cached.message.find("permission denied") != std::string::npos);
  std::this_thread::sleep_for(1100ms);
  c.exec("INSERT INTO pos_events VALUES (1, 'granted')");
  CHECK(count_rows("pos_events", "granted") == 1);
}

TEST_CASE("insert by position: an error of a later statement does not make the order be learnt again") {
  create_schema();
  Proxy proxy(config());
  Conn c = proxy.connect();
  c.exec("INSERT INTO pos_events VALUES (1, 'placed')");  // learnt
  std::this_thread::sleep_for(1100ms);                    // no longer fresh (ColumnOrderCache::kSettle)
  c.exec("INSERT INTO pos_events VALUES (2, 'placed')");  // placed by the cached order
  // A syntax error (42601) of an unrelated statement that is not routed (an unnamed Parse, held and
  // sent to the client's own alias): not an error of the INSERT.
  PgError e = expect_pg_error([&] { c.prepare("", "SELEC 1", 0); });
  CHECK(e.sqlstate == "42601");
  CHECK(proxy.log_tail(200).find("learning it again on next use") == std::string::npos);
  // The INSERT's own error still does: a type error in a column after the key.
  PgError own = expect_pg_error([&] { c.exec("INSERT INTO pos_events VALUES (3, 'placed', 'not an int')"); });
  CHECK(own.sqlstate == "22P02");
  CHECK(eventually([&] { return proxy.log_tail(200).find("learning it again on next use") != std::string::npos; }));
}
