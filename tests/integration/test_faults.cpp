// Issue 16, fault matrix: what a client sees when a server, the network or another client fails under
// it. Every case checks that no committed row is lost and no statement is run twice (rows carry a tag
// and a sequence number, counted on the server directly), and that server sessions end clean.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

namespace {
using Clock = std::chrono::steady_clock;

// A role whose sessions the server ends after 500 ms idle.
constexpr const char* kIdleUser = "fx_idler";
constexpr const char* kIdlePassword = "idlepass";

// A private cluster: these tests restart, freeze and kill it. Started on first use, left running.
PgCluster& faults_cluster() {
  static std::unique_ptr<PgCluster> cluster;
  if (!cluster) {
    cluster = std::make_unique<PgCluster>("faults");
    Conn su = cluster->superuser(kAppDatabase);
    su.exec(std::string("CREATE ROLE ") + kIdleUser + " LOGIN PASSWORD '" + kIdlePassword + "'");
    su.exec(std::string("ALTER ROLE ") + kIdleUser + " SET idle_session_timeout = '500ms'");
    su.exec("CREATE TABLE fx_rows (tag text, n int)");
    su.exec(std::string("GRANT ALL ON fx_rows TO ") + kAppUser + ", " + kIdleUser);
  }
  if (!cluster->running()) cluster->start();
  return *cluster;
}

// Alias "fx" on the private cluster (database app, the default), "analytics" on the second shared one.
ProxyConfig faults_config(const std::string& user = kAppUser, const std::string& password = kAppPassword) {
  ProxyConfig cfg = default_proxy_config();
  cfg.backends = {{"fx", faults_cluster().url(user, password), std::nullopt},
                  {"analytics", second_cluster().url(kAppUser, kAppPassword), std::nullopt}};
  cfg.databases = {{"app", "fx"}, {"analytics", "analytics"}};
  cfg.extra_yaml = "default: fx\n";
  return cfg;
}

Conn superuser() { return faults_cluster().superuser(kAppDatabase); }

// Rows with `tag` as the server sees them, and whether any sequence number appears twice.
int rows_tagged(const std::string& tag) {
  return std::stoi(superuser().scalar("SELECT count(*) FROM fx_rows WHERE tag = '" + tag + "'"));
}
bool duplicates(const std::string& tag) {
  return superuser().scalar("SELECT count(*) - count(DISTINCT n) FROM fx_rows WHERE tag = '" + tag + "'") != "0";
}

// The states of `user`'s sessions in database app, e.g. "idle,idle in transaction" ("" if none).
std::string session_states(const std::string& user = kAppUser) {
  return superuser().scalar(
      "SELECT coalesce(string_agg(state, ',' ORDER BY state), '') FROM pg_stat_activity "
      "WHERE usename = '" +
      user + "' AND datname = 'app'");
}

// The client's socket goes away without a Terminate message (a crashed app, a dropped network).
void vanish(Conn& c) { ::shutdown(PQsocket(c.raw()), SHUT_RDWR); }

// Kills the server sessions running a statement that starts with `prefix`.
std::string terminate_running(const std::string& prefix) {
  return superuser().scalar(
      "WITH victims AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE query LIKE '" + prefix +
      "%' AND pid <> pg_backend_pid()) SELECT count(*) FROM victims WHERE pg_terminate_backend(pid, 5000)");
}

// PgError or the client-side failure, as one line.
template <class F>
std::optional<std::string> error_of(F&& fn) {
  try {
    fn();
    return std::nullopt;
  } catch (const PgError& e) {
    return (e.sqlstate.empty() ? std::string("client") : e.sqlstate) + ": " + e.what();
  }
}

// Sends COPY fx_rows FROM STDIN and `rows` rows tagged `tag` (not ended).
void start_copy(Conn& c, const std::string& tag, int rows) {
  REQUIRE(PQsendQuery(c.raw(), "COPY fx_rows FROM STDIN") == 1);
  ResultPtr r = c.next_result();
  REQUIRE(r);
  REQUIRE(PQresultStatus(r.get()) == PGRES_COPY_IN);
  std::string data;
  for (int i = 0; i < rows; ++i) data += tag + "\t" + std::to_string(i) + "\n";
  REQUIRE(PQputCopyData(c.raw(), data.data(), static_cast<int>(data.size())) == 1);
  REQUIRE(PQflush(c.raw()) == 0);
}

}  // namespace

