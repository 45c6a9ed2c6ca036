// 10-12. Session state under pooling: startup parameters follow the client, session mode keeps
// the session, and an abandoned transaction never reaches the next client.
#include <sys/socket.h>

#include <functional>

#include "harness.hpp"
#include "http_get.hpp"

using namespace pgroute::it;

namespace {

// pgroute_clients_keeping_server from the metrics endpoint; -1 if it cannot be read.
double clients_keeping_server(int metrics_port) {
  auto r = http_get(metrics_port, "/metrics");
  auto v = r ? sample_value(r->body, "pgroute_clients_keeping_server") : std::nullopt;
  return v ? *v : -1.0;
}

// Transaction pooling over `connections` server connections of `default`, one worker.
ProxyConfig pooled_over(int connections) {
  ProxyConfig cfg = default_proxy_config();
  cfg.backend("default").pool_size = connections;
  cfg.pool_size = connections;
  cfg.threads = 1;  // one stack of idle connections: the last returned is the next taken
  return cfg;
}

}  // namespace

TEST_CASE("proxy: startup parameters follow each client across a shared server connection") {
  ProxyConfig cfg = default_proxy_config();
  cfg.backend("default").pool_size = 1;
  cfg.pool_size = 1;
  Proxy proxy(cfg);

  Conn x =
      proxy.connect(kProxyUser, kProxyPassword, "app", {{"application_name", "x1"}, {"options", "-c search_path=sx"}});
  Conn y = proxy.connect(kProxyUser, kProxyPassword, "app", {{"application_name", "y1"}});
  // One server connection for both: otherwise this test would prove nothing.
  CHECK(x.scalar("SELECT pg_backend_pid()") == y.scalar("SELECT pg_backend_pid()"));

  for (int round = 0; round < 10; ++round) {
    CAPTURE(round);
    x.exec("BEGIN");
    CHECK(x.scalar("SHOW application_name") == "x1");
    CHECK(x.scalar("SHOW search_path") == "sx");
    x.exec("COMMIT");
    y.exec("BEGIN");
    CHECK(y.scalar("SHOW application_name") == "y1");
    CHECK(y.scalar("SHOW search_path") == "\"$user\", public");
    y.exec("COMMIT");
    // Single statements, each its own transaction, interleaved the other way round.
    CHECK(y.scalar("SHOW application_name") == "y1");
    CHECK(x.scalar("SHOW search_path") == "sx");
    CHECK(x.exec_params("SELECT current_setting($1)", {"application_name"}).at(0, 0) == "x1");
    CHECK(y.exec_params("SELECT current_setting($1)", {"search_path"}).at(0, 0) == "\"$user\", public");
  }
  // What libpq believes (from ParameterStatus) agrees with the server.
  CHECK(std::string(PQparameterStatus(x.raw(), "application_name")) == "x1");
  CHECK(std::string(PQparameterStatus(y.raw(), "application_name")) == "y1");
}

TEST_CASE("proxy: a client's own SET of a reported parameter stays its own; clients that logged in alike keep theirs") {
  // Clients that log in alike share one identity, and a server connection remembers which identity's
  // parameters it has: a SET by one of them must not reach the others through that shortcut.
  ProxyConfig cfg = default_proxy_config();
  cfg.backend("default").pool_size = 1;
  cfg.pool_size = 1;
  Proxy proxy(cfg);
  const std::vector<std::pair<std::string, std::string>> login = {{"application_name", "same"}};
  Conn a = proxy.connect(kProxyUser, kProxyPassword, "app", login);
  Conn b = proxy.connect(kProxyUser, kProxyPassword, "app", login);
  CHECK(a.scalar("SHOW application_name") == "same");
  CHECK(b.scalar("SHOW application_name") == "same");
  a.exec("SET application_name = 'changed'");
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    CHECK(b.scalar("SHOW application_name") == "same");
    CHECK(a.scalar("SHOW application_name") == "changed");
    CHECK(b.scalar("SHOW application_name") == "same");
  }
  a.exec("SET application_name = 'same'");  // back to the login value: alike again
  CHECK(b.scalar("SHOW application_name") == "same");
  CHECK(a.scalar("SHOW application_name") == "same");
  Conn c = proxy.connect(kProxyUser, kProxyPassword, "app", login);
  CHECK(c.scalar("SHOW application_name") == "same");
  CHECK(std::string(PQparameterStatus(a.raw(), "application_name")) == "same");
  CHECK(std::string(PQparameterStatus(b.raw(), "application_name")) == "same");
}

