// Issue 19, client side: TLS between clients and pgroute (the top-level `tls:` block), with libpq,
// psql and pgbench at every sslmode, raw bytes around SSLRequest, and certificates made by openssl.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <csignal>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <thread>

#include "harness.hpp"
#include "http_get.hpp"
#include "tls_certs.hpp"

using namespace pgroute::it;

namespace {

constexpr const char* kTlsBenchDb = "it_tls_bench";
constexpr const char* kOps = "ops";  // an admin user, for SHOW CLIENTS
constexpr const char* kOpsPassword = "ops-secret";

// Typed backend messages in `bytes`; nullopt unless they are whole messages and nothing else.
std::optional<std::vector<BackendMessage>> whole_messages(std::string_view bytes) {
  std::vector<BackendMessage> out;
  while (!bytes.empty()) {
    if (bytes.size() < 5) return std::nullopt;
    const std::uint32_t len = get_u32(bytes.substr(1));
    if (len < 4 || bytes.size() < 1 + std::size_t{len}) return std::nullopt;
    out.push_back({bytes[0], std::string(bytes.substr(5, len - 4))});
    bytes.remove_prefix(1 + std::size_t{len});
  }
  return out;
}

// The top-level `tls:` block; `settings` are more of its lines ("mode: require", ...).
std::string tls_block(const CertFiles& server, const std::vector<std::string>& settings = {}) {
  std::string y =
      "tls:\n  cert: " + yaml_quoted(server.cert.string()) + "\n  key: " + yaml_quoted(server.key.string()) + "\n";
  for (const auto& s : settings) y += "  " + s + "\n";
  return y;
}

ProxyConfig tls_proxy_config(const std::vector<std::string>& settings = {},
                             const CertFiles& server = test_certificates().server) {
  ProxyConfig cfg = default_proxy_config();
  cfg.extra_yaml += tls_block(server, settings);
  return cfg;
}

// The proxy's app user over TCP to 127.0.0.1, naming the server `host` (what verify-full checks), then `extra`.
ConnParams tls_params(const Proxy& proxy, const std::string& host, const ConnParams& extra) {
  ConnParams p{{"host", host},       {"hostaddr", "127.0.0.1"},    {"port", std::to_string(proxy.port())},
               {"user", kProxyUser}, {"password", kProxyPassword}, {"dbname", "app"}};
  p.insert(p.end(), extra.begin(), extra.end());
  return p;
}

// The connection error of a login that must fail; fails the test if it succeeds.
PgError refused(const ConnParams& params) {
  return expect_pg_error([&] { Conn c(params); });
}

std::string md5_of(std::string_view bytes) {
  RunResult r = run({"md5sum"}, {.stdin_data = std::string(bytes)});
  if (r.exit_code != 0) throw std::runtime_error("md5sum failed: " + r.describe());
  return r.out.substr(0, 32);
}

std::string output_of(const RunResult& r) { return r.out + r.err; }

// Bytes for a failure message: printable ASCII as is, the rest as \xNN.
std::string printable(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return bytes.size() > 200 ? out + "..." : out;
}

}  // namespace

TEST_CASE("tls: the test certificates verify with openssl") {
  const TestCertificates& certs = test_certificates();
  const std::string ca = certs.ca.cert.string();
  auto verify = [&](const std::string& ca_file, const std::vector<std::string>& checks, const CertFiles& leaf) {
    std::vector<std::string> argv{"openssl", "verify", "-CAfile", ca_file};
    argv.insert(argv.end(), checks.begin(), checks.end());
    argv.push_back(leaf.cert.string());
    return run(argv, {.timeout = 10s});
  };
  {
    RunResult r =
        verify(ca, {"-purpose", "sslserver", "-verify_hostname", "localhost", "-verify_ip", "127.0.0.1"}, certs.server);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(": OK") != std::string::npos);
  }
  {
    RunResult r = verify(ca, {"-purpose", "sslserver", "-verify_hostname", "wrong.example"}, certs.wrong_host);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
  }
  {
    RunResult r = verify(ca, {"-verify_hostname", "localhost"}, certs.wrong_host);
    INFO(r.describe());
    CHECK(r.exit_code != 0);
    CHECK(output_of(r).find("hostname mismatch") != std::string::npos);
  }
  {
    RunResult r = verify(certs.other_ca.cert.string(), {}, certs.server);
    INFO(r.describe());
    CHECK(r.exit_code != 0);
  }
  {
    INFO("a client certificate carries the user name as its CN");
    const CertFiles client = issue_client_cert(certs.dir, "client-app", certs.ca, kProxyUser);
    RunResult r = verify(ca, {"-purpose", "sslclient"}, client);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    RunResult subject = run({"openssl", "x509", "-noout", "-subject", "-in", client.cert.string()}, {.timeout = 10s});
    CHECK(subject.out.find("CN = " + std::string(kProxyUser)) != std::string::npos);
  }
  for (const CertFiles* pair : {&certs.ca, &certs.server, &certs.wrong_host, &certs.other_ca}) {
    INFO(pair->cert.string());
    // The key is the certificate's, and only its owner can read it.
    RunResult from_cert = run({"openssl", "x509", "-noout", "-pubkey", "-in", pair->cert.string()}, {.timeout = 10s});
    RunResult from_key = run({"openssl", "pkey", "-pubout", "-in", pair->key.string()}, {.timeout = 10s});
    CHECK(from_cert.exit_code == 0);
    CHECK(from_key.exit_code == 0);
    CHECK(!from_cert.out.empty());
    CHECK(from_cert.out == from_key.out);
    struct stat st {};
    REQUIRE(::stat(pair->key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(::access(pair->key.c_str(), R_OK) == 0);  // the proxy runs as we do
  }
}

TEST_CASE("tls: libpq with sslmode=require gets an encrypted connection through pgroute") {
  Proxy proxy(tls_proxy_config());
  Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
  CHECK(c.ssl_in_use());
  CHECK(c.ssl_attribute("library") == "OpenSSL");
  CHECK(c.ssl_attribute("protocol") == "TLSv1.3");  // min_version TLSv1.2 by default; both ends can do 1.3
  CHECK(c.scalar("SELECT 'over tls'") == "over tls");
  CHECK(c.exec_params("SELECT $1::int + 1", {"41"}).at(0, 0) == "42");
}

TEST_CASE("tls: verify-ca and verify-full accept the proxy's certificate, signed by the CA, for localhost") {
  const TestCertificates& certs = test_certificates();
  Proxy proxy(tls_proxy_config());
  const std::string root = certs.ca.cert.string();
  {
    Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "verify-ca"}, {"sslrootcert", root}}));
    CHECK(c.ssl_in_use());
    CHECK(c.scalar("SELECT 'verify-ca'") == "verify-ca");
  }
  {
    Conn c(tls_params(proxy, "localhost", {{"sslmode", "verify-full"}, {"sslrootcert", root}}));
    CHECK(c.ssl_in_use());
    CHECK(c.scalar("SELECT 'verify-full'") == "verify-full");
  }
  {
    INFO("the certificate's IP address SAN matches host=127.0.0.1");
    Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "verify-full"}, {"sslrootcert", root}}));
    CHECK(c.scalar("SELECT 'verify-full by address'") == "verify-full by address");
  }
  {
    INFO("a client that trusts another CA only refuses the proxy");
    PgError e = refused(
        tls_params(proxy, "localhost", {{"sslmode", "verify-ca"}, {"sslrootcert", certs.other_ca.cert.string()}}));
    INFO(std::string(e.what()));
    CHECK(e.sqlstate.empty());  // libpq's own verdict, not the server's
    CHECK(e.message.find("certificate verify failed") != std::string::npos);
  }
}

