// Connection lifecycle keys: defaults, `off`, per-backend overrides and their problems.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using Lines = std::vector<std::string>;
using std::chrono::milliseconds;

TEST_CASE("lifecycle: defaults when nothing is written") {
  auto cfg = config_of("backends: {default: {url: \"postgresql://h\"}}\n");
  const Lifecycle& l = cfg->backends[0].lifecycle;
  CHECK(l.min_size == 0);
  CHECK(l.max_lifetime == milliseconds(3600000));
  CHECK(l.idle_timeout == milliseconds(600000));
  CHECK(l.check_after == milliseconds(5000));
  CHECK(l.recycle_margin == milliseconds(2000));
  CHECK(l.health_check_interval == milliseconds(5000));
  CHECK(l.connect_retry_initial == milliseconds(250));
  CHECK(l.connect_retry_max == milliseconds(10000));
}

TEST_CASE("lifecycle: global values, off, and per-backend overrides written before pool:") {
  auto cfg = config_of(yaml(R"(
backends:
  default: {url: "postgresql://h", min_size: 1, check_after: 0, idle_timeout: off}
  other: {url: "postgresql://h2", pool_size: 2}
pool:
  size: 10
  min_size: 4
  max_lifetime: 30m
  idle_timeout: 90s
  check_after: off
  recycle_margin: off
  health_check_interval: 1s
  connect_retry: {initial: 100ms, max: 2s}
)"));
  const Lifecycle& g = cfg->pool.lifecycle;
  CHECK(g.min_size == 4);
  CHECK(g.max_lifetime == milliseconds(1800000));
  CHECK(g.idle_timeout == milliseconds(90000));
  CHECK_FALSE(g.check_after.has_value());
  CHECK_FALSE(g.recycle_margin.has_value());
  CHECK(g.health_check_interval == milliseconds(1000));
  CHECK(g.connect_retry_initial == milliseconds(100));
  CHECK(g.connect_retry_max == milliseconds(2000));

  const Lifecycle& d = cfg->backend("default")->lifecycle;
  CHECK(d.min_size == 1);
  CHECK(d.check_after == milliseconds(0));
  CHECK_FALSE(d.idle_timeout.has_value());
  CHECK(d.max_lifetime == milliseconds(1800000));  // inherited
  CHECK(d.connect_retry_max == milliseconds(2000));

  const Lifecycle& o = cfg->backend("other")->lifecycle;
  CHECK(o.min_size == 2);  // the global 4 capped at this backend's pool size
  CHECK(o.idle_timeout == milliseconds(90000));
}

TEST_CASE("lifecycle: positioned problems for bad values") {
  CHECK(problems_of(yaml(R"(
backends: {default: {url: "postgresql://h"}}
pool:
  max_lifetime: forever
  idle_timeout: 0
  min_size: -1
  check_after: soon
  connect_retry: {initial: 5s, max: 1s}
)")) == Lines{
            "pgroute.yaml:3:17: pool.max_lifetime: invalid duration \"forever\" (use e.g. 500ms, 5s, 2m, 1h, or "
            "a whole number of seconds)",
            "pgroute.yaml:4:17: pool.idle_timeout: must be greater than 0, got \"0\"",
            "pgroute.yaml:5:13: pool.min_size: must not be negative, got -1",
            "pgroute.yaml:6:16: pool.check_after: invalid duration \"soon\" (use e.g. 500ms, 5s, 2m, 1h, or a "
            "whole number of seconds)",
            "pgroute.yaml:7:18: pool.connect_retry: initial back-off (5000ms) must not exceed max (1000ms)",
        });
}

TEST_CASE("lifecycle: min_size above the pool size, globally and per backend") {
  CHECK(problems_of(yaml(R"(
backends:
  default: {url: "postgresql://h", pool_size: 2, min_size: 3}
pool: {size: 5, min_size: 6}
)")) == Lines{"pgroute.yaml:2:60: backends.default.min_size: must not exceed the pool size (2), got 3",
              "pgroute.yaml:3:27: pool.min_size: must not exceed the pool size (5), got 6"});
}

TEST_CASE("lifecycle: unknown key in connect_retry and in a backend suggests the right one") {
  CHECK(problems_of(yaml(R"(
backends:
  default: {url: "postgresql://h", max_lifetim: 1h}
pool: {connect_retry: {inital: 1s}}
)")) == Lines{"pgroute.yaml:2:36: backends.default: unknown key \"max_lifetim\" (did you mean \"max_lifetime\"?)",
              "pgroute.yaml:3:24: pool.connect_retry: unknown key \"inital\" (did you mean \"initial\"?)"});
}
