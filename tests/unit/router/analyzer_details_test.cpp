// Analyzer facts beyond kind/tables/rows: multi-statement strings, transaction and SET details,
// comment hints, UPDATE assignments, limits, and never crashing on hostile input.

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "router/analyzer.hpp"
#include "router/key_extractor.hpp"
#include "router/result_order.hpp"

using namespace pgroute::router;

TEST_CASE("multi-statement strings take the strongest kind and keep every statement's kind") {
  Analysis a = analyze("BEGIN; UPDATE events SET x = 1 WHERE user_id = 3; COMMIT");
  CHECK(a.kind == StatementKind::Write);
  CHECK(a.command == "UPDATE");
  CHECK(a.statement_count == 3);
  REQUIRE(a.statement_kinds.size() == 3);
  CHECK(a.statement_kinds[0] == StatementKind::TransactionBegin);
  CHECK(a.statement_kinds[1] == StatementKind::Write);
  CHECK(a.statement_kinds[2] == StatementKind::TransactionEnd);
  CHECK(a.begins_transaction);
  CHECK(a.ends_transaction);
  REQUIRE(a.key_rows.size() == 1);
  CHECK(a.key_rows[0].at(0).literal == "3");

  Analysis reads = analyze("SELECT 1; SELECT * FROM events WHERE user_id = 1; SET x = 1");
  CHECK(reads.kind == StatementKind::Read);
  CHECK(reads.statement_count == 3);

  // A second statement without a key adds an empty row: the string as a whole has no single key.
  Analysis mixed = analyze("SELECT * FROM events WHERE user_id = 1; SELECT * FROM events");
  REQUIRE(mixed.key_rows.size() == 2);
  CHECK(mixed.key_rows[1].empty());

  CHECK(analyze("SHOW x; CREATE TABLE t (a int); SELECT 1").kind == StatementKind::Ddl);
  CHECK(analyze("SELECT 1; LISTEN c").kind == StatementKind::Utility);
  CHECK(analyze("BEGIN; SHOW x").kind == StatementKind::Show);
}

TEST_CASE("kind ordering and write kinds") {
  CHECK(kind_strength(StatementKind::Write) > kind_strength(StatementKind::Read));
  CHECK(kind_strength(StatementKind::Ddl) > kind_strength(StatementKind::Write));
  CHECK(kind_strength(StatementKind::Read) > kind_strength(StatementKind::Set));
  CHECK(kind_strength(StatementKind::Empty) == 0);
  CHECK(is_write_kind(StatementKind::Write));
  CHECK(is_write_kind(StatementKind::Ddl));
  CHECK(is_write_kind(StatementKind::Unparsed));
  CHECK_FALSE(is_write_kind(StatementKind::Read));
  CHECK_FALSE(is_write_kind(StatementKind::Set));
}

TEST_CASE("transaction details: READ ONLY, chain, commands") {
  CHECK(analyze("BEGIN READ ONLY").read_only);
  CHECK(analyze("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").read_only);
  CHECK_FALSE(analyze("BEGIN READ WRITE").read_only);
  CHECK_FALSE(analyze("BEGIN").read_only);
  CHECK(analyze("SET TRANSACTION READ ONLY").read_only);
  CHECK(analyze("SET TRANSACTION READ ONLY").kind == StatementKind::Set);
  Analysis chain = analyze("COMMIT AND CHAIN");
  CHECK(chain.ends_transaction);
  CHECK(chain.begins_transaction);
  CHECK(analyze("START TRANSACTION").command == "START TRANSACTION");
  CHECK(analyze("END").kind == StatementKind::TransactionEnd);
  CHECK(analyze("ABORT").kind == StatementKind::TransactionEnd);
}

