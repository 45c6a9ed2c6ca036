// The harness itself, checked against real PostgreSQL (no proxy involved): if these pass, a
// failing proxy test is about the proxy.
#include <algorithm>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

TEST_CASE("harness: run() captures output, exit codes, stdin and timeouts") {
  RunResult echo = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(echo.exit_code == 3);
  CHECK(echo.out == "out\n");
  CHECK(echo.err == "err\n");

  std::string big(1 << 20, 'x');
  RunResult cat = run({"cat"}, {.stdin_data = big});
  CHECK(cat.exit_code == 0);
  CHECK(cat.out == big);

  const auto t0 = std::chrono::steady_clock::now();
  RunResult slow = run({"sleep", "5"}, {.timeout = 300ms});
  CHECK(slow.timed_out);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);

  RunResult missing = run({"/nonexistent/program"});
  CHECK(missing.exit_code == 127);

  RunResult env = run({"sh", "-c", "echo $PGROUTE_IT_PROBE"}, {.env = {{"PGROUTE_IT_PROBE", "42"}}});
  CHECK(env.out == "42\n");
}

TEST_CASE("harness: run() as the postgres user") {
  RunResult who = run({"id", "-un"}, {.as = RunAs::postgres_user});
  REQUIRE(who.exit_code == 0);
  if (running_as_root()) CHECK(who.out == "postgres\n");
}