TEST_CASE("tls: verify-full refuses a certificate made for another host name") {
  const TestCertificates& certs = test_certificates();
  Proxy proxy(tls_proxy_config({}, certs.wrong_host));
  const std::string root = certs.ca.cert.string();
  PgError e = refused(tls_params(proxy, "localhost", {{"sslmode", "verify-full"}, {"sslrootcert", root}}));
  INFO(std::string(e.what()));
  CHECK(e.message.find("server certificate for \"wrong.example\" does not match host name \"localhost\"") !=
        std::string::npos);
  // The same certificate passes verify-ca: the chain is good, only the name is wrong.
  Conn c(tls_params(proxy, "localhost", {{"sslmode", "verify-ca"}, {"sslrootcert", root}}));
  CHECK(c.ssl_in_use());
  CHECK(c.scalar("SELECT 'chain ok'") == "chain ok");
}

TEST_CASE("tls: mode require refuses a plaintext login with 28000 and takes a TLS one") {
  Proxy proxy(tls_proxy_config({"mode: require"}));
  PgError e = refused(tls_params(proxy, "127.0.0.1", {{"sslmode", "disable"}}));
  INFO(std::string(e.what()));
  CHECK(e.sqlstate == "28000");
  CHECK(e.severity == "FATAL");
  CHECK(e.message.find("TLS") != std::string::npos);

  Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
  CHECK(c.ssl_in_use());
  CHECK(c.scalar("SELECT 'required tls'") == "required tls");
  // libpq's default, prefer, asks for TLS first and gets it.
  Conn preferred(tls_params(proxy, "127.0.0.1", {{"sslmode", "prefer"}}));
  CHECK(preferred.ssl_in_use());
}

TEST_CASE("tls: mode require still takes the plaintext CancelRequest libpq sends for a TLS connection") {
  // libpq before PostgreSQL 17 opens a plaintext connection for PQcancel whatever sslmode the session
  // has: refusing it would make Ctrl-C in psql do nothing.
  Proxy proxy(tls_proxy_config({"mode: require"}));
  Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
  REQUIRE(c.ssl_in_use());
  std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(c.raw()), PQfreeCancel);
  REQUIRE(cancel);
  std::optional<PgError> error;
  std::thread sleeper([&] {
    try {
      c.exec("SELECT pg_sleep(10)");
    } catch (const PgError& e) {
      error = e;
    }
  });
  std::this_thread::sleep_for(500ms);
  const auto cancelled_at = std::chrono::steady_clock::now();
  char errbuf[256] = {};
  const int sent = PQcancel(cancel.get(), errbuf, sizeof errbuf);
  sleeper.join();
  INFO("PQcancel: " << errbuf);
  CHECK(sent == 1);
  REQUIRE(error);
  CHECK(error->sqlstate == "57014");
  CHECK(std::chrono::steady_clock::now() - cancelled_at < 2s);
  CHECK(c.scalar("SELECT 'usable after cancel'") == "usable after cancel");
}

TEST_CASE("tls: mode allow takes plaintext and TLS logins on the same proxy") {
  Proxy proxy(tls_proxy_config({"mode: allow"}));
  Conn plain(tls_params(proxy, "127.0.0.1", {{"sslmode", "disable"}}));
  Conn encrypted(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
  CHECK_FALSE(plain.ssl_in_use());
  CHECK(encrypted.ssl_in_use());
  CHECK(plain.scalar("SELECT 'plain'") == "plain");
  CHECK(encrypted.scalar("SELECT 'encrypted'") == "encrypted");
  CHECK(plain.scalar("SELECT 'plain again'") == "plain again");
  // allow is the default mode.
  Proxy by_default(tls_proxy_config());
  CHECK_FALSE(Conn(tls_params(by_default, "127.0.0.1", {{"sslmode", "disable"}})).ssl_in_use());
  CHECK(Conn(tls_params(by_default, "127.0.0.1", {{"sslmode", "require"}})).ssl_in_use());
}

TEST_CASE("tls: mode disable answers SSLRequest with N although certificates are configured") {
  Proxy proxy(tls_proxy_config({"mode: disable"}));
  {
    RawClient raw(proxy.port());
    raw.send(encryption_request(kSslRequestCode));
    CHECK(raw.read_one_byte() == 'N');
  }
  PgError e = refused(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
  INFO(std::string(e.what()));
  CHECK(e.message.find("server does not support SSL") != std::string::npos);
  Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "prefer"}}));
  CHECK_FALSE(c.ssl_in_use());
  CHECK(c.scalar("SELECT 'no tls'") == "no tls");
}

