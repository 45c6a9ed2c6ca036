// 2. Named prepared statements in transaction mode: many clients, few server connections.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "harness.hpp"
#include "message_trace.hpp"

using namespace pgroute::it;

TEST_CASE("proxy: named prepared statements survive transaction pooling (8 clients, pool of 2)") {
  ProxyConfig cfg = default_proxy_config();
  cfg.pool_size = 2;
  Proxy proxy(cfg);

  constexpr int kThreads = 8;
  constexpr int kTransactions = 100;
  std::vector<Conn> conns;
  for (int t = 0; t < kThreads; ++t) conns.push_back(proxy.connect());

  ThreadErrors errors;
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Conn& c = conns[static_cast<std::size_t>(t)];
      try {
        // Every client uses the same statement name for a different text: the proxy
        // must keep them apart on the shared server connections.
        c.prepare("stmt", "SELECT $1::int * 1000 + " + std::to_string(t) + ", 'thread " + std::to_string(t) + "'", 1);
        if (!PQsendDescribePrepared(c.raw(), "stmt")) throw PgError("", "", "describe");
        ResultPtr d = c.next_result();
        throw_if_error(d.get(), c.raw());
        if (PQnparams(d.get()) != 1 || PQnfields(d.get()) != 2)
          errors.add("thread " + std::to_string(t) + ": wrong description");
        while (c.next_result()) {}
        for (int i = 0; i < kTransactions; ++i) {
          c.exec("BEGIN");
          Rows r = c.exec_prepared("stmt", {std::to_string(i)});
          c.exec("COMMIT");
          const std::string want = std::to_string(i * 1000 + t);
          if (r.size() == 1 && r.at(0, 0) == want && r.at(0, 1) == "thread " + std::to_string(t))
            ++right;
          else
            errors.add("thread " + std::to_string(t) + " txn " + std::to_string(i) + ": wrong result");
        }
      } catch (const std::exception& e) {
        errors.add("thread " + std::to_string(t) + ": " + e.what());
      }
    });
  }
  for (auto& th : threads) th.join();
  INFO(errors.summary());
  CHECK(errors.list().empty());
  CHECK(right.load() == kThreads * kTransactions);
  // The statements are still there for a later transaction.
  CHECK(conns[3].exec_prepared("stmt", {"7"}).at(0, 0) == "7003");
}

namespace {

// Named steps of raw protocol messages, each sent on one connection after the one before was answered.
using Steps = std::vector<std::pair<std::string, std::string>>;

// What each step got back, up to its ReadyForQuery.
std::vector<std::vector<std::string>> trace_steps(int port, const char* user, const Steps& steps) {
  RawClient raw(port);
  raw.startup_trust(user, kAppDatabase);
  std::vector<std::vector<std::string>> seen;
  for (const auto& [what, bytes] : steps) {
    raw.send(bytes);
    seen.push_back(trace_until_ready(raw));
  }
  return seen;
}

// The same steps through pgroute, without and with routing (which holds a unit's messages until it
// knows their alias), get what PostgreSQL itself answered.
void check_like_server(const Steps& steps, const std::vector<std::vector<std::string>>& from_server) {
  for (const bool routing : {false, true}) {
    CAPTURE(routing);
    ProxyConfig cfg = default_proxy_config();
    if (routing) cfg.extra_yaml = "routers:\n  - type: model\n    tables: {it_elsewhere: analytics}\n";
    Proxy proxy(cfg);
    const auto via_proxy = trace_steps(proxy.port(), kProxyTrustUser, steps);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      CAPTURE(steps[i].first);
      CHECK(via_proxy[i] == from_server[i]);
    }
  }
}

}  // namespace

TEST_CASE(
    "proxy: a second Parse of a named statement fails with 42P05 as in PostgreSQL; after Close it may be prepared again") {
  // With libpq: the second PQprepare fails and the first statement is kept.
  {
    Proxy proxy(default_proxy_config());
    Conn c = proxy.connect();
    c.prepare("s1", "SELECT 1", 0);
    PgError again = expect_pg_error([&] { c.prepare("s1", "SELECT 2", 0); });
    CHECK(again.sqlstate == "42P05");
    CHECK(again.message == "prepared statement \"s1\" already exists");
    CHECK(c.transaction_status() == PQTRANS_IDLE);
    CHECK(c.exec_prepared("s1", {}).at(0, 0) == "1");
  }
  // Message by message against PostgreSQL itself, without and with routing (which holds a unit's
  // messages until it knows their alias).
  const Steps steps = {
      {"prepare", parse_message("s1", "SELECT 1") + sync_message()},
      {"prepare again", parse_message("s1", "SELECT 2") + bind_message("s1") + execute_message() + sync_message()},
      {"the first is kept", bind_message("s1") + execute_message() + sync_message()},
      {"twice in one unit", parse_message("s2", "SELECT 3") + parse_message("s2", "SELECT 4") + sync_message()},
      {"close, then prepare again", close_statement_message("s1") + parse_message("s1", "SELECT 5") +
                                        bind_message("s1") + execute_message() + sync_message()},
      {"the unnamed statement is replaced", parse_message("", "SELECT 6") + parse_message("", "SELECT 7") +
                                                bind_message("") + execute_message() + sync_message()},
  };
  const auto from_server = trace_steps(first_cluster().port(), kTrustUser, steps);
  CHECK(from_server[1] == std::vector<std::string>{"E ERROR 42P05 prepared statement \"s1\" already exists", "Z I"});
  check_like_server(steps, from_server);
}

