// AnalysisCache: a repeated SQL text is a hit returning the same analysis; least recently used goes.

#include <doctest/doctest.h>

#include <string>

#include "router/analysis_cache.hpp"

using namespace pgroute::router;

TEST_CASE("hits return the cached analysis; misses analyse") {
  AnalysisCache cache(4);
  auto first = cache.get("SELECT * FROM events WHERE user_id = 1");
  REQUIRE(first);
  CHECK(first->kind == StatementKind::Read);
  CHECK(cache.misses() == 1);
  CHECK(cache.hits() == 0);
  auto again = cache.get(std::string("SELECT * FROM events WHERE user_id = 1"));
  CHECK(again.get() == first.get());
  CHECK(cache.hits() == 1);
  CHECK(cache.size() == 1);
  // Texts differ by a byte: different entries.
  auto other = cache.get("SELECT * FROM events WHERE user_id = 2");
  CHECK(other.get() != first.get());
  CHECK(other->key_rows.at(0).at(0).literal == "2");
  CHECK(cache.size() == 2);
}

TEST_CASE("least recently used entries are evicted at capacity") {
  AnalysisCache cache(2);
  auto a = cache.get("SELECT 1");
  cache.get("SELECT 2");
  cache.get("SELECT 1");  // refresh: "SELECT 2" is now the oldest
  cache.get("SELECT 3");
  CHECK(cache.size() == 2);
  CHECK(cache.evictions() == 1);
  CHECK(cache.peek("SELECT 1"));
  CHECK_FALSE(cache.peek("SELECT 2"));
  CHECK(cache.peek("SELECT 3"));
  // An evicted analysis stays valid for whoever holds it.
  cache.get("SELECT 4");
  cache.get("SELECT 5");
  CHECK_FALSE(cache.peek("SELECT 1"));
  CHECK(a->kind == StatementKind::Read);
  CHECK(cache.capacity() == 2);
}

TEST_CASE("peek neither counts nor refreshes; long texts are not kept; clear empties") {
  AnalysisCache cache(2, 32);
  CHECK_FALSE(cache.peek("SELECT 1"));
  CHECK(cache.hits() == 0);
  CHECK(cache.misses() == 0);
  std::string long_sql = "SELECT * FROM events WHERE user_id = 123456789";
  REQUIRE(long_sql.size() > 32);
  auto analysed = cache.get(long_sql);
  CHECK(analysed->tables.size() == 1);
  CHECK(cache.size() == 0);
  CHECK(cache.misses() == 1);
  cache.get("SELECT 1");
  cache.clear();
  CHECK(cache.size() == 0);
  CHECK_FALSE(cache.peek("SELECT 1"));
  AnalysisCache tiny(0);  // at least one entry
  tiny.get("SELECT 1");
  CHECK(tiny.size() == 1);
}