TEST_CASE("proxy: session mode keeps a session's temp table, and only for that session") {
  ProxyConfig cfg = default_proxy_config();
  cfg.pool_mode = "session";
  cfg.backend("default").pool_size = 1;
  cfg.pool_size = 1;
  Proxy proxy(cfg);
  {
    Conn c = proxy.connect();
    c.exec("CREATE TEMP TABLE it_session_tmp (x int)");
    c.exec("INSERT INTO it_session_tmp VALUES (1)");
    c.exec("BEGIN; INSERT INTO it_session_tmp VALUES (2); COMMIT");
    c.exec("SET application_name = 'kept'");
    CHECK(c.scalar("SELECT sum(x) FROM it_session_tmp") == "3");
    CHECK(c.scalar("SHOW application_name") == "kept");
  }
  Conn next = proxy.connect();
  PgError gone = expect_pg_error([&] { next.scalar("SELECT count(*) FROM it_session_tmp"); });
  INFO(gone.what());
  CHECK(gone.sqlstate == "42P01");
  CHECK(next.scalar("SHOW application_name") != "kept");
  CHECK(next.scalar("SELECT 'fresh session'") == "fresh session");
}

TEST_CASE("proxy: a client that disconnects mid-transaction leaves nothing behind") {
  Conn direct(first_cluster().params(kAppUser, kAppPassword));
  direct.exec("DROP TABLE IF EXISTS it_disconnect");
  direct.exec("CREATE TABLE it_disconnect (id int)");

  ProxyConfig cfg = default_proxy_config();
  cfg.backend("default").pool_size = 1;
  cfg.pool_size = 1;
  Proxy proxy(cfg);

  for (const bool abrupt : {false, true}) {
    CAPTURE(abrupt);
    {
      Conn c = proxy.connect();
      c.exec("BEGIN");
      c.exec("INSERT INTO it_disconnect VALUES (1)");
      CHECK(c.transaction_status() == PQTRANS_INTRANS);
      // Politely (Terminate, then close) or by the socket just going away.
      if (abrupt) shutdown(PQsocket(c.raw()), SHUT_RDWR);
    }
    Conn next = proxy.connect();
    CHECK(next.scalar("SELECT count(*) FROM it_disconnect") == "0");
    CHECK(next.transaction_status() == PQTRANS_IDLE);
    // Were `next` inside the abandoned transaction, this would not be visible directly.
    next.exec("INSERT INTO it_disconnect VALUES (2)");
    CHECK(direct.scalar("SELECT count(*) FROM it_disconnect WHERE id = 2") == "1");
    CHECK(direct.scalar("SELECT count(*) FROM it_disconnect WHERE id = 1") == "0");
    direct.exec("DELETE FROM it_disconnect");
  }
}