TEST_CASE("proxy: a named statement exists only once its Parse succeeded, and SQL DEALLOCATE removes it") {
  Proxy proxy(default_proxy_config());
  Conn c = proxy.connect();
  c.exec("DROP TABLE IF EXISTS it_prepare_later");
  const std::string later = "SELECT count(*) FROM it_prepare_later";
  // A Prepare that failed because its table did not exist yet may be retried under the same name
  // (pgx names statements by a hash of their text and does so).
  PgError missing = expect_pg_error([&] { c.prepare("s1", later, 0); });
  CHECK(missing.sqlstate == "42P01");
  c.exec("CREATE TABLE it_prepare_later (id int)");
  c.prepare("s1", later, 0);
  CHECK(c.exec_prepared("s1", {}).at(0, 0) == "0");
  // A Prepare in a failed transaction fails (25P02) and prepares nothing.
  c.exec("BEGIN");
  expect_pg_error([&] { c.exec("SELECT 1/0"); });
  PgError aborted = expect_pg_error([&] { c.prepare("s2", "SELECT 2", 0); });
  CHECK(aborted.sqlstate == "25P02");
  c.exec("ROLLBACK");
  c.prepare("s2", "SELECT 2", 0);
  CHECK(c.exec_prepared("s2", {}).at(0, 0) == "2");
  // SQL DEALLOCATE (with or without PREPARE, names folded or quoted) forgets the statement.
  c.exec("DEALLOCATE s1");
  c.prepare("s1", "SELECT 3", 0);
  CHECK(c.exec_prepared("s1", {}).at(0, 0) == "3");
  c.exec("deallocate prepare S1");
  c.exec(" DEALLOCATE \"s2\" ;");
  c.prepare("s1", "SELECT 4", 0);
  c.prepare("s2", "SELECT 5", 0);
  CHECK(c.exec_prepared("s1", {}).at(0, 0) == "4");
  CHECK(c.exec_prepared("s2", {}).at(0, 0) == "5");
  c.exec("DROP TABLE it_prepare_later");

  // Message by message against PostgreSQL itself, without and with routing.
  const Steps steps = {
      {"a Parse the server rejects", parse_message("s1", "SELECT * FROM it_no_such_table") + sync_message()},
      {"the name is free", parse_message("s1", "SELECT 1") + bind_message("s1") + execute_message() + sync_message()},
      {"a Parse skipped after an error", parse_message("", "SELECT 1/0") + bind_message("") + execute_message() +
                                             parse_message("s2", "SELECT 2") + sync_message()},
      {"that name is free too",
       parse_message("s2", "SELECT 2") + bind_message("s2") + execute_message() + sync_message()},
      {"SQL DEALLOCATE", query_message("DEALLOCATE s1")},
      {"prepared again", parse_message("s1", "SELECT 3") + bind_message("s1") + execute_message() + sync_message()},
  };
  const auto from_server = trace_steps(first_cluster().port(), kTrustUser, steps);
  CHECK(from_server[0].at(0).rfind("E ERROR 42P01", 0) == 0);
  CHECK(from_server[5] == std::vector<std::string>{"1", "2", "D", "C", "Z I"});
  check_like_server(steps, from_server);
}

TEST_CASE("proxy: named Parses that routing holds are checked for duplicates in linear time") {
  // Each named Parse is checked against the statements held before it in its unit: that check once
  // read the whole held unit again, so 20,000 pipelined Parses took 7 s (quadratic).
  ProxyConfig cfg = default_proxy_config();
  cfg.extra_yaml = "routers:\n  - type: model\n    tables: {it_elsewhere: analytics}\n";
  Proxy proxy(cfg);
  RawClient raw(proxy.port());
  raw.startup_trust(kProxyTrustUser, kAppDatabase);
  constexpr int kParses = 20000;
  std::string unit;
  for (int i = 0; i < kParses; ++i) unit += parse_message("s" + std::to_string(i), "SELECT " + std::to_string(i));
  unit += parse_message("s7", "SELECT 7") + sync_message();  // a duplicate: its place shows the check ran
  const auto start = std::chrono::steady_clock::now();
  raw.send(unit);
  const auto seen = trace_next(raw, kParses + 2, std::chrono::seconds(30));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(seen.size() == kParses + 2);
  CHECK(std::count(seen.begin(), seen.end(), "1") == kParses);
  CHECK(seen[kParses] == "E ERROR 42P05 prepared statement \"s7\" already exists");
  CHECK(seen[kParses + 1] == "Z I");
  MESSAGE("20000 held Parses answered in " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                                           << " ms");
  CHECK(elapsed < std::chrono::seconds(5));  // quadratic: 7.4 s; linear: 1.5 s (mostly the server)
}
