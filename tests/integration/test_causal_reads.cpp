// Issue 20, causal reads: a replicas router with `causal_reads: tables` (and `strict`) against a real primary and two
// streaming standbys delayed with recovery_min_apply_delay. A row is written through one client
// connection (A) and read at once through another (B); a read that does not see the write is stale.
// Reads are told apart by the server's port (inet_server_port() in the same statement as the read).
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "harness.hpp"
#include "http_get.hpp"
#include "replication.hpp"

using namespace pgroute::it;

namespace {

constexpr auto kApplyDelay = 300ms;
constexpr const char* kRouter = "replicas(primary)";

// Backends primary, replica_1, replica_2 (the shared set); one replicas router with `causal_reads`,
// replay LSNs read every 20ms. causal_wait 0 unless asked: a read no replica can take goes to the primary
// at once (what most cases look at; waiting is a case of its own).
ProxyConfig causal_config(const std::string& causal_reads, std::optional<int> metrics_port = std::nullopt,
                          const std::string& causal_wait = "0ms") {
  ReplicationSet& rs = replication_set();
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"primary", rs.primary.url(kAppUser, kAppPassword), std::nullopt},
                  {"replica_1", rs.standby1.url(kAppUser, kAppPassword), std::nullopt},
                  {"replica_2", rs.standby2.url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "primary"}};
  cfg.metrics_port = metrics_port;
  cfg.pool_extra = "health_check_interval: 200ms, connect_retry: {initial: 100ms, max: 300ms}";
  cfg.extra_yaml =
      "default: primary\nrouters:\n  - type: replicas\n    primary: primary\n"
      "    replicas: [{alias: replica_1}, {alias: replica_2}]\n"
      "    causal_reads: " +
      causal_reads + "\n    lag_check_interval: 20ms\n    causal_wait: " + causal_wait + "\n";
  return cfg;
}

// causal_t is written and read; causal_u is only read (no floor); causal_w gets rows inserted and copied,
// causal_del and causal_tr rows deleted and truncated; app may create tables (causal_ddl). Made directly on the primary (not through
// pgroute, so they get no floor) and replayed by both standbys before a case starts.
void prepare_tables() {
  ReplicationSet& rs = replication_set();
  rs.primary.superuser(kAppDatabase)
      .exec(
          "CREATE TABLE IF NOT EXISTS causal_t (id int PRIMARY KEY, v bigint NOT NULL);"
          "CREATE TABLE IF NOT EXISTS causal_u (id int PRIMARY KEY, v bigint NOT NULL);"
          "INSERT INTO causal_t SELECT g, 0 FROM generate_series(1, 200) g ON CONFLICT DO NOTHING;"
          "INSERT INTO causal_u SELECT g, 0 FROM generate_series(1, 200) g ON CONFLICT DO NOTHING;"
          "CREATE TABLE IF NOT EXISTS causal_w (v bigint NOT NULL);"
          "CREATE TABLE IF NOT EXISTS causal_del (v bigint NOT NULL);"
          "CREATE TABLE IF NOT EXISTS causal_tr (v bigint NOT NULL);"
          "GRANT ALL ON causal_t, causal_u, causal_w, causal_del, causal_tr TO app;"
          "GRANT CREATE ON SCHEMA public TO app;");
  wait_replayed(rs.primary, rs.standby1, 10s);
  wait_replayed(rs.primary, rs.standby2, 10s);
}

// The same apply delay on both standbys for the guard's life.
class BothDelayed {
 public:
  explicit BothDelayed(std::chrono::milliseconds delay) {
    set_apply_delay(replication_set().standby1, delay);
    set_apply_delay(replication_set().standby2, delay);
  }

 private:
  UndelayOnExit undo_1_{replication_set().standby1};  // members: undone even if the constructor throws
  UndelayOnExit undo_2_{replication_set().standby2};
};

// "primary", "replica_1" or "replica_2" for a port inet_server_port() returned.
std::string server_of(const std::string& port) {
  ReplicationSet& rs = replication_set();
  if (port == std::to_string(rs.primary.port())) return "primary";
  if (port == std::to_string(rs.standby1.port())) return "replica_1";
  if (port == std::to_string(rs.standby2.port())) return "replica_2";
  return "port " + port;
}

bool is_replica(const std::string& server) { return server == "replica_1" || server == "replica_2"; }

// A value no earlier run wrote (the shared set keeps its rows between runs of the binary).
long long fresh_base() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() * 1000;
}

struct Read {
  std::string v;
  std::string server;
};

Read read_of(const Rows& r) { return {r.at(0, 0), server_of(r.at(0, 1))}; }

// A write of causal_t row `id` to `v` through one client connection, in one of the ways an application does.
struct WriteWay {
  const char* name;
  std::function<void(Conn&, int id, const std::string& v)> write;
};