TEST_CASE(
    "proxy: transaction pooling: LISTEN, a session lock and a temporary table keep the client's connection; "
    "none reaches another client") {
  ProxyConfig cfg = pooled_over(2);
  cfg.metrics_port = free_port();
  Proxy proxy(cfg);
  auto keeping = [&] { return clients_keeping_server(*cfg.metrics_port); };

  Conn a = proxy.connect();
  Conn b = proxy.connect();
  CHECK(a.scalar("SELECT pg_advisory_lock(42)") == "");
  const std::string a_pid = a.scalar("SELECT pg_backend_pid()");
  CHECK(keeping() == 1);
  // b runs on the other server connection: the lock is a's, so b cannot take it, not even for a transaction.
  CHECK(b.scalar("SELECT pg_try_advisory_xact_lock(42)") == "f");
  CHECK(b.scalar("SELECT pg_backend_pid()") != a_pid);
  a.exec("LISTEN it_keep_channel");
  a.exec("CREATE TEMP TABLE it_keep_tmp (x int)");
  a.exec("INSERT INTO it_keep_tmp VALUES (7)");
  b.exec("NOTIFY it_keep_channel, 'for a'");
  CHECK(b.scalar("SELECT to_regclass('it_keep_tmp') IS NULL") == "t");
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(a.scalar("SELECT pg_backend_pid()") == a_pid);
    CHECK(a.scalar("SELECT sum(x) FROM it_keep_tmp") == "7");
    CHECK(b.scalar("SELECT count(*) FROM pg_listening_channels()") == "0");
  }
  PGnotify* n = PQnotifies(a.raw());
  REQUIRE(n != nullptr);
  CHECK(std::string(n->relname) == "it_keep_channel");
  CHECK(std::string(n->extra) == "for a");
  PQfreemem(n);
  CHECK(keeping() == 1);

  // The same name prepared by SQL by two clients: each EXECUTE runs its own client's statement.
  a.exec("PREPARE it_keep_same AS SELECT 'a''s'");
  b.exec("PREPARE it_keep_same AS SELECT 'b''s'");
  for (int i = 0; i < 3; ++i) {
    CHECK(a.scalar("EXECUTE it_keep_same") == "a's");
    CHECK(b.scalar("EXECUTE it_keep_same") == "b's");
  }
  b.exec("DEALLOCATE it_keep_same");
  CHECK(eventually([&] { return keeping() == 1; }));
  // When a leaves, its connection is reset (DISCARD ALL) before anyone else gets it.
  a = Conn(first_cluster().params(kAppUser, kAppPassword));  // closes the proxied connection
  CHECK(eventually([&] { return keeping() == 0; }));
  Conn e = proxy.connect();
  bool checked_a_connection = false;
  for (int i = 0; i < 10 && !checked_a_connection; ++i) {
    checked_a_connection = e.scalar("SELECT pg_backend_pid()") == a_pid;
    CHECK(e.scalar("SELECT to_regclass('it_keep_tmp') IS NULL") == "t");
    CHECK(e.scalar("SELECT count(*) FROM pg_listening_channels()") == "0");
    CHECK(e.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()") == "0");
  }
  CHECK(checked_a_connection);
  CHECK(e.scalar("SELECT pg_try_advisory_xact_lock(42)") == "t");
  CHECK(keeping() == 0);  // transaction-level locks end with their transaction: nothing to keep

  // Through the extended protocol too (the statement is looked at when it is bound).
  Conn f = proxy.connect();
  CHECK(f.exec_params("SELECT pg_advisory_lock($1::bigint)", {"43"}).size() == 1);
  CHECK(keeping() == 1);
  const std::string f_pid = f.scalar("SELECT pg_backend_pid()");
  CHECK(e.scalar("SELECT pg_try_advisory_xact_lock(43)") == "f");
  CHECK(f.scalar("SELECT pg_backend_pid()") == f_pid);

  // A named statement is looked at once, when it is parsed, and each Bind of it counts: the first
  // execution leaves nothing (its unlock finds no lock), the second takes the lock and keeps the connection.
  Conn g = proxy.connect();
  g.prepare("it_keep_named_unlock", "SELECT pg_advisory_unlock($1::bigint)", 1);
  g.prepare("it_keep_named_lock", "SELECT pg_advisory_lock($1::bigint)", 1);
  CHECK(g.exec_prepared("it_keep_named_unlock", {"44"}).at(0, 0) == "f");
  CHECK(keeping() == 1);  // f's
  CHECK(g.exec_prepared("it_keep_named_lock", {"44"}).size() == 1);
  CHECK(keeping() == 2);  // both server connections (pool size 2) are kept: e would wait for one
  const std::string g_pid = g.scalar("SELECT pg_backend_pid()");
  CHECK(g.scalar("SELECT pg_backend_pid()") == g_pid);
  CHECK(g.exec_prepared("it_keep_named_unlock", {"44"}).at(0, 0) == "t");
  CHECK(eventually([&] { return keeping() == 1; }));
  CHECK(e.scalar("SELECT pg_try_advisory_xact_lock(44)") == "t");  // g's connection is back in the pool
}

