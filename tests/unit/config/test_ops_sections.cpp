// metrics: and admin: sections: values, defaults and positioned problems.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using Lines = std::vector<std::string>;

namespace {
const std::string kBase =
    "backends: {default: {url: \"postgresql://h\"}}\nusers:\n  - {name: app, password: x}\n"
    "  - {name: ops, password: y}\n";
}

TEST_CASE("ops config: metrics and admin are off unless written") {
  auto cfg = config_of(kBase);
  CHECK_FALSE(cfg->metrics.has_value());
  CHECK(cfg->admin.users.empty());
  CHECK_FALSE(cfg->is_admin("ops"));
  CHECK(cfg->content_hash != 0);
}

TEST_CASE("ops config: metrics listen address") {
  auto cfg = config_of(kBase + "metrics: {listen: \"127.0.0.1:9931\"}\n");
  REQUIRE(cfg->metrics.has_value());
  CHECK(cfg->metrics->host == "127.0.0.1");
  CHECK(cfg->metrics->port == 9931);
  auto v6 = config_of(kBase + "metrics:\n  listen: \"[::1]:19930\"\n");
  REQUIRE(v6->metrics.has_value());
  CHECK(v6->metrics->host == "::1");
  CHECK(v6->metrics->port == 19930);
  auto defaults = config_of(kBase + "metrics: {}\n");
  REQUIRE(defaults->metrics.has_value());
  CHECK(defaults->metrics->host == "127.0.0.1");
  CHECK(defaults->metrics->port == 9930);
}

TEST_CASE("ops config: the hash follows the file text") {
  CHECK(config_of(kBase)->content_hash == config_of(kBase)->content_hash);
  CHECK(config_of(kBase)->content_hash != config_of(kBase + "threads: 2\n")->content_hash);
}

TEST_CASE("ops config: bad metrics sections are placed") {
  CHECK(
      problems_of(kBase + "metrics: {listen: \"localhost:9930\"}\n") ==
      Lines{"pgroute.yaml:5:19: metrics.listen: \"localhost\" is not an IP address (use 127.0.0.1 for loopback only)"});
  CHECK(problems_of(kBase + "metrics: {listen: \"127.0.0.1:0\"}\n") ==
        Lines{"pgroute.yaml:5:19: metrics.listen: invalid port \"0\" (must be 1..65535)"});
  CHECK(problems_of(kBase + "metrics: {listen: \"127.0.0.1\"}\n") ==
        Lines{"pgroute.yaml:5:19: metrics.listen: expected \"host:port\" (IPv6 as \"[::1]:9930\"), got \"127.0.0.1\""});
  CHECK(problems_of(kBase + "metrics: {listen: \"[::1]9930\"}\n") ==
        Lines{"pgroute.yaml:5:19: metrics.listen: expected \"[IPv6]:port\", got \"[::1]9930\""});
  CHECK(problems_of(kBase + "metrics: {listne: \"127.0.0.1:1\"}\n") ==
        Lines{"pgroute.yaml:5:11: metrics: unknown key \"listne\" (did you mean \"listen\"?)"});
  auto off = problems_of(kBase + "metrics: 9930\n");
  REQUIRE(off.size() == 1);
  CHECK(off[0].starts_with("pgroute.yaml:5:10: metrics: expected a mapping"));
}

TEST_CASE("ops config: admin users") {
  auto cfg = config_of(kBase + "admin: {users: [ops]}\n");
  CHECK(cfg->admin.users == std::vector<std::string>{"ops"});
  CHECK(cfg->is_admin("ops"));
  CHECK_FALSE(cfg->is_admin("app"));
  // admin: may come before users:
  auto early = config_of("admin:\n  users: [app]\n" + kBase);
  CHECK(early->is_admin("app"));
}

TEST_CASE("ops config: admin users must exist") {
  CHECK(problems_of(kBase + "admin: {users: [ops, root]}\n") ==
        Lines{"pgroute.yaml:5:22: admin.users[1]: unknown user \"root\" (admin users must be listed in users:; "
              "known: app, ops)"});
  CHECK(problems_of(kBase + "admin: {users: ops}\n") ==
        Lines{"pgroute.yaml:5:16: admin.users: expected a sequence, got a scalar"});
  CHECK(problems_of(kBase + "admin: {user: [ops]}\n") ==
        Lines{"pgroute.yaml:5:9: admin: unknown key \"user\" (did you mean \"users\"?)"});
}

TEST_CASE("ops config: reload.watch is on unless turned off") {
  CHECK(config_of(kBase)->reload.watch);
  CHECK(config_of(kBase + "reload: {watch: true}\n")->reload.watch);
  CHECK_FALSE(config_of(kBase + "reload:\n  watch: false\n")->reload.watch);
  CHECK(config_of(kBase + "reload: {}\n")->reload.watch);
}

TEST_CASE("ops config: bad reload sections are placed") {
  CHECK(problems_of(kBase + "reload: {watch: yes}\n") ==
        Lines{"pgroute.yaml:5:17: reload.watch: unknown value \"yes\" (allowed: true, false)"});
  CHECK(problems_of(kBase + "reload: {wach: false}\n") ==
        Lines{"pgroute.yaml:5:10: reload: unknown key \"wach\" (did you mean \"watch\"?)"});
  CHECK(problems_of(kBase + "reload: {watch: [true]}\n") ==
        Lines{"pgroute.yaml:5:17: reload.watch: expected a scalar value, got a sequence"});
  auto scalar = problems_of(kBase + "reload: true\n");
  REQUIRE(scalar.size() == 1);
  CHECK(scalar[0].starts_with("pgroute.yaml:5:9: reload: expected a mapping"));
}