TEST_CASE("SET pgroute.shard_key and its resets") {
  CHECK(analyze("SET pgroute.shard_key = 42").set_shard_key == "42");
  CHECK(analyze("SET pgroute.shard_key TO 'user-7'").set_shard_key == "user-7");
  CHECK(analyze("SET pgroute.shard_key = -9").set_shard_key == "-9");
  CHECK(analyze("SET SESSION pgroute.shard_key = 9223372036854775807").set_shard_key == "9223372036854775807");
  CHECK_FALSE(analyze("SET search_path = x").set_shard_key);
  CHECK(analyze("SET LOCAL pgroute.shard_key = 5").shard_key_local);
  CHECK(analyze("SET LOCAL pgroute.shard_key = 5").set_shard_key == "5");
  CHECK_FALSE(analyze("SET pgroute.shard_key = 5").shard_key_local);
  for (auto sql : {"RESET pgroute.shard_key", "SET pgroute.shard_key TO DEFAULT", "RESET ALL"}) {
    Analysis a = analyze(sql);
    CAPTURE(sql);
    CHECK(a.resets_shard_key);
    CHECK_FALSE(a.set_shard_key);
  }
  // The last word in a multi-statement string counts.
  Analysis last = analyze("SET pgroute.shard_key = 1; RESET pgroute.shard_key; SET pgroute.shard_key = 2");
  CHECK(last.set_shard_key == "2");
  CHECK_FALSE(last.resets_shard_key);
}

TEST_CASE("result clauses of a top-level SELECT: what a merge of shards could not honour") {
  using V = std::vector<std::string>;
  CHECK(analyze("SELECT * FROM events WHERE x > 1").result_clauses.empty());
  CHECK(analyze("SELECT * FROM events ORDER BY id").result_clauses == V{"ORDER BY"});
  CHECK(analyze("SELECT * FROM events LIMIT 5 OFFSET 10").result_clauses == V{"LIMIT", "OFFSET"});
  CHECK(analyze("SELECT * FROM events FETCH FIRST 3 ROWS ONLY").result_clauses == V{"LIMIT"});
  CHECK(analyze("SELECT a FROM x UNION ALL SELECT a FROM y ORDER BY 1").result_clauses == V{"ORDER BY"});
  // Inside a subquery or a window they shape only part of the statement: each shard applies them.
  CHECK(analyze("SELECT * FROM (SELECT * FROM events ORDER BY id LIMIT 3) s").result_clauses.empty());
  CHECK(analyze("SELECT row_number() OVER (ORDER BY id) FROM events").result_clauses.empty());
}

TEST_CASE("result order: what a merge of sorted shards can redo, and why not otherwise") {
  auto order = [](const char* sql) {
    Analysis a = analyze(sql);
    REQUIRE(a.result_order);
    return *a.result_order;
  };
  ResultOrder o = order("SELECT * FROM events ORDER BY user_id DESC, 2 NULLS FIRST, e.name COLLATE \"C\" LIMIT 10");
  CHECK(o.unmergeable.empty());
  REQUIRE(o.keys.size() == 3);
  CHECK(o.keys[0] == SortKey{0, "user_id", true, true, false});
  CHECK(o.keys[1] == SortKey{2, "", false, true, false});
  CHECK(o.keys[2] == SortKey{0, "name", false, false, true});
  REQUIRE(o.limit);
  CHECK(o.limit->literal == "10");
  CHECK(order("SELECT id FROM events ORDER BY id LIMIT $2").limit->param == 2);
  CHECK_FALSE(order("SELECT id FROM events ORDER BY id LIMIT ALL").limit);
  CHECK(order("SELECT id FROM events FETCH FIRST 3 ROWS ONLY").limit->literal == "3");
  // Not mergeable, with the reason.
  CHECK(order("SELECT id FROM events ORDER BY lower(name)").unmergeable.find("expression") != std::string::npos);
  CHECK(order("SELECT id FROM events ORDER BY id OFFSET 5").unmergeable.find("OFFSET") != std::string::npos);
  CHECK(order("SELECT id FROM events ORDER BY id LIMIT 2 + 2").unmergeable.find("LIMIT") != std::string::npos);
  CHECK(order("SELECT id FROM events ORDER BY name COLLATE \"de_DE\"").unmergeable.find("de_DE") != std::string::npos);
  CHECK(order("SELECT id FROM events ORDER BY id FETCH FIRST 2 ROWS WITH TIES").unmergeable.find("TIES") !=
        std::string::npos);
  CHECK(order("SELECT id FROM events ORDER BY id USING <").unmergeable.find("USING") != std::string::npos);
}