// With a router chain an unnamed Parse or a simple query is analysed for routing, and its session words
// come with the cached analysis instead of a scan of their own: the first time a text is seen and later.
TEST_CASE(
    "proxy: transaction pooling with routers: a simple query or an unnamed statement that takes a session lock "
    "keeps the connection") {
  ProxyConfig cfg = pooled_over(2);
  cfg.metrics_port = free_port();
  cfg.extra_yaml = kMarkerRouterYaml;
  Proxy proxy(cfg);
  auto keeping = [&] { return clients_keeping_server(*cfg.metrics_port); };
  Conn f = proxy.connect();
  Conn g = proxy.connect();
  Conn e = proxy.connect();
  CHECK(f.exec_params("SELECT pg_advisory_lock($1::bigint)", {"45"}).size() == 1);
  CHECK(keeping() == 1);
  const std::string f_pid = f.scalar("SELECT pg_backend_pid()");
  CHECK(e.scalar("SELECT pg_try_advisory_xact_lock(45)") == "f");
  CHECK(f.scalar("SELECT pg_backend_pid()") == f_pid);
  // The same text from another client: its analysis (and words) from the cache.
  CHECK(g.exec_params("SELECT pg_advisory_lock($1::bigint)", {"46"}).size() == 1);
  CHECK(keeping() == 2);
  CHECK(f.exec_params("SELECT pg_advisory_unlock($1::bigint)", {"45"}).at(0, 0) == "t");
  CHECK(g.exec_params("SELECT pg_advisory_unlock($1::bigint)", {"46"}).at(0, 0) == "t");
  CHECK(eventually([&] { return keeping() == 0; }));
  CHECK(e.scalar("SELECT pg_try_advisory_xact_lock(45)") == "t");

  // A simple query: routing analysed it with its constant as $1, and its words came with that analysis.
  CHECK(e.scalar("SELECT pg_advisory_lock(47)") == "");
  CHECK(keeping() == 1);
  const std::string e_pid = e.scalar("SELECT pg_backend_pid()");
  CHECK(f.scalar("SELECT pg_try_advisory_xact_lock(47)") == "f");
  CHECK(e.scalar("SELECT pg_backend_pid()") == e_pid);
  CHECK(e.scalar("SELECT pg_advisory_unlock(47)") == "t");
  CHECK(eventually([&] { return keeping() == 0; }));
  // A simple set_config() for the session, its constants made parameters: it follows its client only.
  CHECK(f.scalar("SELECT set_config('statement_timeout', '4321ms', false)") == "4321ms");
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(f.scalar("SHOW statement_timeout") == "4321ms");
    CHECK(g.scalar("SHOW statement_timeout") != "4321ms");
    CHECK(e.scalar("SHOW statement_timeout") != "4321ms");
  }
  CHECK(keeping() == 0);
}

