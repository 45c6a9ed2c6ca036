// 4. COPY in both directions through the proxy, byte-compared with COPY straight from the server.
#include "harness.hpp"
#include "message_trace.hpp"

#include <sys/socket.h>

using namespace pgroute::it;

namespace {

void copy_in(Conn& c, const std::string& sql, const std::string& data, const char* fail = nullptr) {
  if (!PQsendQuery(c.raw(), sql.c_str())) throw PgError("", "", PQerrorMessage(c.raw()));
  ResultPtr start = c.next_result();
  throw_if_error(start.get(), c.raw());
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) throw PgError("", "", "no CopyInResponse");
  constexpr std::size_t kChunk = 64 * 1024;
  for (std::size_t pos = 0; pos < data.size(); pos += kChunk) {
    const std::size_t n = std::min(kChunk, data.size() - pos);
    if (PQputCopyData(c.raw(), data.data() + pos, static_cast<int>(n)) != 1)
      throw PgError("", "", PQerrorMessage(c.raw()));
  }
  if (PQputCopyEnd(c.raw(), fail) != 1) throw PgError("", "", PQerrorMessage(c.raw()));
  std::optional<PgError> error;
  while (ResultPtr r = c.next_result()) {
    try {
      throw_if_error(r.get(), c.raw());
    } catch (const PgError& e) {
      if (!error) error = e;
    }
  }
  if (error) throw *error;
}

std::string copy_out(Conn& c, const std::string& sql) {
  if (!PQsendQuery(c.raw(), sql.c_str())) throw PgError("", "", PQerrorMessage(c.raw()));
  ResultPtr start = c.next_result();
  throw_if_error(start.get(), c.raw());
  if (PQresultStatus(start.get()) != PGRES_COPY_OUT) throw PgError("", "", "no CopyOutResponse");
  std::string out;
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(c.raw(), &buf, /*async=*/1);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      PQfreemem(buf);
    } else if (n == 0) {
      c.wait_input();
    } else {
      break;  // -1: done, -2: error (reported by the result below)
    }
  }
  while (ResultPtr r = c.next_result()) throw_if_error(r.get(), c.raw());
  return out;
}

std::string md5_of(const std::string& bytes) {
  RunResult r = run({"md5sum"}, {.stdin_data = bytes});
  if (r.exit_code != 0) throw std::runtime_error("md5sum failed: " + r.describe());
  return r.out.substr(0, 32);
}

}  // namespace

TEST_CASE("proxy: COPY FROM STDIN of 100000 rows and COPY TO STDOUT are byte-exact") {
  Proxy proxy(default_proxy_config());
  Conn c = proxy.connect();
  c.exec("DROP TABLE IF EXISTS it_copy");
  c.exec("CREATE TABLE it_copy (id int, payload text, note text)");

  std::string data;
  for (int i = 1; i <= 100000; ++i)
    data += std::to_string(i) + "\tpayload-" + std::to_string(i * 7919 % 100003) +
            (i % 10 == 0 ? "\t\\N\n" : "\tnote with spaces and \\t tab\n");
  copy_in(c, "COPY it_copy FROM STDIN", data);
  CHECK(c.transaction_status() == PQTRANS_IDLE);
  CHECK(c.scalar("SELECT 'after copy in'") == "after copy in");

  Conn direct(first_cluster().params(kAppUser, kAppPassword));
  CHECK(direct.scalar("SELECT count(*) FROM it_copy") == "100000");

  const std::string via_proxy = copy_out(c, "COPY it_copy TO STDOUT");
  const std::string from_server = copy_out(direct, "COPY it_copy TO STDOUT");
  CHECK(via_proxy.size() == from_server.size());
  CHECK(md5_of(via_proxy) == md5_of(from_server));
  // Heap order is not insertion order (bulk COPY fills pages out of order): sort to compare.
  CHECK(md5_of(copy_out(c, "COPY (SELECT * FROM it_copy ORDER BY id) TO STDOUT")) == md5_of(data));
  CHECK(c.scalar("SELECT 'after copy out'") == "after copy out");

  // CopyFail from the client: the COPY fails, nothing is inserted, the connection goes on.
  PgError failed = expect_pg_error([&] { copy_in(c, "COPY it_copy FROM STDIN", "1\ta\tb\n", "client gave up"); });
  INFO(failed.what());
  CHECK(failed.sqlstate == "57014");
  CHECK(c.transaction_status() == PQTRANS_IDLE);
  CHECK(c.scalar("SELECT count(*) FROM it_copy") == "100000");

  // Bad data: the server's error reaches the client and the connection stays usable.
  PgError bad = expect_pg_error([&] { copy_in(c, "COPY it_copy FROM STDIN", "not-a-number\tx\ty\n"); });
  CHECK(bad.sqlstate == "22P02");
  CHECK(c.scalar("SELECT count(*) FROM it_copy") == "100000");
}