TEST_CASE("tls: GSSENCRequest is answered N, then an SSLRequest on the same connection S") {
  Proxy proxy(tls_proxy_config());
  RawClient raw(proxy.port());
  raw.send(encryption_request(kGssEncRequestCode));
  CHECK(raw.read_one_byte() == 'N');
  raw.send(encryption_request(kSslRequestCode));
  CHECK(raw.read_one_byte() == 'S');

  INFO("a second request of a kind is refused at once (as PostgreSQL does), not answered again");
  Proxy no_tls(default_proxy_config());
  for (const std::uint32_t code : {kSslRequestCode, kGssEncRequestCode}) {
    RawClient twice(no_tls.port());
    REQUIRE(twice.send(encryption_request(code)));
    CHECK(twice.read_one_byte() == 'N');
    REQUIRE(twice.send(encryption_request(code)));
    std::vector<BackendMessage> seen;
    CHECK(twice.wait_closed(5s, &seen));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].type == 'E');
    CHECK(error_fields(seen[0].body)['C'] == "08P01");
    CHECK(error_fields(seen[0].body)['M'].find("a second") != std::string::npos);
  }

  INFO("or a plaintext startup after the N (mode allow)");
  RawClient plain(proxy.port());
  plain.send(encryption_request(kGssEncRequestCode));
  CHECK(plain.read_one_byte() == 'N');
  CHECK(plain.startup_trust(kProxyTrustUser, "app").back().type == 'Z');
}

TEST_CASE("tls: bytes pipelined after SSLRequest close the connection and reach nobody") {
  for (const std::string mode : {"allow", "require"}) {
    Proxy proxy(tls_proxy_config({"mode: " + mode}));
    for (std::uint32_t code : {kSslRequestCode, kGssEncRequestCode}) {
      INFO("mode " << mode << ", request code " << code);
      // A trust user: a startup read after the request would log straight in (an 'R' AuthenticationOk).
      RawClient raw(proxy.port());
      raw.send(encryption_request(code) + startup_message({{"user", kProxyTrustUser}, {"database", "app"}}));
      auto bytes = raw.read_until_closed(5s);
      REQUIRE(bytes);  // closed, not waiting for more
      INFO("answer: " << printable(*bytes));
      // The one-byte answer ('N' to GSSENCRequest) may come first or be left out (PgBouncer refuses
      // at once); then an 08P01 FATAL or just the close; nothing else.
      std::string_view rest = *bytes;
      if (!rest.empty() && (rest[0] == 'S' || rest[0] == 'N')) {
        if (code == kGssEncRequestCode) CHECK(rest[0] == 'N');
        rest.remove_prefix(1);
      }
      auto messages = whole_messages(rest);
      REQUIRE(messages);
      REQUIRE(messages->size() <= 1);
      if (messages->size() == 1) {
        CHECK(messages->front().type == 'E');
        auto fields = error_fields(messages->front().body);
        CHECK(fields['C'] == "08P01");
        CHECK(fields['S'] == "FATAL");
      }
    }
    Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
    CHECK(c.scalar("SELECT 'still serving'") == "still serving");
  }
}

TEST_CASE("tls: a plaintext startup sent after the S answer fails the handshake and logs nobody in") {
  Proxy proxy(tls_proxy_config());
  RawClient raw(proxy.port());
  raw.send(encryption_request(kSslRequestCode));
  REQUIRE(raw.read_one_byte() == 'S');
  raw.send(startup_message({{"user", kProxyTrustUser}, {"database", "app"}}));
  auto bytes = raw.read_until_closed(5s);
  REQUIRE(bytes);
  INFO("answer: " << printable(*bytes));
  // At most a TLS alert record (content type 21) or an ErrorResponse: never an authentication request.
  CHECK((bytes->empty() || (*bytes)[0] == '\x15' || (*bytes)[0] == 'E'));
}

TEST_CASE("tls: min_version TLSv1.3 refuses a client that stops at TLS 1.2, and TLSv1.2 takes it") {
  {
    Proxy proxy(tls_proxy_config({"min_version: TLSv1.3"}));
    PgError e =
        refused(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}, {"ssl_max_protocol_version", "TLSv1.2"}}));
    INFO(std::string(e.what()));
    CHECK(e.sqlstate.empty());
    CHECK(e.message.find("SSL error") != std::string::npos);
    CHECK(e.message.find("protocol version") != std::string::npos);
    Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
    CHECK(c.ssl_attribute("protocol") == "TLSv1.3");
  }
  {
    Proxy proxy(tls_proxy_config({"min_version: TLSv1.2", "ciphers: \"ECDHE-RSA-AES128-GCM-SHA256\""}));
    Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}, {"ssl_max_protocol_version", "TLSv1.2"}}));
    CHECK(c.ssl_attribute("protocol") == "TLSv1.2");
    CHECK(c.ssl_attribute("cipher") == "ECDHE-RSA-AES128-GCM-SHA256");
    CHECK(c.scalar("SELECT 'tls 1.2'") == "tls 1.2");
  }
}

