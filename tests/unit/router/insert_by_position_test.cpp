// INSERT without a column list: the shard router finds the key among the values by the key's position
// in the table, which a ColumnOrderSource (in the proxy: learnt from the shards' catalogs) tells it.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "route_fixture.hpp"
#include "router/column_order.hpp"
#include "router/explain.hpp"
#include "router/router_chain.hpp"
#include "router/shard_hash.hpp"
#include "router/shard_router.hpp"

using namespace pgroute::router;
using pgroute::router::test::decision;
using pgroute::router::test::refusal;
using pgroute::router::test::Statement;

namespace {

// Stands in for the proxy's catalog cache: answers one fixed position and records what was asked.
struct FixedColumnOrder final : ColumnOrderSource {
  KeyPosition answer;
  mutable int calls = 0;
  mutable std::string table, column;
  mutable std::vector<std::string> shards;

  explicit FixedColumnOrder(int position) { answer = {KeyPosition::State::Known, position, {}, {}}; }
  explicit FixedColumnOrder(KeyPosition p) : answer(std::move(p)) {}

  KeyPosition key_position(std::string_view t, std::string_view c, std::span<const std::string> s) const override {
    ++calls;
    table = t;
    column = c;
    shards.assign(s.begin(), s.end());
    return answer;
  }
};

RouterChain events_chain() {
  ShardRouterOptions o;
  o.table = "events";
  o.key = "user_id";
  o.key_type = KeyType::Int8;
  o.method = ShardMethod::Hash;
  o.shards = {"shard_0", "shard_1"};
  std::string error;
  auto router = ShardRouter::create(std::move(o), error);
  REQUIRE_MESSAGE(router, error);
  std::vector<std::unique_ptr<Router>> routers;
  routers.push_back(std::move(router));
  return RouterChain("default", std::move(routers));
}

std::string shard_of(int64_t key) {
  return "shard_" + std::to_string(hash_remainder(*partition_hash(KeyType::Int8, std::to_string(key)), 2));
}

// Two keys on shard_0 and one on shard_1, by PostgreSQL's hash (verified in shard_hash_test.cpp).
struct Keys {
  int64_t a0 = -1, b0 = -1, a1 = -1;
  Keys() {
    for (int64_t k = 1; a0 < 0 || b0 < 0 || a1 < 0; ++k) {
      if (shard_of(k) == "shard_0")
        (a0 < 0 ? a0 : b0 < 0 ? b0 : a0) = k;
      else if (a1 < 0)
        a1 = k;
    }
  }
};

RouteResult route(const RouterChain& chain, const Statement& s, const ColumnOrderSource* order) {
  RouteContext ctx = s.context();
  ctx.column_order = order;
  return chain.route(ctx);
}

}  // namespace

TEST_CASE("INSERT without a column list routes by the key's position, like the named-column form") {
  Keys k;
  RouterChain chain = events_chain();
  FixedColumnOrder first(1), second(2);
  for (int64_t key : {k.a0, k.a1}) {
    const std::string v = std::to_string(key);
    const std::string expected = shard_of(key);
    auto named =
        decision(chain.route(Statement("INSERT INTO events (user_id, payload) VALUES (" + v + ", 'x')").context()));
    CHECK(named.alias == expected);
    auto d = decision(route(chain, Statement("INSERT INTO events VALUES (" + v + ", 'x')"), &first));
    CHECK(d.alias == expected);
    CHECK(d.router == "shard(events)");
    CHECK(d.reason == named.reason);
    // Key in the second column: the first value (a number too) must not be taken for it.
    CHECK(decision(route(chain, Statement("INSERT INTO events VALUES (" + std::to_string(k.a1 + k.a0) + ", " + v + ")"),
                         &second))
              .alias == expected);
    CHECK(decision(route(chain, Statement("INSERT INTO public.events VALUES ('" + v + "', 'x')"), &first)).alias ==
          expected);
  }
  // What the source was asked: the router's table and key, and every shard (to compare them).
  CHECK(first.table == "events");
  CHECK(first.column == "user_id");
  CHECK(first.shards == std::vector<std::string>{"shard_0", "shard_1"});
}

