// explain_route: the whole routing story of one statement, as `pgroute explain` prints it.

#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "router/chain_builder.hpp"
#include "router/explain.hpp"

using namespace pgroute;
using namespace pgroute::router;

namespace {

struct Setup {
  std::shared_ptr<const config::Config> cfg;
  std::shared_ptr<const RouterChain> chain;
};

Setup setup() {
  auto loaded = config::load_text(R"(
backends:
  default: {url: "postgresql://app:secret@db0/app"}
  users: {url: "postgresql://db1/users"}
  shard_0: {url: "postgresql://s0/app"}
  shard_1: {url: "postgresql://s1/app"}
  analytics: {url: "postgresql://an/app"}
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
    method: hash
    shards: [shard_0, shard_1]
    without_key: all
)",
                                  "pgroute.yaml", [](std::string_view) { return std::nullopt; });
  REQUIRE(loaded.config);
  std::string error;
  auto chain = build_router_chain(*loaded.config, error);
  REQUIRE_MESSAGE(chain, error);
  return {loaded.config, chain};
}

}  // namespace

TEST_CASE("explain: a model route names the alias, its masked url, the router and why") {
  auto s = setup();
  CHECK(explain_route(*s.cfg, *s.chain, "SELECT * FROM auth_user u JOIN auth_group g ON true WHERE u.id = 3", {}) ==
        "statement: read (SELECT)\n"
        "tables: auth_user, auth_group\n"
        "keys: auth_user.id = 3\n"  // FROM aliases resolved to their tables
        "alias: users (postgresql://db1/users)\n"
        "router: model\n"
        "reason: table \"auth_user\" matches \"auth_*\"\n");
}

TEST_CASE("explain: shard keys from literals and bind parameters") {
  auto s = setup();
  // Which shard 42 hashes to is shard_router_test's business (PostgreSQL vectors); here: it is explained.
  std::string by_param = explain_route(*s.cfg, *s.chain, "UPDATE events SET n = n + 1 WHERE user_id = $1", {{1, "42"}});
  CHECK(
      by_param.starts_with("statement: write (UPDATE)\n"
                           "tables: events (written)\n"
                           "keys: events.user_id = $1 ('42')\n"
                           "alias: shard_"));
  CHECK(by_param.find("router: shard(events)\nreason: user_id = 42: hash remainder ") != std::string::npos);
  std::string by_literal = explain_route(*s.cfg, *s.chain, "UPDATE events SET n = n + 1 WHERE user_id = 42", {});
  // The same key lands on the same alias, whichever way it came.
  CHECK(by_literal.substr(by_literal.find("alias:"), 20) == by_param.substr(by_param.find("alias:"), 20));

  CHECK(explain_route(*s.cfg, *s.chain, "SELECT * FROM events", {}) ==
        "statement: read (SELECT)\n"
        "tables: events\n"
        "keys: (none)\n"
        "aliases: shard_0, shard_1 (run on each, rows merged)\n"
        "router: shard(events)\n"
        "reason: no shard key user_id in the statement: reading every shard\n");
  // What the proxy would refuse to spread is explained as the refusal it gives.
  Explanation expr = explain(*s.cfg, *s.chain, "SELECT * FROM events ORDER BY lower(n) LIMIT 5", {});
  CHECK_FALSE(expr.routed);
  CHECK(expr.text.find("refused: 0A000 pgroute: router \"shard(events)\" would read every shard (shard_0, "
                       "shard_1) for this SELECT") != std::string::npos);
  CHECK(expr.text.find("its ORDER BY an expression") != std::string::npos);
  // What it can redo is said.
  Explanation ordered = explain(*s.cfg, *s.chain, "SELECT * FROM events ORDER BY n LIMIT 5", {});
  CHECK(ordered.routed);
  CHECK(ordered.text.find("aliases: shard_0, shard_1 (run on each, rows merged; ORDER BY and LIMIT redone on the "
                          "merged rows)\n") != std::string::npos);
}