TEST_CASE("tls: psql with sslmode=require reports an SSL connection") {
  Proxy proxy(tls_proxy_config());
  RunResult r = run(
      {pg_bin("psql"), "-X", "-A", "-t", "-c", "\\conninfo", "-c", "SELECT 'psql over tls'",
       "host=127.0.0.1 port=" + std::to_string(proxy.port()) + " user=" + kProxyUser + " dbname=app sslmode=require"},
      {.timeout = 30s, .env = {{"PGPASSWORD", kProxyPassword}}});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("SSL connection (protocol: TLSv1.3") != std::string::npos);
  CHECK(r.out.find("psql over tls") != std::string::npos);
}

TEST_CASE("tls: psycopg 3 with sslmode=verify-full, prepared statements over TLS") {
  // Debian's interpreter: a python3 earlier on PATH may not see Debian's psycopg packages.
  static constexpr const char* kScript = R"PY(
import sys, psycopg
port, root = int(sys.argv[1]), sys.argv[2]
with psycopg.connect(host="localhost", hostaddr="127.0.0.1", port=port, user="app", password="secret",
                     dbname="app", sslmode="verify-full", sslrootcert=root, autocommit=True) as conn:
    total = sum(conn.execute("SELECT %s::int * 2", (i,), prepare=True).fetchone()[0] for i in range(10))
    print("ssl", conn.pgconn.ssl_in_use, "total", total)
)PY";
  Proxy proxy(tls_proxy_config({"mode: require"}));
  RunResult r =
      run({"/usr/bin/python3", "-c", kScript, std::to_string(proxy.port()), test_certificates().ca.cert.string()},
          {.timeout = 60s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ssl True total 90\n");
}

TEST_CASE("tls: pgbench -S over TLS in transaction mode, simple, extended and prepared") {
  {
    Conn su = first_cluster().superuser();
    if (su.scalar(std::string("SELECT count(*) FROM pg_database WHERE datname = '") + kTlsBenchDb + "'") == "0") {
      su.exec(std::string("CREATE DATABASE ") + kTlsBenchDb + " OWNER app");
      RunResult init = run({pg_bin("pgbench"), "-i", "-s", "1", "-h", "127.0.0.1", "-p",
                            std::to_string(first_cluster().port()), "-U", kAppUser, kTlsBenchDb},
                           {.timeout = 90s, .env = {{"PGPASSWORD", kAppPassword}}});
      INFO("pgbench -i direct: " << init.describe());
      REQUIRE(init.exit_code == 0);
    }
  }
  ProxyConfig cfg = tls_proxy_config({"mode: require"});
  REQUIRE(cfg.pool_mode == "transaction");
  cfg.backends.push_back({"tls_bench", first_cluster().url(kAppUser, kAppPassword, kTlsBenchDb), 4});
  cfg.databases.emplace_back(kTlsBenchDb, "tls_bench");
  Proxy proxy(cfg);

  static const std::regex processed(R"(number of transactions actually processed: ([0-9]+))");
  for (const std::string mode : {"simple", "extended", "prepared"}) {
    RunResult r = run({pg_bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(proxy.port()), "-U", kProxyUser, "-S",
                       "-T", "3", "-c", "8", "-j", "2", "-M", mode, kTlsBenchDb},
                      {.timeout = 60s, .env = {{"PGPASSWORD", kProxyPassword}, {"PGSSLMODE", "require"}}});
    INFO("pgbench -M " << mode << " over TLS: " << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("number of failed transactions: 0 ") != std::string::npos);
    CHECK(r.err.find("error") == std::string::npos);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, processed));
    CHECK(std::stol(m[1]) > 0);
    MESSAGE("pgbench -S -c 8 -j 2 -T 3 -M " << mode << " over TLS through pgroute: " << m[1] << " transactions");
  }
}

TEST_CASE("tls: a 20 MB result and a 4 MB COPY FROM STDIN arrive intact") {
  Proxy proxy(tls_proxy_config({"mode: require"}));
  Conn c(tls_params(proxy, "127.0.0.1", {{"sslmode", "require"}}));
  REQUIRE(c.ssl_in_use());

  // 160,000 rows of 128 characters: ~21 MB of DataRows, many TLS records.
  const std::string rows_sql = "SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 160000) i ORDER BY i";
  Rows big = c.exec(rows_sql);
  REQUIRE(big.size() == 160000);
  std::string received;
  received.reserve(160000 * 136);
  for (std::size_t i = 0; i < big.size(); ++i) received += (i ? "\n" : "") + big.at(i, 0) + ":" + big.at(i, 1);
  CHECK(received.size() > 20'000'000);
  const std::string expected_md5 = c.scalar(
      "SELECT md5(string_agg(i::text || ':' || repeat(md5(i::text), 4), E'\\n' ORDER BY i)) "
      "FROM generate_series(1, 160000) i");
  CHECK(md5_of(received) == expected_md5);

  // COPY FROM STDIN through TLS, checked on the server straight (no proxy in between).
  Conn direct(first_cluster().params(kAppUser, kAppPassword));
  direct.exec("DROP TABLE IF EXISTS it_tls_copy; CREATE TABLE it_tls_copy (id int PRIMARY KEY, payload text)");
  std::string data;
  for (int i = 1; i <= 40000; ++i) data += std::to_string(i) + "\t" + std::string(100, char('a' + i % 26)) + "\n";
  REQUIRE(data.size() > 3'900'000);
  if (!PQsendQuery(c.raw(), "COPY it_tls_copy FROM STDIN")) FAIL(PQerrorMessage(c.raw()));
  ResultPtr start = c.next_result();
  throw_if_error(start.get(), c.raw());
  REQUIRE(PQresultStatus(start.get()) == PGRES_COPY_IN);
  constexpr std::size_t kChunk = 64 * 1024;
  for (std::size_t pos = 0; pos < data.size(); pos += kChunk) {
    const std::size_t n = std::min(kChunk, data.size() - pos);
    REQUIRE(PQputCopyData(c.raw(), data.data() + pos, static_cast<int>(n)) == 1);
  }
  REQUIRE(PQputCopyEnd(c.raw(), nullptr) == 1);
  ResultPtr done = c.next_result();
  throw_if_error(done.get(), c.raw());
  CHECK(std::string(PQcmdStatus(done.get())) == "COPY 40000");
  while (c.next_result()) {}
  const std::string stored =
      direct.scalar("SELECT md5(string_agg(id::text || E'\\t' || payload || E'\\n', '' ORDER BY id)) FROM it_tls_copy");
  CHECK(stored == md5_of(data));
  CHECK(c.scalar("SELECT count(*) FROM it_tls_copy") == "40000");  // and the connection goes on
  direct.exec("DROP TABLE it_tls_copy");
}