TEST_CASE("comment hints are read from real comments only") {
  Analysis a = analyze("/* pgroute: shard_key=42 */ SELECT * FROM events");
  CHECK(a.hint_shard_key == "42");
  CHECK_FALSE(a.hint_alias);
  CHECK(analyze("SELECT * FROM events -- pgroute: alias=shard_1").hint_alias == "shard_1");
  CHECK(analyze("SELECT 1 /*pgroute:alias=s2*/").hint_alias == "s2");
  Analysis quoted = analyze("/* pgroute: shard_key='a b''c', alias=s1 */ SELECT 1");
  CHECK(quoted.hint_shard_key == "a b'c");
  CHECK(quoted.hint_alias == "s1");
  // Text that only looks like a hint: inside string literals, dollar quotes, or not at the start.
  CHECK_FALSE(analyze("SELECT '/* pgroute: alias=x */' FROM events").hint_alias);
  CHECK_FALSE(analyze("SELECT $$ /* pgroute: alias=x */ $$").hint_alias);
  CHECK_FALSE(analyze("SELECT E'\\' /* pgroute: alias=x */'").hint_alias);
  CHECK_FALSE(analyze("/* note: pgroute: alias=x */ SELECT 1").hint_alias);
  CHECK_FALSE(analyze("/* pgroute: colour=blue */ SELECT 1").hint_alias);
  // Nested comments are one comment in PostgreSQL.
  CHECK(analyze("/* pgroute: alias=outer /* inner */ */ SELECT 1").hint_alias == "outer");
  // First occurrence wins; hints survive an unparseable statement.
  CHECK(analyze("/* pgroute: alias=a */ /* pgroute: alias=b */ SELECT 1").hint_alias == "a");
  Analysis broken = analyze("/* pgroute: alias=s3 */ SELEC 1");
  CHECK(broken.kind == StatementKind::Unparsed);
  CHECK(broken.hint_alias == "s3");
}

TEST_CASE("UPDATE assignments are recorded for shard-key moves") {
  Analysis a = analyze("UPDATE events SET user_id = 7, n = n + 1, payload = $2 WHERE user_id = 5");
  REQUIRE(a.updated_columns.size() == 3);
  CHECK(a.updated_columns[0].column == "user_id");
  CHECK(a.updated_columns[0].table == "events");
  CHECK(a.updated_columns[0].literal == "7");
  CHECK(a.updated_columns[1].param == -1);  // an expression
  CHECK(a.updated_columns[2].param == 2);
  CHECK(analyze("SELECT * FROM events").updated_columns.empty());
}

TEST_CASE("parameters, counts and error text") {
  CHECK(analyze("SELECT $3, $1 FROM events WHERE user_id = $2").max_param == 3);
  CHECK(analyze("SELECT 1").max_param == 0);
  Analysis bad = analyze("SELEC 1");
  CHECK(bad.kind == StatementKind::Unparsed);
  CHECK(bad.error.find("syntax error") != std::string::npos);
  CHECK(bad.statement_count == 1);
  CHECK(analyze("").statement_count == 0);
  // An embedded NUL ends the statement, as it does for PostgreSQL.
  CHECK(analyze(std::string_view("SELECT 1\0garbage", 16)).kind == StatementKind::Read);
}

TEST_CASE("limits: big IN lists and INSERTs give up safely") {
  std::string in = "SELECT * FROM events WHERE user_id IN (";
  for (int i = 0; i < 5000; ++i) in += (i ? "," : "") + std::to_string(i);
  in += ") AND tenant = 1";
  Analysis a = analyze(in);
  // The IN list would exceed kMaxKeyRows: it is dropped, the other conjunct stays.
  REQUIRE(a.key_rows.size() == 1);
  REQUIRE(a.key_rows[0].size() == 1);
  CHECK(a.key_rows[0][0].column == "tenant");

  std::string insert = "INSERT INTO events (user_id) VALUES ";
  for (size_t i = 0; i <= kMaxKeyRows; ++i) insert += (i ? ",(" : "(") + std::to_string(i) + ")";
  Analysis big = analyze(insert);
  REQUIRE(big.key_rows.size() == 1);
  CHECK(big.key_rows[0].empty());  // no key known rather than a partial list of rows

  std::string fits = "INSERT INTO events (user_id) VALUES (1)";
  for (int i = 2; i <= 100; ++i) fits += ",(" + std::to_string(i) + ")";
  CHECK(analyze(fits).key_rows.size() == 100);
}

