// ShardRouter decisions and refusals for hash, range and list sharding, through the chain.

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "route_fixture.hpp"
#include "router/model_router.hpp"
#include "router/router_chain.hpp"
#include "router/shard_hash.hpp"
#include "router/shard_router.hpp"

using namespace pgroute::router;
using pgroute::router::test::decision;
using pgroute::router::test::refusal;
using pgroute::router::test::Statement;

namespace {

ShardRouterOptions hash_options(WithoutKey without_key = WithoutKey::Error) {
  ShardRouterOptions o;
  o.table = "events";
  o.key = "user_id";
  o.key_type = KeyType::Int8;
  o.method = ShardMethod::Hash;
  o.shards = {"shard_0", "shard_1"};
  o.without_key = without_key;
  o.colocated = {"countries"};
  return o;
}

std::unique_ptr<ShardRouter> make(ShardRouterOptions options) {
  std::string error;
  auto router = ShardRouter::create(std::move(options), error);
  REQUIRE_MESSAGE(router, error);
  return router;
}

RouterChain chain_with(std::unique_ptr<ShardRouter> shard, bool with_model = false) {
  std::vector<std::unique_ptr<Router>> routers;
  if (with_model) routers.push_back(std::make_unique<ModelRouter>(ModelRouterOptions{{{"auth_*", "users"}}}));
  routers.push_back(std::move(shard));
  return RouterChain("default", std::move(routers));
}

// The shard PostgreSQL's hash partitioning (modulus 2) picks for a bigint: the independently
// verified hash (shard_hash_test.cpp) is the oracle.
std::string shard_of(int64_t key) {
  return "shard_" + std::to_string(hash_remainder(*partition_hash(KeyType::Int8, std::to_string(key)), 2));
}

// Keys on each shard, found by the oracle.
struct Keys {
  int64_t a0 = -1, b0 = -1, a1 = -1;  // a0, b0 on shard_0; a1 on shard_1
  Keys() {
    for (int64_t k = 1; a0 < 0 || b0 < 0 || a1 < 0; ++k) {
      if (shard_of(k) == "shard_0")
        (a0 < 0 ? a0 : b0 < 0 ? b0 : a0) = k;
      else if (a1 < 0)
        a1 = k;
    }
  }
};

std::string be64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

}  // namespace

TEST_CASE("hash: literal, parameter (text and binary) and NULL keys agree with PostgreSQL's partitions") {
  Keys k;
  REQUIRE(shard_of(k.a0) == "shard_0");
  REQUIRE(shard_of(k.b0) == "shard_0");
  REQUIRE(shard_of(k.a1) == "shard_1");
  RouterChain chain = chain_with(make(hash_options()));

  auto d = decision(chain.route(Statement("SELECT * FROM events WHERE user_id = " + std::to_string(k.a1)).context()));
  CHECK(d.alias == "shard_1");
  CHECK(d.router == "shard(events)");
  CHECK(d.reason.find("hash remainder 1 of 2") != std::string::npos);
  CHECK(decision(
            chain.route(
                Statement("SELECT * FROM public.events e WHERE e.user_id = '" + std::to_string(k.a0) + "'").context()))
            .alias == "shard_0");

  Statement bound("SELECT * FROM events WHERE user_id = $1 AND kind = $2");
  std::string text = std::to_string(k.a1);
  bound.params = {text, "click"};
  CHECK(decision(chain.route(bound.context())).alias == "shard_1");
  std::string binary = be64(k.a1);
  bound.params = {binary, "click"};
  bound.formats = {1, 0};
  CHECK(decision(chain.route(bound.context())).alias == "shard_1");
  bound.params = {std::nullopt, "click"};
  bound.formats = {};
  CHECK(decision(chain.route(bound.context())).alias == "shard_0");  // NULL hashes to 0: remainder 0

  // Every key the PostgreSQL-vectors test checked maps the same way here; spot-check a wide range.
  auto router = make(hash_options());
  for (int64_t key : {int64_t{0}, int64_t{-1}, int64_t{1} << 40, INT64_MIN, INT64_MAX})
    CHECK(router->alias_for_key(std::to_string(key)) == shard_of(key));
  CHECK_FALSE(router->alias_for_key("not a number"));
}