std::vector<WriteWay> write_ways() {
  auto update = [](int id, const std::string& v) {
    return "UPDATE causal_t SET v = " + v + " WHERE id = " + std::to_string(id);
  };
  return {
      {"autocommit, simple", [=](Conn& c, int id, const std::string& v) { c.exec(update(id, v)); }},
      {"autocommit, extended",
       [](Conn& c, int id, const std::string& v) {
         c.exec_params("UPDATE causal_t SET v = $1 WHERE id = $2", {v, std::to_string(id)});
       }},
      {"autocommit, prepared",
       [](Conn& c, int id, const std::string& v) {
         c.exec_prepared("causal_write", {v, std::to_string(id)});
       }},
      {"BEGIN..COMMIT, simple",
       [=](Conn& c, int id, const std::string& v) {
         c.exec("BEGIN");
         c.exec(update(id, v));
         c.exec("COMMIT");
       }},
      {"BEGIN..COMMIT, extended",
       [](Conn& c, int id, const std::string& v) {
         c.exec_params("BEGIN", {});
         c.exec_params("UPDATE causal_t SET v = $1 WHERE id = $2", {v, std::to_string(id)});
         c.exec_params("COMMIT", {});
       }},
      {"BEGIN; UPDATE; COMMIT in one Query",
       [=](Conn& c, int id, const std::string& v) { c.exec("BEGIN; " + update(id, v) + "; COMMIT"); }},
      {"two UPDATEs in one Query (implicit transaction)",
       [=](Conn& c, int id, const std::string& v) { c.exec(update(id, "-1") + "; " + update(id, v)); }},
      {"BEGIN, a read, UPDATE, COMMIT",
       [=](Conn& c, int id, const std::string& v) {
         c.exec("BEGIN");
         c.exec("SELECT v FROM causal_t WHERE id = " + std::to_string(id));
         c.exec(update(id, v));
         c.exec("COMMIT");
       }},
      {"upsert (INSERT .. ON CONFLICT DO UPDATE)",
       [](Conn& c, int id, const std::string& v) {
         c.exec_params("INSERT INTO causal_t VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v",
                       {std::to_string(id), v});
       }},
      {"schema-qualified public.causal_t",
       [](Conn& c, int id, const std::string& v) {
         c.exec("UPDATE public.causal_t SET v = " + v + " WHERE id = " + std::to_string(id));
       }},
      {"writable CTE in a SELECT",
       [](Conn& c, int id, const std::string& v) {
         c.exec("WITH w AS (UPDATE causal_t SET v = " + v + " WHERE id = " + std::to_string(id) +
                " RETURNING v) SELECT v FROM w");
       }},
  };
}

// A read of causal_t row `id` (value and server) through one client connection.
struct ReadWay {
  const char* name;
  std::function<Read(Conn&, int id)> read;
};

std::vector<ReadWay> read_ways() {
  auto select = [](int id) { return "SELECT v, inet_server_port() FROM causal_t WHERE id = " + std::to_string(id); };
  return {
      {"simple", [=](Conn& c, int id) { return read_of(c.exec(select(id))); }},
      {"extended",
       [](Conn& c, int id) {
         return read_of(
             c.exec_params("SELECT v, inet_server_port() FROM causal_t WHERE id = $1", {std::to_string(id)}));
       }},
      {"prepared", [](Conn& c, int id) { return read_of(c.exec_prepared("causal_read", {std::to_string(id)})); }},
      {"scalar subquery",
       [](Conn& c, int id) {
         return read_of(
             c.exec("SELECT (SELECT v FROM causal_t WHERE id = " + std::to_string(id) + "), inet_server_port()"));
       }},
      {"join with causal_u, extended",
       [](Conn& c, int id) {
         return read_of(
             c.exec_params("SELECT t.v, inet_server_port() FROM causal_u u JOIN causal_t t USING (id) WHERE u.id = $1",
                           {std::to_string(id)}));
       }},
      {"upper-case name",
       [](Conn& c, int id) {
         return read_of(c.exec("SELECT v, inet_server_port() FROM CAUSAL_T WHERE id = " + std::to_string(id)));
       }},
      {"BEGIN..COMMIT",
       [=](Conn& c, int id) {
         c.exec("BEGIN");
         Read r = read_of(c.exec(select(id)));
         c.exec("COMMIT");
         return r;
       }},
  };
}

void prepare_statements(Conn& a, Conn& b) {
  a.prepare("causal_write", "UPDATE causal_t SET v = $1 WHERE id = $2", 2);
  b.prepare("causal_read", "SELECT v, inet_server_port() FROM causal_t WHERE id = $1", 1);
}

