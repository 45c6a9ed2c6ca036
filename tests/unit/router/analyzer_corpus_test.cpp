// The analyzer against a corpus of statements: kind, tables (w = written) and key rows for each.
// Rows render as [table.column=value ...]; a column whose table is ambiguous renders without one;
// #n is a value by position (INSERT without a column list); $n is a parameter, NULL a null constant.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "router/analyzer.hpp"

using namespace pgroute::router;

namespace {

std::string render_tables(const Analysis& a) {
  std::string out;
  for (const auto& t : a.tables) {
    if (!out.empty()) out += ' ';
    out += (t.schema.empty() ? "" : t.schema + ".") + t.name + (t.written ? "(w)" : "");
  }
  return out;
}

std::string render_value(const KeyValue& k) {
  if (k.param > 0) return "$" + std::to_string(k.param);
  if (k.param < 0) return "?";
  return k.literal ? *k.literal : "NULL";
}

std::string render_rows(const Analysis& a) {
  std::string out;
  for (const auto& row : a.key_rows) {
    if (!out.empty()) out += ' ';
    out += '[';
    for (size_t i = 0; i < row.size(); ++i) {
      const KeyValue& k = row[i];
      if (i) out += ' ';
      if (!k.table.empty()) out += (k.schema.empty() ? "" : k.schema + ".") + k.table + ".";
      out += (k.position > 0 ? "#" + std::to_string(k.position) : k.column) + "=" + render_value(k);
    }
    out += ']';
  }
  return out;
}

struct Case {
  const char* sql;
  StatementKind kind;
  const char* tables;
  const char* rows;
};

using K = StatementKind;

const std::vector<Case> kCorpus = {
    // --- reads: keys from the top-level WHERE ---
    {"SELECT 1", K::Read, "", ""},
    {"SELECT * FROM events WHERE user_id = 42", K::Read, "events", "[events.user_id=42]"},
    {"select * from public.events where user_id = $1", K::Read, "public.events", "[public.events.user_id=$1]"},
    {"SELECT * FROM events e JOIN users u ON u.id = e.user_id WHERE e.user_id = 42 AND u.name = 'x'", K::Read,
     "events users", "[events.user_id=42 users.name=x]"},
    {"SELECT * FROM events WHERE user_id IN (1, 2, 3)", K::Read, "events",
     "[events.user_id=1] [events.user_id=2] [events.user_id=3]"},
    {"SELECT * FROM events WHERE user_id = ANY(ARRAY[4, 5])", K::Read, "events",
     "[events.user_id=4] [events.user_id=5]"},
    {"SELECT * FROM events WHERE user_id IN (1, 2) AND kind IN ('a', 'b')", K::Read, "events",
     "[events.user_id=1 events.kind=a] [events.user_id=1 events.kind=b] [events.user_id=2 events.kind=a] "
     "[events.user_id=2 events.kind=b]"},
    {"SELECT * FROM events WHERE user_id IN (1, $2, lower('x'))", K::Read, "events", "[]"},
    {"SELECT * FROM events WHERE user_id = 1 OR user_id = 2", K::Read, "events", "[]"},
    {"SELECT * FROM events WHERE (user_id = 1 OR x = 2) AND tenant = 'a'", K::Read, "events", "[events.tenant=a]"},
    {"SELECT * FROM events WHERE NOT (user_id = 1)", K::Read, "events", "[]"},
    {"SELECT * FROM events WHERE user_id <> 5 AND user_id > 3", K::Read, "events", "[]"},
    {"SELECT * FROM events WHERE 7 = user_id", K::Read, "events", "[events.user_id=7]"},
    {"SELECT * FROM events WHERE user_id = '42'::bigint AND k = $2::int AND a = b", K::Read, "events",
     "[events.user_id=42 events.k=$2]"},
    {"SELECT * FROM events WHERE user_id = NULL", K::Read, "events", "[events.user_id=NULL]"},
    {"SELECT * FROM events WHERE user_id IS NOT DISTINCT FROM 3", K::Read, "events", "[events.user_id=3]"},
    {"SELECT * FROM events WHERE user_id = 9223372036854775807", K::Read, "events",
     "[events.user_id=9223372036854775807]"},
    {"SELECT * FROM events WHERE user_id = -5", K::Read, "events", "[events.user_id=-5]"},
    {"SELECT * FROM a, b WHERE id = 1", K::Read, "a b", "[id=1]"},
    {"SELECT * FROM events WHERE events.user_id = 3", K::Read, "events", "[events.user_id=3]"},
    {"SELECT * FROM app.events ev WHERE ev.user_id = 3", K::Read, "app.events", "[app.events.user_id=3]"},
    {"SELECT * FROM \"Events\" WHERE \"UserId\" = 1", K::Read, "Events", "[Events.UserId=1]"},
    {"SELECT * FROM users WHERE id IN (SELECT user_id FROM events WHERE user_id = 5)", K::Read, "users events", "[]"},
    {"SELECT s.user_id FROM (SELECT * FROM events) s WHERE s.user_id = 5", K::Read, "events", "[]"},
    {"SELECT EXISTS (SELECT 1 FROM events WHERE user_id = 1)", K::Read, "events", "[]"},
    {"SELECT id FROM a WHERE id = 1 UNION SELECT id FROM b WHERE id = 1", K::Read, "a b", "[]"},
    {"SELECT * FROM generate_series(1, 3) g WHERE g = 2", K::Read, "", ""},
    {"SELECT nextval('events_id_seq')", K::Read, "", ""},
    {"VALUES (1), (2)", K::Read, "", ""},
    {"SELECT * FROM (a JOIN b ON a.id = b.id) AS j WHERE j.id = 3", K::Read, "a b", "[]"},
    // --- CTEs: a CTE name is not a table, with PostgreSQL's visibility rules ---
    {"WITH recent AS (SELECT * FROM events) SELECT * FROM recent WHERE user_id = 5", K::Read, "events", "[]"},
    {"WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b", K::Read, "b", "[]"},
    {"WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t", K::Read, "", ""},
    {"SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x", K::Read, "x", "[]"},
    {"WITH moved AS (DELETE FROM events WHERE user_id = 1 RETURNING *) INSERT INTO archive SELECT * FROM moved",
     K::Write, "events(w) archive(w)", "[]"},
    {"WITH d AS (UPDATE events SET n = 1 WHERE user_id = 2 RETURNING *) SELECT * FROM d", K::Write, "events(w)", "[]"},
    // --- locking reads are writes ---
    {"SELECT * FROM events WHERE user_id = 4 FOR UPDATE", K::Write, "events", "[events.user_id=4]"},
    {"SELECT * FROM events e JOIN users u USING (user_id) FOR SHARE OF e", K::Write, "events users", "[]"},
    // --- INSERT ---
    {"INSERT INTO events (user_id, payload) VALUES (1, 'a')", K::Write, "events(w)",
     "[events.user_id=1 events.payload=a]"},
    {"INSERT INTO public.events (user_id, payload) VALUES ($1, $2), ($3, DEFAULT), (NULL, now())", K::Write,
     "public.events(w)",
     "[public.events.user_id=$1 public.events.payload=$2] [public.events.user_id=$3] [public.events.user_id=NULL]"},
    // Without a column list: values by position (#n), placed once the table's column order is known.
    {"INSERT INTO events VALUES (1, 'a')", K::Write, "events(w)", "[events.#1=1 events.#2=a]"},
    {"INSERT INTO app.events VALUES ($1, DEFAULT, now(), NULL), ($2)", K::Write, "app.events(w)",
     "[app.events.#1=$1 app.events.#4=NULL] [app.events.#1=$2]"},
    {"INSERT INTO events (user_id) SELECT id FROM users WHERE id = 3", K::Write, "events(w) users", "[]"},
    {"INSERT INTO events DEFAULT VALUES", K::Write, "events(w)", "[]"},
    {"INSERT INTO events (user_id, n) VALUES (5, 1) ON CONFLICT (user_id) DO UPDATE SET n = events.n + 1", K::Write,
     "events(w)", "[events.user_id=5 events.n=1]"},
    // --- UPDATE / DELETE / MERGE ---
    {"UPDATE events SET payload = 'x' WHERE user_id = $1", K::Write, "events(w)", "[events.user_id=$1]"},
    {"UPDATE events e SET payload = u.name FROM users u WHERE e.user_id = u.id AND e.user_id = 9", K::Write,
     "events(w) users", "[events.user_id=9]"},
    {"UPDATE events SET a = 1 WHERE CURRENT OF c", K::Write, "events(w)", "[]"},
    {"DELETE FROM events WHERE user_id IN ($1, $2)", K::Write, "events(w)", "[events.user_id=$1] [events.user_id=$2]"},
    {"DELETE FROM events USING users u WHERE events.user_id = u.id AND u.id = 4", K::Write, "events(w) users",
     "[users.id=4]"},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v", K::Write, "t(w) s", "[]"},
    // --- transaction control ---
    {"BEGIN", K::TransactionBegin, "", ""},
    {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", K::TransactionBegin, "", ""},
    {"COMMIT", K::TransactionEnd, "", ""},
    {"ROLLBACK", K::TransactionEnd, "", ""},
    {"PREPARE TRANSACTION 'tx1'", K::TransactionEnd, "", ""},
    {"SAVEPOINT s1", K::Savepoint, "", ""},
    {"RELEASE SAVEPOINT s1", K::Savepoint, "", ""},
    {"ROLLBACK TO SAVEPOINT s1", K::Savepoint, "", ""},
    {"COMMIT PREPARED 'tx1'", K::Utility, "", ""},
    // --- SET / SHOW ---
    {"SET search_path = app, public", K::Set, "", ""},
    {"SET LOCAL statement_timeout = '5s'", K::Set, "", ""},
    {"RESET ALL", K::Set, "", ""},
    {"DISCARD ALL", K::Set, "", ""},
    {"SHOW search_path", K::Show, "", ""},
    // --- DDL and utilities ---
    {"CREATE TABLE t (id int REFERENCES parent (id))", K::Ddl, "t(w) parent", "[]"},
    {"ALTER TABLE events ADD COLUMN x int", K::Ddl, "events(w)", "[]"},
    {"DROP TABLE IF EXISTS a, s.b", K::Ddl, "a(w) s.b(w)", "[]"},
    {"DROP INDEX idx_events", K::Ddl, "", ""},
    {"CREATE INDEX ON events (user_id)", K::Ddl, "events(w)", "[]"},
    {"CREATE TABLE t2 AS SELECT * FROM events", K::Ddl, "events t2(w)", "[]"},
    {"SELECT * INTO t3 FROM events", K::Ddl, "t3(w) events", "[]"},
    {"CREATE VIEW v AS SELECT * FROM events", K::Ddl, "v(w) events", "[]"},
    {"TRUNCATE events, users", K::Write, "events(w) users(w)", "[]"},
    {"COPY events FROM STDIN", K::Write, "events(w)", "[]"},
    {"COPY events (user_id) TO STDOUT", K::Read, "events", "[]"},
    {"COPY (SELECT * FROM events WHERE user_id = 3) TO STDOUT", K::Read, "events", "[events.user_id=3]"},
    {"EXPLAIN SELECT * FROM events WHERE user_id = 1", K::Read, "events", "[events.user_id=1]"},
    {"EXPLAIN DELETE FROM events", K::Read, "events(w)", "[]"},
    {"EXPLAIN (ANALYZE) DELETE FROM events WHERE user_id = 1", K::Write, "events(w)", "[events.user_id=1]"},
    {"LISTEN jobs", K::Utility, "", ""},
    {"NOTIFY jobs, 'x'", K::Utility, "", ""},
    {"VACUUM ANALYZE events", K::Utility, "events", "[]"},
    {"LOCK TABLE events IN EXCLUSIVE MODE", K::Write, "events", "[]"},
    {"DO $$ BEGIN PERFORM 1; END $$", K::Write, "", ""},
    {"CALL refresh_all(1)", K::Write, "", ""},
    {"PREPARE q (bigint) AS SELECT * FROM events WHERE user_id = $1", K::Utility, "events", "[]"},
    {"EXECUTE q(1)", K::Utility, "", ""},
    {"DEALLOCATE q", K::Utility, "", ""},
    {"DECLARE c CURSOR FOR SELECT * FROM events WHERE user_id = 2", K::Read, "events", "[events.user_id=2]"},
    {"FETCH 10 FROM c", K::Utility, "", ""},
    {"GRANT SELECT ON events TO bob", K::Ddl, "events", "[]"},
    // --- nothing, and garbage ---
    {"", K::Empty, "", ""},
    {" ;; ", K::Empty, "", ""},
    {"-- only a comment", K::Empty, "", ""},
    {"/* pgroute: alias=shard_1 */", K::Empty, "", ""},
    {"SELEC * FROM events", K::Unparsed, "", ""},
    {"SELECT 'unterminated", K::Unparsed, "", ""},
    {"SELECT * FROM", K::Unparsed, "", ""},
    {"INSERT INTO events (a, b) VALUES (1, 2", K::Unparsed, "", ""},
    {"\xff\xfe garbage \x01", K::Unparsed, "", ""},
};

}  // namespace

TEST_CASE("analyzer corpus: kind, tables and key rows") {
  CHECK(kCorpus.size() >= 60);
  for (const auto& c : kCorpus) {
    const std::string sql = c.sql;
    CAPTURE(sql);
    Analysis a = analyze(c.sql);
    CHECK(kind_name(a.kind) == kind_name(c.kind));
    CHECK(render_tables(a) == std::string(c.tables));
    CHECK(render_rows(a) == std::string(c.rows));
    if (c.kind == K::Unparsed)
      CHECK_FALSE(a.error.empty());
    else
      CHECK(a.error.empty());
  }
}
