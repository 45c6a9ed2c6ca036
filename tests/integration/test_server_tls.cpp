// Issue 19, server side: TLS from pgroute to its backends, chosen per backend by the URL's sslmode
// (with sslrootcert, sslcert, sslkey), against real PostgreSQL servers with ssl = on and certificates
// made by openssl.
#include <sys/stat.h>

#include <csignal>

#include <filesystem>
#include <regex>

#include "harness.hpp"
#include "http_get.hpp"
#include "tls_certs.hpp"

using namespace pgroute::it;

namespace {

constexpr const char* kOps = "ops";  // an admin user, for SHOW SERVERS
constexpr const char* kOpsPassword = "ops-secret";
constexpr const char* kCertRole = "cert_login";  // logs in to the server with a client certificate only

// A PostgreSQL server with ssl = on, showing `cert` to its clients and accepting client certificates
// signed by the test CA. The files are copies the postgres user owns (the server refuses a key others
// can read).
class TlsServer {
 public:
  TlsServer(const std::string& name, const CertFiles& cert) : files_(name + "-files", /*owned_by_postgres=*/true) {
    const TestCertificates& certs = test_certificates();
    install(cert.cert, "server.crt", 0644);
    install(cert.key, "server.key", 0600);
    install(certs.ca.cert, "ca.crt", 0644);
    cluster_ = std::make_unique<PgCluster>(
        name, std::vector<std::string>{"ssl = on", "ssl_cert_file = '" + (files_ / "server.crt").string() + "'",
                                       "ssl_key_file = '" + (files_ / "server.key").string() + "'",
                                       "ssl_ca_file = '" + (files_ / "ca.crt").string() + "'"});
  }
  PgCluster& cluster() { return *cluster_; }

  // postgresql://app:apppass@HOST:PORT/app?QUERY
  std::string url(const std::string& host, const std::string& query) const {
    return "postgresql://" + std::string(kAppUser) + ":" + kAppPassword + "@" + host + ":" +
           std::to_string(cluster_->port()) + "/" + kAppDatabase + (query.empty() ? "" : "?" + query);
  }

 private:
  void install(const std::filesystem::path& from, const std::string& name, int mode) {
    const auto to = files_ / name;
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(to, static_cast<std::filesystem::perms>(mode));
    chown_to_postgres(to);
  }

  TempDir files_;
  std::unique_ptr<PgCluster> cluster_;
};

// Started on first use, shared by the cases of this file: a server whose certificate names localhost
// and 127.0.0.1, and one whose certificate names wrong.example.
TlsServer& right_server() {
  static TlsServer server("tls-server", test_certificates().server);
  static const bool cert_login = [] {
    // kCertRole may log in only with a certificate whose CN is its name, over TLS.
    Conn su = server.cluster().superuser();
    su.exec("CREATE ROLE " + std::string(kCertRole) + " LOGIN");
    const auto hba = server.cluster().data_dir() / "pg_hba.conf";
    write_file(hba, "hostssl all " + std::string(kCertRole) + " 127.0.0.1/32 cert\n" + read_file(hba));
    chown_to_postgres(hba);
    su.exec("SELECT pg_reload_conf()");
    return true;
  }();
  (void)cert_login;
  return server;
}
TlsServer& wrong_host_server() {
  static TlsServer server("tls-wrong-host", test_certificates().wrong_host);
  return server;
}

std::string ca_file() { return test_certificates().ca.cert.string(); }

// default_proxy_config() with the default alias at `url`, an admin user and a metrics endpoint.
ProxyConfig config_with(const std::string& url, int metrics_port = 0) {
  ProxyConfig cfg = default_proxy_config();
  cfg.backend("default").url = url;
  cfg.users.push_back({kOps, kOpsPassword, std::nullopt});
  cfg.admin_users = {kOps};
  if (metrics_port) cfg.metrics_port = metrics_port;
  return cfg;
}

// Whether the server sees the proxy's connection as TLS (its own view, not ours).
std::string server_sees_tls(Conn& c) { return c.scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"); }

// The SHOW SERVERS row of the default alias's pool in state `state`, as column -> value.
std::map<std::string, std::string> servers_row(const Proxy& proxy, const std::string& state = "idle") {
  Conn console = proxy.connect(kOps, kOpsPassword, "pgroute");
  Rows rows = console.exec("SHOW SERVERS");
  for (size_t i = 0; i < rows.size(); ++i) {
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < rows.columns.size(); ++c) row[rows.columns[c]] = rows.at(i, c);
    if (row["alias"] == "default" && row["state"] == state) return row;
  }
  FAIL("no SHOW SERVERS row for default/" << state);
  return {};
}

// The client-visible error of a query through the proxy that must fail.
PgError query_error(const Proxy& proxy, const std::string& sql = "SELECT 1") {
  return expect_pg_error([&] {
    Conn c = proxy.connect();
    c.exec(sql);
  });
}

}  // namespace

