// Problems with the shape of the file: keys, types, value formats, YAML itself.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using Lines = std::vector<std::string>;

TEST_CASE("problems: unknown key with a suggestion names the mapping's path") {
  CHECK(problems_of(yaml(R"(
backends:
  default: {url: "postgresql://h"}
  shard_2:
    url: "postgresql://h2"
    pool_szie: 3
)")) == Lines{"pgroute.yaml:5:5: backends.shard_2: unknown key \"pool_szie\" (did you mean \"pool_size\"?)"});

  CHECK(problems_of("lisen: {port: 1}\n" + kBackendLine) ==
        Lines{"pgroute.yaml:1:1: unknown key \"lisen\" (did you mean \"listen\"?)"});

  CHECK(problems_of(kBackendLine + "pool: {mode: session, timeout: 5s}\n") ==
        Lines{"pgroute.yaml:2:23: pool: unknown key \"timeout\" (known keys: mode, size, "
              "queue_timeout, connect_timeout, reset_query, max_prepared_statements, min_size, max_lifetime, "
              "idle_timeout, check_after, recycle_margin, health_check_interval, connect_retry)"});
}

TEST_CASE("problems: unknown key far from every known key lists them") {
  CHECK(problems_of(kBackendLine + "colour: red\n") ==
        Lines{"pgroute.yaml:2:1: unknown key \"colour\" (known keys: listen, threads, "
              "max_client_connections, max_startup_connections, reserved_admin_connections, "
              "authentication_timeout, max_message_size, default, backends, databases, users, pool, "
              "routers, routing_cache_size, metrics, tls, admin, reload)"});
}

TEST_CASE("problems: unknown key in a list item, in file order with the item's own problem") {
  CHECK(problems_of(kBackendLine + yaml(R"(
users:
  - {name: a, password: x}
  - {name: b, passwd: x}
)")) == Lines{"pgroute.yaml:4:5: users[1]: missing required key \"password\" (only auth: trust and cert need none)",
              "pgroute.yaml:4:15: users[1]: unknown key \"passwd\" (did you mean \"password\"?)"});
}

TEST_CASE("problems: wrong node types") {
  CHECK(problems_of("listen: [127.0.0.1, 6432]\n" + kBackendLine) ==
        Lines{"pgroute.yaml:1:9: listen: expected a mapping, got a sequence"});
  CHECK(problems_of(kBackendLine + "users: {name: a}\n") ==
        Lines{"pgroute.yaml:2:8: users: expected a sequence, got a mapping"});
  CHECK(problems_of(kBackendLine + "threads: [1]\n") ==
        Lines{"pgroute.yaml:2:10: threads: expected a scalar value, got a sequence"});
  CHECK(problems_of("backends:\n  default: \"postgresql://h\"\n") ==
        Lines{"pgroute.yaml:2:12: backends.default: expected a mapping, got a scalar"});
  CHECK(problems_of(kBackendLine + "users: [\"app\"]\n") ==
        Lines{"pgroute.yaml:2:9: users[0]: expected a mapping, got a scalar"});
}

TEST_CASE("problems: ports") {
  CHECK(problems_of("listen:\n  port: abc\n" + kBackendLine) ==
        Lines{"pgroute.yaml:2:9: listen.port: expected an integer, got \"abc\""});
  CHECK(problems_of("listen:\n  port: 0\n" + kBackendLine) ==
        Lines{"pgroute.yaml:2:9: listen.port: must be between 1 and 65535, got 0"});
  CHECK(problems_of("listen:\n  port: 70000\n" + kBackendLine) ==
        Lines{"pgroute.yaml:2:9: listen.port: must be between 1 and 65535, got 70000"});
  CHECK(problems_of("listen:\n  port: 64.32\n" + kBackendLine) ==
        Lines{"pgroute.yaml:2:9: listen.port: expected an integer, got \"64.32\""});
  CHECK(problems_of("listen: {host: \"\"}\n" + kBackendLine) ==
        Lines{"pgroute.yaml:1:16: listen.host: must not be empty"});
}

TEST_CASE("problems: negative and zero counts") {
  CHECK(problems_of(yaml(R"(
backends:
  default: {url: "postgresql://h", pool_size: -2}
pool: {size: -1, max_prepared_statements: -5}
threads: 2000
max_client_connections: 0
)")) == Lines{"pgroute.yaml:2:47: backends.default.pool_size: must not be negative, got -2",
              "pgroute.yaml:3:14: pool.size: must be at least 1, got -1",
              "pgroute.yaml:3:43: pool.max_prepared_statements: must not be negative, got -5",
              "pgroute.yaml:4:10: threads: must be between 0 and 1024, got 2000",
              "pgroute.yaml:5:25: max_client_connections: must be at least 1, got 0"});
  CHECK(problems_of(kBackendLine + "max_client_connections: 99999999999\n") ==
        Lines{"pgroute.yaml:2:25: max_client_connections: must be at most 2147483647, got 99999999999"});
}

