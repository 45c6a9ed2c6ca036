// routers: every router type read into plain RouterSpec data, defaults, and routing_cache_size.
#include <doctest/doctest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using std::chrono::milliseconds;

namespace {

const std::string kBackends = yaml(R"(
backends:
  default: {url: "postgresql://h"}
  users: {url: "postgresql://h"}
  votes: {url: "postgresql://h"}
  shard_0: {url: "postgresql://h"}
  shard_1: {url: "postgresql://h"}
  replica_1: {url: "postgresql://h"}
  replica_2: {url: "postgresql://h"}
  analytics: {url: "postgresql://h"}
)");

// A file that exists, for plugin paths (config only checks that it is there).
struct TempPlugin {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("pgroute_plugin_" + std::to_string(::getpid()) + ".so");
  TempPlugin() { std::ofstream(path) << "not really a library\n"; }
  ~TempPlugin() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("routers: the issue's example chain, every type in order") {
  TempPlugin plugin;
  auto c = config_of(kBackends + yaml(R"(
routers:
  - type: model
    tables: {"auth_*": users, "public.votes": votes}
  - type: shard
    table: events
    key: user_id
    key_type: bigint
    method: hash
    shards: [shard_0, shard_1]
    without_key: error
  - type: replicas
    primary: default
    replicas: [{alias: replica_1, weight: 1}, {alias: replica_2, weight: 3}, analytics]
    read_your_writes: 2s
  - type: rule
    match: {application_name: "report*", kind: read}
    alias: analytics
  - type: plugin
    path: )") + plugin.path.string() +
                     "\n" + yaml(R"(
    options: {any: yaml, n: 3, quoted: "3", list: [a, true, ~]}
)"));
  REQUIRE(c->routers.size() == 5);
  CHECK(c->routing_cache_size == 10000);

  CHECK(c->routers[0].type_name() == "model");
  CHECK(c->routers[0].where == "pgroute.yaml:11:5: routers[0]");
  const auto& model = std::get<ModelRouterSpec>(c->routers[0].settings);
  using Pair = std::pair<std::string, std::string>;
  CHECK(model.tables == std::vector<Pair>{{"auth_*", "users"}, {"public.votes", "votes"}});

  CHECK(c->routers[1].type_name() == "shard");
  const auto& shard = std::get<ShardRouterSpec>(c->routers[1].settings);
  CHECK(shard.table == "events");
  CHECK(shard.key == "user_id");
  CHECK(shard.key_type == ShardKeyType::Int8);
  CHECK(shard.method == ShardMethod::Hash);
  CHECK(shard.shards == std::vector<std::string>{"shard_0", "shard_1"});
  CHECK(shard.without_key == WithoutKey::Error);
  CHECK_FALSE(shard.fallback.has_value());

  CHECK(c->routers[2].type_name() == "replicas");
  const auto& replicas = std::get<ReplicasRouterSpec>(c->routers[2].settings);
  CHECK(replicas.primary == "default");
  REQUIRE(replicas.replicas.size() == 3);
  CHECK(replicas.replicas[0].alias == "replica_1");
  CHECK(replicas.replicas[0].weight == 1);
  CHECK(replicas.replicas[1].alias == "replica_2");
  CHECK(replicas.replicas[1].weight == 3);
  CHECK(replicas.replicas[2].alias == "analytics");  // a bare alias has weight 1
  CHECK(replicas.replicas[2].weight == 1);
  CHECK(replicas.read_your_writes == milliseconds(2000));

  const auto& rule = std::get<RuleRouterSpec>(c->routers[3].settings);
  CHECK(rule.application_name == "report*");
  CHECK(rule.kind == RuleKindSpec::Read);
  CHECK(rule.user.empty());
  CHECK(rule.sql.empty());
  CHECK(rule.alias == "analytics");

  const auto& p = std::get<PluginRouterSpec>(c->routers[4].settings);
  CHECK(p.path == plugin.path.string());
  CHECK(p.options_json == R"({"any":"yaml","n":3,"quoted":"3","list":["a",true,null]})");
}

TEST_CASE("routers: range and list shards, fallback, colocated tables, rule conditions") {
  auto c = config_of(kBackends + yaml(R"(
routing_cache_size: 500
routers:
  - type: shard
    table: public.events
    key: id
    key_type: int4
    method: range
    ranges: [{to: 1000, alias: shard_0}, {to: 2000, alias: shard_1}, {from: 5000, alias: shard_0}]
    fallback: default
    without_key: all
    colocated: [countries, "ref_*"]
  - type: shard
    table: tenants
    key: name
    key_type: text
    method: list
    lists: {shard_0: [acme, "globex"], shard_1: initech}
  - type: shard
    table: sessions
    key: sid
    key_type: uuid
    method: list
    lists: {shard_0: ["{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}"]}
    colocated: lookup
  - type: rule
    match: {user: "batch_*", database: app, sql: "^\\s*select .* from big_", kind: any}
    alias: analytics
  - type: replicas
    primary: default
    replicas: [replica_1]
)"));
  CHECK(c->routing_cache_size == 500);
  REQUIRE(c->routers.size() == 5);
  const auto& range = std::get<ShardRouterSpec>(c->routers[0].settings);
  CHECK(range.key_type == ShardKeyType::Int4);
  CHECK(range.method == ShardMethod::Range);
  REQUIRE(range.ranges.size() == 3);
  CHECK_FALSE(range.ranges[0].from.has_value());
  CHECK(range.ranges[0].to == std::optional<std::string>("1000"));
  CHECK(range.ranges[1].from == std::optional<std::string>("1000"));  // the previous range's end
  CHECK(range.ranges[1].to == std::optional<std::string>("2000"));
  CHECK(range.ranges[2].from == std::optional<std::string>("5000"));
  CHECK_FALSE(range.ranges[2].to.has_value());
  CHECK(range.ranges[2].alias == "shard_0");
  CHECK(range.fallback == std::optional<std::string>("default"));
  CHECK(range.without_key == WithoutKey::All);
  CHECK(range.colocated == std::vector<std::string>{"countries", "ref_*"});

  const auto& list = std::get<ShardRouterSpec>(c->routers[1].settings);
  CHECK(list.key_type == ShardKeyType::Text);
  REQUIRE(list.lists.size() == 2);
  CHECK(list.lists[0].alias == "shard_0");
  CHECK(list.lists[0].values == std::vector<std::string>{"acme", "globex"});
  CHECK(list.lists[1].alias == "shard_1");
  CHECK(list.lists[1].values == std::vector<std::string>{"initech"});

  const auto& uuid = std::get<ShardRouterSpec>(c->routers[2].settings);
  CHECK(uuid.key_type == ShardKeyType::Uuid);
  CHECK(uuid.colocated == std::vector<std::string>{"lookup"});

  const auto& rule = std::get<RuleRouterSpec>(c->routers[3].settings);
  CHECK(rule.user == "batch_*");
  CHECK(rule.database == "app");
  CHECK(rule.sql == "^\\s*select .* from big_");
  CHECK(rule.kind == RuleKindSpec::Any);

  const auto& replicas = std::get<ReplicasRouterSpec>(c->routers[4].settings);
  CHECK(replicas.read_your_writes == milliseconds(0));
  REQUIRE(replicas.replicas.size() == 1);
}

TEST_CASE("routers: absent or empty means no routers; key_type spellings") {
  CHECK(config_of(kBackends)->routers.empty());
  CHECK(config_of(kBackends + "routers: []\n")->routers.empty());
  for (auto [name, type] : {std::pair{"int2", ShardKeyType::Int2},
                            {"smallint", ShardKeyType::Int2},
                            {"int", ShardKeyType::Int4},
                            {"integer", ShardKeyType::Int4},
                            {"int8", ShardKeyType::Int8},
                            {"bigint", ShardKeyType::Int8}}) {
    CAPTURE(name);
    auto c = config_of(kBackends + "routers: [{type: shard, table: t, key: k, key_type: " + name +
                       ", shards: [shard_0]}]\n");
    CHECK(std::get<ShardRouterSpec>(c->routers[0].settings).key_type == type);
  }
}

TEST_CASE("routers: plugin options default to an empty object and escape strings") {
  TempPlugin plugin;
  auto c = config_of(kBackends + "routers:\n  - {type: plugin, path: \"" + plugin.path.string() + "\"}\n" +
                     "  - type: plugin\n    path: \"" + plugin.path.string() + "\"\n" +
                     "    options: {\"a\\\"b\": \"line\\nbreak\\\\\", seq: [], map: {}, neg: -4, no: false}\n");
  CHECK(std::get<PluginRouterSpec>(c->routers[0].settings).options_json == "{}");
  CHECK(std::get<PluginRouterSpec>(c->routers[1].settings).options_json ==
        R"({"a\"b":"line\nbreak\\","seq":[],"map":{},"neg":-4,"no":false})");
}

TEST_CASE("routers: replicas lag limits, check interval and when_no_replica, with their defaults") {
  auto c = config_of(yaml(R"(
default: primary
backends:
  primary: {url: "postgresql://app:pw@h1/app"}
  replica_1: {url: "postgresql://app:pw@h2/app"}
routers:
  - type: replicas
    primary: primary
    replicas: [replica_1]
    max_lag: 1500ms
    max_lag_bytes: 16MB
    lag_check_interval: 100ms
    when_no_replica: error
  - type: replicas
    primary: primary
    replicas: [replica_1]
)"));
  REQUIRE(c->routers.size() == 2);
  const auto& limited = std::get<ReplicasRouterSpec>(c->routers[0].settings);
  CHECK(limited.max_lag == milliseconds(1500));
  CHECK(limited.max_lag_bytes == uint64_t{16} << 20);
  CHECK(limited.lag_check_interval == milliseconds(100));
  CHECK(limited.when_no_replica == WhenNoReplica::Error);
  CHECK(limited.monitored());
  const auto& plain = std::get<ReplicasRouterSpec>(c->routers[1].settings);
  CHECK_FALSE(plain.max_lag.has_value());
  CHECK_FALSE(plain.max_lag_bytes.has_value());
  CHECK(plain.lag_check_interval == milliseconds(250));
  CHECK(plain.when_no_replica == WhenNoReplica::Primary);
  CHECK_FALSE(plain.monitored());
}
