// 14-15. Other real clients through the proxy: psycopg 3, psycopg2 and psql.
#include "harness.hpp"

using namespace pgroute::it;

namespace {

// Debian's interpreter: a python3 earlier on PATH may not see Debian's psycopg packages.
constexpr const char* kPython = "/usr/bin/python3";

constexpr const char* kPsycopg3Script = R"PY(
import sys, threading, psycopg
port = int(sys.argv[1])
results, errors = {}, []

def worker(n):
    try:
        # prepare_threshold=0: every query becomes a named server-side prepared statement.
        with psycopg.connect(host="127.0.0.1", port=port, user="app", password="secret",
                             dbname="app", prepare_threshold=0) as conn:
            for i in range(n, 50, 4):
                with conn.cursor() as cur:
                    cur.execute("SELECT %s::int * 2 + %s::int, %s::text", (i, n, "q%d" % i))
                    results[i] = cur.fetchone()
                conn.commit()
    except Exception as e:
        errors.append(repr(e))

threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
bad = [i for i in range(50) if results.get(i) != (i * 2 + i % 4, "q%d" % i)]
print("psycopg3 queries", len(results), "wrong", len(bad), "errors", errors)
)PY";

constexpr const char* kPsycopg2Script = R"PY(
import sys, psycopg2
conn = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret",
                        dbname="app")
cur = conn.cursor()
cur.execute("SELECT 20 + 22")
print("psycopg2 select", cur.fetchone()[0])
cur.execute("DROP TABLE IF EXISTS it_psycopg2")
cur.execute("CREATE TABLE it_psycopg2 (x int)")
conn.commit()
cur.execute("INSERT INTO it_psycopg2 VALUES (1)")
cur.execute("INSERT INTO it_psycopg2 VALUES (2)")
conn.rollback()
cur.execute("INSERT INTO it_psycopg2 VALUES (%s)", (3,))
cur.execute("INSERT INTO it_psycopg2 VALUES (%s)", (4,))
conn.commit()
cur.execute("SELECT sum(x) FROM it_psycopg2")
print("psycopg2 sum", cur.fetchone()[0])
conn.close()
)PY";

constexpr const char* kAsyncpgScript = R"PY(
import sys, asyncio, json, asyncpg
port = int(sys.argv[1])

async def main():
    # asyncpg prepares every query as a named statement and caches it per connection; its pool resets
    # each connection on release (RESET ALL, UNLISTEN *, CLOSE ALL, advisory unlock).
    pool = await asyncpg.create_pool(host="127.0.0.1", port=port, user="app", password="secret",
                                     database="app", min_size=8, max_size=8)
    async with pool.acquire() as conn:
        await conn.execute("DROP TABLE IF EXISTS it_asyncpg")
        await conn.execute("CREATE TABLE it_asyncpg (id int PRIMARY KEY, doc jsonb, note text)")
    async def worker(n):
        async with pool.acquire() as conn:
            await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
            total = 0
            for i in range(n, 400, 16):
                async with conn.transaction():
                    await conn.execute("INSERT INTO it_asyncpg VALUES ($1, $2, $3)", i, {"i": i}, "n%d" % n)
                    row = await conn.fetchrow("SELECT doc, note FROM it_asyncpg WHERE id = $1", i)
                    assert row["doc"] == {"i": i} and row["note"] == "n%d" % n, row
                total += await conn.fetchval("SELECT $1::int + 1", i)
            stmt = await conn.prepare("SELECT count(*) FROM it_asyncpg WHERE id % 16 = $1")
            count = await stmt.fetchval(n)
            async with conn.transaction():
                seen = [r["id"] async for r in conn.cursor("SELECT id FROM it_asyncpg WHERE id % 16 = $1 ORDER BY id", n)]
            return total, count, len(seen)
    results = await asyncio.gather(*(worker(n) for n in range(16)))
    async with pool.acquire() as conn:
        await conn.executemany("UPDATE it_asyncpg SET note = $2 WHERE id = $1", [(i, "m") for i in range(0, 400, 2)])
        await conn.copy_records_to_table("it_asyncpg", records=[(1000 + i, "c") for i in range(500)],
                                          columns=["id", "note"])
        summary = await conn.fetchrow("SELECT count(*) AS n, count(*) FILTER (WHERE note = 'm') AS m, "
                                      "count(*) FILTER (WHERE note = 'c') AS c FROM it_asyncpg")
    await pool.close()
    wrong = [r for n, r in enumerate(results) if r[0] != sum(i + 1 for i in range(n, 400, 16)) or r[1] != 25 or r[2] != 25]
    print("asyncpg rows", summary["n"], "updated", summary["m"], "copied", summary["c"], "wrong", wrong)

