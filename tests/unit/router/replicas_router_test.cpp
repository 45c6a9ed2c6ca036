// ReplicasRouter: reads spread by weight over healthy replicas; writes, transactions, non-reads and
// recent writers stay on the primary.

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <set>

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

namespace {

std::unique_ptr<ReplicasRouter> lag_limited(NoReplica when_none) {
  std::string error;
  ReplicasRouterOptions o{"main", {{"r1", 1}, {"r2", 3}}, 0ms};
  o.lag_limits = LagLimits{1000ms, 16u << 20};
  o.when_no_replica = when_none;
  auto router = ReplicasRouter::create(std::move(o), error);
  REQUIRE_MESSAGE(router, error);
  return router;
}

ReplicaState in_recovery(double lag_seconds, uint64_t lag_bytes) {
  ReplicaState s;
  s.seen = ReplicaState::Seen::InRecovery;
  s.lag_known = true;
  s.lag_seconds = lag_seconds;
  s.lag_bytes = lag_bytes;
  return s;
}

}  // namespace

TEST_CASE("replicas: rotation verdicts and their descriptions") {
  const LagLimits limits{1000ms, 1024};
  CHECK(out_of_rotation(ReplicaState{}, limits) == OutOfRotation::NotChecked);
  ReplicaState s = in_recovery(0.5, 10);
  CHECK(out_of_rotation(s, limits) == OutOfRotation::No);
  CHECK(out_of_rotation(in_recovery(1.5, 10), limits) == OutOfRotation::LagSeconds);
  CHECK(describe(OutOfRotation::LagSeconds, in_recovery(1.5, 10), limits) == "replay 1.5s behind (max_lag 1s)");
  CHECK(out_of_rotation(in_recovery(0, 2048), limits) == OutOfRotation::LagBytes);
  CHECK(describe(OutOfRotation::LagBytes, in_recovery(0, 2048), limits) ==
        "replay 2048 bytes behind (max_lag_bytes 1024)");
  CHECK(out_of_rotation(in_recovery(1.5, 2048), LagLimits{}) == OutOfRotation::No);  // no limits: lag is fine
  s.lag_known = false;  // the primary never answered: the lag cannot be judged
  s.lag_seconds = 100;
  CHECK(out_of_rotation(s, limits) == OutOfRotation::No);
  s.seen = ReplicaState::Seen::NotInRecovery;
  CHECK(describe(out_of_rotation(s, limits), s, limits) == "not in recovery (promoted?)");
  s.seen = ReplicaState::Seen::NotAnswering;
  CHECK(describe(out_of_rotation(s, limits), s, limits) == "not answering lag checks");
}

TEST_CASE("replicas: LSNs as PostgreSQL writes them") {
  CHECK(parse_lsn("16/B374D848") == (uint64_t{0x16} << 32 | 0xB374D848));
  CHECK(parse_lsn("0/0") == uint64_t{0});
  CHECK(lsn_text(uint64_t{0x16} << 32 | 0xB374D848) == "16/B374D848");
  for (const char* bad : {"", "/", "1/", "/1", "1/2/3", "x/1", "1 /2", "100000000/0"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_lsn(bad).has_value());
  }
}

