// The chain with model and rule routers: first opinion wins, default alias, hints, cross-alias refusals.

#include <fnmatch.h>

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "route_fixture.hpp"
#include "router/model_router.hpp"
#include "router/router_chain.hpp"
#include "router/rule_router.hpp"
#include "router/table_pattern.hpp"

using namespace pgroute::router;
using pgroute::router::test::decision;
using pgroute::router::test::refusal;
using pgroute::router::test::Statement;

namespace {

std::unique_ptr<Router> model() {
  return std::make_unique<ModelRouter>(ModelRouterOptions{{{"auth_*", "users"}, {"public.votes", "votes"}}});
}

std::unique_ptr<Router> rule(RuleRouterOptions options) {
  std::string error;
  auto router = RuleRouter::create(std::move(options), error);
  REQUIRE_MESSAGE(router, error);
  return router;
}

RouterChain chain_of(std::vector<std::unique_ptr<Router>> routers, std::vector<std::string> aliases = {}) {
  return RouterChain("default", std::move(routers), std::move(aliases));
}

template <typename... R>
std::vector<std::unique_ptr<Router>> list(R... routers) {
  std::vector<std::unique_ptr<Router>> out;
  (out.push_back(std::move(routers)), ...);
  return out;
}

}  // namespace

// A glob is read once into an equality or a prefix test when it can be: each must answer as fnmatch(3).
TEST_CASE("a glob answers as fnmatch whether it became an equality, a prefix test or neither") {
  const char* patterns[] = {"events",       "events_*", "*",  "",    "ev*ts", "event?",
                            "events_[0-9]", "a\\*",     "a*", "a**", "[*]"};
  const char* texts[] = {"events", "event", "events_", "events_7", "events_x", "",
                         "a",      "a*",    "ab",      "evts",     "*",        "a\\*"};
  for (const char* pattern : patterns)
    for (const char* text : texts) {
      CAPTURE(pattern);
      CAPTURE(text);
      CHECK(Glob(pattern).matches(text) == (fnmatch(pattern, text, 0) == 0));
    }
}

TEST_CASE("table patterns") {
  CHECK(TablePattern("auth_*").matches(TableRef{"", "auth_user"}));
  CHECK(TablePattern("auth_*").matches(TableRef{"app", "auth_group"}));
  CHECK_FALSE(TablePattern("auth_*").matches(TableRef{"", "django_session"}));
  CHECK(TablePattern("public.votes").matches(TableRef{"public", "votes"}));
  CHECK(TablePattern("public.votes").matches(TableRef{"", "votes"}));  // search_path unknown
  CHECK_FALSE(TablePattern("public.votes").matches(TableRef{"other", "votes"}));
  CHECK(TablePattern("app.*").matches(TableRef{"app", "anything"}));
  CHECK_FALSE(TablePattern("app.*").matches(TableRef{"web", "anything"}));
  CHECK(TablePattern("event?").matches(TableRef{"", "events"}));
  CHECK_FALSE(TablePattern("events").matches(TableRef{"", "event"}));  // literal: whole-name equality
  CHECK_FALSE(TablePattern("event").matches(TableRef{"", "events"}));
  CHECK(TablePattern("events_[0-9]").matches(TableRef{"", "events_7"}));
  CHECK_FALSE(TablePattern("events_[0-9]").matches(TableRef{"", "events_x"}));
  CHECK(TablePattern("ev\\*").matches(TableRef{"", "ev*"}));  // an escaped star is literal
  CHECK_FALSE(TablePattern("ev\\*").matches(TableRef{"", "evx"}));
  // Longer than a stack buffer: still matched.
  CHECK(glob_matches(std::string(300, 'a') + "*", std::string(300, 'a') + "bc"));
  CHECK_FALSE(glob_matches("a*", std::string(300, 'b')));
  // The shortcuts (no metacharacter: equality; one trailing '*': prefix) agree with fnmatch itself.
  for (std::string pattern : {"auth_*", "*", "auth", "a*b", "ev\\*", "auth_?", "[ab]*", "auth_**"}) {
    for (std::string name : {"", "auth", "auth_", "auth_user", "ev*", "a.b", "b_x", "xauth_user"}) {
      CAPTURE(pattern);
      CAPTURE(name);
      CHECK(glob_matches(pattern, name) == (fnmatch(pattern.c_str(), name.c_str(), 0) == 0));
    }
  }
}

