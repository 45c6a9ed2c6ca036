// The per-worker cache of shard keys' places (proxy/session/column_order_cache.hpp): failures are kept briefly,
// fresh orders are not forgotten on the first server error.
#include <doctest/doctest.h>

#include "proxy/session/column_order_cache.hpp"

using pgroute::ColumnOrderCache;
using pgroute::router::KeyPosition;

namespace {

const auto t0 = ColumnOrderCache::Clock::time_point{} + std::chrono::hours(1);
const auto settle = ColumnOrderCache::kSettle;

KeyPosition known(int position) { return {KeyPosition::State::Known, position, {}, {}}; }

}  // namespace

TEST_CASE("column order cache: a failure is answered for kSettle, then learnt again") {
  ColumnOrderCache cache;
  cache.store("events", "user_id", {KeyPosition::State::Failed, 0, "42P01", "no table"}, t0);
  auto hit = cache.find("events", "user_id", t0 + settle / 2);
  REQUIRE(hit);
  CHECK(hit->state == KeyPosition::State::Failed);
  CHECK(hit->sqlstate == "42P01");
  CHECK_FALSE(cache.find("events", "user_id", t0 + settle));
  CHECK_FALSE(cache.find("events", "other", t0));
}

TEST_CASE("column order cache: an order learnt less than kSettle ago is not forgotten") {
  ColumnOrderCache cache;
  cache.store("events", "user_id", known(2), t0);
  CHECK_FALSE(cache.forget("events", t0 + settle / 2));
  auto hit = cache.find("events", "user_id", t0 + settle * 10);  // a known order does not expire
  REQUIRE(hit);
  CHECK(hit->position == 2);
  CHECK(cache.forget("events", t0 + settle));
  CHECK_FALSE(cache.find("events", "user_id", t0 + settle));
  CHECK_FALSE(cache.forget("events", t0 + settle));  // nothing left
}