TEST_CASE("hash: IN lists on one shard route; across shards they scatter or are refused") {
  Keys k;
  std::string same =
      "SELECT * FROM events WHERE user_id IN (" + std::to_string(k.a0) + ", " + std::to_string(k.b0) + ")";
  std::string split =
      "SELECT * FROM events WHERE user_id IN (" + std::to_string(k.a0) + ", " + std::to_string(k.a1) + ")";
  RouterChain strict = chain_with(make(hash_options(WithoutKey::Error)));
  CHECK(decision(strict.route(Statement(same).context())).alias == "shard_0");
  RouteError e = refusal(strict.route(Statement(split).context()));
  CHECK(e.sqlstate == "0A000");
  CHECK(e.message.find("shard_0, shard_1") != std::string::npos);
  CHECK(e.router == "shard(events)");

  RouterChain scatter = chain_with(make(hash_options(WithoutKey::All)));
  auto d = decision(scatter.route(Statement(split).context()));
  CHECK(d.alias.empty());
  CHECK(d.scatter == std::vector<std::string>{"shard_0", "shard_1"});
  // Writes never scatter.
  RouteError write = refusal(scatter.route(
      Statement("DELETE FROM events WHERE user_id IN (" + std::to_string(k.a0) + ", " + std::to_string(k.a1) + ")")
          .context()));
  CHECK(write.message.find("DELETE touches several shards") != std::string::npos);
}

TEST_CASE("hash: statements without a key") {
  RouterChain strict = chain_with(make(hash_options(WithoutKey::Error)));
  RouteError e = refusal(strict.route(Statement("SELECT count(*) FROM events").context()));
  CHECK(e.sqlstate == "0A000");
  CHECK(e.message.find("shard router for \"events\"") != std::string::npos);
  CHECK(e.message.find("no shard key user_id") != std::string::npos);
  CHECK(e.message.find("shard_0, shard_1") != std::string::npos);
  CHECK(e.hint.find("pgroute: shard_key") != std::string::npos);
  CHECK(std::holds_alternative<RouteError>(
      strict.route(Statement("SELECT * FROM events WHERE user_id = 1 OR user_id = 2").context())));
  CHECK(
      std::holds_alternative<RouteError>(strict.route(Statement("SELECT * FROM events WHERE other_id = 1").context())));

  RouterChain scatter = chain_with(make(hash_options(WithoutKey::All)));
  auto d = decision(scatter.route(Statement("SELECT count(*) FROM events").context()));
  CHECK(d.scatter == std::vector<std::string>{"shard_0", "shard_1"});
  CHECK(std::holds_alternative<RouteError>(scatter.route(Statement("UPDATE events SET x = 1").context())));
  CHECK(std::holds_alternative<RouteError>(
      scatter.route(Statement("INSERT INTO events (payload) VALUES ('x')").context())));

  // $1 before Bind: the message says which parameter is missing.
  RouteError unbound = refusal(strict.route(Statement("SELECT * FROM events WHERE user_id = $1").context()));
  CHECK(unbound.message.find("$1") != std::string::npos);

  // Statements not touching the sharded table are not this router's business.
  CHECK(decision(strict.route(Statement("SELECT * FROM other").context())).router == "default");
  CHECK(decision(strict.route(Statement("SELECT * FROM countries").context())).alias == "default");
}

TEST_CASE("hash: hints and SET pgroute.shard_key supply a missing key") {
  Keys k;
  RouterChain chain = chain_with(make(hash_options()));
  Statement hinted("/* pgroute: shard_key=" + std::to_string(k.a1) + " */ SELECT count(*) FROM events");
  auto d = decision(chain.route(hinted.context()));
  CHECK(d.alias == "shard_1");
  CHECK(d.reason.find("pgroute hint") != std::string::npos);

  std::string session_key = std::to_string(k.a1);
  Statement session("SELECT count(*) FROM events");
  session.session_shard_key = session_key;
  CHECK(decision(chain.route(session.context())).alias == "shard_1");
  // The statement's own key wins over the session's.
  Statement own("SELECT * FROM events WHERE user_id = " + std::to_string(k.a0));
  own.session_shard_key = session_key;
  CHECK(decision(chain.route(own.context())).alias == "shard_0");

  RouteError bad = refusal(chain.route(Statement("/* pgroute: shard_key=abc */ SELECT * FROM events").context()));
  CHECK(bad.sqlstate == "22P02");
  CHECK(bad.message.find("\"abc\"") != std::string::npos);
}