TEST_CASE(
    "faults: an idle pooled connection killed by pg_terminate_backend, a restart or the server's "
    "idle_session_timeout is invisible") {
  ProxyConfig cfg = faults_config(kIdleUser, kIdlePassword);
  // Nothing proactive: the proxy must notice each dead session when it takes it from the pool.
  cfg.pool_extra = "recycle_margin: off, check_after: off";
  cfg.pool_size = 2;
  Proxy proxy(cfg);
  Conn c = proxy.connect(kProxyUser, kProxyPassword, "app");
  int n = 0;
  std::vector<std::string> errors;
  auto insert = [&](const char* after) {
    if (auto e = error_of([&] { c.exec("INSERT INTO fx_rows VALUES ('idle-kill', " + std::to_string(++n) + ")"); }))
      errors.push_back(std::string(after) + ": " + *e);
  };
  insert("first");
  REQUIRE(terminate_running("INSERT INTO fx_rows") == "1");  // the pooled session that just served us
  insert("pg_terminate_backend");
  faults_cluster().restart(Shutdown::fast);
  insert("restart");
  std::this_thread::sleep_for(800ms);  // the server ends the pooled session after 500 ms idle
  insert("idle_session_timeout");
  INFO(proxy.log_tail());
  CHECK(errors == std::vector<std::string>{});
  CHECK(rows_tagged("idle-kill") == 4);
  CHECK_FALSE(duplicates("idle-kill"));
  CHECK(superuser().scalar("SELECT count(*) FROM fx_rows WHERE tag = 'idle-kill' AND n NOT BETWEEN 1 AND 4") == "0");
}

TEST_CASE("faults: a backend killed mid-transaction fails that client only (57P01/08006); nothing of it commits") {
  Proxy proxy(faults_config());
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  Conn idle = proxy.connect();
  CHECK(idle.scalar("SELECT 1") == "1");
  a.exec("BEGIN");
  a.exec("INSERT INTO fx_rows VALUES ('killed-tx-a', 1)");
  b.exec("BEGIN");
  b.exec("INSERT INTO fx_rows VALUES ('killed-tx-b', 1)");
  const std::string a_pid = a.scalar("SELECT pg_backend_pid()");
  REQUIRE(superuser().scalar("SELECT pg_terminate_backend(" + a_pid + ", 5000)") == "t");

  PgError lost = expect_pg_error([&] { a.exec("INSERT INTO fx_rows VALUES ('killed-tx-a', 2)"); });
  INFO(lost.what());
  CHECK((lost.sqlstate == "57P01" || lost.sqlstate == "08006"));
  // The others go on: b's transaction commits whole, a fresh client and the idle one are served.
  b.exec("INSERT INTO fx_rows VALUES ('killed-tx-b', 2)");
  b.exec("COMMIT");
  CHECK(idle.scalar("SELECT 'idle fine'") == "idle fine");
  Conn again = proxy.connect();
  CHECK(again.scalar("SELECT 'reconnected'") == "reconnected");
  CHECK(rows_tagged("killed-tx-a") == 0);
  CHECK(rows_tagged("killed-tx-b") == 2);
}

TEST_CASE("faults: a backend killed mid-COPY FROM STDIN: the client gets an error, no row of it is kept") {
  Proxy proxy(faults_config());
  Conn c = proxy.connect();
  start_copy(c, "killed-copy", 1000);
  REQUIRE(eventually([] { return rows_tagged("killed-copy") == 0 && terminate_running("COPY fx_rows") == "1"; }));
  const std::string more = "killed-copy\t1000\n";
  PQputCopyData(c.raw(), more.data(), static_cast<int>(more.size()));  // may already fail: either is fine
  PQputCopyEnd(c.raw(), nullptr);
  std::string error;
  for (ResultPtr r = c.next_result(); r; r = c.next_result()) {
    if (PQresultStatus(r.get()) == PGRES_FATAL_ERROR) error = PQresultErrorMessage(r.get());
    if (PQstatus(c.raw()) == CONNECTION_BAD) break;
  }
  if (error.empty() && PQstatus(c.raw()) == CONNECTION_BAD) error = PQerrorMessage(c.raw());
  INFO(error);
  CHECK_FALSE(error.empty());
  CHECK(rows_tagged("killed-copy") == 0);
  CHECK(proxy.connect().scalar("SELECT 'others fine'") == "others fine");
}