// Outcome of `tries` writes on A each followed at once by a read on B, ways taken in turn so that every
// pair of a write way and a read way occurs.
struct RaceResult {
  int tries = 0;
  int stale = 0;
  std::map<std::string, int> served_by;  // server -> reads
  std::vector<std::string> stale_reads;  // the first few, for the failure message
  std::vector<std::string> errors;
  std::string summary() const {
    std::string s = std::to_string(stale) + " stale of " + std::to_string(tries) + "; served by";
    for (const auto& [server, n] : served_by) s += " " + server + ": " + std::to_string(n);
    for (const auto& line : stale_reads) s += "\n  " + line;
    for (const auto& line : errors) s += "\n  error: " + line;
    return s;
  }
};

RaceResult race(Conn& a, Conn& b, int tries, const std::vector<WriteWay>& writes, const std::vector<ReadWay>& reads,
                int id = 1) {
  RaceResult out;
  const long long base = fresh_base();
  for (int i = 0; i < tries; ++i) {
    const WriteWay& w = writes[static_cast<size_t>(i) % writes.size()];
    const ReadWay& r = reads[(static_cast<size_t>(i) / writes.size()) % reads.size()];
    const std::string value = std::to_string(base + i);
    try {
      w.write(a, id, value);
      const Read got = r.read(b, id);
      ++out.tries;
      ++out.served_by[got.server];
      if (got.v != value) {
        ++out.stale;
        if (out.stale_reads.size() < 10)
          out.stale_reads.push_back("try " + std::to_string(i) + ": write " + w.name + ", read " + r.name + " on " +
                                    got.server + ": wrote " + value + ", read " + got.v);
      }
    } catch (const std::exception& e) {
      if (out.errors.size() < 10)
        out.errors.push_back("try " + std::to_string(i) + " (write " + w.name + ", read " + r.name + "): " + e.what());
      for (Conn* c : {&a, &b})
        if (c->transaction_status() != PQTRANS_IDLE) c->exec("ROLLBACK");
    }
  }
  return out;
}

// Waits until a read of causal_u on `c` is served by a replica (pool connected, replay LSNs checked).
void wait_replicas_serve(Conn& c) {
  REQUIRE(eventually([&] { return is_replica(server_of(c.scalar("SELECT inet_server_port() FROM causal_u LIMIT 1"))); },
                     10s));
}

// One COPY ... FROM STDIN of `data` (a whole number of rows) through the Simple Query protocol.
void copy_from_stdin(Conn& c, const std::string& sql, const std::string& data) {
  if (!PQsendQuery(c.raw(), sql.c_str())) throw PgError("", "", PQerrorMessage(c.raw()));
  ResultPtr start = c.next_result();
  throw_if_error(start.get(), c.raw());
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) throw PgError("", "", "no CopyInResponse to " + sql);
  if (PQputCopyData(c.raw(), data.data(), static_cast<int>(data.size())) != 1 || PQputCopyEnd(c.raw(), nullptr) != 1)
    throw PgError("", "", PQerrorMessage(c.raw()));
  std::optional<PgError> error;
  for (ResultPtr r = c.next_result(); r; r = c.next_result()) {
    try {
      throw_if_error(r.get(), c.raw());
    } catch (const PgError& e) {
      if (!error) error = e;
    }
  }
  if (error) throw *error;
}

// A write on A of some kind and the read on B that sees it or not: `check` returns "" when the read saw
// the write, else what it saw. DELETE and TRUNCATE remove rows seeded (and replayed) before the case.
struct WriteKind {
  const char* name;
  std::function<void(Conn& a, const std::string& x)> write;
  std::function<std::string(Conn& b, const std::string& x)> check;
  bool once = false;  // TRUNCATE: its seeded rows are gone after the first
};

std::string expect(const std::string& got, const std::string& want) {
  return got == want ? "" : "read " + got + " (want " + want + ")";
}

std::vector<WriteKind> write_kinds() {
  auto count_of = [](Conn& b, const std::string& table, const std::string& v) {
    return b.scalar("SELECT count(*) FROM " + table + " WHERE v = " + v);
  };
  return {
      {"INSERT", [](Conn& a, const std::string& x) { a.exec("INSERT INTO causal_w VALUES (" + x + ")"); },
       [=](Conn& b, const std::string& x) { return expect(count_of(b, "causal_w", x), "1"); }},
      {"COPY FROM STDIN",
       [](Conn& a, const std::string& x) { copy_from_stdin(a, "COPY causal_w FROM STDIN", "-" + x + "\n"); },
       [=](Conn& b, const std::string& x) { return expect(count_of(b, "causal_w", "-" + x), "1"); }},
      {"DELETE", [](Conn& a, const std::string& x) { a.exec("DELETE FROM causal_del WHERE v = " + x); },
       [=](Conn& b, const std::string& x) { return expect(count_of(b, "causal_del", x), "0"); }},
      {"TRUNCATE", [](Conn& a, const std::string&) { a.exec("TRUNCATE causal_tr"); },
       [](Conn& b, const std::string&) { return expect(b.scalar("SELECT count(*) FROM causal_tr"), "0"); }, true},
      {"MERGE",
       [](Conn& a, const std::string& x) {
         a.exec_params(
             "MERGE INTO causal_t USING (VALUES (5, $1::bigint)) s (id, v) ON causal_t.id = s.id "
             "WHEN MATCHED THEN UPDATE SET v = s.v",
             {x});
       },
       [](Conn& b, const std::string& x) { return expect(b.scalar("SELECT v FROM causal_t WHERE id = 5"), x); }},
      {"DDL (DROP TABLE, CREATE TABLE AS)",
       [](Conn& a, const std::string& x) {
         a.exec("DROP TABLE IF EXISTS causal_ddl; CREATE TABLE causal_ddl AS SELECT " + x + "::bigint AS v");
       },
       [](Conn& b, const std::string& x) { return expect(b.scalar("SELECT v FROM causal_ddl"), x); }},
  };
}