TEST_CASE("explain: refusals print SQLSTATE, message, hint and router") {
  auto s = setup();
  Explanation e = explain(*s.cfg, *s.chain, "DELETE FROM events WHERE user_id = $1", {});
  CHECK_FALSE(e.routed);
  CHECK(e.text ==
        "statement: write (DELETE)\n"
        "tables: events (written)\n"
        "keys: events.user_id = $1 (not bound)\n"
        "refused: 0A000 pgroute: shard router for \"events\": shard key user_id is $1, which has no bound value "
        "(shards: shard_0, shard_1)\n"
        "hint: Add \"user_id = <value>\" to the statement, a /* pgroute: shard_key=<value> */ comment, or SET "
        "pgroute.shard_key = <value>.\n"
        "router: shard(events)\n");

  e = explain(*s.cfg, *s.chain, "SELECT * FROM auth_user JOIN events USING (user_id) WHERE user_id = 1", {});
  CHECK_FALSE(e.routed);
  CHECK(e.text.find("refused: 0A000 pgroute: statement touches tables on different aliases: \"auth_user\" is on "
                    "users (router model)") != std::string::npos);
}

TEST_CASE("explain: session, hints, NULL parameters and unparsable text") {
  auto s = setup();
  ExplainSession report;
  report.application_name = "reporting";
  Explanation e = explain(*s.cfg, *s.chain, "SELECT 1", {}, report);
  CHECK(e.routed);
  CHECK(e.text.find("alias: analytics (postgresql://an/app)\nrouter: rule(analytics)\n") != std::string::npos);

  e = explain(*s.cfg, *s.chain, "/* pgroute: alias=shard_1 */ SELECT * FROM auth_user", {});
  CHECK(e.text ==
        "statement: read (SELECT)\n"
        "tables: auth_user\n"
        "keys: (none)\n"
        "routing hint: alias=shard_1\n"
        "alias: shard_1 (postgresql://s1/app)\n"
        "router: hint\n"
        "reason: /* pgroute: alias=shard_1 */\n");

  ExplainSession keyed;
  keyed.shard_key = "7";
  e = explain(*s.cfg, *s.chain, "INSERT INTO events (user_id, n) VALUES ($2, $1)", {{1, "5"}}, keyed);
  CHECK(e.text.find("keys: events.user_id = $2 (not bound) AND events.n = $1 ('5')\n") != std::string::npos);
  CHECK(e.text.find("session: pgroute.shard_key=7\n") != std::string::npos);
  CHECK(e.text.find("router: shard(events)\nreason: user_id = 7: hash remainder ") != std::string::npos);
  CHECK(e.text.ends_with(" (from SET pgroute.shard_key)\n"));
  e = explain(*s.cfg, *s.chain, "INSERT INTO events (user_id, n) VALUES ($1, $2)", {{2, "5"}});
  CHECK(e.text.find("keys: events.user_id = $1 (NULL) AND events.n = $2 ('5')\n") != std::string::npos);

  e = explain(*s.cfg, *s.chain, "SELEC 1", {});
  CHECK(e.routed);
  CHECK(e.text.starts_with("statement: unparsed: syntax error at or near \"SELEC\""));
  CHECK(e.text.find("alias: default (postgresql://app:***@db0/app)\nrouter: default\n") != std::string::npos);
}

TEST_CASE("explain: an INSERT without a column list shows its values by position; offline it is refused") {
  auto s = setup();
  Explanation e = explain(*s.cfg, *s.chain, "INSERT INTO events VALUES (42, 'x')", {});
  CHECK_FALSE(e.routed);
  CHECK(e.text.find("keys: events.(column 1) = 42 AND events.(column 2) = x\n") != std::string::npos);
  CHECK(e.text.find("refused: 0A000 pgroute: shard router for \"events\": INSERT without a column list: where "
                    "user_id stands in events is not known here\n") != std::string::npos);
  CHECK(e.text.find("hint: Name the columns: INSERT INTO events (user_id, ...) VALUES (...).\n") != std::string::npos);
}