TEST_CASE("proxy: transaction pooling: a client's own SET follows it to every server connection, and only it") {
  ProxyConfig cfg = pooled_over(2);
  Proxy proxy(cfg);
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  a.exec("SET statement_timeout = '1234ms'");
  a.exec("SET search_path TO \"$user\", pg_catalog, public");
  a.exec("SET myapp.tenant = '42'");  // a custom setting, as row-level security policies read them
  b.exec("SET work_mem = '7MB'");
  // Hold one connection in a transaction so the other client's statements run on the other one.
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    Conn& holder = round % 2 ? a : b;
    holder.exec("BEGIN");
    holder.exec("SELECT 1");
    CHECK(a.scalar("SHOW statement_timeout") == "1234ms");
    CHECK(a.scalar("SHOW search_path") == "\"$user\", pg_catalog, public");
    CHECK(a.scalar("SELECT current_setting('myapp.tenant')") == "42");
    CHECK(a.scalar("SHOW work_mem") != "7MB");
    CHECK(b.scalar("SHOW work_mem") == "7MB");
    CHECK(b.scalar("SHOW statement_timeout") == "0");
    CHECK(b.scalar(
              "SELECT current_setting('myapp.tenant', true) IS NULL OR current_setting('myapp.tenant', true) = ''") ==
          "t");
    holder.exec("COMMIT");
  }
  // The setting works, not just shows: a statement over the timeout is cancelled (57014).
  PgError slow = expect_pg_error([&] { a.exec("SELECT pg_sleep(2)"); });
  CHECK(slow.sqlstate == "57014");
  a.exec("RESET statement_timeout");
  b.exec("SET work_mem TO DEFAULT");
  for (int i = 0; i < 3; ++i) {
    CHECK(a.scalar("SHOW statement_timeout") == "0");
    CHECK(b.scalar("SHOW work_mem") != "7MB");
  }
  // Inside a transaction a SET lasts only as long as PostgreSQL keeps it: rolled back, it is gone.
  a.exec("BEGIN");
  a.exec("SET lock_timeout = '3s'");
  a.exec("ROLLBACK");
  CHECK(a.scalar("SHOW lock_timeout") == "0");
  // Committed, it lasts, as on PostgreSQL. So does an earlier one across a rollback to a savepoint that
  // undid a later one, and across a failed transaction.
  a.exec("BEGIN");
  a.exec("SET lock_timeout = '2500ms'");
  a.exec("COMMIT");
  a.exec("BEGIN");
  a.exec("SAVEPOINT s");
  a.exec("SET lock_timeout = '4s'");
  a.exec("ROLLBACK TO SAVEPOINT s");
  a.exec("COMMIT");
  a.exec("BEGIN");
  a.exec("SET lock_timeout = '6s'");
  PgError failed = expect_pg_error([&] { a.exec("SELECT 1/0"); });
  CHECK(failed.sqlstate == "22012");
  a.exec("COMMIT");  // of a failed transaction: a rollback
  // Sent with the extended protocol (PQexecParams), as psycopg 3 and JDBC send everything.
  CHECK(b.exec_params("SET idle_in_transaction_session_timeout = '50s'", {}).size() == 0);
  b.exec("BEGIN");
  CHECK(b.exec_params("SET lock_timeout = '7s'", {}).size() == 0);
  b.exec("ROLLBACK");
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    Conn& holder = round % 2 ? a : b;
    holder.exec("BEGIN");
    holder.exec("SELECT 1");
    CHECK(a.scalar("SHOW lock_timeout") == "2500ms");
    CHECK(b.scalar("SHOW lock_timeout") == "0");
    CHECK(b.scalar("SHOW idle_in_transaction_session_timeout") == "50s");
    CHECK(a.scalar("SHOW idle_in_transaction_session_timeout") == "0");
    holder.exec("COMMIT");
  }
}