TEST_CASE("server tls: sslmode=require: the server sees TLS, SCRAM binds the channel, SHOW SERVERS and metrics") {
  TlsServer& server = right_server();
  const int metrics_port = free_port();
  Proxy proxy(config_with(server.url("127.0.0.1", "sslmode=require"), metrics_port));
  Conn c = proxy.connect();
  CHECK(server_sees_tls(c) == "t");
  CHECK(c.scalar("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").rfind("TLSv1.", 0) == 0);

  const auto row = servers_row(proxy);
  CHECK(row.at("sslmode") == "require");
  CHECK(row.at("tls_connections") == "1");
  CHECK(row.at("tls").rfind("TLSv1.3 ", 0) == 0);
  INFO("the server offers SCRAM-SHA-256-PLUS over TLS; pgroute binds to the certificate it was shown");
  CHECK(row.at("server_auth") == "SCRAM-SHA-256-PLUS");

  std::optional<HttpResponse> scrape;
  REQUIRE(eventually([&] { return (scrape = http_get(metrics_port, "/metrics", 1s)) && scrape->status == 200; }));
  CHECK(sample_value(scrape->body, "pgroute_server_connections_tls{alias=\"default\"}") == 1);
  CHECK(sample_value(scrape->body, "pgroute_server_connections_tls{alias=\"analytics\"}") == 0);
}

TEST_CASE("server tls: verify-ca and verify-full check the server's certificate; a failure is 08001 naming why") {
  TlsServer& server = right_server();
  const std::string root = "sslrootcert=" + ca_file();
  SUBCASE("verify-full by host name and by address, both in the certificate") {
    for (const std::string host : {"localhost", "127.0.0.1"}) {
      CAPTURE(host);
      Proxy proxy(config_with(server.url(host, "sslmode=verify-full&" + root)));
      Conn c = proxy.connect();
      CHECK(server_sees_tls(c) == "t");
    }
  }
  SUBCASE("verify-ca against a CA that did not sign the server's certificate") {
    Proxy proxy(config_with(
        server.url("127.0.0.1", "sslmode=verify-ca&sslrootcert=" + test_certificates().other_ca.cert.string())));
    PgError e = query_error(proxy);
    CHECK(e.sqlstate == "08001");
    CHECK(e.message.find("alias \"default\"") != std::string::npos);
    CHECK(e.message.find("certificate verify failed") != std::string::npos);
    CHECK(e.message.find("sslmode=verify-ca") != std::string::npos);
  }
  SUBCASE("verify-full against a server whose certificate is for another host") {
    TlsServer& wrong = wrong_host_server();
    Proxy proxy(config_with(wrong.url("localhost", "sslmode=verify-full&" + root)));
    PgError e = query_error(proxy);
    INFO(e.message);
    CHECK(e.sqlstate == "08001");
    CHECK(e.message.find("alias \"default\"") != std::string::npos);
    CHECK(e.message.find("hostname mismatch") != std::string::npos);
    INFO("verify-ca trusts the chain without the name; require checks nothing");
    for (const std::string& mode : {"sslmode=verify-ca&" + root, std::string("sslmode=require")}) {
      CAPTURE(mode);
      Proxy lenient(config_with(wrong.url("localhost", mode)));
      Conn c = lenient.connect();
      CHECK(server_sees_tls(c) == "t");
    }
  }
}

TEST_CASE("server tls: prefer falls back to plaintext when the server has no TLS; require refuses it") {
  PgCluster& plain = first_cluster();  // ssl = off
  const std::string base = plain.url(kAppUser, kAppPassword);
  {
    Proxy proxy(config_with(base + "?sslmode=prefer"));
    Conn c = proxy.connect();
    CHECK(server_sees_tls(c) == "f");
    const auto row = servers_row(proxy);
    CHECK(row.at("tls_connections") == "0");
    CHECK(row.at("tls").empty());
  }
  {
    Proxy proxy(config_with(right_server().url("127.0.0.1", "sslmode=prefer")));
    Conn c = proxy.connect();
    CHECK(server_sees_tls(c) == "t");  // prefer takes TLS where it is offered
  }
  {
    Proxy proxy(config_with(base + "?sslmode=require"));
    PgError e = query_error(proxy);
    CHECK(e.sqlstate == "08001");
    CHECK(e.message.find("alias \"default\"") != std::string::npos);
    CHECK(e.message.find("server does not support TLS") != std::string::npos);
  }
}

