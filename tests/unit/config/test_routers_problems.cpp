// routers: each kind of mistake, reported at its file:line:col with its key path.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using Lines = std::vector<std::string>;

namespace {

// Two lines: the routers: section in the tests below starts on line 3.
const std::string kBackends =
    "backends: {default: {url: \"postgresql://h\"}, shard_0: {url: \"postgresql://h\"},\n"
    "           shard_1: {url: \"postgresql://h\"}}\n";

Lines problems_of_routers(std::string_view routers) { return problems_of(kBackends + yaml(routers)); }

}  // namespace

TEST_CASE("router problems: type missing, unknown, and not a mapping") {
  CHECK(
      problems_of_routers(R"(
routers:
  - {tables: {a: shard_0}}
  - type: modle
  - "model"
  - type:
routers_x: 1
)") ==
      Lines{
          "pgroute.yaml:4:5: routers[0]: missing required key \"type\" (one of: model, shard, replicas, rule, plugin)",
          "pgroute.yaml:5:11: routers[1].type: unknown value \"modle\" (allowed: model, shard, replicas, rule, plugin)",
          "pgroute.yaml:6:5: routers[2]: expected a mapping, got a scalar",
          "pgroute.yaml:7:5: routers[3].type: missing value (one of: model, shard, replicas, rule, plugin)",
          "pgroute.yaml:8:1: unknown key \"routers_x\" (did you mean \"routers\"?)"});
  CHECK(problems_of_routers("routers: {type: model}\n") ==
        Lines{"pgroute.yaml:3:10: routers: expected a sequence, got a mapping"});
}

TEST_CASE("router problems: unknown keys, missing keys and unknown aliases") {
  CHECK(problems_of_routers(R"(
routers:
  - type: model
    tabels: {a: shard_0}
  - type: model
    tables: {"auth_*": users, votes: shard_1, "": shard_0}
  - type: model
    tables: {}
)") == Lines{"pgroute.yaml:4:5: routers[0]: missing required key \"tables\"",
             "pgroute.yaml:5:5: routers[0]: unknown key \"tabels\" (did you mean \"tables\"?)",
             "pgroute.yaml:7:24: routers[1].tables.auth_*: unknown alias \"users\" (known: default, shard_0, shard_1)",
             "pgroute.yaml:7:47: routers[1].tables: table patterns must not be empty",
             "pgroute.yaml:9:13: routers[2].tables: at least one table pattern is required"});
}

TEST_CASE("router problems: shard key_type, method and their parameters") {
  CHECK(problems_of_routers(R"(
routers:
  - type: shard
    table: events
    key: user_id
    key_type: float
    method: hash
  - type: shard
    table: events
    key: user_id
    key_type: bigint
    method: modulo
    shards: [shard_0]
  - type: shard
    table: events
    key_type: int4
    method: hash
    shards: [shard_0, shard_9]
    ranges: [{to: 10, alias: shard_0}]
    fallback: shard_1
    without_key: scatter
)") == Lines{"pgroute.yaml:4:5: routers[0]: method hash needs \"shards\"",
             "pgroute.yaml:7:15: routers[0].key_type: unknown value \"float\" (allowed: int2, smallint, int4, int, "
             "integer, int8, bigint, text, uuid)",
             "pgroute.yaml:13:13: routers[1].method: unknown value \"modulo\" (allowed: hash, range, list)",
             "pgroute.yaml:15:5: routers[2]: missing required key \"key\"",
             "pgroute.yaml:19:23: routers[2].shards[1]: unknown alias \"shard_9\" (known: default, shard_0, shard_1)",
             "pgroute.yaml:20:5: routers[2].ranges: only used by method range, not hash",
             "pgroute.yaml:21:5: routers[2].fallback: only used by method range or list, not hash",
             "pgroute.yaml:22:18: routers[2].without_key: unknown value \"scatter\" (allowed: error, all)"});
}

