// Constants of simple queries become $n parameters so one cached analysis serves them all.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/session/literal_normalizer.hpp"
#include "router/analyzer.hpp"

using namespace pgroute;

namespace {
struct Result {
  bool changed;
  std::string text;
  std::vector<std::string> literals;
};
Result norm(std::string_view sql) {
  NormalizedSql out;
  bool changed = normalize_literals(sql, out);
  return {changed, changed ? out.text : std::string(), changed ? out.literals : std::vector<std::string>{}};
}
}  // namespace

TEST_CASE("normalizer: numbers and standard strings become parameters") {
  auto r = norm("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");
  CHECK(r.changed);
  CHECK(r.text == "SELECT abalance FROM pgbench_accounts WHERE aid = $1;");
  CHECK(r.literals == std::vector<std::string>{"12345"});

  r = norm("INSERT INTO t (a, b, c) VALUES (1.5, 'it''s', 2e10)");
  CHECK(r.text == "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)");
  CHECK(r.literals == std::vector<std::string>{"1.5", "it's", "2e10"});

  // Two texts differing only in constants normalize to the same text.
  CHECK(norm("select * from t1 where id=7").text == norm("select * from t1 where id=99").text);
}

TEST_CASE("normalizer: leaves identifiers, comments and prefixed constants alone") {
  auto r =
      norm("/* pgroute: shard_key=42 */ SELECT col2 FROM \"t 3\" -- 5\nWHERE x = E'a\\'b' AND y = X'1F' AND w = 8");
  CHECK(r.changed);
  CHECK(r.text ==
        "/* pgroute: shard_key=42 */ SELECT col2 FROM \"t 3\" -- 5\nWHERE x = E'a\\'b' AND y = X'1F' AND w = $1");
  CHECK(r.literals == std::vector<std::string>{"8"});
  CHECK(norm("/* a /* nested */ 5 */ SELECT 1").text == "/* a /* nested */ 5 */ SELECT $1");
  CHECK(norm("SELECT \"a\"\"1\" FROM t WHERE k = 'x'").text == "SELECT \"a\"\"1\" FROM t WHERE k = $1");
}

TEST_CASE("normalizer: declines what it cannot do safely") {
  CHECK_FALSE(norm("SELECT $1").changed);     // has its own parameters
  CHECK_FALSE(norm("SELECT $$5$$").changed);  // dollar quotes
  CHECK_FALSE(norm("SELECT now()").changed);  // no constants
  CHECK_FALSE(norm("SELECT 'unterminated").changed);
  CHECK_FALSE(norm("SELECT 1 /* open").changed);
  CHECK_FALSE(norm("SELECT 123abc").changed);
  NormalizedSql out;
  CHECK_FALSE(normalize_literals("SELECT 1, 2, 3", out, 0));  // over the limit: nothing replaced
}

// Found by tests/fuzz/fuzz_normalizer: past the 64th constant numbers are kept as text, and one glued to
// a string that became $64 made "$649", another parameter than the text meant.
TEST_CASE("normalizer: a string glued to the next token stays a string, so $n never runs into it") {
  std::string sql = "SELECT ";
  for (int i = 0; i < 63; ++i) sql += std::to_string(i) + ", ";
  sql += "''9";
  auto r = norm(sql);
  CHECK(r.changed);
  CHECK(r.literals.size() == 64);  // 0..62, then the 9: the string stays
  CHECK(r.text.ends_with("$63, ''$64"));
  CHECK(r.literals.back() == "9");
  CHECK(norm("SELECT 'a'b, 1").text == "SELECT 'a'b, $1");
}

TEST_CASE("normalizer: the router's parser reads the normalized text, or the caller falls back") {
  auto ok = norm("UPDATE events SET payload = 'x' WHERE user_id = 42");
  auto a = router::analyze(ok.text);
  CHECK(a.kind == router::StatementKind::Write);
  REQUIRE(a.key_rows.size() == 1);
  bool found = false;
  for (const auto& kv : a.key_rows[0])
    if (kv.column == "user_id") found = kv.param == 2;
  CHECK(found);
  // A constant where the grammar takes no parameter: the normalized text does not parse.
  CHECK(router::analyze(norm("CREATE TABLE t (a varchar(10))").text).kind == router::StatementKind::Unparsed);
}

TEST_CASE("normalizer: a unary sign goes into the parameter, a binary one stays an operator") {
  // pgbench's TPC-B-like script: every delta, negative or not, shares one text (one cached analysis).
  auto neg = norm("UPDATE pgbench_tellers SET tbalance = tbalance + -1234 WHERE tid = 7;");
  auto pos = norm("UPDATE pgbench_tellers SET tbalance = tbalance + 99 WHERE tid = 3;");
  CHECK(neg.text == "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;");
  CHECK(neg.text == pos.text);
  CHECK(neg.literals == std::vector<std::string>{"-1234", "7"});
  CHECK(norm("INSERT INTO h VALUES (1, -5, - 6, +7)").literals == std::vector<std::string>{"1", "-5", "-6", "7"});
  CHECK(norm("SELECT a[-1] FROM t WHERE k=-2 AND j<>-3").text == "SELECT a[$1] FROM t WHERE k=$2 AND j<>$3");
  // Binary: after a word, a constant or ')' the operator stays and only the number is a parameter.
  CHECK(norm("SELECT a - 5, (b)-6, 7 - 8").text == "SELECT a - $1, (b)-$2, $3 - $4");
  CHECK(norm("SELECT x FROM t WHERE y BETWEEN -5 AND -3").text == "SELECT x FROM t WHERE y BETWEEN -$1 AND -$2");
  // After characters that form one operator with the sign ("@-" is a single operator), nothing moves.
  CHECK(norm("SELECT a @- 5").text == "SELECT a @- $1");
}

TEST_CASE("normalizer: a negative shard key is seen by the router") {
  auto r = norm("SELECT * FROM events WHERE user_id = -42");
  auto a = router::analyze(r.text);
  REQUIRE(a.key_rows.size() == 1);
  REQUIRE(a.key_rows[0].size() == 1);
  CHECK(a.key_rows[0][0].column == "user_id");
  CHECK(a.key_rows[0][0].param == 1);
  CHECK(r.literals == std::vector<std::string>{"-42"});
}