std::optional<double> metric(int port, const std::string& series) {
  auto r = http_get(port, "/metrics");
  return r ? sample_value(r->body, series) : std::nullopt;
}

std::string causal_series(const std::string& outcome) {
  return std::string("pgroute_causal_reads_total{router=\"") + kRouter + "\",outcome=\"" + outcome + "\"}";
}
constexpr const char* kProbes = R"(pgroute_commit_lsn_probes_total{alias="primary"})";

// psycopg 3: A writes row 2 in turn autocommit, prepared, `with conn.transaction()`, on a connection that is not
// autocommit (commit()), and two UPDATEs in a pipeline; B reads it at once (parameters; prepared). Prints
// "tries N stale S", then the first stale reads.
constexpr const char* kPsycopgScript = R"PY(
import sys, time, psycopg
port, tries = int(sys.argv[1]), int(sys.argv[2])
params = dict(host="127.0.0.1", port=port, user="app", password="secret", dbname="app")
a = psycopg.connect(**params, autocommit=True)
a_tx = psycopg.connect(**params)
b = psycopg.connect(**params, autocommit=True)
update = "UPDATE causal_t SET v = %s WHERE id = 2"
base = int(time.time() * 1000) * 1000
stale = []
for i in range(tries):
    x = base + i
    way = i % 5
    if way == 0:
        a.execute(update, (x,))
    elif way == 1:
        a.execute(update, (x,), prepare=True)
    elif way == 2:
        with a.transaction():
            a.execute(update, (x,))
    elif way == 3:
        a_tx.execute(update, (x,))
        a_tx.commit()
    else:
        with a.pipeline():
            a.execute(update, (-1,))
            a.execute(update, (x,))
    got = b.execute("SELECT v FROM causal_t WHERE id = %s", (2,), prepare=(i // 5) % 2 == 1).fetchone()[0]
    if got != x:
        stale.append(f"try {i} way {way}: wrote {x}, read {got}")
print("tries", tries, "stale", len(stale))
for line in stale[:5]:
    print(line)
)PY";

struct ScriptStale {
  int tries = -1, stale = -1;
};

ScriptStale psycopg_race(const Proxy& proxy, int tries, std::string& output) {
  // Debian's interpreter: a python3 earlier on PATH may not see Debian's psycopg packages.
  RunResult r = run({"/usr/bin/python3", "-c", kPsycopgScript, std::to_string(proxy.port()), std::to_string(tries)},
                    {.timeout = 60s});
  output = r.describe();
  ScriptStale out;
  std::smatch m;
  static const std::regex counts(R"(tries ([0-9]+) stale ([0-9]+))");
  if (r.exit_code == 0 && std::regex_search(r.out, m, counts)) out = {std::stoi(m[1]), std::stoi(m[2])};
  return out;
}

// pgbench: each client writes its own row (100 + client_id) to a random value and reads it back at once,
// autocommit or in BEGIN..COMMIT; a stale read fails the client with "stale read: wrote X, read Y" (pgbench
// aborts a client on an error).
constexpr const char* kPgbenchCheck = R"(SELECT v AS got FROM causal_t WHERE id = 100 + :client_id \gset
\if :got != :v
SELECT CAST('stale read: wrote ' || CAST(:v AS text) || ', read ' || CAST(:got AS text) AS int);
\endif
)";

RunResult pgbench_race(const Proxy& proxy, const std::string& mode, int transactions_per_client) {
  TempDir dir("causal_pgbench");
  write_file(dir / "autocommit.sql", std::string("\\set v random(1, 1000000000)\n"
                                                 "UPDATE causal_t SET v = :v WHERE id = 100 + :client_id;\n") +
                                         kPgbenchCheck);
  write_file(dir / "transaction.sql", std::string("\\set v random(1, 1000000000)\n"
                                                  "BEGIN;\n"
                                                  "UPDATE causal_t SET v = :v WHERE id = 100 + :client_id;\n"
                                                  "COMMIT;\n") +
                                          kPgbenchCheck);
  return run({pg_bin("pgbench"),
              "-h",
              "127.0.0.1",
              "-p",
              std::to_string(proxy.port()),
              "-U",
              kProxyUser,
              "-n",
              "-c",
              "4",
              "-j",
              "2",
              "-t",
              std::to_string(transactions_per_client),
              "-M",
              mode,
              "-f",
              (dir / "autocommit.sql").string() + "@1",
              "-f",
              (dir / "transaction.sql").string() + "@1",
              "app"},
             {.timeout = 60s, .env = {{"PGPASSWORD", kProxyPassword}}});
}

}  // namespace