TEST_CASE("replicas: replicas out of rotation are skipped; with none left, the primary or an error") {
  auto router = lag_limited(NoReplica::Primary);
  Statement select("SELECT * FROM t");
  auto ctx = select.context();
  std::map<std::string, ReplicaState, std::less<>> states{{"r1", in_recovery(0, 0)}, {"r2", in_recovery(5, 0)}};
  std::function<ReplicaState(std::string_view)> lookup = [&](std::string_view alias) {
    return states.find(alias)->second;
  };
  ctx.replica_state = &lookup;
  for (uint64_t draw = 0; draw < 8; ++draw) CHECK(router->pick(draw, ctx)->alias == "r1");

  states["r1"].seen = ReplicaState::Seen::NotInRecovery;
  auto d = std::get<RouteDecision>(router->db_for_read(ctx));
  CHECK(d.alias == "main");
  CHECK(d.reason ==
        "a read, but no replica is in rotation (r1: not in recovery (promoted?); r2: replay 5s behind (max_lag 1s))");

  auto strict = lag_limited(NoReplica::Error);
  auto e = std::get<RouteError>(strict->db_for_read(ctx));
  CHECK(e.sqlstate == "57P03");
  CHECK(e.router == "replicas(main)");
  CHECK(e.message ==
        "pgroute: replicas(main): no replica can take this read (r1: not in recovery (promoted?); r2: replay 5s "
        "behind (max_lag 1s)) and when_no_replica is error");
  // Writes are not reads: the error is for reads only.
  CHECK(std::get<RouteDecision>(strict->db_for_write(ctx)).alias == "main");

  // Back in rotation: reads return to the replica.
  states["r2"] = in_recovery(0.2, 100);
  CHECK(alias_of(strict->db_for_read(ctx)) == "r2");

  // Without lag limits the checks do not matter (only health does).
  CHECK(alias_of(replicas()->db_for_read(ctx)) != "main");
  // Without a lookup (pgroute explain offline) every replica counts as in rotation.
  ctx.replica_state = nullptr;
  CHECK(alias_of(strict->db_for_read(ctx)) != "main");

  // when_no_replica: error holds without lag limits too, for replicas that are down.
  std::string error;
  auto unchecked = ReplicasRouter::create({"main", {{"r1", 1}}, 0ms, std::nullopt, NoReplica::Error}, error);
  REQUIRE_MESSAGE(unchecked, error);
  std::function<bool(std::string_view)> all_down = [](std::string_view) { return false; };
  ctx.alias_healthy = &all_down;
  auto down = std::get<RouteError>(unchecked->db_for_read(ctx));
  CHECK(down.message ==
        "pgroute: replicas(main): no replica can take this read (r1: down (no connection)) and when_no_replica is "
        "error");
}

TEST_CASE("replicas: replay delay from the primary's LSN samples and the last replayed commit") {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point now = Clock::now();
  const std::deque<LsnSample> primary{{100, now - 3s}, {200, now - 2s}, {300, now - 1s}, {400, now - 100ms}};
  CHECK_FALSE(replay_delay(100, {}, 5.0, now).has_value());     // no primary sample yet: unknown
  CHECK(replay_delay(400, primary, 60.0, now) == 0.0);          // caught up: 0, however old the last commit
  CHECK(replay_delay(450, primary, std::nullopt, now) == 0.0);  // ahead of the last sample
  // Idle primary that wrote a little WAL without commits: the last commit is a minute old, but the standby
  // was level with the primary a second ago, so it is at most a second behind.
  CHECK(replay_delay(300, primary, 60.0, now) == doctest::Approx(1.0));
  CHECK(replay_delay(250, primary, 60.0, now) == doctest::Approx(2.0));
  // A recent commit replayed bounds it tighter.
  CHECK(replay_delay(250, primary, 0.5, now) == doctest::Approx(0.5));
  // Behind every sample: the commit time, or without one at least the oldest sample's age.
  CHECK(replay_delay(50, primary, 42.0, now) == doctest::Approx(42.0));
  CHECK(replay_delay(50, primary, std::nullopt, now) == doctest::Approx(3.0));
  CHECK(replay_delay(250, primary, -0.2, now) == 0.0);  // clock skew between servers: never negative
}

TEST_CASE("replicas: an insert position just past a WAL page header stands for the page boundary") {
  using pgroute::router::wal_end_of_insert;
  constexpr uint64_t page = 8192;
  // The last record ended at a page boundary: PostgreSQL reports the position after the next header.
  CHECK(wal_end_of_insert(0x4000000 + 7 * page + 24) == 0x4000000 + 7 * page);
  CHECK(wal_end_of_insert(0x5000000 + 40) == 0x5000000);  // a segment's first page: the long header
  // Anywhere else it is a record's end already.
  CHECK(wal_end_of_insert(0x4007268) == 0x4007268);
  CHECK(wal_end_of_insert(0x4000000 + 3 * page + 48) == 0x4000000 + 3 * page + 48);
  CHECK(wal_end_of_insert(0x4000000 + 3 * page) == 0x4000000 + 3 * page);
  // An idle primary whose last record ended at a boundary: its standby, replayed to the boundary, is
  // caught up, not behind by the minute since its last commit.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point now = Clock::now();
  const uint64_t boundary = 0x4000000 + 9 * page;
  const std::deque<LsnSample> idle{{wal_end_of_insert(boundary + 24), now - 2s},
                                   {wal_end_of_insert(boundary + 24), now}};
  CHECK(replay_delay(boundary, idle, 60.0, now) == 0.0);
}