TEST_CASE("hash: multi-row INSERTs must stay on one shard") {
  Keys k;
  RouterChain chain = chain_with(make(hash_options()));
  auto values = [](int64_t x) { return "(" + std::to_string(x) + ", 'p')"; };
  std::string one_shard = "INSERT INTO events (user_id, payload) VALUES " + values(k.a0) + ", " + values(k.b0);
  CHECK(decision(chain.route(Statement(one_shard).context())).alias == "shard_0");
  std::string spanning = "INSERT INTO events (user_id, payload) VALUES " + values(k.a0) + ", " + values(k.a1);
  RouteError e = refusal(chain.route(Statement(spanning).context()));
  CHECK(e.sqlstate == "0A000");
  CHECK(e.message.find("multi-row INSERT spans shards shard_0, shard_1") != std::string::npos);
  CHECK(e.message.find("\"events\"") != std::string::npos);

  Statement bound("INSERT INTO events (user_id, payload) VALUES ($1, 'a'), ($2, 'b')");
  std::string p1 = std::to_string(k.a1), p2 = std::to_string(k.a0);
  bound.params = {p1, p2};
  CHECK(std::holds_alternative<RouteError>(chain.route(bound.context())));
  bound.params = {p1, p1};
  CHECK(decision(chain.route(bound.context())).alias == "shard_1");

  // A row without the key (DEFAULT, expression, or no column list) cannot be placed.
  CHECK(std::holds_alternative<RouteError>(chain.route(
      Statement("INSERT INTO events (user_id) VALUES (" + std::to_string(k.a0) + "), (DEFAULT)").context())));
  CHECK(std::holds_alternative<RouteError>(chain.route(Statement("INSERT INTO events VALUES (1, 'x')").context())));
}

TEST_CASE("hash: UPDATE may not move a row to another shard") {
  Keys k;
  RouterChain chain = chain_with(make(hash_options()));
  std::string where = " WHERE user_id = " + std::to_string(k.a0);
  CHECK(decision(chain.route(Statement("UPDATE events SET payload = 'x'" + where).context())).alias == "shard_0");
  CHECK(
      decision(chain.route(Statement("UPDATE events SET user_id = " + std::to_string(k.b0) + where).context())).alias ==
      "shard_0");
  RouteError e =
      refusal(chain.route(Statement("UPDATE events SET user_id = " + std::to_string(k.a1) + where).context()));
  CHECK(e.message.find("could move rows") != std::string::npos);
  CHECK(std::holds_alternative<RouteError>(
      chain.route(Statement("UPDATE events SET user_id = user_id + 1" + where).context())));
}