TEST_CASE("router problems: range bounds and list values must be valid keys of key_type") {
  CHECK(
      problems_of_routers(R"(
routers:
  - type: shard
    table: events
    key: id
    key_type: int2
    method: range
    ranges: [{to: 40000, alias: shard_0}, {from: abc, alias: shard_1}, {to: 5, alias: shard_7}, {from: 1}]
  - type: shard
    table: sessions
    key: sid
    key_type: uuid
    method: list
    lists: {shard_0: [a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11, not-a-uuid], shard_1: 12345, nowhere: [1]}
    shards: [shard_0]
  - type: shard
    table: t
    key: k
    key_type: text
    method: list
    lists: {}
  - type: shard
    table: t
    key: k
    key_type: int8
    method: range
)") ==
      Lines{
          "pgroute.yaml:9:19: routers[0].ranges[0].to: int2 shard key 40000 is out of range",
          "pgroute.yaml:9:50: routers[0].ranges[1].from: \"abc\" is not a valid int2 shard key",
          "pgroute.yaml:9:87: routers[0].ranges[2].alias: unknown alias \"shard_7\" (known: default, shard_0, shard_1)",
          "pgroute.yaml:9:97: routers[0].ranges[3]: missing required key \"alias\"",
          "pgroute.yaml:15:61: routers[1].lists.shard_0[1]: \"not-a-uuid\" is not a valid uuid shard key",
          "pgroute.yaml:15:83: routers[1].lists.shard_1: \"12345\" is not a valid uuid shard key",
          "pgroute.yaml:15:90: routers[1].lists.nowhere: unknown alias \"nowhere\" (known: default, shard_0, shard_1)",
          "pgroute.yaml:15:100: routers[1].lists.nowhere[0]: \"1\" is not a valid uuid shard key",
          "pgroute.yaml:16:5: routers[1].shards: only used by method hash, not list",
          "pgroute.yaml:22:12: routers[2].lists: at least one list is required",
          "pgroute.yaml:23:5: routers[3]: method range needs \"ranges\""});
}

TEST_CASE("router problems: replicas weights, primary and read_your_writes") {
  CHECK(problems_of_routers(R"(
routers:
  - type: replicas
    primary: primary_db
    replicas: [{alias: shard_0, weight: 0}, {weight: 2}, shard_1, {alias: shard_1, weight: -1}]
    read_your_writes: soon
  - type: replicas
    replicas: []
)") == Lines{"pgroute.yaml:5:14: routers[0].primary: unknown alias \"primary_db\" (known: default, shard_0, shard_1)",
             "pgroute.yaml:6:41: routers[0].replicas[0].weight: must be between 1 and 1000000, got 0",
             "pgroute.yaml:6:45: routers[0].replicas[1]: missing required key \"alias\"",
             "pgroute.yaml:6:92: routers[0].replicas[3].weight: must be between 1 and 1000000, got -1",
             "pgroute.yaml:7:23: routers[0].read_your_writes: invalid duration \"soon\" (use e.g. 500ms, 5s, 2m, 1h, "
             "or a whole number of seconds)",
             "pgroute.yaml:8:5: routers[1]: missing required key \"primary\"",
             "pgroute.yaml:9:15: routers[1].replicas: at least one replica is required"});
}

TEST_CASE("router problems: rule match keys, kind and a regex that does not compile") {
  CHECK(problems_of_routers(R"(
routers:
  - type: rule
    match: {application_name: "report*", kind: readonly, sql: "select (", usr: x}
    alias: shard_0
  - type: rule
    match: {user: app}
  - type: rule
    match: [user]
    alias: nowhere
)") == Lines{"pgroute.yaml:5:48: routers[0].match.kind: unknown value \"readonly\" (allowed: read, write, any)",
             "pgroute.yaml:5:63: routers[0].match.sql: invalid regular expression \"select (\": Unmatched ( or \\( "
             "(POSIX extended syntax, matched case-insensitively)",
             "pgroute.yaml:5:75: routers[0].match: unknown key \"usr\" (did you mean \"user\"?)",
             "pgroute.yaml:7:5: routers[1]: missing required key \"alias\"",
             "pgroute.yaml:10:12: routers[2].match: expected a mapping, got a sequence",
             "pgroute.yaml:11:12: routers[2].alias: unknown alias \"nowhere\" (known: default, shard_0, shard_1)"});
}