TEST_CASE("deep nesting and random bytes never crash") {
  std::string deep = "SELECT " + std::string(20000, '(') + "1" + std::string(20000, ')');
  Analysis a = analyze(deep);
  CHECK(a.kind == StatementKind::Unparsed);
  CHECK_FALSE(a.error.empty());

  // Left-deep chains are the dangerous shape: one tree level per two bytes. 4000 levels would
  // overflow an 8 MB stack in libpg_query/protobuf-c; long statements get a private stack.
  auto chain = [](int n) {
    std::string s = "SELECT * FROM events WHERE user_id = 1 AND x = 1";
    for (int i = 0; i < n; ++i) s += "+1";
    return s;
  };
  Analysis medium = analyze(chain(4000));
  CHECK(medium.kind == StatementKind::Read);
  CHECK(medium.tables.size() == 1);
  CHECK(medium.key_rows.size() == 1);
  Analysis huge = analyze(chain(150000));  // parsed, but deeper than the walk goes
  CHECK(huge.kind == StatementKind::Unparsed);
  CHECK(huge.too_complex);
  CHECK_FALSE(huge.error.empty());
  Analysis too_long = analyze("SELECT 1 " + std::string(kMaxAnalyzedBytes, ' '));
  CHECK(too_long.kind == StatementKind::Unparsed);
  CHECK(too_long.too_complex);
  CHECK_FALSE(analyze("SELEC 1").too_complex);  // a syntax error is not "too complex"

  // A long but shallow statement (parsed on the private stack) is analysed in full.
  std::string bulk = "INSERT INTO events (user_id, payload) VALUES ";
  for (int i = 0; i < 1000; ++i)
    bulk += (i ? ",(" : "(") + std::to_string(i) + ", 'payload number " + std::to_string(i) + "')";
  REQUIRE(bulk.size() > kInlineAnalyzeBytes);
  Analysis bulk_analysis = analyze(bulk);
  CHECK(bulk_analysis.kind == StatementKind::Write);
  REQUIRE(bulk_analysis.key_rows.size() == 1000);
  CHECK(bulk_analysis.key_rows[999][0].literal == "999");

  std::string subqueries = "SELECT * FROM events WHERE user_id IN ";
  for (int i = 0; i < 500; ++i) subqueries += "(SELECT user_id FROM events WHERE user_id IN ";
  subqueries += "(1)" + std::string(500, ')');
  Analysis nested = analyze(subqueries);
  CHECK((nested.kind == StatementKind::Read || nested.kind == StatementKind::Unparsed));

  const std::string seeds[] = {
      "SELECT * FROM events e JOIN users u ON u.id = e.user_id WHERE e.user_id = 42",
      "WITH x AS (DELETE FROM t WHERE a = $1 RETURNING *) INSERT INTO y (a) VALUES ($2), (3)",
      "/* pgroute: shard_key='x' */ UPDATE t SET a = 1 WHERE b IN (1, 2) AND c = 'it''s'",
      "BEGIN; SET pgroute.shard_key = 4; COPY t FROM STDIN; COMMIT",
  };
  std::mt19937 rng(12345);
  int analysed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string s = seeds[rng() % 4];
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0: s.erase(pos, 1 + rng() % 8); break;
        case 1: s.insert(pos, 1, static_cast<char>(rng() % 256)); break;
        case 2: s[pos] = "();,'\"$*/-"[rng() % 10]; break;
        default: s = s.substr(0, pos); break;
      }
    }
    Analysis r = analyze(s);
    if (r.kind == StatementKind::Unparsed) CHECK_FALSE(r.error.empty());
    ++analysed;
  }
  CHECK(analysed == 3000);
}

