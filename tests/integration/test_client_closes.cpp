// Every end of a client session has a reason: each case provokes one with a real client (libpq or raw
// protocol bytes), then checks pgroute_client_closes_total went up by one for exactly that reason and
// for no other (reason="unknown", a session that ended without one, stays 0), and that the log has one
// "session ends" line per ended session.
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <map>

#include "harness.hpp"
#include "http_get.hpp"
#include "message_trace.hpp"

using namespace pgroute::it;

namespace {

const std::vector<std::string> kReasons = {"client_closed",
                                           "client_lost",
                                           "protocol_violation",
                                           "message_too_large",
                                           "authentication_failed",
                                           "startup_refused",
                                           "startup_timeout",
                                           "evicted",
                                           "server_unavailable",
                                           "server_lost",
                                           "shutdown",
                                           "cancel_request",
                                           "tls_failed",
                                           "unknown"};

using Counts = std::map<std::string, double>;

// The endpoint starts listening a moment after the proxy's port: the first scrape may wait for it.
std::string scrape(int metrics_port) {
  std::optional<HttpResponse> r;
  REQUIRE(eventually([&] { return (r = http_get(metrics_port, "/metrics", 1s)) && r->status == 200; }));
  return r->body;
}

Counts closes(const std::string& metrics) {
  Counts out;
  for (const std::string& reason : kReasons) {
    auto v = sample_value(metrics, "pgroute_client_closes_total{reason=\"" + reason + "\"}");
    REQUIRE_MESSAGE(v.has_value(), "no sample for reason " << reason);
    out[reason] = *v;
  }
  return out;
}

double sessions_open(const std::string& metrics) {
  double n = sample_value(metrics, "pgroute_clients_logging_in").value_or(-1);
  for (const char* state : {"active", "waiting", "idle"})
    n += sample_value(metrics, std::string("pgroute_clients{state=\"") + state + "\"}").value_or(-1);
  return n;
}

size_t count_in(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// A proxy with metrics; `tune` adjusts its config before it starts.
struct Fixture {
  explicit Fixture(const std::function<void(ProxyConfig&)>& tune = {}) : metrics_port(free_port()) {
    ProxyConfig cfg = default_proxy_config();
    cfg.metrics_port = metrics_port;
    if (tune) tune(cfg);
    proxy = std::make_unique<Proxy>(cfg);
    // Proxy() connected once to see the port accept: that session's end (client_closed) comes first.
    REQUIRE(eventually([&] {
      const std::string body = scrape(metrics_port);
      return sessions_open(body) == 0 && closes(body)["client_closed"] == 1;
    }));
  }
  // The counts once no session is open or logging in (every ended one is counted by then).
  Counts settled() {
    std::string body;
    REQUIRE(eventually([&] { return sessions_open(body = scrape(metrics_port)) == 0; }));
    return closes(body);
  }
  // After `before`, exactly one more session ended, for `reason`; every session that ended has one log line.
  void check_one_more(const Counts& before, const std::string& reason) {
    Counts after;
    CHECK(eventually([&] {
      after = settled();
      return after[reason] == before.at(reason) + 1;
    }));
    for (const std::string& r : kReasons) {
      INFO("reason " << r);
      CHECK(after[r] == before.at(r) + (r == reason ? 1 : 0));
    }
    CHECK(after["unknown"] == 0);
    double total = 0;
    for (auto& [r, n] : after) total += n;
    const std::string log = proxy->log_tail(100000);
    INFO(log);
    CHECK(count_in(log, ": session ends: ") == static_cast<size_t>(total));
    CHECK(count_in(log, ": session ends: " + reason) == static_cast<size_t>(after[reason]));
  }
  int metrics_port;
  std::unique_ptr<Proxy> proxy;
};

}  // namespace

TEST_CASE("client closes: Terminate from libpq is client_closed") {
  Fixture fx;
  const Counts before = fx.settled();
  {
    Conn c = fx.proxy->connect();
    CHECK(c.scalar("SELECT 1") == "1");
  }  // PQfinish sends Terminate
  fx.check_one_more(before, "client_closed");
}

TEST_CASE("client closes: a client gone without a word inside a transaction is client_lost") {
  Fixture fx;
  const Counts before = fx.settled();
  {
    RawClient raw(fx.proxy->port());
    raw.startup_trust(kProxyTrustUser, "app");
    REQUIRE(raw.send(query_message("BEGIN")));
    for (auto m = raw.read_message(); m && m->type != 'Z'; m = raw.read_message()) {}
  }  // the socket closes: end of input inside the transaction
  fx.check_one_more(before, "client_lost");
  CHECK(fx.proxy->log_tail(100000).find("client_lost: end of input inside a transaction") != std::string::npos);
}

TEST_CASE("client closes: an unknown message type after login is protocol_violation") {
  Fixture fx;
  const Counts before = fx.settled();
  RawClient raw(fx.proxy->port());
  raw.startup_trust(kProxyTrustUser, "app");
  REQUIRE(raw.send(typed_message('~', "garbage")));
  std::vector<BackendMessage> seen;
  CHECK(raw.wait_closed(5s, &seen));
  REQUIRE_FALSE(seen.empty());
  CHECK(error_fields(seen.back().body)['C'] == "08P01");
  fx.check_one_more(before, "protocol_violation");
}

TEST_CASE("client closes: a message announcing more than max_message_size is message_too_large") {
  Fixture fx;
  const Counts before = fx.settled();
  RawClient raw(fx.proxy->port());
  raw.startup_trust(kProxyTrustUser, "app");
  std::string header = "Q";
  put_u32(header, 0x7fffffffu);  // about 2 GB, over the 64MB default
  REQUIRE(raw.send(header));
  std::vector<BackendMessage> seen;
  CHECK(raw.wait_closed(5s, &seen));
  REQUIRE_FALSE(seen.empty());
  CHECK(error_fields(seen.back().body)['C'] == "08P01");
  fx.check_one_more(before, "message_too_large");
}

TEST_CASE("client closes: a wrong password is authentication_failed") {
  Fixture fx;
  const Counts before = fx.settled();
  CHECK_THROWS(fx.proxy->connect(kProxyUser, std::string("not the password")));
  fx.check_one_more(before, "authentication_failed");
}

TEST_CASE("client closes: an unknown database after a good login is startup_refused") {
  Fixture fx;
  const Counts before = fx.settled();
  CHECK_THROWS(fx.proxy->connect(kProxyUser, std::string(kProxyPassword), "no_such_database"));
  fx.check_one_more(before, "startup_refused");
}

TEST_CASE("client closes: a login not finished within authentication_timeout is startup_timeout") {
  Fixture fx([](ProxyConfig& c) { c.extra_yaml = "authentication_timeout: 300ms\n"; });
  const Counts before = fx.settled();
  RawClient silent(fx.proxy->port());  // connects and says nothing
  std::vector<BackendMessage> seen;
  CHECK(silent.wait_closed(3s, &seen));
  fx.check_one_more(before, "startup_timeout");
}

TEST_CASE("client closes: the oldest login making room under max_startup_connections is evicted") {
  Fixture fx([](ProxyConfig& c) {
    c.threads = 1;  // the oldest is chosen per worker thread
    c.extra_yaml = "max_startup_connections: 1\n";
  });
  const Counts before = fx.settled();
  RawClient stalled(fx.proxy->port());  // connects and says nothing
  std::this_thread::sleep_for(1100ms);  // it had its chance: the next connection takes its place
  Counts mid;
  {
    RawClient next(fx.proxy->port());
    std::vector<BackendMessage> seen;
    CHECK(stalled.wait_closed(3s, &seen));
    REQUIRE_FALSE(seen.empty());
    CHECK(error_fields(seen.back().body)['C'] == "53300");
    // Only the eviction so far: `next` is still logging in.
    CHECK(eventually([&] { return closes(scrape(fx.metrics_port))["evicted"] == before.at("evicted") + 1; }));
    mid = closes(scrape(fx.metrics_port));
    for (const std::string& r : kReasons) CHECK(mid[r] == before.at(r) + (r == "evicted" ? 1 : 0));
  }  // `next` closes before its startup packet: a clean end of input
  fx.check_one_more(mid, "client_closed");
}

TEST_CASE("client closes: no server connection for the login is server_unavailable") {
  const int dead_port = free_port();  // nothing listens there
  Fixture fx([&](ProxyConfig& c) {
    c.backend("default").url = "postgresql://app:apppass@127.0.0.1:" + std::to_string(dead_port) + "/app";
  });
  const Counts before = fx.settled();
  CHECK_THROWS(fx.proxy->connect());
  fx.check_one_more(before, "server_unavailable");
}

TEST_CASE("client closes: the server ending the session inside a transaction is server_lost (08006)") {
  Fixture fx;
  const Counts before = fx.settled();
  Conn c = fx.proxy->connect();
  c.exec("BEGIN");
  const std::string pid = c.scalar("SELECT pg_backend_pid()");
  REQUIRE(first_cluster().superuser().scalar("SELECT pg_terminate_backend(" + pid + ", 5000)") == "t");
  PgError lost = expect_pg_error([&] { c.exec("SELECT 1"); });
  INFO(lost.what());
  CHECK((lost.sqlstate == "57P01" || lost.sqlstate == "08006"));
  fx.check_one_more(before, "server_lost");
}

TEST_CASE("client closes: a cancel request's connection is cancel_request") {
  Fixture fx;
  const Counts before = fx.settled();
  {
    RawClient raw(fx.proxy->port());
    REQUIRE(raw.send(cancel_request(12345, 678)));  // an unknown key: ignored, the connection ends
    CHECK(raw.wait_closed(5s));
  }
  fx.check_one_more(before, "cancel_request");
}

TEST_CASE("client closes: SIGTERM ends an idle client at once and one in a transaction after it: shutdown") {
  Fixture fx;
  const Counts before = fx.settled();
  Conn idle = fx.proxy->connect();
  CHECK(idle.scalar("SELECT 1") == "1");
  Conn busy = fx.proxy->connect();
  busy.exec("BEGIN");
  CHECK(busy.scalar("SELECT 2") == "2");
  fx.proxy->signal(SIGTERM);
  // The open transaction keeps the proxy draining, and the metrics endpoint answering.
  CHECK(eventually([&] { return closes(scrape(fx.metrics_port))["shutdown"] == before.at("shutdown") + 1; }));
  const Counts during = closes(scrape(fx.metrics_port));
  for (const std::string& r : kReasons) CHECK(during.at(r) == before.at(r) + (r == "shutdown" ? 1 : 0));
  CHECK(busy.scalar("SELECT 3") == "3");
  busy.exec("COMMIT");  // then the proxy ends it too, and exits
  CHECK(fx.proxy->wait_exit(10s));
  const std::string log = fx.proxy->log_tail(100000);
  INFO(log);
  CHECK(count_in(log, ": session ends: shutdown") == 2);
  CHECK(count_in(log, ": session ends: unknown") == 0);
}

// A pipelined batch whose first unit the proxy answers itself (a second Parse of an existing name: 42P05)
// and whose next unit attaches a server connection, from a client that resets its connection right after
// sending it: the proxy's write of its own answers fails while the connection is being attached. The
// session ends with its reason (client_lost or client_closed), and the proxy goes on serving new clients.
TEST_CASE("client closes: a client that resets while a pipelined batch attaches a connection is client_lost") {
  Fixture fx([](ProxyConfig& cfg) { cfg.pool_size = 2; });
  const std::string sync = sync_message();
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    const Counts before = fx.settled();
    {
      RawClient raw(fx.proxy->port());
      raw.startup_trust(kProxyTrustUser, "app");
      REQUIRE(raw.send(parse_message("S1", "SELECT 1") + sync));
      for (auto m = raw.read_message(); m && m->type != 'Z'; m = raw.read_message()) {}
      REQUIRE(raw.send(parse_message("S1", "SELECT 1") + sync + parse_message("S2", "SELECT 2") + bind_message("S2") +
                       execute_message() + sync));
      linger reset{1, 0};  // close with RST: the proxy's next write to this client fails
      REQUIRE(::setsockopt(raw.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0);
    }
    const Counts after = fx.settled();
    CHECK(after.at("unknown") == 0);
    CHECK(after.at("client_lost") + after.at("client_closed") ==
          before.at("client_lost") + before.at("client_closed") + 1);
    Conn c = fx.proxy->connect();  // still serving, with a pooled connection to give
    CHECK(c.scalar("SELECT 42") == "42");
  }
}