namespace {

// Two aliases on two clusters, one server connection for `default`: a connection the proxy fails to
// give back shows at once as a second client that cannot get one.
struct CopyAliases {
  CopyAliases() {
    // Both tables on both clusters: a statement that reached the wrong one would succeed and be seen.
    for (PgCluster* c : {&first_cluster(), &second_cluster()})
      c->superuser(kAppDatabase)
          .exec(
              "DROP TABLE IF EXISTS it_copy_a, it_copy_b; CREATE TABLE it_copy_a (v text); "
              "CREATE TABLE it_copy_b (v text); GRANT ALL ON it_copy_a, it_copy_b TO PUBLIC;");
  }
  static ProxyConfig config() {
    ProxyConfig cfg = default_proxy_config();
    cfg.pool_size = 1;
    cfg.backend("default").pool_size = 1;
    cfg.queue_timeout = "2s";
    cfg.extra_yaml = "routers:\n  - type: model\n    tables: {it_copy_b: analytics}\n";
    return cfg;
  }
  // No server session is left in the COPY, and the one connection of `default` serves another client.
  static void check_released(Proxy& proxy) {
    Conn su = first_cluster().superuser(kAppDatabase);
    CHECK(eventually(
        [&] { return su.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY it_copy_a%'") == "0"; }));
    Conn next = proxy.connect();
    next.set_query_timeout(5s);
    CHECK(next.scalar("SELECT count(*) FROM it_copy_a") == "0");  // the COPY left no row
    for (PgCluster* c : {&first_cluster(), &second_cluster()})    // and what came during it ran nowhere
      CHECK(c->superuser(kAppDatabase)
                .scalar("SELECT (SELECT count(*) FROM it_copy_a) + "
                        "(SELECT count(*) FROM it_copy_b)") == "0");
  }
};

// Starts COPY FROM STDIN on `raw` (after `setup`, answered up to its ReadyForQuery), sends one row,
// then `during`; what comes back until the connection closes. `pipelined`: all sent at once, without
// waiting for the CopyInResponse (which is then the first thing traced).
std::vector<std::string> copy_then(RawClient& raw, const std::string& setup, const std::string& during,
                                   bool pipelined) {
  if (!setup.empty()) {
    raw.send(setup);
    auto ready = trace_until_ready(raw);
    INFO(doctest::toString(ready));
    REQUIRE(ready.back() == "Z I");
  }
  const std::string copy = query_message("COPY it_copy_a FROM STDIN");
  if (pipelined) {
    raw.send(copy + copy_data_message("row 1\n") + during);
    return trace_until_closed(raw);
  }
  raw.send(copy);
  auto start = raw.read_message();
  REQUIRE(start);
  REQUIRE(start->type == 'G');
  raw.send(copy_data_message("row 1\n") + during);
  return trace_until_closed(raw);
}

}  // namespace

TEST_CASE(
    "proxy: a message that is not COPY data during COPY FROM STDIN ends it as PostgreSQL does, freeing the connection") {
  CopyAliases fx;
  Proxy proxy(CopyAliases::config());
  struct Case {
    const char* what;
    std::string setup, during;
    bool pipelined = false;
  };
  const std::vector<Case> cases = {
      {"a Query routed to another alias", "", query_message("INSERT INTO it_copy_b VALUES ('leaked')")},
      {"a Bind of a statement routed to another alias",
       parse_message("to_b", "INSERT INTO it_copy_b VALUES ($1)") + sync_message(),
       bind_message("to_b", {"leaked"}) + execute_message() + sync_message()},
      {"a Parse routed to another alias", "",
       parse_message("", "INSERT INTO it_copy_b VALUES ('leaked')") + bind_message("") + execute_message() +
           sync_message()},
      {"a Query for the same alias", "", query_message("INSERT INTO it_copy_a VALUES ('leaked')")},
      {"a Terminate", "", terminate_message()},
      {"a Query routed to another alias, sent before the COPY began", "",
       query_message("INSERT INTO it_copy_b VALUES ('leaked')"), true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    std::vector<std::string> from_server, via_proxy;
    {
      RawClient direct(first_cluster().port());
      direct.startup_trust(kTrustUser, kAppDatabase);
      from_server = copy_then(direct, c.setup, c.during, c.pipelined);
    }
    {
      RawClient raw(proxy.port());
      raw.startup_trust(kProxyTrustUser, "app");
      via_proxy = copy_then(raw, c.setup, c.during, c.pipelined);
    }
    CHECK(via_proxy == from_server);
    if (std::string(c.what) != "a Terminate") {
      const std::size_t error_at = c.pipelined ? 1 : 0;  // after the CopyInResponse
      REQUIRE(from_server.size() >= error_at + 2);
      CHECK(from_server[error_at].rfind("E ERROR 08P01 unexpected message type 0x", 0) == 0);
      CHECK(from_server[error_at].find("during COPY from stdin") != std::string::npos);
    }
    CopyAliases::check_released(proxy);
  }
}

TEST_CASE("proxy: a client that leaves during COPY FROM STDIN frees its server connection") {
  CopyAliases fx;
  Proxy proxy(CopyAliases::config());
  // Half-closed: the server sees the end of the client's input, and says so as it does to a direct client.
  auto half_closed = [](RawClient& raw) {
    raw.send(query_message("COPY it_copy_a FROM STDIN"));
    auto start = raw.read_message();
    REQUIRE(start);
    REQUIRE(start->type == 'G');
    raw.send(copy_data_message("row 1\n"));
    ::shutdown(raw.fd(), SHUT_WR);
    return trace_until_closed(raw);
  };
  std::vector<std::string> from_server;
  {
    RawClient direct(first_cluster().port());
    direct.startup_trust(kTrustUser, kAppDatabase);
    from_server = half_closed(direct);
  }
  REQUIRE(!from_server.empty());
  CHECK(from_server[0].rfind("E ERROR 08006 unexpected EOF on client connection", 0) == 0);
  {
    RawClient raw(proxy.port());
    raw.startup_trust(kProxyTrustUser, "app");
    CHECK(half_closed(raw) == from_server);
  }
  CopyAliases::check_released(proxy);
  // Gone at once.
  {
    RawClient raw(proxy.port());
    raw.startup_trust(kProxyTrustUser, "app");
    raw.send(query_message("COPY it_copy_a FROM STDIN"));
    auto start = raw.read_message();
    REQUIRE(start);
    REQUIRE(start->type == 'G');
    raw.send(copy_data_message("row 1\n"));
  }
  CopyAliases::check_released(proxy);
  // libpq ends a COPY it abandons with Terminate (PQfinish).
  {
    Conn c = proxy.connect();
    if (!PQsendQuery(c.raw(), "COPY it_copy_a FROM STDIN")) throw PgError("", "", PQerrorMessage(c.raw()));
    ResultPtr start = c.next_result();
    REQUIRE(PQresultStatus(start.get()) == PGRES_COPY_IN);
    REQUIRE(PQputCopyData(c.raw(), "row 1\n", 6) == 1);
    REQUIRE(PQflush(c.raw()) == 0);
  }
  CopyAliases::check_released(proxy);
}

TEST_CASE(
    "proxy: Flush and Sync during COPY FROM STDIN are ignored as PostgreSQL does; an extended-protocol COPY gives its connection back") {
  CopyAliases fx;
  Proxy proxy(CopyAliases::config());
  // The server ignores Flush and Sync while it copies: one ReadyForQuery for the COPY, none for them.
  const std::string during = copy_data_message("row 1\n") + flush_message() + sync_message() +
                             copy_data_message("row 2\n") + copy_done_message() + query_message("SELECT 1");
  std::vector<std::string> from_server, via_proxy;
  for (const bool through_proxy : {false, true}) {
    RawClient raw(through_proxy ? proxy.port() : first_cluster().port());
    raw.startup_trust(through_proxy ? kProxyTrustUser : kTrustUser, kAppDatabase);
    raw.send(query_message("COPY it_copy_a FROM STDIN"));
    auto start = raw.read_message();
    REQUIRE(start);
    REQUIRE(start->type == 'G');
    raw.send(during);
    auto seen = trace_until_ready(raw);
    for (auto& s : trace_until_ready(raw)) seen.push_back(s);
    (through_proxy ? via_proxy : from_server) = seen;
    // Nothing else arrives: no answer to the ignored Sync.
    raw.send(terminate_message());
    CHECK(trace_until_closed(raw) == std::vector<std::string>{"EOF"});
  }
  CHECK(from_server == std::vector<std::string>{"C", "Z I", "T", "D", "C", "Z I"});
  CHECK(via_proxy == from_server);
  {
    Conn su = first_cluster().superuser(kAppDatabase);
    CHECK(su.scalar("SELECT count(*) FROM it_copy_a") == "4");
    su.exec("TRUNCATE it_copy_a");
  }

  // libpq's extended protocol: Parse/Bind/Describe/Execute/Sync, the data, CopyDone and a second Sync
  // (the first one was read, and ignored, during the COPY).
  Conn c = proxy.connect();
  if (!PQsendQueryParams(c.raw(), "COPY it_copy_a FROM STDIN", 0, nullptr, nullptr, nullptr, nullptr, 0))
    throw PgError("", "", PQerrorMessage(c.raw()));
  ResultPtr start = c.next_result();
  REQUIRE(PQresultStatus(start.get()) == PGRES_COPY_IN);
  REQUIRE(PQputCopyData(c.raw(), "row 1\n", 6) == 1);
  REQUIRE(PQputCopyEnd(c.raw(), nullptr) == 1);
  while (ResultPtr r = c.next_result()) throw_if_error(r.get(), c.raw());
  CHECK(c.transaction_status() == PQTRANS_IDLE);
  // Its connection went back to the pool (of one): another client gets it.
  Conn next = proxy.connect();
  CHECK(next.scalar("SELECT count(*) FROM it_copy_a") == "1");
  CHECK(c.scalar("SELECT count(*) FROM it_copy_a") == "1");
  first_cluster().superuser(kAppDatabase).exec("TRUNCATE it_copy_a");
}