TEST_CASE("session state that outlives a transaction is named; what ends with it is not") {
  struct Case {
    const char* sql;
    SessionStateKind state;
  };
  const Case cases[] = {
      {"LISTEN jobs", SessionStateKind::listen},
      {"SELECT pg_advisory_lock(42)", SessionStateKind::advisory_lock},
      {"SELECT pg_catalog.pg_try_advisory_lock(1, 2)", SessionStateKind::advisory_lock},
      {"SELECT x FROM t WHERE pg_try_advisory_lock_shared(t.id)", SessionStateKind::advisory_lock},
      {"SELECT CASE WHEN $1 THEN pg_advisory_lock_shared(7) END", SessionStateKind::advisory_lock},
      {"CREATE TEMP TABLE scratch (x int)", SessionStateKind::temporary},
      {"CREATE TEMPORARY TABLE scratch AS SELECT 1", SessionStateKind::temporary},
      {"SELECT 1 AS x INTO TEMP scratch", SessionStateKind::temporary},
      {"CREATE TEMP VIEW v AS SELECT 1", SessionStateKind::temporary},
      {"CREATE TEMP SEQUENCE s", SessionStateKind::temporary},
      {"DECLARE c CURSOR WITH HOLD FOR SELECT 1", SessionStateKind::holdable_cursor},
      {"LOAD 'auto_explain'", SessionStateKind::load},
      {"PREPARE q (int) AS SELECT $1", SessionStateKind::prepared_statement},
      {"prepare q as insert into t values (1)", SessionStateKind::prepared_statement},
      {"SET ROLE tenant_42", SessionStateKind::role},
      {"set session authorization other_user", SessionStateKind::role},
      {"SELECT set_config('role', 'tenant_42', false)", SessionStateKind::role},
      {"SELECT pg_catalog.set_config('ROLE', $1, false)", SessionStateKind::role},
      {"SELECT set_config($1, $2, false)", SessionStateKind::role},
      {"LISTEN a; LOAD 'b'", SessionStateKind::load},
      {"BEGIN; SELECT 1; LISTEN a; COMMIT", SessionStateKind::listen},
      // Ends with the transaction, or leaves nothing.
      {"SELECT pg_advisory_xact_lock(42)", SessionStateKind::none},
      {"SELECT pg_advisory_unlock(42)", SessionStateKind::none},
      {"CREATE TABLE temperatures (temp int)", SessionStateKind::none},
      {"CREATE TEMP TABLE scratch (x int) ON COMMIT DROP", SessionStateKind::none},
      {"CREATE TEMP TABLE scratch ON COMMIT DROP AS SELECT 1", SessionStateKind::none},
      {"CREATE TEMP TABLE scratch (x int) ON COMMIT DELETE ROWS", SessionStateKind::temporary},
      {"SELECT temp FROM temperatures", SessionStateKind::none},
      {"DECLARE c CURSOR FOR SELECT 1", SessionStateKind::none},
      {"UNLISTEN *", SessionStateKind::none},
      {"PREPARE TRANSACTION 'tx1'", SessionStateKind::none},
      {"SET LOCAL ROLE tenant_42", SessionStateKind::none},
      {"RESET ROLE", SessionStateKind::none},
      {"SELECT set_config('role', 'tenant_42', true)", SessionStateKind::none},
      {"SELECT set_config('app.tenant', '42', false)", SessionStateKind::none},
      {"SELECT role FROM members", SessionStateKind::none},
      {"EXECUTE q(1)", SessionStateKind::none},
      {"DEALLOCATE PREPARE q", SessionStateKind::none},
      {"NOTIFY jobs", SessionStateKind::none},
      {"SELECT 'pg_advisory_lock(1)'", SessionStateKind::none},
  };
  for (const Case& c : cases) {
    CAPTURE(c.sql);
    CHECK(analyze(c.sql).session_state == c.state);
    // The text scan that spares the parse never rules out a statement that leaves state.
    if (c.state != SessionStateKind::none) CHECK(scan_session_words(c.sql).leaves);
  }
  CHECK(session_state_name(SessionStateKind::advisory_lock) == "a session advisory lock");
}

TEST_CASE("set_config() of a parameter for the session is named; for the transaction, or of the role, it is not") {
  for (const char* sql :
       {"SELECT set_config('app.tenant', '42', false)", "select set_config('search_path', $1, false)",
        "SELECT x FROM t WHERE set_config('app.user', t.name, $2) IS NOT NULL", "SELECT set_config($1, $2, false)"}) {
    CAPTURE(sql);
    CHECK(analyze(sql).sets_config);
    CHECK(scan_session_words(sql).leaves);
  }
  for (const char* sql : {"SELECT set_config('app.tenant', '42', true)", "SELECT set_config('role', 'r', false)",
                          "SELECT current_setting('app.tenant')", "SET app.tenant = '42'"}) {
    CAPTURE(sql);
    CHECK_FALSE(analyze(sql).sets_config);
  }
}