TEST_CASE("harness: shared clusters accept every login method the proxy will use") {
  PgCluster& one = first_cluster();
  PgCluster& two = second_cluster();
  CHECK(one.port() != two.port());
  CHECK(one.superuser().scalar("SHOW port") == std::to_string(one.port()));
  CHECK(two.superuser().scalar("SHOW port") == std::to_string(two.port()));

  CHECK(Conn(one.params(kAppUser, kAppPassword)).scalar("SELECT current_user") == kAppUser);
  CHECK(Conn(one.params(kMd5User, kMd5Password)).scalar("SELECT current_user") == kMd5User);
  CHECK(Conn(one.params(kClearUser, kClearPassword)).scalar("SELECT current_user") == kClearUser);
  CHECK(Conn(one.params(kTrustUser, std::nullopt)).scalar("SELECT current_user") == kTrustUser);
  CHECK(one.superuser().scalar("SELECT rolpassword LIKE 'md5%' FROM pg_authid "
                               "WHERE rolname = 'md5_user'") == "t");
  CHECK(one.superuser().scalar("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                               "WHERE rolname = 'app'") == "t");
  CHECK(Conn(one.params(kAppUser, kAppPassword))
            .scalar("SELECT pg_catalog.pg_get_userbyid(datdba) "
                    "FROM pg_database WHERE datname = 'app'") == kAppUser);
}

TEST_CASE("harness: PgError carries the SQLSTATE of query and connection errors") {
  PgCluster& one = first_cluster();
  Conn c(one.params(kAppUser, kAppPassword));
  PgError div = expect_pg_error([&] { c.exec("SELECT 1/0"); });
  CHECK(div.sqlstate == "22012");
  CHECK(div.severity == "ERROR");
  CHECK(c.scalar("SELECT 7") == "7");  // still usable

  PgError mid = expect_pg_error([&] { c.exec_batch("SELECT 1; SELECT 1/0; SELECT 3"); });
  CHECK(mid.sqlstate == "22012");
  CHECK(c.transaction_status() == PQTRANS_IDLE);

  PgError pw = expect_pg_error([&] { Conn(one.params(kAppUser, "wrong")); });
  CHECK(pw.sqlstate == "28P01");
  CHECK(pw.severity == "FATAL");
  PgError db = expect_pg_error([&] { Conn(one.params(kAppUser, kAppPassword, "no_such_db")); });
  CHECK(db.sqlstate == "3D000");
  CHECK(db.message.find("no_such_db") != std::string::npos);
  PgError refused = expect_pg_error([&] { Conn(tcp_params(free_port(), "x", std::nullopt, "x")); });
  CHECK(refused.sqlstate.empty());

  c.set_query_timeout(300ms);
  PgError slow = expect_pg_error([&] { c.exec("SELECT pg_sleep(3)"); });
  CHECK(slow.sqlstate.empty());
  CHECK(slow.message.find("timeout") != std::string::npos);
}

TEST_CASE("harness: raw client against PostgreSQL itself") {
  PgCluster& one = first_cluster();
  SUBCASE("startup as a trust user, then a simple query") {
    RawClient raw(one.port());
    auto startup = raw.startup_trust(kTrustUser, kAppDatabase);
    CHECK(std::any_of(startup.begin(), startup.end(), [](auto& m) { return m.type == 'K'; }));
    REQUIRE(raw.send(query_message("SELECT 40 + 2")));
    std::string types;
    std::string value;
    for (;;) {
      auto m = raw.read_message();
      REQUIRE(m);
      types += m->type;
      if (m->type == 'D') value = m->body.substr(6);
      if (m->type == 'Z') break;
    }
    CHECK(types == "TDCZ");
    CHECK(value == "42");
    REQUIRE(raw.send(terminate_message()));
    CHECK(raw.wait_closed(2s));
  }
  SUBCASE("protocol 2.0 is refused") {
    // PostgreSQL answers a 2.0 client in the 2.0 error format ('E', text, NUL: no
    // SQLSTATE); the proxy's contract asks for a 3.0 ErrorResponse with 0A000 instead.
    RawClient raw(one.port());
    REQUIRE(raw.send(startup_message({{"user", kTrustUser}}, kProtocol2)));
    auto bytes = raw.read_until_closed(2s);
    REQUIRE(bytes);
    CHECK(bytes->starts_with("EFATAL"));
    CHECK(bytes->find("unsupported frontend protocol 2.0") != std::string::npos);
  }
  SUBCASE("an oversized message length ends the connection") {
    // PostgreSQL only logs this (COMMERROR) and closes; the proxy must also say 08P01.
    RawClient raw(one.port());
    raw.startup_trust(kTrustUser, kAppDatabase);
    std::string q = "Q";
    put_u32(q, 0xFFFFFFF0u);
    REQUIRE(raw.send(q));
    std::vector<BackendMessage> seen;
    CHECK(raw.wait_closed(5s, &seen));
    CHECK(seen.empty());
  }
  SUBCASE("a cancel request with a wrong key cancels nothing") {
    Conn c(one.params(kAppUser, kAppPassword));
    REQUIRE(PQsendQuery(c.raw(), "SELECT pg_sleep(1)"));
    std::this_thread::sleep_for(200ms);
    RawClient cancel(one.port());
    REQUIRE(cancel.send(cancel_request(static_cast<std::uint32_t>(PQbackendPID(c.raw())), 12345)));
    CHECK(cancel.wait_closed(2s));
    ResultPtr r = c.next_result();
    CHECK(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
    while (c.next_result()) {}
  }
}

TEST_CASE("harness: a private cluster restarts and stops cleanly") {
  std::filesystem::path data;
  {
    PgCluster own("restart-probe", {"max_connections = 20"});
    data = own.data_dir();
    CHECK(own.superuser().scalar("SHOW max_connections") == "20");
    own.superuser().exec("CREATE TABLE survives (x int); INSERT INTO survives VALUES (1)");
    own.restart(Shutdown::fast);
    CHECK(own.superuser().scalar("SELECT count(*) FROM survives") == "1");
    own.restart(Shutdown::immediate);
    CHECK(own.superuser().scalar("SELECT count(*) FROM survives") == "1");
    own.stop();
    CHECK_FALSE(own.running());
    CHECK_FALSE(port_accepts(own.port()));
  }
  CHECK_FALSE(std::filesystem::exists(data));
}

TEST_CASE("harness: proxy config YAML") {
  ProxyConfig c;
  c.backends = {{"default", "postgresql://app:apppass@127.0.0.1:5432/app", 4}};
  c.databases = {{"app", "default"}};
  c.users = {{"app", "se\"cret", std::nullopt}, {"trusty", std::nullopt, "trust"}};
  c.pool_size = 2;
  c.queue_timeout = "1s";
  const std::string y = c.to_yaml(16432);
  CHECK(y.find("listen: {host: 127.0.0.1, port: 16432}\n") != std::string::npos);
  CHECK(y.find("  default: {url: \"postgresql://app:apppass@127.0.0.1:5432/app\", pool_size: 4}\n") !=
        std::string::npos);
  CHECK(y.find("databases:\n  app: default\n") != std::string::npos);
  CHECK(y.find("  - {name: \"app\", password: \"se\\\"cret\"}\n") != std::string::npos);
  CHECK(y.find("  - {name: \"trusty\", auth: trust}\n") != std::string::npos);
  CHECK(y.find("pool: {mode: transaction, size: 2, queue_timeout: 1s}\n") != std::string::npos);
}