TEST_CASE("causal reads: off: the race shows") {
  prepare_tables();
  Proxy proxy(causal_config("off"));
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  wait_replicas_serve(b);

  BothDelayed delayed(kApplyDelay);
  const std::vector<WriteWay> writes = write_ways();
  const std::vector<ReadWay> reads = read_ways();
  RaceResult r = race(a, b, 100, {writes[0]}, {reads[0]});
  MESSAGE("causal_reads off, apply delay 300ms: " << r.summary());
  CHECK(r.errors.empty());
  CHECK(r.tries == 100);
  CHECK(r.stale > 50);
}

TEST_CASE("causal reads: tables: never stale") {
  prepare_tables();
  Proxy proxy(causal_config("tables"));
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  prepare_statements(a, b);
  wait_replicas_serve(b);

  BothDelayed delayed(kApplyDelay);
  RaceResult r = race(a, b, 500, write_ways(), read_ways());
  MESSAGE("causal_reads tables, apply delay 300ms: " << r.summary());
  INFO(r.summary());
  CHECK(r.errors.empty());
  CHECK(r.tries == 500);
  CHECK(r.stale == 0);

  // No writes in flight and every write replayed: the replicas take the reads of causal_t again.
  ReplicationSet& rs = replication_set();
  wait_replayed(rs.primary, rs.standby1, 5s);
  wait_replayed(rs.primary, rs.standby2, 5s);
  std::this_thread::sleep_for(100ms);  // five replay checks
  std::map<std::string, int> served_by;
  const std::vector<ReadWay> reads = read_ways();
  for (int i = 0; i < 200; ++i) ++served_by[reads[static_cast<size_t>(i) % 2].read(b, 1).server];
  std::string counts;
  for (const auto& [server, n] : served_by) counts += " " + server + ": " + std::to_string(n);
  MESSAGE("200 reads of causal_t once replayed, served by" << counts);
  CHECK(served_by["replica_1"] + served_by["replica_2"] >= 180);
  CHECK(served_by["replica_1"] > 0);
  CHECK(served_by["replica_2"] > 0);
}

TEST_CASE("causal reads: tables: the first commit through a new pgroute is not read stale") {
  // A server connection's first commit probe is its slowest (nothing cached yet): the floor must be
  // in place before the client hears that its commit is done, not when the probe's answer comes later.
  prepare_tables();
  BothDelayed delayed(kApplyDelay);
  std::vector<std::string> stale_reads;
  for (int i = 0; i < 6; ++i) {
    Proxy proxy(causal_config("tables"));
    Conn a = proxy.connect();
    Conn b = proxy.connect();
    wait_replicas_serve(b);
    const std::string value = std::to_string(fresh_base() + i);
    a.exec("UPDATE causal_t SET v = " + value + " WHERE id = 6");
    const Read r = read_of(b.exec("SELECT v, inet_server_port() FROM causal_t WHERE id = 6"));
    if (r.v != value)
      stale_reads.push_back("pgroute " + std::to_string(i) + ": wrote " + value + ", read " + r.v + " on " + r.server);
  }
  std::string lines;
  for (const auto& line : stale_reads) lines += line + "\n";
  INFO(lines);
  CHECK(stale_reads.empty());
}

TEST_CASE("causal reads: tables: INSERT, DELETE, COPY FROM, TRUNCATE, MERGE and DDL raise floors too") {
  prepare_tables();
  Proxy proxy(causal_config("tables"));
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  wait_replicas_serve(b);

  const long long base = fresh_base();
  ReplicationSet& rs = replication_set();
  rs.primary.superuser(kAppDatabase)
      .exec("INSERT INTO causal_del SELECT " + std::to_string(base) +
            " + g FROM generate_series(0, 19) g; INSERT INTO causal_tr VALUES (1)");
  wait_replayed(rs.primary, rs.standby1, 5s);
  wait_replayed(rs.primary, rs.standby2, 5s);

  BothDelayed delayed(kApplyDelay);
  std::map<std::string, int> stale;
  std::vector<std::string> lines;
  int tries = 0, failed_writes = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string x = std::to_string(base + i);
    for (const WriteKind& kind : write_kinds()) {
      if (kind.once && i > 0) continue;
      const std::string what = std::string(kind.name) + ", try " + std::to_string(i) + ": ";
      try {
        kind.write(a, x);
      } catch (const PgError& e) {
        ++failed_writes;
        if (lines.size() < 10) lines.push_back(what + "the write failed: " + e.what());
        if (PQstatus(a.raw()) != CONNECTION_OK) a = proxy.connect();
        continue;
      }
      std::string saw;
      try {
        saw = kind.check(b, x);
      } catch (const PgError& e) {
        saw = std::string("error: ") + e.what();  // e.g. 42P01: a replica without the new table
      }
      ++tries;
      if (saw.empty()) continue;
      ++stale[kind.name];
      if (lines.size() < 10) lines.push_back(what + saw);
    }
  }
  std::string summary;
  for (const auto& [kind, n] : stale) summary += "\n" + kind + ": " + std::to_string(n) + " stale";
  for (const auto& line : lines) summary += "\n  " + line;
  INFO(summary);
  CHECK(failed_writes == 0);
  CHECK(tries == 20 * 5 + 1);
  CHECK(stale.empty());
}

