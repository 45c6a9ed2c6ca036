// ReplicasRouter: reads spread by weight over healthy replicas; writes, transactions, non-reads and
// recent writers stay on the primary.

#include <doctest/doctest.h>

#include <functional>

#include "route_fixture.hpp"
#include "router/replicas_router.hpp"

using namespace pgroute::router;
using pgroute::router::test::Statement;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<ReplicasRouter> replicas(std::chrono::milliseconds window = 2s) {
  std::string error;
  auto router = ReplicasRouter::create({"main", {{"r1", 1}, {"r2", 3}}, window}, error);
  REQUIRE_MESSAGE(router, error);
  return router;
}

std::string alias_of(const Opinion& opinion) {
  const auto* d = std::get_if<RouteDecision>(&opinion);
  REQUIRE_MESSAGE(d, "expected a decision");
  CHECK(d->router == "replicas(main)");
  return d->alias;
}

}  // namespace

TEST_CASE("replicas: writes, transactions and non-reads go to the primary") {
  auto router = replicas();
  Statement insert("INSERT INTO t VALUES (1)");
  CHECK(alias_of(router->db_for_write(insert.context())) == "main");

  Statement select("SELECT * FROM t");
  select.in_transaction = true;
  auto d = std::get<RouteDecision>(router->db_for_read(select.context()));
  CHECK(d.alias == "main");
  CHECK(d.reason == "in an explicit transaction");

  for (const char* sql : {"SHOW work_mem", "SET work_mem = '4MB'", "BEGIN"}) {
    CAPTURE(sql);
    Statement s(sql);
    CHECK(alias_of(router->db_for_read(s.context())) == "main");
  }
}

TEST_CASE("replicas: read_your_writes keeps a recent writer's reads on the primary") {
  auto router = replicas(2s);
  Statement select("SELECT * FROM t");
  auto ctx = select.context();
  ctx.last_write = std::chrono::steady_clock::now() - 100ms;
  auto d = std::get<RouteDecision>(router->db_for_read(ctx));
  CHECK(d.alias == "main");
  CHECK(d.reason == "this client wrote within read_your_writes");

  ctx.last_write = std::chrono::steady_clock::now() - 3s;
  CHECK(alias_of(router->db_for_read(ctx)) != "main");

  auto no_window = replicas(0ms);
  ctx.last_write = std::chrono::steady_clock::now();
  CHECK(alias_of(no_window->db_for_read(ctx)) != "main");
}

TEST_CASE("replicas: weighted pick over the healthy replicas") {
  auto router = replicas();
  Statement select("SELECT 1");
  auto ctx = select.context();
  // Weights 1 and 3: draws 0 -> r1, 1..3 -> r2, cyclic over 4.
  CHECK(router->pick(0, ctx)->alias == "r1");
  CHECK(router->pick(1, ctx)->alias == "r2");
  CHECK(router->pick(3, ctx)->alias == "r2");
  CHECK(router->pick(4, ctx)->alias == "r1");

  std::function<bool(std::string_view)> r1_down = [](std::string_view alias) { return alias != "r1"; };
  ctx.alias_healthy = &r1_down;
  for (uint64_t draw = 0; draw < 8; ++draw) CHECK(router->pick(draw, ctx)->alias == "r2");

  std::function<bool(std::string_view)> all_down = [](std::string_view) { return false; };
  ctx.alias_healthy = &all_down;
  CHECK(router->pick(0, ctx) == nullptr);
  auto d = std::get<RouteDecision>(router->db_for_read(ctx));
  CHECK(d.alias == "main");
  CHECK(d.reason == "a read, but no replica is healthy");
}

TEST_CASE("replicas: reads spread roughly by weight") {
  auto router = replicas();
  Statement select("SELECT * FROM t WHERE id = 1");
  int r1 = 0, r2 = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string alias = alias_of(router->db_for_read(select.context()));
    r1 += alias == "r1";
    r2 += alias == "r2";
  }
  CHECK(r1 + r2 == 4000);
  // Expected 1000 : 3000; these bounds are many standard deviations (~27) wide.
  CHECK(r1 > 800);
  CHECK(r1 < 1200);
}

TEST_CASE("replicas: invalid options are refused") {
  std::string error;
  CHECK_FALSE(ReplicasRouter::create({"", {{"r1", 1}}, 0ms}, error));
  CHECK(error == "replicas router: primary is required");
  CHECK_FALSE(ReplicasRouter::create({"main", {}, 0ms}, error));
  CHECK(error == "replicas router for main: at least one replica is required");
  CHECK_FALSE(ReplicasRouter::create({"main", {{"r1", 0}}, 0ms}, error));
  CHECK(error == "replicas router for main: replica \"r1\" needs an alias and a weight above 0");
}