TEST_CASE(
    "proxy: transaction pooling: a kept connection goes back to the pool once its session state is gone, and "
    "only then") {
  ProxyConfig cfg = pooled_over(1);  // one server connection: while a keeps it, b cannot run at all
  cfg.queue_timeout = "300ms";
  cfg.metrics_port = free_port();
  Proxy proxy(cfg);
  auto keeping = [&] { return clients_keeping_server(*cfg.metrics_port); };
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  const std::string pid = a.scalar("SELECT pg_backend_pid()");
  // b's statement waits for the one connection and gives up (queue_timeout): a keeps it.
  auto b_is_refused = [&] {
    PgError waited = expect_pg_error([&] { b.scalar("SELECT 1"); });
    INFO(waited.what());
    CHECK(waited.sqlstate == "53300");
  };
  // b gets the connection when a has given it back, and finds nothing of a's on it.
  auto b_gets_a_clean_connection = [&] {
    CHECK(b.scalar("SELECT pg_backend_pid()") == pid);
    CHECK(b.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()") == "0");
    CHECK(b.scalar("SELECT count(*) FROM pg_listening_channels()") == "0");
    CHECK(b.scalar("SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()") == "0");
  };

  SUBCASE("a session lock, then its unlock (simple and extended protocol)") {
    for (const bool extended : {false, true}) {
      CAPTURE(extended);
      CHECK(a.scalar("SELECT pg_advisory_lock(7)") == "");
      CHECK(a.scalar("SELECT 1") == "1");  // the check after the lock has been answered: it found the lock
      CHECK(keeping() == 1);
      b_is_refused();
      if (extended)
        CHECK(a.exec_params("SELECT pg_advisory_unlock($1::bigint)", {"7"}).at(0, 0) == "t");
      else
        CHECK(a.scalar("SELECT pg_advisory_unlock(7)") == "t");
      CHECK(eventually([&] { return keeping() == 0; }));
      b_gets_a_clean_connection();
    }
  }
  SUBCASE("pg_try_advisory_lock that got nothing keeps nothing") {
    Conn direct(first_cluster().params(kAppUser, kAppPassword));
    CHECK(direct.scalar("SELECT pg_advisory_lock(8)") == "");
    CHECK(a.scalar("SELECT pg_try_advisory_lock(8)") == "f");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
    CHECK(a.scalar("SELECT pg_try_advisory_lock(9)") == "t");  // this one it got
    CHECK(a.scalar("SELECT 1") == "1");
    CHECK(keeping() == 1);
    a.exec("SELECT pg_advisory_unlock_all()");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
  }
  SUBCASE("LISTEN, then UNLISTEN; a LISTEN rolled back") {
    a.exec("LISTEN it_keep_again");
    CHECK(a.scalar("SELECT 1") == "1");
    CHECK(keeping() == 1);
    a.exec("UNLISTEN it_keep_again");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
    a.exec("BEGIN");
    a.exec("LISTEN it_keep_rolled_back");
    a.exec("ROLLBACK");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
  }
  SUBCASE("a temporary table, then DROP TABLE") {
    a.exec("CREATE TEMP TABLE it_keep_drop (x int)");
    a.exec("INSERT INTO it_keep_drop VALUES (1)");
    CHECK(keeping() == 1);
    a.exec("DROP TABLE it_keep_drop");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
  }
  SUBCASE("SQL PREPARE, then DEALLOCATE") {
    a.exec("PREPARE it_keep_q AS SELECT 42");
    CHECK(a.scalar("EXECUTE it_keep_q") == "42");
    CHECK(keeping() == 1);
    b_is_refused();
    a.exec("DEALLOCATE it_keep_q");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
    CHECK(b.scalar("SELECT count(*) FROM pg_prepared_statements WHERE from_sql") == "0");
  }
  SUBCASE("SET ROLE and set_config('role'), then RESET ROLE") {
    // RESET ALL, what a pooler runs between clients, leaves the role: a's role must not reach b.
    Conn super = first_cluster().superuser("app");
    super.exec(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'it_keep_tenant') THEN "
        "CREATE ROLE it_keep_tenant; END IF; END $$");
    super.exec("GRANT it_keep_tenant TO app");
    for (const char* set : {"SET ROLE it_keep_tenant", "SELECT set_config('role', 'it_keep_tenant', false)"}) {
      CAPTURE(set);
      a.exec(set);
      CHECK(a.scalar("SELECT current_user") == "it_keep_tenant");
      CHECK(keeping() == 1);
      b_is_refused();
      a.exec("RESET ROLE");
      CHECK(eventually([&] { return keeping() == 0; }));
      b_gets_a_clean_connection();
      CHECK(b.scalar("SELECT current_user") == "app");
    }
  }
  SUBCASE("a new lock taken while the check after an unlock runs stays with its client") {
    // The check is sent as the unlock's answer goes out; the client's next statement lines up behind it.
    for (int i = 0; i < 20; ++i) {
      CAPTURE(i);
      CHECK(a.scalar("SELECT pg_advisory_lock(11)") == "");
      CHECK(a.scalar("SELECT pg_advisory_unlock(11)") == "t");
      CHECK(a.scalar("SELECT pg_advisory_lock(12)") == "");
      CHECK(a.scalar("SELECT 1") == "1");
      CHECK(keeping() == 1);
      CHECK(a.scalar("SELECT pg_advisory_unlock(12)") == "t");
      CHECK(eventually([&] { return keeping() == 0; }));
    }
    b_gets_a_clean_connection();
  }
  SUBCASE("set_config() while kept, and with a name that is a parameter: reset before b") {
    a.exec("LISTEN it_keep_cfg");
    CHECK(a.scalar("SELECT SET_CONFIG('app.while_kept', 'x', false), 1") == "x");
    CHECK(a.exec_params("SELECT set_config($1, $2, false)", {"app.by_param", "y"}).at(0, 0) == "y");
    a.exec("UNLISTEN it_keep_cfg");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
    CHECK(b.scalar("SELECT coalesce(current_setting('app.while_kept', true), '')") == "");
    CHECK(b.scalar("SELECT coalesce(current_setting('app.by_param', true), '')") == "");
  }
  SUBCASE("one state ended while another stays: the connection stays") {
    CHECK(a.scalar("SELECT pg_advisory_lock(10)") == "");
    a.exec("LISTEN it_keep_both");
    a.exec("UNLISTEN it_keep_both");
    CHECK(a.scalar("SELECT 1") == "1");  // the check after UNLISTEN has been answered: the lock is still there
    CHECK(keeping() == 1);
    CHECK(a.scalar("SELECT pg_backend_pid()") == pid);
    b_is_refused();
    // Inside a transaction nothing is checked: the unlock shows only once it is over.
    a.exec("BEGIN");
    CHECK(a.scalar("SELECT pg_advisory_unlock(10)") == "t");
    CHECK(a.scalar("SELECT 1") == "1");
    CHECK(keeping() == 1);
    a.exec("COMMIT");
    CHECK(eventually([&] { return keeping() == 0; }));
    b_gets_a_clean_connection();
  }
}

