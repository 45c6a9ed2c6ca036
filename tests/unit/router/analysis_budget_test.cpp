// Analysis of one statement is linear in its size and bounded (issue 16, defect 1): long AND chains,
// many tables or CTEs, and cross products of IN lists cost work in proportion to the text, and a
// statement past the node budget comes back too_complex instead of stalling its worker.
#include <doctest/doctest.h>

#include <string>

#include "router/analyzer.hpp"
#include "router/depth_estimate.hpp"
#include "router/key_extractor.hpp"
#include "router/router_chain.hpp"

using namespace pgroute::router;

namespace {

std::string and_chain(int conjuncts) {
  std::string sql = "select 1 from t where a=1";
  for (int i = 1; i < conjuncts; ++i) sql += " and a=1";
  return sql;
}

size_t key_values(const Analysis& a) {
  size_t n = 0;
  for (const auto& row : a.key_rows) n += row.size();
  return n;
}

// Work per unit of input must not grow with the input: 4x the text may cost at most ~4x the work
// (5x leaves room for constant parts; quadratic growth would be 16x).
void check_linear(const Analysis& small, const Analysis& large) {
  REQUIRE(small.work > 0);
  CHECK(large.work < 5 * small.work);
}

}  // namespace

TEST_CASE("analysis budget: a 60,000-conjunct AND chain is analysed in full, in linear work") {
  Analysis ten = analyze(and_chain(10000));
  Analysis forty = analyze(and_chain(40000));
  CHECK(ten.kind == StatementKind::Read);
  CHECK(forty.kind == StatementKind::Read);
  CHECK_FALSE(forty.too_complex);
  REQUIRE(forty.key_rows.size() == 1);
  CHECK(forty.key_rows[0].size() == 40000);
  check_linear(ten, forty);

  // The probe's statement (under 1 MB): before the fix this took over a minute.
  std::string probe = and_chain(60000);
  REQUIRE(probe.size() < kMaxAnalyzedBytes);
  Analysis a = analyze(probe);
  CHECK(a.kind == StatementKind::Read);
  CHECK(a.tables.size() == 1);
  REQUIRE(a.key_rows.size() == 1);
  CHECK(a.key_rows[0].back().column == "a");
}

TEST_CASE("analysis budget: IN-list cross products times a long chain stay within kMaxKeyValues") {
  auto sql = [](int tail) {
    std::string s = "select 1 from t where k in (1,2)";
    for (int i = 0; i < 11; ++i) s += " and c" + std::to_string(i) + " in (1,2)";  // 4096 rows
    for (int i = 0; i < tail; ++i) s += " and z=1";
    return s;
  };
  Analysis small = analyze(sql(2000));
  Analysis large = analyze(sql(8000));
  CHECK(small.key_rows.size() == 4096);
  CHECK(key_values(small) <= kMaxKeyValues);
  CHECK(key_values(large) <= kMaxKeyValues);
  check_linear(small, large);
  // Every row still carries the first conjuncts: dropping later ones only loosens the statement.
  for (const auto& row : large.key_rows) {
    REQUIRE_FALSE(row.empty());
    CHECK(row.front().column == "k");
  }
}

TEST_CASE("analysis budget: many tables, FROM names and CTEs cost linear work") {
  auto from_list = [](int n) {
    std::string s = "select 1 from t0";
    for (int i = 1; i < n; ++i) s += ", t" + std::to_string(i);
    s += " where t0.a = 1";
    for (int i = 1; i < n; ++i) s += " and t" + std::to_string(i) + ".a = 1";
    return s;
  };
  Analysis small = analyze(from_list(250));
  Analysis large = analyze(from_list(1000));
  CHECK(small.tables.size() == 250);
  CHECK(large.tables.size() == 1000);
  REQUIRE(large.key_rows.size() == 1);
  CHECK(large.key_rows[0].size() == 1000);
  CHECK(large.key_rows[0][999].table == "t999");
  check_linear(small, large);

  auto ctes = [](int n) {
    std::string s = "with c0 as (select 1)";
    for (int i = 1; i < n; ++i) s += ", c" + std::to_string(i) + " as (select * from c" + std::to_string(i - 1) + ")";
    s += " select * from c" + std::to_string(n - 1) + ", real_table";
    return s;
  };
  Analysis few = analyze(ctes(2000));
  Analysis many = analyze(ctes(8000));
  REQUIRE(many.tables.size() == 1);
  CHECK(many.tables[0].name == "real_table");
  check_linear(few, many);

  auto statements = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "select 1 from t" + std::to_string(i % kMaxAnalyzedTables) + ";";
    return s;
  };
  check_linear(analyze(statements(2000)), analyze(statements(8000)));
}