TEST_CASE("hash: an upsert or a data-modifying WITH may not move a row to another shard either") {
  Keys k;
  RouterChain chain = chain_with(make(hash_options()));
  const std::string insert =
      "INSERT INTO events (user_id, payload, id) VALUES (" + std::to_string(k.a0) + ", 'x', 7) ON CONFLICT (id) DO ";
  // The conflicting row is on the INSERT's shard: a key that leaves it there is fine, another is not.
  CHECK(decision(chain.route(Statement(insert + "NOTHING").context())).alias == "shard_0");
  CHECK(decision(chain.route(Statement(insert + "UPDATE SET payload = EXCLUDED.payload").context())).alias ==
        "shard_0");
  CHECK(decision(chain.route(Statement(insert + "UPDATE SET user_id = EXCLUDED.user_id, payload = 'y'").context()))
            .alias == "shard_0");
  CHECK(decision(chain.route(Statement(insert + "UPDATE SET user_id = " + std::to_string(k.b0)).context())).alias ==
        "shard_0");
  RouteError moved = refusal(chain.route(Statement(insert + "UPDATE SET user_id = " + std::to_string(k.a1)).context()));
  CHECK(moved.message.find("INSERT ... ON CONFLICT DO UPDATE assigns shard key user_id, which could move rows off "
                           "shard_0") != std::string::npos);
  CHECK(moved.hint.find("DELETE and INSERT") != std::string::npos);
  for (const char* set : {"UPDATE SET user_id = EXCLUDED.user_id + 2", "UPDATE SET (user_id, payload) = (3, 'y')",
                          "UPDATE SET user_id = events.user_id + 1"}) {
    CAPTURE(set);
    CHECK(std::holds_alternative<RouteError>(chain.route(Statement(insert + std::string(set)).context())));
  }
  Statement bound("INSERT INTO events (user_id, id) VALUES ($1, 7) ON CONFLICT (id) DO UPDATE SET user_id = $2");
  bound.params = {std::to_string(k.a0), std::to_string(k.a1)};
  CHECK(std::holds_alternative<RouteError>(chain.route(bound.context())));
  bound.params = {std::to_string(k.a0), std::to_string(k.b0)};
  CHECK(decision(chain.route(bound.context())).alias == "shard_0");
  // An UPDATE in WITH assigns the key as much as one on its own.
  const std::string where = " WHERE user_id = " + std::to_string(k.a0);
  for (const std::string& outer :
       {std::string("SELECT * FROM u"), "DELETE FROM events" + where + " AND id IN (SELECT id FROM u)"}) {
    CAPTURE(outer);
    CHECK(std::holds_alternative<RouteError>(chain.route(
        Statement("WITH u AS (UPDATE events SET user_id = " + std::to_string(k.a1) + where + " RETURNING id) " + outer)
            .context())));
  }
  CHECK(std::holds_alternative<RouteError>(
      chain.route(Statement("EXPLAIN ANALYZE UPDATE events SET user_id = " + std::to_string(k.a1) + where).context())));
}

TEST_CASE("hash: relations with the sharded table") {
  Keys k;
  std::string key = std::to_string(k.a1);
  RouterChain chain = chain_with(make(hash_options()), true);
  // Colocated (replicated) tables may join the shard.
  CHECK(decision(chain.route(
                     Statement("SELECT * FROM events e JOIN countries c ON c.id = e.country WHERE e.user_id = " + key)
                         .context()))
            .alias == "shard_1");
  // Other tables live on the default alias: refused, naming both sides.
  RouteError e = refusal(chain.route(
      Statement("SELECT * FROM events e JOIN profiles p ON p.id = e.user_id WHERE e.user_id = " + key).context()));
  CHECK(e.message.find("\"events\" is on shard_1 (router shard(events))") != std::string::npos);
  CHECK(e.message.find("\"profiles\" is on default (router default)") != std::string::npos);
  // A model-routed table and a sharded one: the model router answers first, the check refuses.
  RouteError m =
      refusal(chain.route(Statement("SELECT * FROM auth_user u, events e WHERE e.user_id = " + key).context()));
  CHECK(m.message.find("users") != std::string::npos);
  CHECK(m.message.find("shard_1") != std::string::npos);
}

TEST_CASE("hash: text and uuid keys, schema-qualified table") {
  ShardRouterOptions o = hash_options();
  o.table = "public.accounts";
  o.key = "id";
  o.key_type = KeyType::Uuid;
  o.shards = {"a", "b", "c"};
  auto router = make(o);
  const std::string uuid = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
  std::string expected = o.shards[static_cast<size_t>(hash_remainder(*partition_hash(KeyType::Uuid, uuid), 3))];
  RouterChain chain = chain_with(std::move(router));
  CHECK(decision(chain.route(Statement("SELECT * FROM accounts WHERE id = '" + uuid + "'").context())).alias ==
        expected);
  CHECK(decision(chain.route(Statement("SELECT * FROM public.accounts WHERE id = '{" + uuid + "}'").context())).alias ==
        expected);
  CHECK(decision(chain.route(Statement("SELECT * FROM other.accounts WHERE id = 'x'").context())).alias == "default");
  RouteError bad = refusal(chain.route(Statement("SELECT * FROM accounts WHERE id = 'not-a-uuid'").context()));
  CHECK(bad.sqlstate == "22P02");
  Statement binary("SELECT * FROM accounts WHERE id = $1");
  std::string raw = parse_key_text(KeyType::Uuid, uuid)->bytes;
  binary.params = {raw};
  binary.formats = {1};
  CHECK(decision(chain.route(binary.context())).alias == expected);
}