TEST_CASE("tls: pgroute --check and a start name tls.cert or tls.key for a missing or broken file") {
  const TestCertificates& certs = test_certificates();
  TempDir dir("tls-check");
  const auto broken_key = dir / "broken.key";
  write_file(broken_key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
  ::chmod(broken_key.c_str(), 0600);
  const auto missing_cert = dir / "absent.crt";

  {
    const auto good = dir / "good.yaml";
    write_file(good, tls_proxy_config({"mode: require", "min_version: TLSv1.3"}).to_yaml(free_port()));
    RunResult r = run({pgroute_binary(), "--check", good.string()}, {.timeout = 10s});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
  }
  // What the output must name: the key path and the file (a mismatch may be told of either file).
  struct Case {
    const char* what;
    CertFiles files;
    std::vector<std::string> key_paths;
    std::vector<std::filesystem::path> named_files;
  };
  auto names_one_of = [](const std::string& output, const auto& candidates) {
    return std::any_of(candidates.begin(), candidates.end(), [&](const auto& c) {
      return output.find(std::filesystem::path(c).string()) != std::string::npos;
    });
  };
  const CertFiles mismatched{certs.server.cert, certs.other_ca.key};
  for (const Case& k : {Case{"a missing certificate", {missing_cert, certs.server.key}, {"tls.cert"}, {missing_cert}},
                        Case{"a broken key", {certs.server.cert, broken_key}, {"tls.key"}, {broken_key}},
                        Case{"a key that is not the certificate's",
                             mismatched,
                             {"tls.key", "tls.cert"},
                             {mismatched.key, mismatched.cert}}}) {
    INFO(std::string(k.what));
    const auto file = dir / "bad.yaml";
    const int port = free_port();
    write_file(file, tls_proxy_config({}, k.files).to_yaml(port));
    RunResult check = run({pgroute_binary(), "--check", file.string()}, {.timeout = 10s});
    INFO("--check: " << check.describe());
    CHECK(check.exit_code != 0);
    CHECK(names_one_of(output_of(check), k.key_paths));
    CHECK(names_one_of(output_of(check), k.named_files));
    // Started with it, pgroute does not come up.
    RunResult start = run({pgroute_binary(), "--config", file.string()}, {.timeout = 10s});
    INFO("start: " << start.describe());
    CHECK_FALSE(start.timed_out);
    CHECK(start.exit_code != 0);
    CHECK(names_one_of(output_of(start), k.key_paths));
    CHECK_FALSE(port_accepts(port));
  }
}

TEST_CASE("tls: SHOW CLIENTS and the metrics show TLS; a reload swaps the certificate for new connections only") {
  const TestCertificates& certs = test_certificates();
  const int metrics_port = free_port();
  ProxyConfig cfg = tls_proxy_config();
  cfg.metrics_port = metrics_port;
  cfg.users.push_back({kOps, kOpsPassword, std::nullopt});
  cfg.admin_users = {kOps};
  Proxy proxy(cfg);
  const ConnParams trust_ca{{"sslmode", "verify-full"}, {"sslrootcert", certs.ca.cert.string()}};

  Conn before = Conn(tls_params(proxy, "localhost", trust_ca));
  CHECK(before.scalar("SELECT 1") == "1");
  Conn plain = proxy.connect(kOps, kOpsPassword, "pgroute", {{"sslmode", "disable"}});
  // SHOW CLIENTS: id|user|database|alias|application_name|address|state|worker|tls
  Rows clients = plain.exec("SHOW CLIENTS");
  REQUIRE(clients.columns.back() == "tls");
  int with_tls = 0, without = 0;
  for (size_t i = 0; i < clients.size(); ++i) {
    const std::string& tls = clients.at(i, clients.columns.size() - 1);
    if (tls.empty())
      ++without;
    else if (tls.rfind("TLSv1.", 0) == 0)
      ++with_tls;
  }
  CHECK(with_tls == 1);  // `before`; the console itself is plaintext
  CHECK(without >= 1);
  std::optional<HttpResponse> scrape;
  REQUIRE(eventually([&] { return (scrape = http_get(metrics_port, "/metrics", 1s)) && scrape->status == 200; }));
  CHECK(sample_value(scrape->body, "pgroute_client_connections_tls") == 1);
  const auto expiry = sample_value(scrape->body, "pgroute_tls_certificate_expiry_timestamp_seconds");
  REQUIRE(expiry.has_value());
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(*expiry > now);
  CHECK(*expiry < now + 3660.0 * 24 * 3650);  // the test certificates are made for days, not decades

  // The certificate for wrong.example replaces the one for localhost.
  ProxyConfig swapped = tls_proxy_config({}, certs.wrong_host);
  swapped.metrics_port = metrics_port;
  swapped.users = cfg.users;
  swapped.admin_users = cfg.admin_users;
  proxy.write_config(swapped);
  proxy.signal(SIGHUP);
  REQUIRE(eventually([&] { return proxy.log_tail(200).find("(generation 2)") != std::string::npos; }));
  const PgError mismatch = refused(tls_params(proxy, "localhost", trust_ca));
  CHECK(std::string(mismatch.what()).find("wrong.example") != std::string::npos);
  CHECK(Conn(tls_params(proxy, "wrong.example", trust_ca)).scalar("SELECT 2") == "2");
  CHECK(before.scalar("SELECT 3") == "3");  // the connection made before goes on

  // A key that does not load: the reload is rejected naming the file, the certificate in force stays.
  const std::filesystem::path broken = certs.dir / "broken.key";
  {
    std::ofstream out(broken);
    out << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  }
  ::chmod(broken.c_str(), 0600);
  ProxyConfig bad = swapped;
  bad.extra_yaml = tls_block({certs.server.cert, broken});
  proxy.write_config(bad);
  proxy.signal(SIGHUP);
  REQUIRE(eventually([&] { return proxy.log_tail(200).find("reload rejected") != std::string::npos; }));
  CHECK(proxy.log_tail(200).find("tls.key") != std::string::npos);
  CHECK(Conn(tls_params(proxy, "wrong.example", trust_ca)).scalar("SELECT 4") == "4");
}

TEST_CASE("tls: auth cert logs a user in by its client certificate, and nobody else") {
  const TestCertificates& certs = test_certificates();
  const std::filesystem::path dir = certs.dir / "client-auth";
  std::filesystem::create_directories(dir);
  const CertFiles mine = issue_client_cert(dir, "certuser", certs.ca, "certuser");
  const CertFiles someone_else = issue_client_cert(dir, "someone", certs.ca, "someone");
  const CertFiles foreign = issue_client_cert(dir, "foreign", certs.other_ca, "certuser");
  ProxyConfig cfg = tls_proxy_config({"ca: " + yaml_quoted(certs.ca.cert.string())});
  cfg.users.push_back({"certuser", std::nullopt, "cert"});
  Proxy proxy(cfg);
  auto params = [&](const CertFiles* cert) {
    ConnParams p{{"host", "127.0.0.1"},
                 {"port", std::to_string(proxy.port())},
                 {"user", "certuser"},
                 {"dbname", "app"},
                 {"sslmode", "require"}};
    if (cert) {
      p.emplace_back("sslcert", cert->cert.string());
      p.emplace_back("sslkey", cert->key.string());
    }
    return p;
  };
  Conn in(params(&mine));
  CHECK(in.ssl_in_use());
  CHECK(in.scalar("SELECT 5") == "5");
  // Signed by the CA but for another user; no certificate at all: 28000, as PostgreSQL's cert method.
  for (const CertFiles* cert : {&someone_else, static_cast<const CertFiles*>(nullptr)}) {
    const PgError e = refused(params(cert));
    CHECK(e.sqlstate == "28000");
    CHECK(std::string(e.what()).find("certificate authentication failed for user \"certuser\"") != std::string::npos);
  }
  // Not signed by tls.ca: the handshake itself fails.
  const PgError e = refused(params(&foreign));
  CHECK(std::string(e.what()).find("SSL") != std::string::npos);
  // Plaintext: no certificate can have been shown.
  ConnParams plain = params(nullptr);
  plain.back() = {"sslmode", "disable"};
  CHECK(refused(plain).sqlstate == "28000");
  // Users with passwords are not asked for a certificate.
  CHECK(Conn(tls_params(proxy, "localhost", {{"sslmode", "require"}})).scalar("SELECT 6") == "6");
}

TEST_CASE("tls: SCRAM over TLS binds the channel (SCRAM-SHA-256-PLUS, tls-server-end-point)") {
  Proxy proxy(tls_proxy_config());
  // channel_binding=require: libpq refuses to log in unless the server offered and completed
  // SCRAM-SHA-256-PLUS over this TLS connection.
  Conn bound(tls_params(proxy, "localhost", {{"sslmode", "require"}, {"channel_binding", "require"}}));
  CHECK(bound.scalar("SELECT 7") == "7");
  // Without TLS there is nothing to bind: libpq itself refuses, before any password is sent.
  const PgError plain =
      refused(tls_params(proxy, "localhost", {{"sslmode", "disable"}, {"channel_binding", "require"}}));
  CHECK(std::string(plain.what()).find("channel binding") != std::string::npos);
  // A client that does not bind still logs in over TLS.
  CHECK(Conn(tls_params(proxy, "localhost", {{"sslmode", "require"}, {"channel_binding", "disable"}}))
            .scalar("SELECT 8") == "8");
}

TEST_CASE("tls: a certificate whose signature has no single hash (Ed25519): SCRAM logs in without channel binding") {
  const TestCertificates& certs = test_certificates();
  const std::filesystem::path dir = certs.dir / "ed25519";
  std::filesystem::create_directories(dir);
  const auto key = dir / "server.key", csr = dir / "server.csr", crt = dir / "server.crt", ext = dir / "ext.cnf";
  {
    std::ofstream out(ext);
    out << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  }
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"openssl", "genpkey", "-algorithm", "ed25519", "-out", key.string()},
        {"openssl", "req", "-new", "-key", key.string(), "-subj", "/CN=localhost", "-out", csr.string()},
        {"openssl", "x509", "-req", "-in", csr.string(), "-key", key.string(), "-days", "2", "-extfile", ext.string(),
         "-out", crt.string()}}) {
    const RunResult r = run(argv);
    REQUIRE_MESSAGE(r.exit_code == 0, r.describe());
  }
  ::chmod(key.c_str(), 0600);
  ProxyConfig cfg = default_proxy_config();
  cfg.extra_yaml += tls_block({crt, key});
  Proxy proxy(cfg);
  // RFC 5929 defines no tls-server-end-point for it: SCRAM-SHA-256-PLUS is not offered, and libpq's
  // default (channel_binding=prefer) logs in with SCRAM-SHA-256.
  Conn c(tls_params(proxy, "localhost", {{"sslmode", "require"}}));
  CHECK(c.ssl_in_use());
  CHECK(c.scalar("SELECT 9") == "9");
  CHECK(std::string(
            refused(tls_params(proxy, "localhost", {{"sslmode", "require"}, {"channel_binding", "require"}})).what())
            .find("channel binding") != std::string::npos);
}