TEST_CASE("analysis budget: past the node budget, the table cap or the depth estimate a statement is too complex") {
  // A long IN list is shallow but dense: three parse nodes per two bytes of text.
  std::string dense = "select * from t where a = 1 and b in (1";
  while (dense.size() < kMaxAnalyzedBytes - 16) dense += ",1";
  dense += ")";
  Analysis a = analyze(dense);
  CHECK(a.kind == StatementKind::Unparsed);
  CHECK(a.too_complex);
  CHECK(a.error.find("too complex") != std::string::npos);
  CHECK(a.work <= kMaxAnalyzedNodes + 1);  // the walk stopped at the budget

  // A left-deep chain nests one level per operator; libpg_query's cost grows with the square of the
  // depth (98 s for this one), so it is refused from its tokens, before parsing (no work at all).
  std::string deep = "select * from t where a = 1 and b = 1";
  for (int i = 0; i < 200000; ++i) deep += (i % 2 ? "+1" : "*1");
  Analysis d = analyze(deep);
  CHECK(d.too_complex);
  CHECK(d.work == 0);
  CHECK(d.error.find("nested") != std::string::npos);
  CHECK(estimate_nesting_depth("select f(1+2, g(3*4)) from t where a = 1 and b = 2") < 10);

  std::string tables = "select 1 from t0";
  for (size_t i = 1; i <= kMaxAnalyzedTables; ++i) tables += ", t" + std::to_string(i);
  Analysis wide = analyze(tables);
  CHECK(wide.too_complex);
  CHECK(wide.error.find("tables") != std::string::npos);

  // Refused by the chain (54001) unless an alias hint says where it goes.
  RouterChain chain("main", {}, {"main", "other"});
  RouteContext ctx;
  ctx.analysis = &a;
  auto routed = chain.route(ctx);
  REQUIRE(std::holds_alternative<RouteError>(routed));
  CHECK(std::get<RouteError>(routed).sqlstate == "54001");
  Analysis hinted = analyze("/* pgroute: alias=other */ " + dense);
  ctx.analysis = &hinted;
  routed = chain.route(ctx);
  REQUIRE(std::holds_alternative<RouteDecision>(routed));
  CHECK(std::get<RouteDecision>(routed).alias == "other");
}

TEST_CASE("analysis budget: deep nesting never crashes") {
  for (const char* open : {"(", "(a=1 or ", "(a=1 and ", "not ("}) {
    std::string sql = "select 1 from t where ";
    std::string close;
    for (int i = 0; i < 10000; ++i) {
      sql += open;
      close += ")";
    }
    sql += "a=1" + close;
    Analysis a = analyze(sql);
    // libpg_query's own stack depth limit or our walk's depth limit: either way an answer.
    CHECK((a.kind == StatementKind::Read || a.kind == StatementKind::Unparsed));
    if (a.kind == StatementKind::Unparsed) CHECK_FALSE(a.error.empty());
  }
  // Nested scalar subqueries that the parser still takes (it gives up near 3,000): each level is several
  // frames of the relation walk, which an ASan build makes 2.5 KB each.
  for (int levels : {600, 1500, 2500}) {
    std::string sql = "select * from events where user_id = ";
    for (int i = 0; i < levels; ++i) sql += "(select ";
    sql += "1" + std::string(static_cast<size_t>(levels), ')');
    CAPTURE(levels);
    Analysis a = analyze(sql);
    CHECK((a.kind == StatementKind::Read || a.kind == StatementKind::Unparsed));
  }
}
