// The startup phase against hostile clients: logins that stall, floods of them, encryption requests
// with bytes pipelined behind them, probing for user names.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "harness.hpp"
#include "http_get.hpp"

using namespace pgroute::it;

namespace {

// Typed backend messages in `bytes` (a trailing partial message is dropped).
std::vector<BackendMessage> split_messages(std::string_view bytes) {
  std::vector<BackendMessage> out;
  while (bytes.size() >= 5) {
    const std::uint32_t len = get_u32(bytes.substr(1));
    if (len < 4 || bytes.size() < 1 + len) break;
    out.push_back({bytes[0], std::string(bytes.substr(5, len - 4))});
    bytes.remove_prefix(1 + len);
  }
  return out;
}

// A SASLInitialResponse choosing SCRAM-SHA-256 with this client-first-message.
std::string sasl_initial_response(std::string_view client_first) {
  std::string body = "SCRAM-SHA-256";
  body.push_back('\0');
  put_u32(body, static_cast<std::uint32_t>(client_first.size()));
  body.append(client_first);
  return typed_message('p', body);
}

// What a login attempt as `user` is first asked: the authentication request code and, for SCRAM,
// the salt and iteration count of the server-first-message. `elapsed`: startup sent to request read.
struct FirstChallenge {
  int request = -1;
  std::string salt, iterations;
  std::chrono::microseconds elapsed{0};
};

FirstChallenge first_challenge(int port, const std::string& user) {
  FirstChallenge c;
  RawClient raw(port);
  const auto start = std::chrono::steady_clock::now();
  raw.send(startup_message({{"user", user}, {"database", "app"}}));
  auto m = raw.read_message();
  c.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  if (!m || m->type != 'R') return c;
  c.request = static_cast<int>(get_u32(m->body));
  if (c.request != 10) return c;
  raw.send(sasl_initial_response("n,,n=,r=pgrouteprobe0123456789"));
  auto first = raw.read_message();
  if (!first || first->type != 'R' || get_u32(first->body) != 11) return c;
  const std::string server_first = first->body.substr(4);  // r=...,s=SALT,i=ITERATIONS
  const size_t s = server_first.find(",s="), i = server_first.find(",i=");
  if (s == std::string::npos || i == std::string::npos || i < s) return c;
  c.salt = server_first.substr(s + 3, i - s - 3);
  c.iterations = server_first.substr(i + 3);
  return c;
}

// A login as `user` that stops after the client-first-message: the proxy waits for the client's proof.
std::unique_ptr<RawClient> stalled_in_scram(int port, const std::string& user = kProxyUser) {
  auto raw = std::make_unique<RawClient>(port);
  raw->send(startup_message({{"user", user}, {"database", "app"}}));
  auto m = raw->read_message();
  REQUIRE(m);
  REQUIRE(m->type == 'R');
  REQUIRE(get_u32(m->body) == 10);
  raw->send(sasl_initial_response("n,,n=,r=pgroutestall0123456789"));
  auto first = raw->read_message();
  REQUIRE(first);
  REQUIRE(first->type == 'R');
  REQUIRE(get_u32(first->body) == 11);
  return raw;
}

// The SQLSTATE of the last ErrorResponse among `seen` ("" if none).
std::string last_sqlstate(const std::vector<BackendMessage>& seen) {
  for (auto it = seen.rbegin(); it != seen.rend(); ++it)
    if (it->type == 'E') return error_fields(it->body)['C'];
  return {};
}

std::chrono::microseconds median(std::vector<std::chrono::microseconds> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

TEST_CASE("startup: unknown users look like known ones (salt, iterations, request, timing, error)") {
  Proxy proxy(default_proxy_config());

  const FirstChallenge known = first_challenge(proxy.port(), kProxyUser);
  REQUIRE(known.request == 10);
  REQUIRE(!known.salt.empty());
  const FirstChallenge unknown1 = first_challenge(proxy.port(), "nobody_here");
  const FirstChallenge unknown2 = first_challenge(proxy.port(), "nobody_here");
  // Asked for the default method (scram-sha-256), with a salt that stays the same between attempts,
  // as a real user's does, of the same length and with the same iteration count.
  CHECK(unknown1.request == 10);
  CHECK(unknown1.salt == unknown2.salt);
  CHECK(unknown1.salt.size() == known.salt.size());
  CHECK(unknown1.iterations == known.iterations);
  CHECK(unknown1.iterations == unknown2.iterations);
  CHECK(first_challenge(proxy.port(), "someone_else").salt != unknown1.salt);
  CHECK(first_challenge(proxy.port(), kProxyUser).salt == known.salt);

  // As fast as a known user's: no key derivation per attempt. Interleaved, medians: robust to load.
  std::vector<std::chrono::microseconds> known_times, unknown_times;
  for (int i = 0; i < 40; ++i) {
    known_times.push_back(first_challenge(proxy.port(), kProxyUser).elapsed);
    unknown_times.push_back(first_challenge(proxy.port(), "nobody_" + std::to_string(i)).elapsed);
  }
  const auto known_median = median(known_times), unknown_median = median(unknown_times);
  MESSAGE("first request after " << known_median.count() << " us (known user), " << unknown_median.count()
                                 << " us (unknown user)");
  CHECK(unknown_median <= 2 * known_median + 700us);  // PBKDF2 alone was ~1,300 us

  // The same failure, word for word, for an unknown user and a wrong password.
  PgError wrong = expect_pg_error([&] { proxy.connect(kProxyUser, "wrong password"); });
  PgError nobody = expect_pg_error([&] { proxy.connect("nobody_here", "wrong password"); });
  CHECK(wrong.sqlstate == "28P01");
  CHECK(nobody.sqlstate == "28P01");
  CHECK(wrong.message == "password authentication failed for user \"" + std::string(kProxyUser) + "\"");
  CHECK(nobody.message == "password authentication failed for user \"nobody_here\"");
}

TEST_CASE("startup: bytes pipelined after SSLRequest or GSSENCRequest end the connection with 08P01") {
  Proxy proxy(default_proxy_config());
  for (std::uint32_t code : {kSslRequestCode, kGssEncRequestCode}) {
    INFO("request code " << code);
    // A trust user: a startup read after the request would log straight in.
    RawClient raw(proxy.port());
    raw.send(encryption_request(code) + startup_message({{"user", kProxyTrustUser}, {"database", "app"}}));
    auto bytes = raw.read_until_closed(5s);
    REQUIRE(bytes);  // closed, not waiting for more
    REQUIRE(!bytes->empty());
    CHECK((*bytes)[0] == 'N');
    auto messages = split_messages(std::string_view(*bytes).substr(1));
    REQUIRE(messages.size() == 1);  // no authentication request, no login
    CHECK(messages[0].type == 'E');
    auto fields = error_fields(messages[0].body);
    CHECK(fields['C'] == "08P01");
    CHECK(fields['V'] == "FATAL");
    CHECK(fields['M'].find("unencrypted data after") != std::string::npos);
  }
  {
    INFO("the request answered first, then the startup (what libpq with sslmode=prefer does)");
    RawClient raw(proxy.port());
    raw.send(encryption_request(kSslRequestCode));
    CHECK(raw.read_one_byte() == 'N');
    auto got = raw.startup_trust(kProxyTrustUser, "app");
    CHECK(got.back().type == 'Z');
  }
  CHECK(proxy.connect(kProxyUser, kProxyPassword, "app", {{"sslmode", "prefer"}}).scalar("SELECT 'ssl prefer'") ==
        "ssl prefer");
  CHECK(proxy.connect(kProxyUser, kProxyPassword, "app", {{"gssencmode", "prefer"}, {"sslmode", "prefer"}})
            .scalar("SELECT 'gss prefer'") == "gss prefer");
}

TEST_CASE("startup: authentication_timeout ends silent, stalled and half-finished logins") {
  ProxyConfig cfg = default_proxy_config();
  cfg.extra_yaml = "authentication_timeout: 1s\n";
  Proxy proxy(cfg);

  const auto start = std::chrono::steady_clock::now();
  RawClient silent(proxy.port());  // connects and says nothing
  RawClient one_byte(proxy.port());
  one_byte.send(std::string(1, '\0'));
  auto in_scram = stalled_in_scram(proxy.port());
  Conn healthy = proxy.connect();  // logged in: the timeout is over for it

  for (RawClient* raw : {&silent, &one_byte, in_scram.get()}) {
    std::vector<BackendMessage> seen;
    CHECK(raw->wait_closed(3s, &seen));
    const auto after = std::chrono::steady_clock::now() - start;
    CHECK(after >= 900ms);
    CHECK(after < 2500ms);
    CHECK(last_sqlstate(seen) == "57014");  // canceling authentication due to timeout
  }
  std::this_thread::sleep_for(300ms);
  CHECK(healthy.scalar("SELECT 'past the timeout'") == "past the timeout");
  CHECK(proxy.connect().scalar("SELECT 'new login'") == "new login");
  CHECK(proxy.log_tail().find("canceling authentication due to timeout") != std::string::npos);
}

TEST_CASE("startup: logins stalled in authentication do not take the slots of max_client_connections") {
  ProxyConfig cfg = default_proxy_config();
  cfg.max_client_connections = 20;
  cfg.metrics_port = free_port();
  Proxy proxy(cfg);

  std::vector<std::unique_ptr<RawClient>> stalled;
  for (int i = 0; i < 30; ++i) stalled.push_back(stalled_in_scram(proxy.port()));
  for (int i = 0; i < 10; ++i) {  // and some that never send a startup packet
    stalled.push_back(std::make_unique<RawClient>(proxy.port()));
    stalled.back()->send("\0\0");
  }
  // They are counted apart, in their own gauge.
  CHECK(eventually([&] {
    auto r = http_get(*cfg.metrics_port, "/metrics");
    auto v = r ? sample_value(r->body, "pgroute_clients_logging_in") : std::nullopt;
    return v && *v == 40;
  }));
  // Every slot is there for clients that log in.
  std::vector<Conn> clients;
  for (int i = 0; i < 20; ++i) {
    INFO("client " << i);
    clients.push_back(proxy.connect());
    CHECK(clients.back().scalar("SELECT 1") == "1");
  }
  PgError over = expect_pg_error([&] { proxy.connect(); });
  CHECK(over.sqlstate == "53300");
  CHECK(over.message.find("max_client_connections = 20") != std::string::npos);
}

TEST_CASE("startup: over max_startup_connections new connections wait for a place; beyond a full wait, refused") {
  ProxyConfig cfg = default_proxy_config();
  cfg.threads = 1;                  // the oldest are chosen per worker thread: one, so the test knows which
  cfg.max_client_connections = 10;  // also how many may wait
  cfg.extra_yaml = "max_startup_connections: 10\n";
  Proxy proxy(cfg);

  std::vector<std::unique_ptr<RawClient>> stalled;
  for (int i = 0; i < 10; ++i) stalled.push_back(stalled_in_scram(proxy.port()));
  const auto filled = std::chrono::steady_clock::now();
  // Ten more connect and wait for a place, unread: as many may wait as may be clients.
  std::vector<std::unique_ptr<RawClient>> waiting;
  for (int i = 0; i < 10; ++i) waiting.push_back(std::make_unique<RawClient>(proxy.port()));
  {
    INFO("a 21st while all 10 logins are young and 10 wait: refused at once");
    RawClient extra(proxy.port());
    std::vector<BackendMessage> seen;
    CHECK(extra.wait_closed(3s, &seen));
    CHECK(last_sqlstate(seen) == "53300");
    CHECK(std::chrono::steady_clock::now() - filled < 900ms);
  }
  for (auto& w : waiting) CHECK_FALSE(w->wait_closed(10ms));
  waiting.clear();  // they leave without a word: their places in the wait go
  // Once the oldest login had its chance (a second), a waiting connection takes its place: a libpq
  // client that connects now waits and gets in.
  const auto t0 = std::chrono::steady_clock::now();
  Conn late = proxy.connect();
  CHECK(late.scalar("SELECT 'waited, then got in'") == "waited, then got in");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  std::vector<BackendMessage> seen;
  CHECK(stalled[0]->wait_closed(3s, &seen));
  CHECK(last_sqlstate(seen) == "53300");
  INFO("the later stalled logins stay while nobody waits");
  CHECK_FALSE(stalled[9]->wait_closed(300ms));
}

TEST_CASE("startup: a burst of logins four times max_startup_connections all get in") {
  // An application starting its connection pool opens many connections at once; logins are quick, so
  // those over the limit wait a moment instead of failing with 53300.
  ProxyConfig cfg = default_proxy_config();
  cfg.extra_yaml = "max_startup_connections: 8\n";
  Proxy proxy(cfg);
  constexpr int kClients = 32;
  std::vector<std::string> results(kClients);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      try {
        Conn c = proxy.connect();
        results[i] = c.scalar("SELECT 'in'");
      } catch (const std::exception& e) {
        results[i] = e.what();
      }
    });
  go = true;
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    CAPTURE(i);
    CHECK(results[i] == "in");
  }
}

TEST_CASE("startup: an admin user can log in when clients hold every slot not reserved for admins") {
  ProxyConfig cfg = default_proxy_config();
  cfg.users.push_back({"ops", "opspass", std::nullopt});
  cfg.admin_users = {"ops"};
  cfg.max_client_connections = 5;
  cfg.extra_yaml = "reserved_admin_connections: 2\n";
  Proxy proxy(cfg);

  std::vector<Conn> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(proxy.connect());
  PgError over = expect_pg_error([&] { proxy.connect(); });
  INFO(over.what());
  CHECK(over.sqlstate == "53300");
  CHECK(over.message.find("2 reserved for admin users") != std::string::npos);

  Conn console = proxy.connect("ops", "opspass", "pgroute");
  CHECK(console.exec("SHOW CLIENTS").size() >= 4);
  Conn ops_app = proxy.connect("ops", "opspass", "app");
  CHECK(ops_app.scalar("SELECT 'admin got in'") == "admin got in");
  CHECK(expect_pg_error([&] { proxy.connect("ops", "opspass", "pgroute"); }).sqlstate == "53300");
  for (auto& c : clients) CHECK(c.scalar("SELECT 2") == "2");
}
