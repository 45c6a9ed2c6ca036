#include <doctest/doctest.h>

#include "config/backend_url.hpp"
#include "config/config.hpp"

using namespace pgroute::config;

namespace {

BackendAddress parsed(std::string_view url) {
  UrlParse p = parse_backend_url(url);
  INFO(url << " -> " << p.error);
  REQUIRE(p.address.has_value());
  CHECK(p.error.empty());
  return *p.address;
}

std::string error_of(std::string_view url) {
  UrlParse p = parse_backend_url(url);
  CHECK_FALSE(p.address.has_value());
  return p.error;
}

}  // namespace

TEST_CASE("url: every part") {
  BackendAddress a = parsed("postgresql://app:secret@db.example.com:5433/appdb?sslmode=prefer");
  CHECK(a.host == "db.example.com");
  CHECK(a.port == 5433);
  CHECK(a.user == "app");
  CHECK(a.password == "secret");
  CHECK(a.dbname == "appdb");
  CHECK(a.sslmode == SslMode::prefer);
}

TEST_CASE("url: defaults") {
  BackendAddress a = parsed("postgres://127.0.0.1");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 5432);
  CHECK(a.user.empty());
  CHECK(a.password.empty());
  CHECK(a.dbname.empty());
  CHECK(a.sslmode == SslMode::disable);

  BackendAddress b = parsed("postgresql://app@host/");
  CHECK(b.user == "app");
  CHECK(b.password.empty());
  CHECK(b.dbname.empty());
  CHECK(parsed("postgresql://@host/db").user.empty());
  CHECK(parsed("postgresql://host?sslmode=disable").sslmode == SslMode::disable);
}

TEST_CASE("url: percent-decoding of user, password and dbname") {
  BackendAddress a = parsed("postgresql://us%40er:p%3Aw%25d%2F@host/my%20db");
  CHECK(a.user == "us@er");
  CHECK(a.password == "p:w%d/");
  CHECK(a.dbname == "my db");
  CHECK(error_of("postgresql://u%4@host/db") == "invalid percent-encoding in the user name");
  CHECK(error_of("postgresql://u:p%zz@host/db") == "invalid percent-encoding in the password");
  CHECK(error_of("postgresql://host/db%") == "invalid percent-encoding in the database name");
}

TEST_CASE("url: a password may contain unencoded '@', '/', '?' and ':'") {
  BackendAddress a = parsed("postgresql://app:a@b/c?d:e@host:6000/db");
  CHECK(a.user == "app");
  CHECK(a.password == "a@b/c?d:e");
  CHECK(a.host == "host");
  CHECK(a.port == 6000);
  CHECK(a.dbname == "db");
}

TEST_CASE("url: IPv6 hosts") {
  BackendAddress a = parsed("postgresql://app@[::1]:6543/db");
  CHECK(a.host == "::1");
  CHECK(a.port == 6543);
  BackendAddress b = parsed("postgresql://[2001:db8::7]/db");
  CHECK(b.host == "2001:db8::7");
  CHECK(b.port == 5432);
  CHECK(error_of("postgresql://[::1/db") == "unterminated IPv6 address (missing \"]\")");
  CHECK(error_of("postgresql://[db.local]/db") == "invalid IPv6 address \"db.local\"");
  CHECK(error_of("postgresql://[::1]x/db") == "unexpected \"x\" after the IPv6 address");
}

TEST_CASE("url: rejected forms") {
  CHECK(error_of("http://host/db") == "must start with postgresql:// or postgres://");
  CHECK(error_of("host:5432/db") == "must start with postgresql:// or postgres://");
  CHECK(error_of("postgresql:///db") == "missing host");
  CHECK(error_of("postgresql://app@:5432/db") == "missing host");
  CHECK(error_of("postgresql://a,b/db") == "invalid host \"a,b\"");
  CHECK(error_of("postgresql://host:0/db") == "invalid port \"0\" (must be 1..65535)");
  CHECK(error_of("postgresql://host:65536/db") == "invalid port \"65536\" (must be 1..65535)");
  CHECK(error_of("postgresql://host:54a/db") == "invalid port \"54a\" (must be 1..65535)");
  CHECK(error_of("postgresql://host:/db") == "invalid port \"\" (must be 1..65535)");
  CHECK(error_of("postgresql://host/db?connect_timeout=3") ==
        "unknown URL parameter \"connect_timeout\" (supported: sslmode, sslrootcert, sslcert, sslkey)");
  CHECK(error_of("postgresql://host/db?sslmode=strict") ==
        "sslmode must be disable, prefer, require, verify-ca or verify-full, got \"strict\"");
  CHECK(error_of("postgresql://host/db?sslmode") == "malformed URL parameter \"sslmode\" (expected name=value)");
  CHECK(error_of("postgresql://:pw@host/db").starts_with("a password needs a user name"));
  CHECK(parsed("postgresql://host:65535/db").port == 65535);
}