TEST_CASE("faults: a client gone mid-transaction, mid-COPY, mid-pipeline or while queued leaves no trace") {
  ProxyConfig cfg = faults_config();
  cfg.pool_size = 1;  // the one server session is reused by each next client: it must come back clean
  cfg.queue_timeout = "2s";
  Proxy proxy(cfg);
  // After each case: the server session is idle (not in a transaction, not in COPY) or closed, the
  // next client gets one at once, clean, and sees no row of the abandoned work.
  auto clean_after = [&](const std::string& tag) {
    CHECK(eventually([] { return session_states() == "idle" || session_states().empty(); }));
    INFO(session_states());
    Conn next = proxy.connect();
    CHECK(next.scalar("SELECT count(*) FROM fx_rows WHERE tag = '" + tag + "'") == "0");
    CHECK(next.transaction_status() == PQTRANS_IDLE);
    next.exec("INSERT INTO fx_rows VALUES ('" + tag + "-next', 1)");  // autocommit: visible directly
    CHECK(rows_tagged(tag + "-next") == 1);
    CHECK(rows_tagged(tag) == 0);
  };

  SUBCASE("mid-transaction") {
    Conn c = proxy.connect();
    c.exec("BEGIN");
    c.exec("INSERT INTO fx_rows VALUES ('gone-tx', 1)");
    vanish(c);
    clean_after("gone-tx");
  }
  SUBCASE("mid-COPY") {
    Conn c = proxy.connect();
    start_copy(c, "gone-copy", 1000);
    REQUIRE(eventually([] { return session_states() == "active"; }));
    vanish(c);
    clean_after("gone-copy");
  }
  SUBCASE("mid-pipeline") {
    Conn c = proxy.connect();
    REQUIRE(PQenterPipelineMode(c.raw()) == 1);
    for (const char* sql : {"BEGIN", "INSERT INTO fx_rows VALUES ('gone-pipeline', 1)",
                            "INSERT INTO fx_rows VALUES ('gone-pipeline', 2)"})
      REQUIRE(PQsendQueryParams(c.raw(), sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1);
    REQUIRE(PQpipelineSync(c.raw()) == 1);  // BEGIN and both INSERTs run; the transaction stays open
    for (int i = 0; i < 3; ++i) {
      ResultPtr r = c.next_result();
      REQUIRE(r);
      REQUIRE(PQresultStatus(r.get()) == PGRES_COMMAND_OK);
      REQUIRE(c.next_result() == nullptr);
    }
    ResultPtr sync = c.next_result();
    REQUIRE(sync);
    REQUIRE(PQresultStatus(sync.get()) == PGRES_PIPELINE_SYNC);
    // More of the pipeline, sent without a Sync, then gone.
    REQUIRE(PQsendQueryParams(c.raw(), "INSERT INTO fx_rows VALUES ('gone-pipeline', 3)", 0, nullptr, nullptr, nullptr,
                              nullptr, 0) == 1);
    REQUIRE(PQsendFlushRequest(c.raw()) == 1);
    REQUIRE(PQflush(c.raw()) == 0);
    vanish(c);
    clean_after("gone-pipeline");
  }
  SUBCASE("while queued for a connection") {
    Conn holder = proxy.connect();
    {
      Conn queued = proxy.connect();  // logged in first: a login needs the server connection too
      holder.exec("BEGIN");
      holder.exec("INSERT INTO fx_rows VALUES ('queued-holder', 1)");
      // A transaction it leaves open (as the server will run it once the connection is free).
      REQUIRE(PQsendQuery(queued.raw(), "BEGIN; INSERT INTO fx_rows VALUES ('gone-queued', 1)") == 1);
      std::this_thread::sleep_for(300ms);  // waiting for the holder's connection
      vanish(queued);
    }
    std::this_thread::sleep_for(100ms);
    holder.exec("COMMIT");
    // The gone client's transaction gets the connection, and is rolled back; the queue moves on.
    clean_after("gone-queued");
    CHECK(rows_tagged("queued-holder") == 1);
    superuser().exec("DELETE FROM fx_rows WHERE tag = 'queued-holder'");
  }
  superuser().exec("DELETE FROM fx_rows WHERE tag LIKE 'gone-%'");
}

TEST_CASE("faults: a cancel racing its statement's completion never cancels the next client's statement") {
  ProxyConfig cfg = faults_config();
  cfg.pool_size = 1;  // a and b take turns on one server session: a late cancel of a's would hit b's
  Proxy proxy(cfg);
  Conn a = proxy.connect();
  Conn b = proxy.connect();
  std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(a.raw()), PQfreeCancel);
  REQUIRE(cancel);
  std::atomic<bool> stop{false};
  std::atomic<int> b_done{0};
  ThreadErrors b_errors;
  std::thread other([&] {
    while (!stop) {
      if (auto e = error_of([&] { b.exec("SELECT pg_sleep(0.002)"); })) b_errors.add(*e);
      ++b_done;
    }
  });
  std::mt19937 gen(16);
  int a_cancelled = 0, a_completed = 0;
  ThreadErrors a_errors;
  for (int i = 0; i < 150; ++i) {
    // The cancel goes out while a's statement runs, as it finishes, or after it finished.
    REQUIRE(PQsendQuery(a.raw(), "SELECT pg_sleep(0.001)") == 1);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(gen)));
    char errbuf[256] = {};
    PQcancel(cancel.get(), errbuf, sizeof errbuf);
    for (ResultPtr r = a.next_result(); r; r = a.next_result()) {
      const std::string state =
          PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : "";
      if (PQresultStatus(r.get()) == PGRES_TUPLES_OK)
        ++a_completed;
      else if (state == "57014")
        ++a_cancelled;
      else
        a_errors.add(state + ": " + PQresultErrorMessage(r.get()));
    }
  }
  // And when a is idle: nothing of anyone's may be cancelled.
  for (int i = 0; i < 50; ++i) {
    char errbuf[256] = {};
    PQcancel(cancel.get(), errbuf, sizeof errbuf);
  }
  std::this_thread::sleep_for(100ms);
  stop = true;
  other.join();
  MESSAGE("cancel race: a completed " << a_completed << ", a cancelled " << a_cancelled << "; b ran " << b_done.load());
  INFO(b_errors.summary());
  INFO(a_errors.summary());
  CHECK(b_errors.list().empty());
  CHECK(a_errors.list().empty());
  CHECK(a_completed + a_cancelled == 150);
  CHECK(b_done > 0);
  CHECK(a.scalar("SELECT 'a usable'") == "a usable");
}