TEST_CASE("server tls: pgbench in all three protocol modes and large values both ways over TLS to the server") {
  TlsServer& server = right_server();
  ProxyConfig cfg = config_with(server.url("127.0.0.1", "sslmode=verify-full&sslrootcert=" + ca_file()));
  cfg.pool_size = 3;
  Proxy proxy(cfg);
  {
    Conn direct(server.cluster().params(kAppUser, kAppPassword));
    direct.exec(
        "DROP TABLE IF EXISTS it_stls; CREATE TABLE it_stls (id int PRIMARY KEY, v text);"
        "INSERT INTO it_stls SELECT i, md5(i::text) FROM generate_series(1, 1000) i");
  }
  TempDir scripts("stls-scripts");
  // A read, and a transaction of several writes: more clients than the pool, so connections are shared.
  // A thread per client: pgbench -M prepared prepares with a blocking PQprepare, which would stall the
  // thread's other clients, holding their connections in a transaction, while it waits for one.
  write_file(scripts / "mix.sql",
             "\\set id random(1, 1000)\n"
             "SELECT v FROM it_stls WHERE id = :id;\n"
             "BEGIN;\n"
             "UPDATE it_stls SET v = md5(v) WHERE id = :id;\n"
             "SELECT v, repeat(v, 200) FROM it_stls WHERE id = :id;\n"
             "END;\n");
  const std::regex processed(R"(number of transactions actually processed: (\d+))");
  for (const char* mode : {"simple", "extended", "prepared"}) {
    RunResult r = run({pg_bin("pgbench"), "-n", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()), "-U", kProxyUser,
                       "-f", (scripts / "mix.sql").string(), "-T", "2", "-c", "6", "-j", "6", "-M", mode, "app"},
                      {.timeout = 60s, .env = {{"PGPASSWORD", kProxyPassword}}});
    INFO("pgbench -M " << std::string(mode) << ": " << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("error") == std::string::npos);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, processed));
    CHECK(std::stol(m[1]) > 0);
  }

  Conn c = proxy.connect();
  // 8 MB to the server as one bind parameter (more than a socket takes at once: the rest of the
  // encrypted records waits on the connection), 20 MB back as DataRows in many records.
  const std::string big(8 << 20, 'q');
  Rows sent = c.exec_params("SELECT length($1), md5($1)", {big});
  CHECK(sent.at(0, 0) == std::to_string(big.size()));
  CHECK(sent.at(0, 1) == c.scalar("SELECT md5(repeat('q', " + std::to_string(big.size()) + "))"));
  Rows back = c.exec("SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 150000) i");
  REQUIRE(back.size() == 150000);
  CHECK(back.at(149999, 1) == c.scalar("SELECT repeat(md5('150000'), 4)"));
  CHECK(server_sees_tls(c) == "t");
}

TEST_CASE("server tls: a client certificate (sslcert, sslkey) logs pgroute in where the server asks for one") {
  TlsServer& server = right_server();
  const TestCertificates& certs = test_certificates();
  const CertFiles client = issue_client_cert(certs.dir, "server-login", certs.ca, kCertRole);
  const std::string url = "postgresql://" + std::string(kCertRole) +
                          "@127.0.0.1:" + std::to_string(server.cluster().port()) +
                          "/app?sslmode=verify-full&sslrootcert=" + ca_file() + "&sslcert=" + client.cert.string() +
                          "&sslkey=" + client.key.string();
  {
    Proxy proxy(config_with(url));
    Conn c = proxy.connect();
    CHECK(c.scalar("SELECT current_user") == kCertRole);
    CHECK(server_sees_tls(c) == "t");
  }
  {
    INFO("without the certificate the server refuses the login");
    Proxy proxy(config_with("postgresql://" + std::string(kCertRole) +
                            "@127.0.0.1:" + std::to_string(server.cluster().port()) + "/app?sslmode=require"));
    PgError e = query_error(proxy);
    CHECK(e.sqlstate == "08001");
    CHECK(e.message.find("alias \"default\"") != std::string::npos);
    CHECK(e.message.find("certificate") != std::string::npos);
  }
}

