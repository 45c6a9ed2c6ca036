// 10-12. Session state under pooling: startup parameters follow the client, session mode keeps
// the session, and an abandoned transaction never reaches the next client.
#include <sys/socket.h>

#include "harness.hpp"

using namespace pgroute::it;

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