TEST_CASE("proxy: transaction pooling: RESET ALL and DISCARD ALL take a client back to its startup parameters") {
  ProxyConfig cfg = pooled_over(2);
  Proxy proxy(cfg);
  ConnParams params = proxy.params();
  params.push_back({"options", "-c lock_timeout=3s"});
  Conn a(params);
  Conn b = proxy.connect();
  const std::string default_work_mem = b.scalar("SHOW work_mem");
  // Run a's statements on both server connections in turn (b holds one in a transaction).
  auto on_each_connection = [&](const std::function<void()>& check) {
    for (int round = 0; round < 2; ++round) {
      CAPTURE(round);
      b.exec("BEGIN");
      b.exec(round == 0 ? "SELECT 1" : "SELECT 2");
      check();
      b.exec("COMMIT");
      check();
    }
  };
  for (const char* reset : {"RESET ALL", "DISCARD ALL"}) {
    CAPTURE(reset);
    a.exec("SET work_mem = '7MB'");
    a.exec("SET lock_timeout = '9s'");
    on_each_connection([&] {
      CHECK(a.scalar("SHOW work_mem") == "7MB");
      CHECK(a.scalar("SHOW lock_timeout") == "9s");
    });
    a.exec(reset);
    on_each_connection([&] {
      CHECK(a.scalar("SHOW work_mem") == default_work_mem);
      CHECK(a.scalar("SHOW lock_timeout") == "3s");  // the startup packet's, as PostgreSQL resets to
    });
  }
  // RESET of one parameter goes back to the startup packet's value too; a rolled-back RESET ALL undoes nothing.
  a.exec("SET lock_timeout = '9s'");
  a.exec("RESET lock_timeout");
  on_each_connection([&] { CHECK(a.scalar("SHOW lock_timeout") == "3s"); });
  a.exec("SET work_mem = '7MB'");
  a.exec("BEGIN");
  a.exec("RESET ALL");
  a.exec("ROLLBACK");
  on_each_connection([&] { CHECK(a.scalar("SHOW work_mem") == "7MB"); });
}