TEST_CASE("problems: enumerations list the allowed values") {
  CHECK(problems_of(kBackendLine + "pool: {mode: transction}\n") ==
        Lines{"pgroute.yaml:2:14: pool.mode: unknown value \"transction\" (allowed: session, transaction)"});
  // An unknown auth method says only that: whether a password is needed cannot be known.
  CHECK(problems_of(kBackendLine + "users:\n  - {name: a, auth: password}\n") ==
        Lines{"pgroute.yaml:3:21: users[0].auth: unknown value \"password\" "
              "(allowed: scram-sha-256, md5, cleartext, trust, cert)"});
}

TEST_CASE("problems: durations") {
  CHECK(problems_of(yaml(R"(
pool:
  queue_timeout: 5x
  connect_timeout: 0s
)") + kBackendLine) == Lines{"pgroute.yaml:2:18: pool.queue_timeout: invalid duration \"5x\" "
                             "(use e.g. 500ms, 5s, 2m, 1h, or a whole number of seconds)",
                             "pgroute.yaml:3:20: pool.connect_timeout: must be greater than 0, got \"0s\""});
  CHECK(problems_of("pool: {queue_timeout: -5s}\n" + kBackendLine) ==
        Lines{"pgroute.yaml:1:23: pool.queue_timeout: invalid duration \"-5s\" "
              "(use e.g. 500ms, 5s, 2m, 1h, or a whole number of seconds)"});
  CHECK(problems_of("pool: {queue_timeout: 0}\n" + kBackendLine) ==
        Lines{"pgroute.yaml:1:23: pool.queue_timeout: must be greater than 0, got \"0\""});
}

TEST_CASE("problems: byte sizes") {
  CHECK(problems_of(kBackendLine + "max_message_size: 64XB\n") ==
        Lines{"pgroute.yaml:2:19: max_message_size: invalid size \"64XB\" "
              "(use e.g. 512kB, 64MB, 1GB, 1GiB, or a number of bytes)"});
  CHECK(problems_of(kBackendLine + "max_message_size: -1MB\n") ==
        Lines{"pgroute.yaml:2:19: max_message_size: invalid size \"-1MB\" "
              "(use e.g. 512kB, 64MB, 1GB, 1GiB, or a number of bytes)"});
  CHECK(problems_of(kBackendLine + "max_message_size: 2GB\n") ==
        Lines{"pgroute.yaml:2:19: max_message_size: must be between 1kB and 1GB, got \"2GB\""});
  CHECK(problems_of(kBackendLine + "max_message_size: 512B\n") ==
        Lines{"pgroute.yaml:2:19: max_message_size: must be between 1kB and 1GB, got \"512B\""});
  CHECK(problems_of(kBackendLine + "max_message_size: 1GiB\n").empty());
}

TEST_CASE("problems: a key without a value points at the key") {
  CHECK(problems_of("pool:\n  mode:\n  size: 3\n" + kBackendLine) ==
        Lines{"pgroute.yaml:2:3: pool.mode: missing value"});
  CHECK(problems_of("backends:\n") == Lines{"pgroute.yaml:1:1: backends: missing value"});
  CHECK(problems_of(kBackendLine + "pool: {mode: ~}\n") == Lines{"pgroute.yaml:2:8: pool.mode: missing value"});
}

TEST_CASE("problems: duplicate keys are reported at the second occurrence") {
  CHECK(problems_of(yaml(R"(
pool:
  size: 5
  mode: session
  size: 6
backends: {default: {url: "postgresql://h"}}
pool: {}
databases: {a: default, a: default}
)")) == Lines{"pgroute.yaml:4:3: pool: duplicate key \"size\" (first at 2:3)",
              "pgroute.yaml:6:1: duplicate key \"pool\" (first at 1:1)",
              "pgroute.yaml:7:25: databases: duplicate key \"a\" (first at 7:13)"});
  CHECK(problems_of(yaml(R"(
backends:
  default: {url: "postgresql://h"}
  default: {url: "postgresql://h2"}
)")) == Lines{"pgroute.yaml:3:3: backends: duplicate key \"default\" (first at 2:3)"});
}

TEST_CASE("problems: a YAML syntax error is one problem at the parser's mark") {
  auto problems = problems_of(yaml(R"(
backends:
  default: {url: "postgresql://h"}
 pool: x
threads: [1, 2
)"));
  // Only the first error counts: the unclosed '[' on the next line is never reached.
  CHECK(problems == Lines{"pgroute.yaml:3:2: invalid YAML: end of map not found"});

  // yaml-cpp notices the unclosed '{' at the end of the input, and that is where it points.
  CHECK(problems_of("listen: {port: 1\n") == Lines{"pgroute.yaml:2:1: invalid YAML: end of map flow not found"});
}

TEST_CASE("problems: document shape") {
  CHECK(problems_of("just text\n") == Lines{"pgroute.yaml:1:1: expected a mapping, got a scalar"});
  CHECK(problems_of("- a\n- b\n") == Lines{"pgroute.yaml:1:1: expected a mapping, got a sequence"});
  CHECK(problems_of(kBackendLine + "---\nthreads: 1\n") ==
        Lines{"pgroute.yaml:3:1: expected one YAML document, found 2"});
  CHECK(problems_of(kBackendLine + "? [a, b]\n: 1\n") ==
        Lines{"pgroute.yaml:2:3: keys must be plain names, got a sequence as a key"});
}