TEST_CASE("faults: a flood of cancel requests with made-up keys disturbs nobody") {
  Proxy proxy(faults_config());
  Conn c = proxy.connect();
  const auto pid = static_cast<std::uint32_t>(PQbackendPID(c.raw()));
  std::atomic<int> sent{0};
  std::vector<std::thread> flooders;
  for (int t = 0; t < 4; ++t)
    flooders.emplace_back([&, t] {
      std::mt19937 gen(static_cast<unsigned>(t));
      for (int i = 0; i < 100; ++i) {
        // Half aim at the real client's pid with a wrong key, half at random pids.
        const std::uint32_t target = i % 2 ? pid : static_cast<std::uint32_t>(gen());
        try {
          RawClient raw(proxy.port(), 2s);
          if (raw.send(cancel_request(target, static_cast<std::uint32_t>(gen())))) ++sent;
        } catch (const std::exception&) {}
      }
    });
  ThreadErrors errors;
  for (int i = 0; i < 100; ++i)
    if (auto e = error_of([&] { c.exec("SELECT pg_sleep(0.003)"); })) errors.add(*e);
  for (auto& f : flooders) f.join();
  INFO(errors.summary());
  CHECK(errors.list().empty());
  CHECK(sent == 400);
  CHECK(proxy.running());
  CHECK(proxy.connect().scalar("SELECT 'after the flood'") == "after the flood");
}