TEST_CASE("proxy: transaction pooling: set_config() for the session follows its client and never reaches another") {
  // Multi-tenant apps set the tenant (row-level security, search_path) with set_config(..., false): a
  // SELECT, no SET tag. Alone in its statement, it follows the client as a SET does; in any other
  // shape the connection is reset before it serves anyone else.
  ProxyConfig cfg = pooled_over(1);
  Proxy proxy(cfg);
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  const std::string pid = a.scalar("SELECT pg_backend_pid()");
  CHECK(a.scalar("SELECT set_config('app.tenant', '42', false)") == "42");
  CHECK(a.exec_params("SELECT set_config('search_path', $1, false)", {"pg_catalog, public"}).at(0, 0) ==
        "pg_catalog, public");
  CHECK(a.scalar("SELECT set_config('app.other', '1', false), 2") == "1");  // not alone: not followed
  CHECK(a.scalar("/* tenant */ SELECT SET_CONFIG('app.upper', 'u', FALSE)") == "u");
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(b.scalar("SELECT pg_backend_pid()") == pid);
    CHECK(b.scalar("SELECT coalesce(current_setting('app.tenant', true), '')") == "");
    CHECK(b.scalar("SELECT coalesce(current_setting('app.other', true), '')") == "");
    CHECK(b.scalar("SHOW search_path") == "\"$user\", public");
    CHECK(a.scalar("SELECT current_setting('app.tenant')") == "42");
    CHECK(a.scalar("SHOW search_path") == "pg_catalog, public");
    CHECK(a.scalar("SELECT coalesce(current_setting('app.other', true), '')") == "");
    CHECK(a.scalar("SELECT current_setting('app.upper')") == "u");
    CHECK(b.scalar("SELECT coalesce(current_setting('app.upper', true), '')") == "");
  }
  // Inside a transaction it lasts if the transaction commits.
  a.exec("BEGIN");
  CHECK(a.scalar("SELECT set_config('app.tenant', '7', false)") == "7");
  a.exec("ROLLBACK");
  CHECK(b.scalar("SELECT coalesce(current_setting('app.tenant', true), '')") == "");
  CHECK(a.scalar("SELECT current_setting('app.tenant')") == "42");
  a.exec("BEGIN");
  CHECK(a.scalar("SELECT set_config('app.tenant', '8', false)") == "8");
  a.exec("COMMIT");
  CHECK(b.scalar("SELECT coalesce(current_setting('app.tenant', true), '')") == "");
  CHECK(a.scalar("SELECT current_setting('app.tenant')") == "8");
}

TEST_CASE("proxy: a statement that only looks like it might leave session state is parsed once per shape") {
  // "payload", "threshold", a "role" column: words the session-state scan stops at. With a new constant
  // each time, the text is new each time; its shape (constants as $n) is one cache entry.
  ProxyConfig cfg = pooled_over(1);
  cfg.metrics_port = free_port();
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  auto misses = [&] {
    auto r = http_get(*cfg.metrics_port, "/metrics");
    auto v = r ? sample_value(r->body, R"(pgroute_parse_cache_total{result="miss"})") : std::nullopt;
    return v ? *v : -1.0;
  };
  c.exec("SELECT length('payload-0') AS threshold");
  const double before = misses();
  for (int i = 1; i <= 30; ++i)
    CHECK(c.scalar("SELECT length('payload-" + std::to_string(i) + "') AS threshold") != "");
  CHECK(misses() - before < 3);
  // A shape that does leave state is still seen with its constants: the lock keeps the connection.
  CHECK(c.scalar("SELECT pg_advisory_lock(77)") == "");
  CHECK(c.scalar("SELECT 1") == "1");
  CHECK(clients_keeping_server(*cfg.metrics_port) == 1);
}