TEST_CASE("causal reads: tables: other tables keep using replicas") {
  prepare_tables();
  Proxy proxy(causal_config("tables"));
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  wait_replicas_serve(b);

  BothDelayed delayed(kApplyDelay);
  const long long base = fresh_base();
  std::map<std::string, int> t_served_by, u_served_by;
  for (int i = 0; i < 20; ++i) {
    const std::string value = std::to_string(base + i);
    a.exec("UPDATE causal_t SET v = " + value + " WHERE id = 3");
    // causal_t has a floor no replica has reached (both replay 300ms late): only its reads leave the replicas.
    ++u_served_by[read_of(b.exec("SELECT v, inet_server_port() FROM causal_u WHERE id = 3")).server];
    const Read t = read_of(b.exec("SELECT v, inet_server_port() FROM causal_t WHERE id = 3"));
    ++t_served_by[t.server];
    CHECK(t.v == value);
  }
  CHECK(u_served_by["replica_1"] + u_served_by["replica_2"] == 20);
  CHECK(t_served_by["primary"] == 20);
}

TEST_CASE("causal reads: tables: a read goes to the replica that has replayed the write; metrics count it") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  const int metrics_port = free_port();
  Proxy proxy(causal_config("tables", metrics_port));
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  wait_replicas_serve(b);
  auto value_of = [&](const std::string& series) { return metric(metrics_port, series).value_or(0); };

  UndelayOnExit undo_1{rs.standby1};
  UndelayOnExit undo_2{rs.standby2};
  set_apply_delay(rs.standby1, 10s);
  set_apply_delay(rs.standby2, 10s);
  const double probes_0 = value_of(kProbes);
  const double replica_0 = value_of(causal_series("replica"));
  const double fallback_0 = value_of(causal_series("primary_fallback"));

  // Ten commits of causal_t through pgroute: a probe each. No replica has replayed them: reads of it go to
  // the primary.
  const long long base = fresh_base();
  const std::string value = std::to_string(base + 9);
  for (int i = 0; i < 10; ++i) a.exec("UPDATE causal_t SET v = " + std::to_string(base + i) + " WHERE id = 4");
  for (int i = 0; i < 10; ++i) {
    const Read r = read_of(b.exec("SELECT v, inet_server_port() FROM causal_t WHERE id = 4"));
    CHECK(r.v == value);
    CHECK(r.server == "primary");
  }
  const double probes_1 = value_of(kProbes);
  CHECK(probes_1 - probes_0 >= 10);
  CHECK(value_of(causal_series("primary_fallback")) - fallback_0 == 10);
  CHECK(value_of(causal_series("replica")) == replica_0);

  // Reads of a table without a floor: replicas as before (both, delayed or not), neither counted as causal
  // reads nor probed.
  std::set<std::string> u_servers;
  for (int i = 0; i < 20; ++i) u_servers.insert(server_of(b.scalar("SELECT inet_server_port() FROM causal_u LIMIT 1")));
  CHECK(u_servers == std::set<std::string>{"replica_1", "replica_2"});
  CHECK(value_of(kProbes) == probes_1);
  CHECK(value_of(causal_series("primary_fallback")) - fallback_0 == 10);

  // replica_1 replays; replica_2 stays 10s behind. Reads of causal_t go to replica_1 only once it has been
  // checked, never to replica_2.
  set_apply_delay(rs.standby1, 0ms);
  wait_replayed(rs.primary, rs.standby1, 5s);
  CHECK(eventually(
      [&] { return read_of(b.exec("SELECT v, inet_server_port() FROM causal_t WHERE id = 4")).server == "replica_1"; },
      2s));
  const double replica_1 = value_of(causal_series("replica"));
  std::map<std::string, int> served_by;
  for (int i = 0; i < 20; ++i) {
    const Read r = read_of(b.exec("SELECT v, inet_server_port() FROM causal_t WHERE id = 4"));
    CHECK(r.v == value);
    ++served_by[r.server];
  }
  CHECK(served_by["replica_1"] == 20);
  CHECK(value_of(causal_series("replica")) - replica_1 == 20);
  CHECK(value_of(kProbes) == probes_1);
}