TEST_CASE("tls: a shutdown while a client is in its TLS handshake sends nothing in the clear") {
  Proxy proxy(tls_proxy_config());
  RawClient raw(proxy.port());
  REQUIRE(raw.send(encryption_request(kSslRequestCode)));
  REQUIRE(raw.read_one_byte() == 'S');
  // No ClientHello: the session waits in its handshake when the proxy is told to stop.
  std::this_thread::sleep_for(200ms);
  proxy.signal(SIGTERM);
  const std::optional<std::string> rest = raw.read_until_closed(10s);
  REQUIRE(rest.has_value());
  CHECK_MESSAGE(rest->empty(), "sent in the clear: " << printable(*rest));
}

TEST_CASE("tls: results larger than the socket takes at once arrive whole inside a transaction") {
  Proxy proxy(tls_proxy_config());
  Conn c(tls_params(proxy, "localhost", {{"sslmode", "require"}}));
  c.set_query_timeout(20s);
  c.exec("BEGIN");  // the connection stays attached after each result: its pump keeps reading the server
  for (int i = 0; i < 6; ++i) {
    const Rows rows = c.exec("SELECT repeat('x', 4000) FROM generate_series(1, 2000)");
    REQUIRE(rows.size() == 2000);
  }
  c.exec("COMMIT");
}