TEST_CASE("INSERT without a column list: bound parameters, text and binary") {
  Keys k;
  RouterChain chain = events_chain();
  FixedColumnOrder order(2);
  Statement bound("INSERT INTO events VALUES (now(), $1, $2)");
  std::string text = std::to_string(k.a1);
  bound.params = {text, "p"};
  CHECK(decision(route(chain, bound, &order)).alias == "shard_1");
  std::string binary(8, '\0');
  int64_t v = k.a1;
  for (int i = 7; i >= 0; --i, v >>= 8) binary[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  bound.params = {binary, "p"};
  bound.formats = {1, 0};
  CHECK(decision(route(chain, bound, &order)).alias == "shard_1");
  bound.params = {std::nullopt, "p"};
  bound.formats = {};
  CHECK(decision(route(chain, bound, &order)).alias == "shard_0");  // NULL hashes to remainder 0
  // Before Bind: which parameter is missing.
  Statement unbound("INSERT INTO events VALUES (now(), $1)");
  CHECK(refusal(route(chain, unbound, &order)).message.find("$1") != std::string::npos);
}

TEST_CASE(
    "INSERT without a column list: multi-row VALUES on one shard routes, across shards is refused as when named") {
  Keys k;
  RouterChain chain = events_chain();
  FixedColumnOrder order(1);
  auto row = [](int64_t x) { return "(" + std::to_string(x) + ", 'p')"; };
  Statement one_shard("INSERT INTO events VALUES " + row(k.a0) + ", " + row(k.b0));
  CHECK(decision(route(chain, one_shard, &order)).alias == "shard_0");
  CHECK(order.calls == 1);  // asked once per statement, not per row

  const std::string spanning_values = row(k.a0) + ", " + row(k.a1);
  RouteError named =
      refusal(chain.route(Statement("INSERT INTO events (user_id, payload) VALUES " + spanning_values).context()));
  RouteError positional = refusal(route(chain, Statement("INSERT INTO events VALUES " + spanning_values), &order));
  CHECK(positional.sqlstate == "0A000");
  CHECK(positional.message == named.message);
  CHECK(positional.message.find("multi-row INSERT spans shards shard_0, shard_1") != std::string::npos);
}

TEST_CASE("INSERT without a column list: no value at the key's position, DEFAULT VALUES: refused for want of a key") {
  RouterChain chain = events_chain();
  FixedColumnOrder order(3);
  for (const char* sql : {"INSERT INTO events DEFAULT VALUES", "INSERT INTO events VALUES (1, 'x')",
                          "INSERT INTO events VALUES (1, 'x', DEFAULT)", "INSERT INTO events VALUES (1, 'x', 2 + 3)",
                          "INSERT INTO events VALUES (1, 'x', 7), (2, 'y')"}) {
    CAPTURE(sql);
    RouteError e = refusal(route(chain, Statement(sql), &order));
    CHECK(e.sqlstate == "0A000");
    CHECK(e.message.find("no shard key user_id") != std::string::npos);
    CHECK(e.router == "shard(events)");
  }
  // DEFAULT VALUES has no values at all: the catalog is not even asked.
  FixedColumnOrder untouched(1);
  refusal(route(chain, Statement("INSERT INTO events DEFAULT VALUES"), &untouched));
  CHECK(untouched.calls == 0);
}

TEST_CASE("INSERT without a column list: unknown position, a failed lookup, and tables not sharded") {
  Keys k;
  RouterChain chain = events_chain();
  const std::string sql = "INSERT INTO events VALUES (" + std::to_string(k.a0) + ", 'x')";

  // No source (pgroute explain offline) or not learnt yet: refused, naming the table and the way out.
  for (const ColumnOrderSource* source : {static_cast<const ColumnOrderSource*>(nullptr),
                                          static_cast<const ColumnOrderSource*>(new FixedColumnOrder(KeyPosition{}))}) {
    RouteError e = refusal(route(chain, Statement(sql), source));
    CHECK(e.sqlstate == "0A000");
    CHECK(e.message.find("INSERT without a column list") != std::string::npos);
    CHECK(e.message.find("events") != std::string::npos);
    CHECK(e.hint.find("INSERT INTO events (user_id, ...)") != std::string::npos);
    delete source;
  }

  // The shards disagree (the proxy compares them): their message, under the router's name.
  FixedColumnOrder disagree(KeyPosition{KeyPosition::State::Failed, 0, "0A000",
                                        "shard_0 has user_id as column 1 of events, shard_1 as column 2"});
  RouteError e = refusal(route(chain, Statement(sql), &disagree));
  CHECK(e.sqlstate == "0A000");
  CHECK(e.message ==
        "pgroute: shard router for \"events\": shard_0 has user_id as column 1 of events, shard_1 as column 2");
  CHECK(e.router == "shard(events)");

  // Tables the router does not shard are never looked up.
  FixedColumnOrder order(1);
  CHECK(decision(route(chain, Statement("INSERT INTO other VALUES (1, 'x')"), &order)).router == "default");
  CHECK(order.calls == 0);
  // The named form never needs it.
  CHECK(decision(route(chain, Statement("INSERT INTO events (user_id) VALUES (1)"), &order)).router == "shard(events)");
  CHECK(order.calls == 0);
}