TEST_CASE("causal reads: tables: psycopg 3 and pgbench scripts never read stale (and do with causal_reads off)") {
  prepare_tables();
  BothDelayed delayed(kApplyDelay);
  static const std::regex processed(R"(number of transactions actually processed: ([0-9]+))");
  {
    // The scripts see the race without causal reads: their checks can fail.
    Proxy proxy(causal_config("off"));
    Conn b = proxy.connect();
    wait_replicas_serve(b);
    std::string output;
    const ScriptStale s = psycopg_race(proxy, 50, output);
    INFO("psycopg, causal_reads off: " << output);
    CHECK(s.tries == 50);
    CHECK(s.stale > 0);
    const RunResult r = pgbench_race(proxy, "extended", 20);
    INFO("pgbench, causal_reads off: " << r.describe());
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("stale read: wrote ") != std::string::npos);
  }
  Proxy proxy(causal_config("tables"));
  Conn b = proxy.connect();
  wait_replicas_serve(b);
  std::string output;
  const ScriptStale s = psycopg_race(proxy, 200, output);
  INFO("psycopg, causal_reads tables: " << output);
  MESSAGE("psycopg, causal_reads tables: " << s.stale << " stale of " << s.tries);
  CHECK(s.tries == 200);
  CHECK(s.stale == 0);
  for (const std::string mode : {"extended", "prepared"}) {
    const RunResult r = pgbench_race(proxy, mode, 50);
    INFO("pgbench -M " << mode << ", causal_reads tables: " << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("stale read") == std::string::npos);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, processed));
    CHECK(std::stoi(m[1]) == 4 * 50);
  }
}

TEST_CASE("causal reads: tables: a read waits up to causal_wait for a replica to replay, then takes the primary") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  UndelayOnExit undo_1{rs.standby1};
  UndelayOnExit undo_2{rs.standby2};
  const long long base = fresh_base();
  auto timed_read = [](Conn& c) {
    const auto start = std::chrono::steady_clock::now();
    const Read r = read_of(c.exec("SELECT v, inet_server_port() FROM causal_t WHERE id = 5"));
    return std::pair{r, std::chrono::steady_clock::now() - start};
  };
  {
    // Replicas 1s behind, causal_wait 5s: the read right behind the commit waits for a replica to replay it
    // (no sooner than the delay), and a replica serves it, fresh.
    const int metrics_port = free_port();
    Proxy proxy(causal_config("tables", metrics_port, "5s"));
    Conn a = proxy.connect();
    Conn b = proxy.connect();
    wait_replicas_serve(b);
    set_apply_delay(rs.standby1, 1s);
    set_apply_delay(rs.standby2, 1s);
    const std::string value = std::to_string(base);
    a.exec("UPDATE causal_t SET v = " + value + " WHERE id = 5");
    const auto [r, waited] = timed_read(b);
    CHECK(r.v == value);
    CHECK(r.server != "primary");
    CHECK(waited >= 700ms);
    CHECK(waited < 4s);
    CHECK(metric(metrics_port, causal_series("waited_then_replica")).value_or(0) == 1);
    CHECK(metric(metrics_port, "pgroute_causal_wait_seconds_count").value_or(0) == 1);
  }
  {
    // Replicas 2s behind, causal_wait 300ms: the read waits that long, then takes the primary, fresh.
    const int metrics_port = free_port();
    ProxyConfig cfg = causal_config("tables", metrics_port, "300ms");
    cfg.users.push_back({"ops", "opspass", std::nullopt});
    cfg.admin_users = {"ops"};
    Proxy proxy(cfg);
    Conn a = proxy.connect();
    Conn b = proxy.connect();
    set_apply_delay(rs.standby1, 2s);
    set_apply_delay(rs.standby2, 2s);
    const std::string value = std::to_string(base + 1);
    a.exec("UPDATE causal_t SET v = " + value + " WHERE id = 5");
    const auto [r, waited] = timed_read(b);
    CHECK(r.v == value);
    CHECK(r.server == "primary");
    CHECK(waited >= 300ms);
    CHECK(waited < 1500ms);
    CHECK(metric(metrics_port, causal_series("primary_fallback")).value_or(0) == 1);
    // The console's EXPLAIN ROUTE shows the floor that holds the read back (and counts nothing).
    Conn console = proxy.connect("ops", "opspass", "pgroute");
    const std::string reason = console.exec("EXPLAIN ROUTE 'SELECT v FROM causal_t WHERE id = 5'").at(0, 2);
    INFO(reason);
    CHECK(reason.find("causal read: no replica has replayed ") == 0);
    CHECK(metric(metrics_port, causal_series("primary_fallback")).value_or(0) == 1);
  }
}