TEST_CASE("url: TLS parameters, with libpq's meanings and its rules checked where the URL is written") {
  BackendAddress a = parsed(
      "postgresql://app@db.internal/app?sslmode=verify-full&sslrootcert=ca%20s.pem"
      "&sslcert=client.crt&sslkey=/etc/pgroute/client.key");
  CHECK(a.sslmode == SslMode::verify_full);
  CHECK(a.sslrootcert == "ca s.pem");
  CHECK(a.sslcert == "client.crt");
  CHECK(a.sslkey == "/etc/pgroute/client.key");
  CHECK(parsed("postgresql://h/db?sslmode=require").sslmode == SslMode::require);
  CHECK(parsed("postgresql://h/db?sslmode=verify-ca&sslrootcert=ca.pem").sslmode == SslMode::verify_ca);
  CHECK(parsed("postgresql://h/db?sslmode=verify-full&sslrootcert=system").sslrootcert == "system");
  CHECK(ssl_mode_name(SslMode::verify_ca) == "verify-ca");

  CHECK(
      error_of("postgresql://h/db?sslmode=verify-full")
          .starts_with("sslmode=verify-full needs sslrootcert=FILE (the CA certificates to check the server against)"));
  CHECK(error_of("postgresql://h/db?sslmode=verify-ca").starts_with("sslmode=verify-ca needs sslrootcert=FILE"));
  CHECK(error_of("postgresql://h/db?sslmode=require&sslcert=c.crt") ==
        "sslcert and sslkey go together (the client certificate and its private key)");
  CHECK(error_of("postgresql://h/db?sslrootcert=ca.pem") ==
        "sslrootcert, sslcert and sslkey need TLS: set sslmode (require, verify-ca or verify-full)");
  CHECK(error_of("postgresql://h/db?sslmode=require&sslrootcert=system")
            .starts_with("sslrootcert=system needs sslmode=verify-full"));
  CHECK(error_of("postgresql://h/db?sslmode=allow") ==
        "sslmode must be disable, prefer, require, verify-ca or verify-full, got \"allow\" (allow is not supported: "
        "use prefer)");
  CHECK(error_of("postgresql://h/db?sslmode=require&sslrootcert=") == "\"sslrootcert\" needs a file name");
  CHECK(error_of("postgresql://h/db?sslmode=require&sslrootcert=%zz") ==
        "invalid percent-encoding in the value of \"sslrootcert\"");
}

TEST_CASE("url: errors never contain the password") {
  for (const char* url : {"postgresql://app:Sup3rSecret@host:99999/db", "postgresql://app:Sup3rSecret@host/db?x=1",
                          "postgresql://app:Sup3rSecret%@host/db", "postgresql://app:Sup3rSecret@/db"}) {
    CAPTURE(url);
    std::string error = error_of(url);
    CHECK_FALSE(error.empty());
    CHECK(error.find("Sup3rSecret") == std::string::npos);
  }
}

TEST_CASE("url: masking the password") {
  CHECK(mask_url_password("postgresql://app:secret@127.0.0.1:5432/app") == "postgresql://app:***@127.0.0.1:5432/app");
  CHECK(mask_url_password("postgresql://app:a@b/c@host/db") == "postgresql://app:***@host/db");
  CHECK(mask_url_password("postgresql://app:@host/db") == "postgresql://app:***@host/db");
  CHECK(mask_url_password("postgresql://app@host:5432/db") == "postgresql://app@host:5432/db");
  CHECK(mask_url_password("postgresql://host:5432/db") == "postgresql://host:5432/db");
  CHECK(mask_url_password("app:secret@host") == "app:***@host");

  Backend backend;
  backend.url = "postgres://u:p%40ss@[::1]:6000/db?sslmode=prefer";
  CHECK(backend.masked_url() == "postgres://u:***@[::1]:6000/db?sslmode=prefer");
}