TEST_CASE("model router: tables place the statement; nothing claimed goes to default") {
  RouterChain chain = chain_of(list(model()));
  auto d = decision(chain.route(Statement("SELECT * FROM auth_user WHERE id = 1").context()));
  CHECK(d.alias == "users");
  CHECK(d.router == "model");
  CHECK(d.reason.find("auth_*") != std::string::npos);
  CHECK(decision(chain.route(Statement("UPDATE public.votes SET n = n + 1").context())).alias == "votes");
  CHECK(decision(chain.route(Statement("SELECT * FROM votes").context())).alias == "votes");
  CHECK(decision(chain.route(Statement("SELECT * FROM other.votes").context())).alias == "default");
  auto plain = decision(chain.route(Statement("SELECT * FROM django_session").context()));
  CHECK(plain.alias == "default");
  CHECK(plain.router == "default");
  CHECK(decision(chain.route(Statement("SELECT 1").context())).alias == "default");
  CHECK(decision(chain.route(Statement("BEGIN").context())).alias == "default");
}

TEST_CASE("cross-alias statements are refused, naming tables, aliases and routers") {
  RouterChain chain = chain_of(list(model()));
  RouteError e =
      refusal(chain.route(Statement("SELECT * FROM auth_user u JOIN votes v ON v.user_id = u.id").context()));
  CHECK(e.sqlstate == "0A000");
  CHECK(e.message.find("\"auth_user\"") != std::string::npos);
  CHECK(e.message.find("\"votes\"") != std::string::npos);
  CHECK(e.message.find("users") != std::string::npos);
  CHECK(e.message.find("(router model)") != std::string::npos);
  CHECK_FALSE(e.hint.empty());
  // An unclaimed table lives on the default alias, so it cannot join a claimed one either.
  RouteError unclaimed = refusal(chain.route(Statement("SELECT * FROM auth_user, django_session").context()));
  CHECK(unclaimed.message.find("default") != std::string::npos);
  // Same alias: fine. Subqueries and CTEs count as touched tables too.
  CHECK(decision(chain.route(Statement("SELECT * FROM auth_user JOIN auth_group USING (id)").context())).alias ==
        "users");
  CHECK(std::holds_alternative<RouteError>(
      chain.route(Statement("WITH v AS (SELECT * FROM votes) SELECT * FROM auth_user, v").context())));
  CHECK(std::holds_alternative<RouteError>(
      chain.route(Statement("INSERT INTO auth_log (id) SELECT id FROM django_session").context())));
}

TEST_CASE("rule router: session globs, kind and SQL regex; statement-level decisions") {
  RouterChain chain =
      chain_of(list(rule({.application_name = "report*", .kind = RuleKind::Read, .alias = "analytics"}), model()));
  Statement report("SELECT * FROM auth_user");
  report.application_name = "report-daily";
  auto d = decision(chain.route(report.context()));
  CHECK(d.alias == "analytics");
  CHECK(d.router == "rule(analytics)");
  CHECK(d.reason.find("report-daily") != std::string::npos);
  // Writes skip a read rule and fall through to the model router.
  Statement report_write("UPDATE auth_user SET x = 1");
  report_write.application_name = "report-daily";
  CHECK(decision(chain.route(report_write.context())).alias == "users");
  // A statement-level rule decision is not checked for cross-alias tables.
  Statement report_join("SELECT * FROM auth_user, votes");
  report_join.application_name = "reporting";
  CHECK(decision(chain.route(report_join.context())).alias == "analytics");
  Statement web("SELECT * FROM auth_user");
  CHECK(decision(chain.route(web.context())).alias == "users");

  RouterChain by_user = chain_of(list(rule({.user = "etl_*", .database = "app*", .alias = "batch"})));
  Statement etl("DELETE FROM t");
  etl.user = "etl_nightly";
  CHECK(decision(by_user.route(etl.context())).alias == "batch");
  etl.database = "other";
  CHECK(decision(by_user.route(etl.context())).alias == "default");

  RouterChain by_sql = chain_of(list(rule({.sql_regex = "^\\s*select .*pg_catalog", .alias = "catalog"})));
  CHECK(decision(by_sql.route(Statement("SELECT * FROM pg_catalog.pg_class").context())).alias == "catalog");
  CHECK(decision(by_sql.route(Statement("select relname from PG_CATALOG.pg_class").context())).alias == "catalog");
  CHECK(decision(by_sql.route(Statement("SELECT 1").context())).alias == "default");

  std::string error;
  CHECK_FALSE(RuleRouter::create({.sql_regex = "([unclosed", .alias = "x"}, error));
  CHECK(error.find("bad sql regex") != std::string::npos);
  CHECK_FALSE(RuleRouter::create({.application_name = "x"}, error));
  CHECK(error.find("alias is required") != std::string::npos);
}