TEST_CASE("range sharding: half-open bounds, open ends, fallback and refusals") {
  ShardRouterOptions o;
  o.table = "metrics";
  o.key = "tenant";
  o.key_type = KeyType::Int4;
  o.method = ShardMethod::Range;
  o.ranges = {{std::nullopt, "100", "low"}, {"100", "200", "mid"}, {"300", std::nullopt, "high"}};
  RouterChain chain = chain_with(make(o));
  auto alias_for = [&](const std::string& v) {
    return decision(chain.route(Statement("SELECT * FROM metrics WHERE tenant = " + v).context())).alias;
  };
  CHECK(alias_for("-5") == "low");
  CHECK(alias_for("99") == "low");
  CHECK(alias_for("100") == "mid");
  CHECK(alias_for("199") == "mid");
  CHECK(alias_for("300") == "high");
  CHECK(alias_for("2147483647") == "high");
  RouteError gap = refusal(chain.route(Statement("SELECT * FROM metrics WHERE tenant = 250").context()));
  CHECK(gap.sqlstate == "23514");
  CHECK(gap.message.find("tenant = 250") != std::string::npos);
  CHECK(refusal(chain.route(Statement("INSERT INTO metrics (tenant) VALUES (NULL)").context())).sqlstate == "22004");
  CHECK(refusal(chain.route(Statement("SELECT * FROM metrics WHERE tenant = 99999999999").context())).sqlstate ==
        "22P02");

  o.fallback_alias = "spill";
  RouterChain with_fallback = chain_with(make(o));
  CHECK(decision(with_fallback.route(Statement("SELECT * FROM metrics WHERE tenant = 250").context())).alias ==
        "spill");

  std::string error;
  ShardRouterOptions overlap = o;
  overlap.ranges = {{"0", "150", "a"}, {"100", "200", "b"}};
  CHECK_FALSE(ShardRouter::create(overlap, error));
  CHECK(error.find("overlap") != std::string::npos);
  ShardRouterOptions two_open = o;
  two_open.ranges = {{std::nullopt, "10", "a"}, {std::nullopt, "20", "b"}};
  CHECK_FALSE(ShardRouter::create(two_open, error));
  ShardRouterOptions empty = o;
  empty.ranges = {{"10", "10", "a"}};
  CHECK_FALSE(ShardRouter::create(empty, error));
  ShardRouterOptions bad = o;
  bad.ranges = {{"x", "10", "a"}};
  CHECK_FALSE(ShardRouter::create(bad, error));
  CHECK(error.find("not a valid integer") != std::string::npos);
}

TEST_CASE("list sharding") {
  ShardRouterOptions o;
  o.table = "orders";
  o.key = "region";
  o.key_type = KeyType::Text;
  o.method = ShardMethod::List;
  o.lists = {{{"eu", "uk"}, "europe"}, {{"us", "ca"}, "america"}};
  RouterChain chain = chain_with(make(o));
  CHECK(decision(chain.route(Statement("SELECT * FROM orders WHERE region = 'uk'").context())).alias == "europe");
  CHECK(decision(chain.route(Statement("SELECT * FROM orders WHERE region IN ('us', 'ca')").context())).alias ==
        "america");
  CHECK(refusal(chain.route(Statement("SELECT * FROM orders WHERE region IN ('us', 'eu')").context())).sqlstate ==
        "0A000");
  CHECK(refusal(chain.route(Statement("SELECT * FROM orders WHERE region = 'mars'").context())).sqlstate == "23514");
  std::string error;
  ShardRouterOptions dup = o;
  dup.lists = {{{"eu"}, "a"}, {{"eu"}, "b"}};
  CHECK_FALSE(ShardRouter::create(dup, error));
  CHECK(error.find("\"eu\" is listed for both a and b") != std::string::npos);
}

TEST_CASE("shard router option validation") {
  std::string error;
  ShardRouterOptions o = hash_options();
  o.shards.clear();
  CHECK_FALSE(ShardRouter::create(o, error));
  CHECK(error.find("at least one shard") != std::string::npos);
  o = hash_options();
  o.key.clear();
  CHECK_FALSE(ShardRouter::create(o, error));
  CHECK(error.find("key is required") != std::string::npos);
}