TEST_CASE("replicas: causal floors: a written table's reads wait for its commit's replay, others do not") {
  std::string error;
  ReplicasRouterOptions options{"main", {{"r1", 1}, {"r2", 1}}, 0ms};
  options.causal_tables = true;
  auto router = ReplicasRouter::create(options, error);
  REQUIRE_MESSAGE(router, error);

  CausalFloors floors;
  std::function<CausalFloors*(std::string_view)> floors_of = [&](std::string_view primary) {
    return primary == "main" ? &floors : nullptr;
  };
  std::map<std::string, ReplicaState, std::less<>> states{{"r1", in_recovery(0, 0)}, {"r2", in_recovery(0, 0)}};
  states["r1"].replay_lsn = 100;
  states["r2"].replay_lsn = 300;
  std::function<ReplicaState(std::string_view)> lookup = [&](std::string_view alias) {
    return states.find(alias)->second;
  };
  Statement read_t("SELECT * FROM t WHERE id = 1");
  Statement read_u("SELECT * FROM public.u");
  auto ctx_t = read_t.context();
  auto ctx_u = read_u.context();
  for (auto* ctx : {&ctx_t, &ctx_u}) {
    ctx->replica_state = &lookup;
    ctx->causal_floors = &floors_of;
  }

  // No floor: both replicas.
  std::set<std::string> seen;
  for (uint64_t draw = 0; draw < 8; ++draw) seen.insert(router->pick(draw, ctx_t)->alias);
  CHECK(seen == std::set<std::string>{"r1", "r2"});

  // t committed at 200: only r2 (replayed 300) takes its reads; u's reads still go anywhere.
  floors.raise({"t"}, 200);
  for (int i = 0; i < 20; ++i) {
    const auto held = std::get<RouteDecision>(router->db_for_read(ctx_t));
    CHECK(held.alias == "r2");
    CHECK(held.causal == &floors);  // the session counts where it went
    CHECK(held.reason == "a causal read after 0/C8 (a write to a table this read touches); replayed by r2");
    CHECK_FALSE(held.causal_fallback);
  }
  seen.clear();
  for (int i = 0; i < 40; ++i) {
    const auto free = std::get<RouteDecision>(router->db_for_read(ctx_u));
    seen.insert(free.alias);
    CHECK(free.causal == nullptr);
  }
  CHECK(seen == std::set<std::string>{"r1", "r2"});

  // t committed at 400: no replica has it; the primary, saying why.
  floors.raise({"t"}, 400);
  auto d = std::get<RouteDecision>(router->db_for_read(ctx_t));
  CHECK(d.alias == "main");
  CHECK(d.reason == "causal read: no replica has replayed 0/190 (a write to a table this read touches) yet");
  CHECK(d.causal_fallback);
  CHECK(d.replay_wait == 0ms);  // causal_wait unset: the primary at once

  // A write whose tables are unknown holds back every read.
  floors.raise({std::string(CausalFloors::kAnyTable)}, 350);
  CHECK(alias_of(router->db_for_read(ctx_u)) == "main");

  // Once every replica has replayed past them, the floors are dropped.
  states["r1"].replay_lsn = 500;
  states["r2"].replay_lsn = 450;
  CHECK(alias_of(router->db_for_read(ctx_t)) != "main");
  CHECK(floors.empty());

  // Without checks (pgroute explain offline) a floor cannot be judged: the read is not held back by it.
  floors.raise({"t"}, 900);
  ctx_t.replica_state = nullptr;
  CHECK(alias_of(router->db_for_read(ctx_t)) != "main");
}

TEST_CASE("causal floors: raised per table, the highest wins, dropped once replayed") {
  CausalFloors floors;
  CHECK(floors.empty());
  Statement both("SELECT * FROM a JOIN b USING (id)");
  CHECK(floors.floor_for(both.analysis.tables) == 0);
  floors.raise({"a"}, 10);
  floors.raise({"a", "b"}, 7);
  CHECK(floors.floor_for(both.analysis.tables) == 10);
  floors.raise({"b"}, 20);
  CHECK(floors.floor_for(both.analysis.tables) == 20);
  floors.forget_replayed(15);  // a (10) replayed everywhere, b (20) not
  CHECK(floors.size() == 1);
  CHECK(floors.floor_for(both.analysis.tables) == 20);
  floors.forget_replayed(20);
  CHECK(floors.empty());
}