TEST_CASE("first opinion wins, in configuration order") {
  RouterChain model_first = chain_of(list(model(), rule({.alias = "everything"})));
  CHECK(decision(model_first.route(Statement("SELECT * FROM auth_user").context())).alias == "users");
  CHECK(decision(model_first.route(Statement("SELECT * FROM t").context())).alias == "everything");
  RouterChain rule_first = chain_of(list(rule({.alias = "everything"}), model()));
  CHECK(decision(rule_first.route(Statement("SELECT * FROM auth_user").context())).alias == "everything");
  CHECK(model_first.size() == 2);
  CHECK(model_first.default_alias() == "default");
}

TEST_CASE("alias hints override the routers; unknown aliases are refused") {
  RouterChain chain = chain_of(list(model()), {"default", "users", "votes", "shard_1"});
  auto d = decision(chain.route(Statement("/* pgroute: alias=shard_1 */ SELECT * FROM auth_user, votes").context()));
  CHECK(d.alias == "shard_1");
  CHECK(d.router == "hint");
  RouteError e = refusal(chain.route(Statement("SELECT 1 -- pgroute: alias=nowhere").context()));
  CHECK(e.sqlstate == "42704");
  CHECK(e.message.find("nowhere") != std::string::npos);
  CHECK(e.hint.find("shard_1") != std::string::npos);
  // Without a list of known aliases the chain cannot check: the hint is taken as written.
  CHECK(decision(chain_of(list(model())).route(Statement("SELECT 1 /* pgroute: alias=x */").context())).alias == "x");
}

TEST_CASE("statements too complex to analyse are refused unless hinted") {
  RouterChain chain = chain_of(list(model()));
  std::string huge = "SELECT 1 " + std::string(kMaxAnalyzedBytes, ' ');
  RouteError e = refusal(chain.route(Statement(huge).context()));
  CHECK(e.sqlstate == "54001");
  CHECK(decision(chain.route(Statement("/* pgroute: alias=users */ " + huge).context())).alias == "users");
  // A plain syntax error is the server's to report: it goes to the default alias.
  CHECK(decision(chain.route(Statement("SELEC 1").context())).alias == "default");
}

TEST_CASE("a statement that does not parse goes where its hint or a rule says, else to default") {
  RouterChain chain = chain_of(list(rule({.sql_regex = "^\\s*selec ", .alias = "catalog"}), model()));
  CHECK(decision(chain.route(Statement("SELEC * FROM auth_user").context())).alias == "catalog");
  CHECK(decision(chain.route(Statement("/* pgroute: alias=users */ SELEC 1 FROM").context())).alias == "users");
  CHECK(decision(chain.route(Statement("INSRT INTO auth_user").context())).alias == "default");
}

TEST_CASE("route() picks read or write by kind") {
  struct Recorder final : Router {
    std::string_view name() const override { return "recorder"; }
    Opinion db_for_read(const RouteContext&) const override { return RouteDecision{"r", "recorder", "", {}, false}; }
    Opinion db_for_write(const RouteContext&) const override { return RouteDecision{"w", "recorder", "", {}, false}; }
  };
  std::vector<std::unique_ptr<Router>> routers;
  routers.push_back(std::make_unique<Recorder>());
  RouterChain chain("default", std::move(routers));
  CHECK(decision(chain.route(Statement("SELECT 1").context())).alias == "r");
  CHECK(decision(chain.route(Statement("SELECT * FROM t FOR UPDATE").context())).alias == "w");
  CHECK(decision(chain.route(Statement("CREATE TABLE t (a int)").context())).alias == "w");
  CHECK(decision(chain.route(Statement("LISTEN x").context())).alias == "w");
  CHECK(decision(chain.route(Statement("SHOW x").context())).alias == "r");
  CHECK(decision(chain.route_write(Statement("SELECT 1").context())).alias == "w");
  CHECK(decision(chain.route_read(Statement("DELETE FROM t").context())).alias == "r");
}

TEST_CASE("Bind parameter format rules") {
  std::vector<std::optional<std::string_view>> params{"1", std::nullopt, "\x00\x01"};
  RouteContext ctx;
  ctx.params = params;
  CHECK(bound_param(ctx, 1).state == BoundParam::State::Text);
  CHECK(bound_param(ctx, 1).bytes == "1");
  CHECK(bound_param(ctx, 2).state == BoundParam::State::Null);
  CHECK(bound_param(ctx, 4).state == BoundParam::State::Unbound);
  CHECK(bound_param(ctx, 0).state == BoundParam::State::Unbound);
  std::vector<int16_t> all_binary{1};
  ctx.param_formats = all_binary;
  CHECK(bound_param(ctx, 1).state == BoundParam::State::Binary);
  CHECK(bound_param(ctx, 3).state == BoundParam::State::Binary);
  std::vector<int16_t> per_param{0, 0, 1};
  ctx.param_formats = per_param;
  CHECK(bound_param(ctx, 1).state == BoundParam::State::Text);
  CHECK(bound_param(ctx, 3).state == BoundParam::State::Binary);
}