asyncio.run(main())
)PY";

RunResult psql(const Proxy& proxy, std::vector<std::string> args) {
  std::vector<std::string> argv{pg_bin("psql"), "-X",
                                "-q",           "-At",
                                "-v",           "ON_ERROR_STOP=1",
                                "-h",           "127.0.0.1",
                                "-p",           std::to_string(proxy.port()),
                                "-U",           "app",
                                "-d",           "app"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {.timeout = 30s, .env = {{"PGPASSWORD", kProxyPassword}}});
}

}  // namespace

TEST_CASE("proxy: psycopg 3 with server-side prepared statements, pool of 2, 4 connections") {
  ProxyConfig cfg = default_proxy_config();
  cfg.pool_size = 2;
  cfg.backend("default").pool_size = 2;
  Proxy proxy(cfg);
  RunResult r = run({kPython, "-c", kPsycopg3Script, std::to_string(proxy.port())}, {.timeout = 60s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "psycopg3 queries 50 wrong 0 errors []\n");
}

TEST_CASE("proxy: asyncpg pool of 8 on 2 server connections: prepared statements, transactions, cursors, COPY") {
  ProxyConfig cfg = default_proxy_config();
  cfg.pool_size = 2;
  cfg.backend("default").pool_size = 2;
  Proxy proxy(cfg);
  RunResult r = run({kPython, "-c", kAsyncpgScript, std::to_string(proxy.port())}, {.timeout = 120s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "asyncpg rows 900 updated 200 copied 500 wrong []\n");
}

TEST_CASE("proxy: psycopg2 simple queries and transactions") {
  Proxy proxy(default_proxy_config());
  RunResult r = run({kPython, "-c", kPsycopg2Script, std::to_string(proxy.port())}, {.timeout = 60s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "psycopg2 select 42\npsycopg2 sum 7\n");
}

TEST_CASE("proxy: psql -c and a psql -f script using \\copy") {
  Proxy proxy(default_proxy_config());
  RunResult c = psql(proxy, {"-c", "SELECT 6 * 7"});
  INFO(c.describe());
  CHECK(c.exit_code == 0);
  CHECK(c.out == "42\n");

  TempDir dir("psql");
  const std::string csv = "1,alpha\n2,\"beta, with comma\"\n3,gamma\n";
  write_file(dir / "in.csv", csv);
  write_file(dir / "script.sql",
             "DROP TABLE IF EXISTS it_psql;\n"
             "CREATE TABLE it_psql (id int, name text);\n"
             "\\copy it_psql FROM '" +
                 (dir / "in.csv").string() +
                 "' WITH (FORMAT csv)\n"
                 "SELECT count(*) FROM it_psql;\n"
                 "\\copy (SELECT * FROM it_psql ORDER BY id) TO '" +
                 (dir / "out.csv").string() +
                 "' WITH (FORMAT csv)\n"
                 "SELECT name FROM it_psql WHERE id = 2;\n");
  RunResult f = psql(proxy, {"-f", (dir / "script.sql").string()});
  INFO(f.describe());
  CHECK(f.exit_code == 0);
  CHECK(f.out == "3\nbeta, with comma\n");
  REQUIRE(std::filesystem::exists(dir / "out.csv"));
  CHECK(read_file(dir / "out.csv") == csv);
}