TEST_CASE("server tls: a TLS file that does not load is reported where the URL is written; a reload keeps the old") {
  TlsServer& server = right_server();
  TempDir dir("stls-check");
  ProxyConfig broken = config_with(server.url("127.0.0.1", "sslmode=verify-full&sslrootcert=missing-ca.pem"));
  const std::string text = broken.to_yaml(free_port());
  write_file(dir / "pgroute.yaml", text);
  RunResult check = run({pgroute_binary(), "--check", (dir / "pgroute.yaml").string()}, {.timeout = 20s});
  INFO(check.describe());
  CHECK(check.exit_code == 1);
  const std::string where = (dir / "pgroute.yaml").string() + ":" + position_of(text, "\"postgresql://app:apppass@127");
  CHECK(check.err.find(where + ": backends.default.url: cannot load sslrootcert " + (dir / "missing-ca.pem").string() +
                       ": No such file or directory") != std::string::npos);

  // Running with TLS to the server; the broken file is rejected on reload and the pool goes on.
  ProxyConfig good = config_with(server.url("127.0.0.1", "sslmode=verify-full&sslrootcert=" + ca_file()));
  Proxy proxy(good);
  CHECK(proxy.connect().scalar("SELECT 1") == "1");
  proxy.write_config(broken);
  proxy.signal(SIGHUP);
  CHECK(eventually([&] { return proxy.log_tail(200).find("cannot load sslrootcert") != std::string::npos; }));
  Conn after = proxy.connect();
  CHECK(server_sees_tls(after) == "t");

  INFO("a reload from plaintext to TLS replaces the pool: new connections use TLS");
  ProxyConfig plain = config_with(server.url("127.0.0.1", ""));
  proxy.write_config(plain);
  proxy.signal(SIGHUP);
  CHECK(eventually([&] {
    Conn c = proxy.connect();
    return server_sees_tls(c) == "f";
  }));
  proxy.write_config(good);
  proxy.signal(SIGHUP);
  CHECK(eventually([&] {
    Conn c = proxy.connect();
    return server_sees_tls(c) == "t";
  }));
}

TEST_CASE("server tls: a shard key learnt by position and a read spread over shards, both over TLS") {
  TlsServer& server = right_server();
  // Two shards: two databases of the TLS server.
  {
    Conn su = server.cluster().superuser();
    for (const char* db : {"stls_shard_0", "stls_shard_1"}) {
      su.exec(std::string("DROP DATABASE IF EXISTS ") + db);
      su.exec(std::string("CREATE DATABASE ") + db + " OWNER " + kAppUser);
      Conn owner(server.cluster().params(kAppUser, kAppPassword, db));
      owner.exec("CREATE TABLE events (user_id bigint, payload text)");
    }
  }
  auto shard_url = [&](int i) {
    return "postgresql://" + std::string(kAppUser) + ":" + kAppPassword +
           "@localhost:" + std::to_string(server.cluster().port()) + "/stls_shard_" + std::to_string(i) +
           "?sslmode=verify-full&sslrootcert=" + ca_file();
  };
  ProxyConfig cfg = config_with(server.url("localhost", "sslmode=verify-full&sslrootcert=" + ca_file()));
  cfg.backends.push_back({"shard_0", shard_url(0), std::nullopt});
  cfg.backends.push_back({"shard_1", shard_url(1), std::nullopt});
  cfg.extra_yaml = R"(
routers:
  - type: shard
    table: events
    key: user_id
    key_type: bigint
    method: hash
    shards: [shard_0, shard_1]
    without_key: all
)";
  Proxy proxy(cfg);
  Conn c = proxy.connect();
  // No column list: pgroute asks a shard where user_id stands (its own query, over TLS).
  for (int id = 1; id <= 30; ++id) c.exec("INSERT INTO events VALUES (" + std::to_string(id) + ", 'by position')");
  int on_shards = 0;
  for (int i = 0; i < 2; ++i) {
    Conn owner(server.cluster().params(kAppUser, kAppPassword, "stls_shard_" + std::to_string(i)));
    const int here = std::stoi(owner.scalar("SELECT count(*) FROM events"));
    CHECK(here > 0);
    on_shards += here;
  }
  CHECK(on_shards == 30);
  // No key: every shard is read and the rows merged in order.
  Rows all = c.exec("SELECT user_id FROM events ORDER BY user_id");
  REQUIRE(all.size() == 30);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all.at(i, 0) == std::to_string(i + 1));
  const auto row = servers_row(proxy);
  CHECK(row.at("server_auth") == "SCRAM-SHA-256-PLUS");
}