TEST_CASE("router problems: plugin path must exist and be a file; routing_cache_size") {
  CHECK(problems_of_routers(R"(
routers:
  - type: plugin
    path: /nonexistent/pgroute/router.so
  - {type: plugin, path: /tmp, options: {a: 1}}
  - {type: plugin, options: {a: 1}}
routing_cache_size: 0
)") == Lines{"pgroute.yaml:5:11: routers[0].path: cannot use plugin \"/nonexistent/pgroute/router.so\": No such file "
             "or directory",
             "pgroute.yaml:6:26: routers[1].path: plugin \"/tmp\" is not a regular file",
             "pgroute.yaml:7:5: routers[2]: missing required key \"path\"",
             "pgroute.yaml:8:21: routing_cache_size: must be between 1 and 10000000, got 0"});
}

TEST_CASE("router problems: replicas lag limits, check interval, when_no_replica and the checks' login") {
  // kBackends' URLs name no user: lag checks would have no login.
  CHECK(problems_of_routers(R"(
routers:
  - type: replicas
    primary: default
    replicas: [shard_0]
    max_lag: -1s
    max_lag_bytes: lots
    lag_check_interval: 5ms
    when_no_replica: primry
  - type: replicas
    primary: default
    replicas: [shard_0, shard_1]
    max_lag_bytes: 16MB
)") == Lines{
           "pgroute.yaml:7:14: routers[0].max_lag: invalid duration \"-1s\" (use e.g. 500ms, 5s, 2m, 1h, or a whole "
           "number of seconds)",
           "pgroute.yaml:8:20: routers[0].max_lag_bytes: invalid size \"lots\" (use e.g. 512kB, 64MB, 1GB, 1GiB, or a "
           "number of bytes)",
           "pgroute.yaml:9:25: routers[0].lag_check_interval: must be at least 10ms, got \"5ms\"",
           "pgroute.yaml:10:22: routers[0].when_no_replica: unknown value \"primry\" (allowed: primary, error)",
           "pgroute.yaml:14:5: routers[1].max_lag_bytes: lag checks log in with the backend URL's user, but backend "
           "\"default\" has none (its clients log in as themselves); put a user (and password) in its url"});
}

TEST_CASE("router problems: lag checks need a login on the primary and on every replica") {
  const std::string backends =
      "backends: {default: {url: \"postgresql://u:p@h/db\"}, shard_0: {url: \"postgresql://u@h/db\"},\n"
      "           shard_1: {url: \"postgresql://h/db\"}}\n";
  CHECK(problems_of(backends + yaml(R"(
routers:
  - {type: replicas, primary: default, replicas: [shard_0, shard_1], max_lag: 1s, max_lag_bytes: 1MB}
)")) == Lines{"pgroute.yaml:4:70: routers[0].max_lag: lag checks log in with the backend URL's user, but backend "
              "\"shard_1\" has none (its clients log in as themselves); put a user (and password) in its url"});
  CHECK(problems_of(backends + yaml(R"(
routers:
  - {type: replicas, primary: default, replicas: [shard_0], max_lag: 1s, when_no_replica: error}
)"))
            .empty());
}

TEST_CASE("router problems: causal_reads: its values and the checks' login") {
  CHECK(problems_of_routers(R"(
routers:
  - {type: replicas, primary: default, replicas: [shard_0], causal_reads: strict, causal_wait: soon}
  - {type: replicas, primary: default, replicas: [shard_0], causal_reads: always}
  - {type: replicas, primary: default, replicas: [shard_0], causal_reads: tables}
)") == Lines{"pgroute.yaml:4:61: routers[0].causal_reads: lag checks log in with the backend URL's user, but backend "
             "\"default\" has none (its clients log in as themselves); put a user (and password) in its url",
             "pgroute.yaml:4:96: routers[0].causal_wait: invalid duration \"soon\" (use e.g. 500ms, 5s, 2m, 1h, or a "
             "whole number of seconds)",
             "pgroute.yaml:5:75: routers[1].causal_reads: unknown value \"always\" (allowed: off, tables, strict)",
             "pgroute.yaml:6:61: routers[2].causal_reads: lag checks log in with the backend URL's user, but backend "
             "\"default\" has none (its clients log in as themselves); put a user (and password) in its url"});
}