namespace {

// pgbench's tables in the faults cluster's database app (scale 1), history emptied.
void init_pgbench_tables() {
  static bool done = false;
  if (!done) {
    RunResult init = run({pg_bin("pgbench"), "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                          std::to_string(faults_cluster().port()), "-U", kAppUser, kAppDatabase},
                         {.timeout = 60s, .env = {{"PGPASSWORD", kAppPassword}}});
    INFO(init.describe());
    REQUIRE(init.exit_code == 0);
    done = true;
  }
  superuser().exec("TRUNCATE pgbench_history");
}

// "number of transactions actually processed: N/..." of a pgbench run (-1 if absent).
long processed(const RunResult& r) {
  static const std::regex re(R"(number of transactions actually processed: (\d+))");
  std::smatch m;
  return std::regex_search(r.out, m, re) ? std::stol(m[1]) : -1;
}

}  // namespace

TEST_CASE("faults: reloads (valid and broken) under pgbench load fail no transaction") {
  init_pgbench_tables();
  ProxyConfig cfg = faults_config();
  Proxy proxy(cfg);
  RunResult bench;
  std::thread load([&] {
    bench = run({pg_bin("pgbench"), "-n", "-c", "8", "-j", "2", "-T", "4", "-h", "127.0.0.1", "-p",
                 std::to_string(proxy.port()), "-U", kProxyUser, "app"},
                {.timeout = 60s, .env = {{"PGPASSWORD", kProxyPassword}}});
  });
  auto reload = [&](const std::string& yaml) {
    write_file(proxy.config_file(), yaml);
    proxy.signal(SIGHUP);
  };
  std::this_thread::sleep_for(800ms);
  cfg.pool_size = 6;
  cfg.pool_extra = "check_after: 1s";
  reload(cfg.to_yaml(proxy.port()));  // valid: a new pool size and lifecycle for the same backend
  std::this_thread::sleep_for(800ms);
  reload(cfg.to_yaml(proxy.port()) + "pool_typo: [\n");  // broken: rejected, the running config stays
  std::this_thread::sleep_for(800ms);
  cfg.pool_size = 3;
  reload(cfg.to_yaml(proxy.port()));  // valid again, smaller than the clients in flight
  load.join();
  INFO(bench.describe());
  INFO(proxy.log_tail(30));
  CHECK(bench.exit_code == 0);
  CHECK(bench.out.find("number of failed transactions: 0 ") != std::string::npos);
  const long n = processed(bench);
  CHECK(n > 0);
  // Each tpcb-like transaction inserts one history row: every committed one is there, once.
  CHECK(superuser().scalar("SELECT count(*) FROM pgbench_history") == std::to_string(n));
  const std::string log = proxy.log_tail(400);
  CHECK(log.find("(generation 2)") != std::string::npos);
  CHECK(log.find("reload rejected") != std::string::npos);
  CHECK(log.find("(generation 3)") != std::string::npos);
}

TEST_CASE("faults: SIGTERM under load: transactions in flight commit, then the proxy exits 0") {
  Proxy proxy(faults_config());
  constexpr int kClients = 6;
  std::atomic<bool> signalled{false};
  std::atomic<int> next_id{0}, finished_after_signal{0};
  ThreadErrors broken;  // a transaction that had done work and then failed
  std::vector<std::set<int>> committed(kClients);
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&, t] {
      try {
        Conn c = proxy.connect();
        for (;;) {
          const int id = ++next_id;
          const std::string row = "INSERT INTO fx_rows VALUES ('sigterm', " + std::to_string(id) + ")";
          try {
            c.exec("BEGIN");
            c.exec(row);
          } catch (const PgError&) {
            return;  // turned away between transactions: expected once the proxy stops
          }
          const bool before = !signalled;
          try {
            c.exec("SELECT pg_sleep(0.05)");
            c.exec(row);
            c.exec("COMMIT");
          } catch (const PgError& e) {
            broken.add("transaction " + std::to_string(id) + ": " + e.what());
            return;
          }
          committed[static_cast<size_t>(t)].insert(id);
          if (before && signalled) ++finished_after_signal;
        }
      } catch (const PgError& e) {
        broken.add(std::string("connect: ") + e.what());
      }
    });
  std::this_thread::sleep_for(700ms);
  signalled = true;
  proxy.signal(SIGTERM);
  for (auto& c : clients) c.join();
  auto status = proxy.wait_exit(10s);
  INFO(broken.summary());
  CHECK(broken.list().empty());
  CHECK(finished_after_signal > 0);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  // Every transaction a client saw commit is there whole; nothing else is.
  size_t seen = 0;
  for (auto& s : committed) seen += s.size();
  CHECK(superuser().scalar("SELECT count(*) FROM fx_rows WHERE tag = 'sigterm'") == std::to_string(2 * seen));
  CHECK(superuser().scalar("SELECT count(*) FROM (SELECT n FROM fx_rows WHERE tag = 'sigterm' GROUP BY n "
                           "HAVING count(*) <> 2) odd") == "0");
  superuser().exec("DELETE FROM fx_rows WHERE tag = 'sigterm'");
}