TEST_CASE("tls: certificate files rewritten in place are loaded for new connections; a broken one is not") {
  const TestCertificates& certs = test_certificates();
  const std::filesystem::path dir = certs.dir / "rotating";
  std::filesystem::create_directories(dir);
  const CertFiles live{dir / "live.crt", dir / "live.key"};
  auto put = [&](const CertFiles& from) {
    std::filesystem::copy_file(from.cert, live.cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(from.key, live.key, std::filesystem::copy_options::overwrite_existing);
    ::chmod(live.key.c_str(), 0600);
  };
  put(certs.server);
  ProxyConfig cfg = default_proxy_config();
  cfg.extra_yaml += tls_block(live);
  cfg.watch_config = true;  // reload.watch: the tls: files are watched with the configuration file
  Proxy proxy(cfg);
  const ConnParams trust_ca{{"sslmode", "verify-full"}, {"sslrootcert", certs.ca.cert.string()}};
  Conn before(tls_params(proxy, "localhost", trust_ca));

  put(certs.wrong_host);  // a renewal, as certbot or an operator does it: same paths, new content
  REQUIRE(eventually([&] {
    try {
      return Conn(tls_params(proxy, "wrong.example", trust_ca)).scalar("SELECT 1") == "1";
    } catch (const PgError&) {
      return false;
    }
  }));
  CHECK(proxy.log_tail(200).find("TLS files of") != std::string::npos);
  CHECK(std::string(refused(tls_params(proxy, "localhost", trust_ca)).what()).find("wrong.example") !=
        std::string::npos);
  CHECK(before.scalar("SELECT 2") == "2");

  {  // a half-written key: logged with its place in the file, and the certificate in force stays
    std::ofstream out(live.key, std::ios::trunc);
    out << "-----BEGIN PRIVATE KEY-----\n";
  }
  REQUIRE(
      eventually([&] { return proxy.log_tail(200).find("keeping the certificate in force") != std::string::npos; }));
  CHECK(proxy.log_tail(200).find("tls.key") != std::string::npos);
  CHECK(Conn(tls_params(proxy, "wrong.example", trust_ca)).scalar("SELECT 3") == "3");
}

TEST_CASE("tls: failed handshakes are counted by reason") {
  const TestCertificates& certs = test_certificates();
  const int metrics_port = free_port();
  ProxyConfig cfg = tls_proxy_config({"min_version: TLSv1.3"});
  cfg.metrics_port = metrics_port;
  Proxy proxy(cfg);
  refused(tls_params(proxy, "localhost", {{"sslmode", "require"}, {"ssl_max_protocol_version", "TLSv1.2"}}));
  refused(tls_params(proxy, "localhost", {{"sslmode", "verify-ca"}, {"sslrootcert", certs.other_ca.cert.string()}}));
  {  // 'S', then a plaintext startup packet instead of a ClientHello
    RawClient raw(proxy.port());
    REQUIRE(raw.send(encryption_request(kSslRequestCode)));
    REQUIRE(raw.read_one_byte() == 'S');
    REQUIRE(raw.send(startup_message({{"user", kProxyUser}, {"database", "app"}})));
    raw.read_until_closed(5s);
  }
  auto count = [&](const std::string& reason) {
    auto r = http_get(metrics_port, "/metrics", 1s);
    if (!r || r->status != 200) return -1.0;
    return sample_value(r->body, "pgroute_tls_handshake_failures_total{reason=\"" + reason + "\"}").value_or(-1);
  };
  // Each is counted when the proxy reads the client's alert or hang-up, which may be after the client
  // has given up: wait for each.
  CHECK(eventually([&] { return count("version") == 1; }));
  CHECK(eventually([&] { return count("certificate_refused") == 1; }));
  CHECK(eventually([&] { return count("not_tls") == 1; }));
  CHECK(count("cipher") == 0);
  CHECK(count("other") == 0);
}

namespace {

// A client in Python's ssl module: TLS with or without SSLRequest first (direct, as libpq 17's
// sslnegotiation=direct), offering the ALPN names given (comma-separated, "-" for none), then the trust
// user's login and one query. Prints what happened, one line each.
constexpr const char* kTlsLoginScript = R"PY(
import socket, ssl, struct, sys
port, negotiation, alpn = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
if alpn != "-":
    ctx.set_alpn_protocols(alpn.split(","))
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
if negotiation == "sslrequest":
    sock.sendall(struct.pack("!ii", 8, 80877103))
    print("answer", sock.recv(1).decode())
try:
    tls = ctx.wrap_socket(sock)
except (ssl.SSLError, OSError) as e:
    print("handshake failed", type(e).__name__, e)
    sys.exit(0)
print("alpn", tls.selected_alpn_protocol())
params = b"user\0trusty\0database\0app\0\0"
tls.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
def messages():
    data = b""
    while True:
        while len(data) >= 5 and len(data) >= 1 + struct.unpack("!i", data[1:5])[0]:
            n = 1 + struct.unpack("!i", data[1:5])[0]
            yield data[0:1], data[5:n]
            data = data[n:]
        more = tls.recv(65536)
        if not more:
            print("closed")
            return
        data += more
def until_ready(stream):
    for kind, body in stream:
        if kind == b"E":
            fields = dict((f[0], f[1:]) for f in body.split(b"\0") if f)
            print("error", fields[ord("C")].decode(), fields[ord("M")].decode())
            return False
        if kind == b"D":
            print("row", body[6:].decode())
        if kind == b"Z":
            return True
    return False
stream = messages()
if until_ready(stream):
    print("logged in")
    sql = b"SELECT 'over tls ' || 42\0"
    tls.sendall(b"Q" + struct.pack("!i", 4 + len(sql)) + sql)
    until_ready(stream)
    tls.sendall(b"X\0\0\0\4")
else:
    for _ in stream:
        pass
)PY";

std::string tls_login(const Proxy& proxy, const std::string& negotiation, const std::string& alpn) {
  RunResult r = run({"/usr/bin/python3", "-c", kTlsLoginScript, std::to_string(proxy.port()), negotiation, alpn},
                    {.timeout = 30s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  return r.out;
}

}  // namespace

TEST_CASE("tls: a client that skips SSLRequest (sslnegotiation=direct) with ALPN postgresql logs in over TLS") {
  Proxy proxy(tls_proxy_config({"mode: require"}));
  CHECK(tls_login(proxy, "direct", "postgresql") == "alpn postgresql\nlogged in\nrow over tls 42\n");
  // After SSLRequest, ALPN is optional; offered, "postgresql" is agreed among others.
  CHECK(tls_login(proxy, "sslrequest", "-") == "answer S\nalpn None\nlogged in\nrow over tls 42\n");
  CHECK(tls_login(proxy, "sslrequest", "h2,postgresql") == "answer S\nalpn postgresql\nlogged in\nrow over tls 42\n");
  CHECK(Conn(tls_params(proxy, "localhost", {{"sslmode", "require"}})).scalar("SELECT 'libpq'") == "libpq");
}

TEST_CASE("tls: direct TLS without ALPN gets 08P01 naming it, another protocol's ALPN fails the handshake") {
  const int metrics_port = free_port();
  ProxyConfig cfg = tls_proxy_config();
  cfg.metrics_port = metrics_port;
  Proxy proxy(cfg);
  // PostgreSQL 17's rule: a handshake that came without SSLRequest must have agreed on "postgresql".
  const std::string bare = tls_login(proxy, "direct", "-");
  CHECK(bare.find("alpn None\nerror 08P01 pgroute: a direct TLS connection (without SSLRequest) must negotiate "
                  "the ALPN protocol \"postgresql\"") == 0);
  CHECK(bare.find("logged in") == std::string::npos);
  // An HTTPS client sent to the proxy's port: refused in the handshake (no_application_protocol).
  for (const std::string negotiation : {"direct", "sslrequest"}) {
    const std::string https = tls_login(proxy, negotiation, "h2,http/1.1");
    INFO(https);
    CHECK(https.find("handshake failed SSLError") != std::string::npos);
    CHECK(https.find("alert no application protocol") != std::string::npos);
  }
  // asyncpg's direct_tls offers no ALPN: it is told why.
  static constexpr const char* kAsyncpg = R"PY(
import asyncio, ssl, sys, asyncpg
async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        await asyncpg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="secret",
                              database="app", ssl=ctx, direct_tls=True)
        print("connected")
    except asyncpg.PostgresError as e:
        print(e.sqlstate, e)
asyncio.run(main())
)PY";
  RunResult r = run({"/usr/bin/python3", "-c", kAsyncpg, std::to_string(proxy.port())}, {.timeout = 30s});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("08P01 pgroute: a direct TLS connection (without SSLRequest) must negotiate the ALPN protocol") ==
        0);
  auto count = [&](const std::string& reason) {
    auto m = http_get(metrics_port, "/metrics", 1s);
    if (!m || m->status != 200) return -1.0;
    return sample_value(m->body, "pgroute_tls_handshake_failures_total{reason=\"" + reason + "\"}").value_or(-1);
  };
  CHECK(eventually([&] { return count("alpn") == 2; }));
  CHECK(count("not_tls") == 0);
  CHECK(Conn(tls_params(proxy, "localhost", {{"sslmode", "require"}})).scalar("SELECT 'still serving'") ==
        "still serving");
}

TEST_CASE("tls: a direct TLS handshake to a proxy without tls: is closed with nothing said in the clear") {
  Proxy proxy(default_proxy_config());
  RawClient raw(proxy.port());
  // The first bytes of a ClientHello's record: handshake, TLS 1.0 record version, some length.
  REQUIRE(raw.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
  const std::optional<std::string> rest = raw.read_until_closed(5s);
  REQUIRE(rest.has_value());
  CHECK(rest->empty());
  CHECK(tls_login(proxy, "direct", "postgresql").find("handshake failed") == 0);
  CHECK(proxy.log_tail(50).find("sslnegotiation=direct), but TLS is not configured") != std::string::npos);
  CHECK(Conn(proxy.params()).scalar("SELECT 'plain'") == "plain");
}