TEST_CASE("SELECT set_config(name, value, false) alone is a session setting whose value the row gives") {
  for (const char* sql : {"SELECT set_config('app.tenant', '42', false)", "select set_config('Search_Path', $1, false)",
                          "SELECT pg_catalog.set_config('app.tenant', $1::text, false)"}) {
    CAPTURE(sql);
    const Analysis a = analyze(sql);
    REQUIRE(a.session_setting);
    CHECK(a.session_setting->value_from_result);
    CHECK_FALSE(a.session_setting->value);
    CHECK(may_set_parameter(sql, scan_session_words(sql)));
  }
  const char* commented = "/* c */ SELECT SET_CONFIG('a', 'b', false)";
  CHECK(may_set_parameter(commented, scan_session_words(commented)));
  CHECK(analyze("/* c */ SELECT SET_CONFIG('a', 'b', false)").session_setting);
  CHECK(analyze("select set_config('Search_Path', $1, false)").session_setting->name == "search_path");
  for (const char* sql : {"SELECT set_config('app.tenant', '42', true)", "SELECT set_config('app.tenant', '42', $2)",
                          "SELECT set_config('app.tenant', '42', false), 1", "SELECT set_config($1, '42', false)",
                          "SELECT set_config('app.tenant', t.v, false) FROM t", "SELECT set_config('role', 'r', false)",
                          "SELECT set_config('a', '1', false); SELECT 1"}) {
    CAPTURE(sql);
    CHECK_FALSE(analyze(sql).session_setting);
  }
}

TEST_CASE("one scan finds every word that matters to session state, in any case and anywhere") {
  struct Case {
    const char* sql;
    bool leaves, ends, sets_config;
  };
  const Case cases[] = {
      {"select 1 from accounts where id = 7", false, false, false},
      {"", false, false, false},
      {"LISTEN x", true, false, false},
      {"UNLISTEN x", true, true, false},  // holds "listen" too: looked at, found to leave nothing
      {"SELECT pg_ADVISORY_LOCK(1)", true, false, false},
      {"select pg_advisory_unlock(1)", false, true, false},
      {"CREATE TEMP TABLE t (x int)", true, false, false},
      {"DECLARE c CURSOR WITH HOLD FOR SELECT 1", true, false, false},
      {"LOAD 'x'", true, false, false},
      {"PREPARE q AS SELECT 1", true, false, false},
      {"SET ROLE r", true, true, false},
      {"SET SESSION AUTHORIZATION DEFAULT", true, true, false},
      {"SELECT SET_CONFIG('a', 'b', false)", true, true, true},
      {"DISCARD ALL", false, true, false},
      {"DROP TABLE t", false, true, false},
      {"CLOSE c", false, true, false},
      {"DEALLOCATE q", false, true, false},
      {"ROLLBACK", false, true, false},
      {"ABORT", false, true, false},
      {"x rol", false, false, false},  // a word cut by the end of the text
      // DEL and '_' look alike to the four-byte filter; the words are told apart letter by letter
      {"SELECT set\x7f"
       "config('a', 'b', false)",
       false, false, false},
      {"SELECT pg_advisory\x7flock(1)", false, false, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.sql);
    const SessionWords w = scan_session_words(c.sql);
    CHECK(w.leaves == c.leaves);
    CHECK(w.ends == c.ends);
    CHECK(w.sets_config == c.sets_config);
  }
}