namespace {

// A server that takes TCP connections and never says a word.
class SilentServer {
 public:
  SilentServer() : port_(free_port()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0)
      throw std::runtime_error("SilentServer: cannot listen");
    acceptor_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // closed
        std::lock_guard lock(mu_);
        accepted_.push_back(c);
      }
    });
  }
  ~SilentServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (int c : accepted_) ::close(c);
  }
  int port() const { return port_; }
  int accepted() {
    std::lock_guard lock(mu_);
    return static_cast<int>(accepted_.size());
  }

 private:
  int port_;
  int fd_ = -1;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> accepted_;
};

// Freezes the faults cluster's postmaster (its listening socket keeps completing handshakes that
// nobody accepts) until destroyed.
struct FrozenPostmaster {
  FrozenPostmaster() { faults_cluster().signal_postmaster(SIGSTOP); }
  ~FrozenPostmaster() { thaw(); }
  void thaw() {
    if (std::exchange(frozen, false)) faults_cluster().signal_postmaster(SIGCONT);
  }
  bool frozen = true;
};

// A login (and first statement) through the proxy: the error, how long it took.
std::pair<std::optional<PgError>, Clock::duration> try_login(Proxy& proxy, const std::string& dbname) {
  const auto t0 = Clock::now();
  try {
    Conn c(proxy.params(kProxyUser, kProxyPassword, dbname), 10s);
    c.scalar("SELECT 1");
    return {std::nullopt, Clock::now() - t0};
  } catch (const PgError& e) {
    return {e, Clock::now() - t0};
  }
}

}  // namespace

TEST_CASE(
    "faults: a blackholed backend (never accepts): connect timeout, then fast failures naming the alias, "
    "then recovery") {
  ProxyConfig cfg = faults_config();
  cfg.queue_timeout = "3s";
  // A connect timeout well above a login's own time, so that "not held for another timeout" has margin
  // on a loaded machine.
  cfg.pool_extra = "connect_timeout: 1500ms, connect_retry: {initial: 1s, max: 1s}";
  Proxy proxy(cfg);
  Conn other = proxy.connect(kProxyUser, kProxyPassword, "analytics");
  std::this_thread::sleep_for(300ms);  // the start-up health probe of the empty pool is done
  FrozenPostmaster frozen;

  auto [first, first_took] = try_login(proxy, "app");
  REQUIRE(first);
  INFO(first->what());
  CHECK(first->sqlstate == "08001");
  CHECK(first->message.find("alias \"fx\"") != std::string::npos);
  CHECK(first->message.find("timed out after 1500 ms") != std::string::npos);
  CHECK(first_took >= 1400ms);
  CHECK(first_took < 4s);

  // Within the back-off window the next client is not held for another timeout.
  auto [second, second_took] = try_login(proxy, "app");
  REQUIRE(second);
  INFO(second->what());
  CHECK(second->sqlstate == "08001");
  CHECK(second->message.find("alias \"fx\"") != std::string::npos);
  CHECK(second_took < 1s);
  CHECK(other.scalar("SELECT 'other alias fine'") == "other alias fine");

  frozen.thaw();
  const auto thawed = Clock::now();
  CHECK(eventually([&] { return !try_login(proxy, "app").first; }, 5s));
  const auto recovered_after = Clock::now() - thawed;
  MESSAGE("blackhole: first failure after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(first_took).count() << " ms, second after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(second_took).count() << " ms; recovered "
          << std::chrono::duration_cast<std::chrono::milliseconds>(recovered_after).count()
          << " ms after the server was back");
  CHECK(recovered_after < 4s);
}

