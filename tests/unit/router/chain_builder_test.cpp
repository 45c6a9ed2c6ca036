// build_router_chain: pgroute.yaml's routers: -> a working RouterChain, and build-time failures that
// point into the file.

#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "route_fixture.hpp"
#include "router/chain_builder.hpp"

using namespace pgroute;
using namespace pgroute::router;
using pgroute::router::test::Statement;

namespace {

const std::string kBackends =
    "backends:\n"
    "  default: {url: \"postgresql://h\"}\n"
    "  users: {url: \"postgresql://h\"}\n"
    "  shard_0: {url: \"postgresql://h\"}\n"
    "  shard_1: {url: \"postgresql://h\"}\n"
    "  replica_1: {url: \"postgresql://h\"}\n"
    "  analytics: {url: \"postgresql://h\"}\n";

std::shared_ptr<const config::Config> load(const std::string& text) {
  auto result = config::load_text(text, "pgroute.yaml", [](std::string_view) { return std::nullopt; });
  std::string all;
  for (const auto& p : result.problems) all += p.to_string() + "\n";
  INFO(all);
  REQUIRE(result.config);
  return result.config;
}

std::shared_ptr<const RouterChain> build(const std::string& text) {
  auto cfg = load(text);
  std::string error;
  auto chain = build_router_chain(*cfg, error);
  INFO(error);
  REQUIRE(chain);
  CHECK(error.empty());
  return chain;
}

RouteDecision decision(const RouteResult& r) {
  if (auto* e = std::get_if<RouteError>(&r)) FAIL("unexpected error: " << e->message);
  return std::get<RouteDecision>(r);
}

}  // namespace

TEST_CASE("chain builder: no routers sends everything to the default alias") {
  auto chain = build(kBackends);
  CHECK(chain->size() == 0);
  CHECK(chain->default_alias() == "default");
  Statement s("SELECT * FROM auth_user");
  auto d = decision(chain->route(s.context()));
  CHECK(d.alias == "default");
  CHECK(d.router == "default");

  // Hints may name any backend, and only those.
  Statement hinted("/* pgroute: alias=analytics */ SELECT 1");
  CHECK(decision(chain->route(hinted.context())).alias == "analytics");
  Statement unknown("/* pgroute: alias=nowhere */ SELECT 1");
  auto e = std::get<RouteError>(chain->route(unknown.context()));
  CHECK(e.hint == "Known aliases: default, users, shard_0, shard_1, replica_1, analytics.");
}

TEST_CASE("chain builder: every built-in type, consulted in file order") {
  auto chain = build(kBackends + R"(
routers:
  - type: rule
    match: {application_name: "report*", kind: read}
    alias: analytics
  - type: model
    tables: {"auth_*": users}
  - type: shard
    table: events
    key: user_id
    key_type: bigint
    method: range
    ranges: [{to: 1000, alias: shard_0}, {alias: shard_1}]
  - type: replicas
    primary: default
    replicas: [replica_1]
)");
  CHECK(chain->size() == 4);

  Statement report("SELECT * FROM auth_user");
  report.application_name = "reporting";
  auto d = decision(chain->route(report.context()));
  CHECK(d.alias == "analytics");
  CHECK(d.router == "rule(analytics)");

  Statement model("SELECT * FROM auth_user");
  d = decision(chain->route(model.context()));
  CHECK(d.alias == "users");
  CHECK(d.router == "model");

  Statement low("SELECT * FROM events WHERE user_id = 999");
  CHECK(decision(chain->route(low.context())).alias == "shard_0");
  Statement high("UPDATE events SET n = 1 WHERE user_id = 1000");
  d = decision(chain->route(high.context()));
  CHECK(d.alias == "shard_1");
  CHECK(d.router == "shard(events)");

  Statement read("SELECT * FROM other");
  d = decision(chain->route(read.context()));
  CHECK(d.alias == "replica_1");
  CHECK(d.router == "replicas(default)");
  Statement write("DELETE FROM other");
  CHECK(decision(chain->route(write.context())).alias == "default");
}

TEST_CASE("chain builder: failures found only when building name the router's place in the file") {
  auto cfg = load(kBackends + R"(
routers:
  - type: model
    tables: {a: users}
  - type: shard
    table: events
    key: user_id
    key_type: int4
    method: range
    ranges: [{to: 100, alias: shard_0}, {from: 50, alias: shard_1}]
)");
  std::string error;
  CHECK(build_router_chain(*cfg, error) == nullptr);
  CHECK(error == "pgroute.yaml:12:5: routers[1]: shard router for \"events\": ranges for shard_0 and shard_1 overlap");

  cfg = load(kBackends + R"(
routers:
  - type: shard
    table: tenants
    key: id
    key_type: int8
    method: list
    lists: {shard_0: [1, 2], shard_1: ["02"]}
)");
  CHECK(build_router_chain(*cfg, error) == nullptr);
  CHECK(error ==
        "pgroute.yaml:10:5: routers[0]: shard router for \"tenants\": value \"02\" is listed for both shard_0 and "
        "shard_1");
}