TEST_CASE(
    "causal reads: strict: commits made elsewhere (on the primary, through another pgroute) are never read stale") {
  ReplicationSet& rs = replication_set();
  prepare_tables();
  UndelayOnExit undo_1{rs.standby1};
  UndelayOnExit undo_2{rs.standby2};
  const int metrics_port = free_port();
  ProxyConfig cfg = causal_config("strict", metrics_port);
  Proxy proxy(cfg);
  ProxyConfig other_cfg = causal_config("strict");
  Proxy other(other_cfg);  // a second pgroute with the same rules and no shared state
  Conn b = proxy.connect();
  wait_replicas_serve(b);
  set_apply_delay(rs.standby1, 300ms);
  set_apply_delay(rs.standby2, 300ms);

  // Committed straight on the primary: pgroute saw no write, only the sample taken after the read came.
  Conn direct(rs.primary.params(kAppUser, kAppPassword));
  Conn via_other = other.connect();
  const long long base = fresh_base();
  int stale = 0;
  std::chrono::nanoseconds read_time{0};
  for (int i = 0; i < 500; ++i) {
    const std::string value = std::to_string(base + i);
    Conn& writer = i % 2 ? via_other : direct;  // half on the primary itself, half through the other pgroute
    writer.exec("UPDATE causal_t SET v = " + value + " WHERE id = 6");
    const auto start = std::chrono::steady_clock::now();
    const Read r = read_of(b.exec("SELECT v, inet_server_port() FROM causal_t WHERE id = 6"));
    read_time += std::chrono::steady_clock::now() - start;
    if (r.v != value) ++stale;
  }
  MESSAGE("strict, apply delay 300ms: " << stale << " stale of 500; mean read "
                                        << std::chrono::duration<double, std::milli>(read_time).count() / 500 << " ms");
  CHECK(stale == 0);

  // No writes in flight, replicas caught up: they serve the reads (each after its sample).
  set_apply_delay(rs.standby1, 0ms);
  set_apply_delay(rs.standby2, 0ms);
  wait_replayed(rs.primary, rs.standby1, 10s);
  wait_replayed(rs.primary, rs.standby2, 10s);
  ProxyConfig waiting_cfg = causal_config("strict", std::nullopt, "100ms");
  Proxy waiting(waiting_cfg);
  Conn c = waiting.connect();
  wait_replicas_serve(c);
  int on_replicas = 0;
  read_time = {};
  for (int i = 0; i < 200; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (is_replica(server_of(c.scalar("SELECT inet_server_port() FROM causal_u LIMIT 1")))) ++on_replicas;
    read_time += std::chrono::steady_clock::now() - start;
  }
  MESSAGE("strict, no writes: " << on_replicas << " of 200 reads on replicas; mean read "
                                << std::chrono::duration<double, std::milli>(read_time).count() / 200 << " ms");
  CHECK(on_replicas >= 180);

  // The same reads without causal reads, for the latency strict adds.
  Proxy plain(causal_config("off"));
  Conn p = plain.connect();
  wait_replicas_serve(p);
  read_time = {};
  for (int i = 0; i < 200; ++i) {
    const auto start = std::chrono::steady_clock::now();
    p.scalar("SELECT inet_server_port() FROM causal_u LIMIT 1");
    read_time += std::chrono::steady_clock::now() - start;
  }
  MESSAGE("causal_reads off, the same reads: mean "
          << std::chrono::duration<double, std::milli>(read_time).count() / 200 << " ms");
}

TEST_CASE("causal reads: strict: reads waiting together share one check of the primary") {
  prepare_tables();
  const int metrics_port = free_port();
  // Periodic checks rarely (1s): nearly every check counted is one the reads asked for.
  ProxyConfig cfg = causal_config("strict", metrics_port);
  const std::string every_20ms = "lag_check_interval: 20ms";
  cfg.extra_yaml.replace(cfg.extra_yaml.find(every_20ms), every_20ms.size(), "lag_check_interval: 1s");
  Proxy proxy(cfg);
  {
    Conn c = proxy.connect();
    wait_replicas_serve(c);
  }
  const std::string checks = R"(pgroute_primary_checks_total{alias="primary"})";
  const double checks_0 = metric(metrics_port, checks).value_or(0);
  constexpr int kClients = 16, kReads = 50;
  ThreadErrors errors;
  std::vector<std::thread> clients;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&] {
      try {
        Conn c = proxy.connect();
        for (int i = 0; i < kReads; ++i) c.scalar("SELECT count(*) FROM causal_u");
      } catch (const std::exception& e) {
        errors.add(e.what());
      }
    });
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_MESSAGE(errors.list().empty(), errors.summary());
  const double used = metric(metrics_port, checks).value_or(0) - checks_0;
  const int reads = kClients * kReads;
  MESSAGE(reads << " strict reads from " << kClients << " clients in " << seconds << " s: " << used
                << " checks of the primary");
  CHECK(used >= 1);
  // Without sharing there would be a check per read: one serves every read that waited for it.
  CHECK(used < 0.75 * reads);
}