TEST_CASE("faults: a blackholed backend (accepts, never answers): connect timeout naming the alias, fast failure") {
  SilentServer hole;
  ProxyConfig cfg = faults_config();
  cfg.backends.push_back({"hole", "postgresql://app:apppass@127.0.0.1:" + std::to_string(hole.port()) + "/app",
                          std::nullopt, "connect_retry: {initial: 2s, max: 2s}"});
  cfg.databases.emplace_back("hole", "hole");
  cfg.pool_extra = "connect_timeout: 1500ms";
  Proxy proxy(cfg);
  auto [first, first_took] = try_login(proxy, "hole");
  REQUIRE(first);
  INFO(first->what());
  CHECK(first->sqlstate == "08001");
  CHECK(first->message.find("alias \"hole\"") != std::string::npos);
  CHECK(first->message.find("timed out") != std::string::npos);
  CHECK(first_took >= 1400ms);
  CHECK(first_took < 4s);
  CHECK(hole.accepted() >= 1);
  auto [second, second_took] = try_login(proxy, "hole");
  REQUIRE(second);
  INFO(second->what());
  CHECK(second->message.find("alias \"hole\"") != std::string::npos);
  CHECK(second_took < 1s);
  CHECK(proxy.connect().scalar("SELECT 'fx fine'") == "fx fine");
}

TEST_CASE(
    "faults: pg_ctl restart -m fast under 8 looping clients: only statements in flight fail, everyone is "
    "back within a second") {
  ProxyConfig cfg = faults_config();  // pool of 4 for 8 clients, queue_timeout 5 s
  Proxy proxy(cfg);
  constexpr int kClients = 8;
  struct Client {
    std::vector<std::string> errors;
    std::vector<Clock::time_point> successes;
    Clock::duration slowest{};  // the longest login or statement
  };
  std::vector<Client> clients(kClients);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t)
    threads.emplace_back([&, t] {
      Client& me = clients[static_cast<size_t>(t)];
      std::optional<Conn> c;
      while (!stop) {
        const auto t0 = Clock::now();
        try {
          // An app's pool: keep the connection, make a new one after an error.
          if (!c) c.emplace(proxy.params(), 10s);
          if (c->scalar("SELECT 1") != "1") me.errors.push_back("wrong answer");
          me.successes.push_back(Clock::now());
        } catch (const PgError& e) {
          me.errors.push_back((c ? "statement: " : "login: ") + std::string(e.what()));
          c.reset();
        }
        me.slowest = std::max(me.slowest, Clock::now() - t0);
      }
    });
  std::this_thread::sleep_for(500ms);
  const auto down = Clock::now();
  faults_cluster().restart(Shutdown::fast);  // returns once the server accepts logins again
  const auto back = Clock::now();
  std::this_thread::sleep_for(2s);
  stop = true;
  for (auto& th : threads) th.join();

  auto ms = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  size_t errors = 0;
  Clock::duration slowest{}, latest_return{};
  std::string listing;
  for (int t = 0; t < kClients; ++t) {
    const Client& cl = clients[static_cast<size_t>(t)];
    errors += cl.errors.size();
    for (const auto& e : cl.errors) listing += "client " + std::to_string(t) + ": " + e + "\n";
    slowest = std::max(slowest, cl.slowest);
    // When this client was served again after the server was back.
    auto again = std::find_if(cl.successes.begin(), cl.successes.end(), [&](auto at) { return at >= back; });
    const auto returned = again == cl.successes.end() ? Clock::duration::max() : *again - back;
    latest_return = std::max(latest_return, returned);
    CHECK(std::count_if(cl.successes.begin(), cl.successes.end(), [&](auto at) { return at < down; }) > 0);
  }
  MESSAGE("fast restart (" << ms(back - down) << " ms down): " << errors << " errors for " << kClients
                           << " clients; slowest login or statement " << ms(slowest) << " ms; last client back "
                           << ms(latest_return) << " ms after the server\n"
                           << listing);
  INFO(listing);
  INFO(proxy.log_tail(40));
  CHECK(errors <= static_cast<size_t>(kClients));  // at most the statements in flight at the shutdown
  CHECK(slowest < 5s);                             // nobody hung (not even for a queue_timeout)
  CHECK(latest_return < 2s);
}