// The scan skips positions by their first two letters and four bytes folded; a plain case-insensitive search for each word
// must find the same, whatever the text.
TEST_CASE("the session word scan agrees with a plain search on random text") {
  struct Word {
    std::string text;
    bool leaves, ends, sets_config;
  };
  const std::vector<Word> words = {
      {"abort", false, true, false},    {"advisory_lock", true, false, false}, {"authorization", true, true, false},
      {"close", false, true, false},    {"deallocate", false, true, false},    {"discard", false, true, false},
      {"drop", false, true, false},     {"hold", true, false, false},          {"listen", true, false, false},
      {"load", true, false, false},     {"prepare", true, false, false},       {"role", true, true, false},
      {"rollback", false, true, false}, {"set_config", true, true, true},      {"temp", true, false, false},
      {"unlisten", false, true, false}, {"unlock", false, true, false},
  };
  const std::vector<std::string> pieces = {"ab", "ort", "adv", "isory_lock", "ro", "le", "set_", "config", "te", "mp",
                                           "un", "listen", "lock", " ", "_", "x", "Q", "'", "$1", "é",
                                           // DEL folds onto '_' in the scan's four-byte filter
                                           "\x7f", "se", "t"};
  std::mt19937 rng(20261207);
  for (int round = 0; round < 20000; ++round) {
    std::string sql;
    const size_t n = rng() % 8;
    for (size_t k = 0; k < n; ++k) {
      std::string piece = pieces[rng() % pieces.size()];
      for (char& c : piece)
        if (rng() % 3 == 0 && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      sql += piece;
    }
    std::string folded = sql;
    for (char& c : folded)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    SessionWords expected;
    for (const Word& w : words)
      if (folded.find(w.text) != std::string::npos) {
        expected.leaves |= w.leaves;
        expected.ends |= w.ends;
        expected.sets_config |= w.sets_config;
      }
    CAPTURE(sql);
    const SessionWords got = scan_session_words(sql);
    REQUIRE(got.leaves == expected.leaves);
    REQUIRE(got.ends == expected.ends);
    REQUIRE(got.sets_config == expected.sets_config);
  }
}

TEST_CASE("statements that may end kept session state are found by the text scan; others are not") {
  for (const char* sql :
       {"UNLISTEN *", "unlisten jobs", "SELECT pg_advisory_unlock(42)", "SELECT pg_catalog.pg_advisory_unlock_all()",
        "SELECT pg_advisory_unlock_shared(1, 2)", "DISCARD ALL", "discard temp", "DROP TABLE scratch", "CLOSE ALL",
        "close c", "ROLLBACK", "abort", "BEGIN; SELECT 1; ROLLBACK"}) {
    CAPTURE(sql);
    CHECK(scan_session_words(sql).ends);
  }
  for (const char* sql : {"SELECT 1", "LISTEN jobs", "SELECT pg_advisory_lock(42)", "COMMIT",
                          "INSERT INTO t VALUES (1)", "CREATE TEMP TABLE scratch (x int)", "NOTIFY jobs"}) {
    CAPTURE(sql);
    CHECK_FALSE(scan_session_words(sql).ends);
  }
}

TEST_CASE("a session-level SET or RESET of one parameter is read as the proxy can repeat it") {
  struct Case {
    const char* sql;
    std::optional<SessionSetting> setting;
  };
  const Case cases[] = {
      {"SET statement_timeout = 5000", SessionSetting{"statement_timeout", "5000"}},
      {"set Statement_Timeout to '2s'", SessionSetting{"statement_timeout", "2s"}},
      {"SET SESSION work_mem = '64MB'", SessionSetting{"work_mem", "64MB"}},
      {"SET search_path TO app", SessionSetting{"search_path", "app"}},
      {"SET search_path TO \"$user\", Public, \"Mixed Case\"",
       SessionSetting{"search_path", "\"$user\", public, \"Mixed Case\""}},
      {"SET DateStyle = ISO, DMY", SessionSetting{"datestyle", "iso, dmy"}},
      {"SET TIME ZONE 'Europe/Paris'", SessionSetting{"timezone", "Europe/Paris"}},
      {"SET enable_seqscan = off", SessionSetting{"enable_seqscan", "off"}},
      {"SET lock_timeout TO DEFAULT", SessionSetting{"lock_timeout", std::nullopt}},
      {"RESET client_min_messages", SessionSetting{"client_min_messages", std::nullopt}},
      {"SET myapp.tenant = 'x'", SessionSetting{"myapp.tenant", "x"}},  // e.g. for row-level security
      {"RESET ALL", SessionSetting{{}, std::nullopt, false, true}},     // back to the startup packet's
      // Not repeated: transaction-scoped, not constants, several statements, the proxy's own, privileges.
      {"SET LOCAL statement_timeout = 5000", std::nullopt},
      {"SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE", std::nullopt},
      {"SET statement_timeout = 1; SELECT 1", std::nullopt},
      {"SELECT 1; SET statement_timeout = 1", std::nullopt},
      {"SET pgroute.shard_key = 42", std::nullopt},
      {"SET ROLE admin", std::nullopt},
      {"SET SESSION AUTHORIZATION admin", std::nullopt},
      {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", std::nullopt},
  };
  for (const Case& c : cases) {
    CAPTURE(c.sql);
    const Analysis a = analyze(c.sql);
    CHECK(a.session_setting == c.setting);
  }
}
