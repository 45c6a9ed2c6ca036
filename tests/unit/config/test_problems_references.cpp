// Problems with meaning: backend urls, aliases and references to them, users, environment.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using Lines = std::vector<std::string>;

namespace {
const std::string kKey(43, 'A');
const std::string kVerifier = "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$" + kKey + "=:" + kKey + "=";
const std::string kMd5 = "md5" + std::string(32, 'b');
}  // namespace

TEST_CASE("problems: backend urls, without echoing the password") {
  auto problems = problems_of("backends:\n  default: {url: \"postgresql://app:s3cret@h:99999/db\"}\n");
  CHECK(problems == Lines{"pgroute.yaml:2:18: backends.default.url: invalid port \"99999\" (must be 1..65535)"});
  for (const std::string& p : problems) CHECK(p.find("s3cret") == std::string::npos);

  CHECK(problems_of("backends:\n  default: {url: \"mysql://h\"}\n") ==
        Lines{"pgroute.yaml:2:18: backends.default.url: must start with postgresql:// or postgres://"});
  CHECK(problems_of("backends:\n  default: {url: \"postgresql://h/db?application_name=x\"}\n") ==
        Lines{"pgroute.yaml:2:18: backends.default.url: unknown URL parameter \"application_name\" "
              "(supported: sslmode, sslrootcert, sslcert, sslkey)"});
  CHECK(problems_of("backends:\n  default: {url: \"postgresql://h/db?sslmode=verify-full\"}\n") ==
        Lines{"pgroute.yaml:2:18: backends.default.url: sslmode=verify-full needs sslrootcert=FILE (the CA "
              "certificates to check the server against) or sslrootcert=system"});
}

TEST_CASE("problems: a backend needs a url") {
  CHECK(problems_of("backends:\n  default: {pool_size: 3}\n") ==
        Lines{"pgroute.yaml:2:12: backends.default: missing required key \"url\""});
  CHECK(problems_of("backends:\n  default:\n    pool_size: 3\n") ==
        Lines{"pgroute.yaml:3:5: backends.default: missing required key \"url\""});
}

TEST_CASE("problems: at least one backend") {
  CHECK(problems_of("threads: 1\n") == Lines{"pgroute.yaml: backends: at least one backend is required"});
  CHECK(problems_of("") == Lines{"pgroute.yaml: backends: at least one backend is required"});
  CHECK(problems_of("# nothing but a comment\n") == Lines{"pgroute.yaml: backends: at least one backend is required"});
  CHECK(problems_of("backends: {}\n") == Lines{"pgroute.yaml:1:11: backends: at least one backend is required"});
  // No "unknown alias" noise on top when there are no backends to know.
  CHECK(problems_of("default: main\ndatabases: {app: main}\n") ==
        Lines{"pgroute.yaml: backends: at least one backend is required"});
}

TEST_CASE("problems: alias names") {
  CHECK(problems_of(yaml(R"(
backends:
  shard-2: {url: "postgresql://h"}
  2nd: {url: "postgresql://h"}
default: shard-2
)")) == Lines{"pgroute.yaml:2:3: backends: invalid alias name \"shard-2\" "
              "(letters, digits and _, not starting with a digit)",
              "pgroute.yaml:3:3: backends: invalid alias name \"2nd\" "
              "(letters, digits and _, not starting with a digit)"});
  CHECK(problems_of("backends: {_x9: {url: \"postgresql://h\"}}\ndefault: _x9\n").empty());
}

TEST_CASE("problems: default must name a backend") {
  CHECK(problems_of(yaml(R"(
default: main
backends:
  default: {url: "postgresql://h1"}
  analytics: {url: "postgresql://h2"}
)")) == Lines{"pgroute.yaml:1:10: default: unknown alias \"main\" (known: default, analytics)"});
  // Without "default:", an alias named default must exist, unless there is only one backend.
  CHECK(problems_of("backends:\n  main: {url: \"postgresql://h1\"}\n  other: {url: \"postgresql://h2\"}\n") ==
        Lines{"pgroute.yaml:1:1: default: no backend is named \"default\" (known: main, other); "
              "add one or set \"default:\" to one of them"});
  CHECK(problems_of("backends:\n  main: {url: \"postgresql://h1\"}\n").empty());
  // A backend with a broken url still counts as defined: one problem, not two.
  CHECK(problems_of("default: main\nbackends:\n  main: {url: \"http://h\"}\n") ==
        Lines{"pgroute.yaml:3:15: backends.main.url: must start with postgresql:// or postgres://"});
}

TEST_CASE("problems: databases must name backends, even ones defined further down") {
  CHECK(problems_of(yaml(R"(
databases:
  app: default
  reports: analytic
  "": default
backends:
  default: {url: "postgresql://h1"}
  analytics: {url: "postgresql://h2"}
)")) == Lines{"pgroute.yaml:3:12: databases.reports: unknown alias \"analytic\" (known: default, analytics)",
              "pgroute.yaml:4:3: databases: database names must not be empty"});
  CHECK(problems_of(kBackendLine + "databases: {app: [default]}\n") ==
        Lines{"pgroute.yaml:2:18: databases.app: expected a scalar value, got a sequence"});
  CHECK(problems_of(kBackendLine + "databases: [app]\n") ==
        Lines{"pgroute.yaml:2:12: databases: expected a mapping, got a sequence"});
}

TEST_CASE("problems: user names are required, non-empty and unique") {
  CHECK(problems_of(kBackendLine + yaml(R"(
users:
  - {name: app, password: a}
  - {name: "", password: b}
  - {password: c}
  - {name: app, password: d}
)")) == Lines{"pgroute.yaml:4:12: users[1].name: must not be empty",
              "pgroute.yaml:5:5: users[2]: missing required key \"name\"",
              "pgroute.yaml:6:12: users[3].name: duplicate user \"app\" (first at 3:12)"});
}

TEST_CASE("problems: passwords must fit the auth method") {
  std::string text = kBackendLine + "users:\n" + "  - {name: a, auth: md5, password: \"" + kVerifier + "\"}\n" +  // 3
                     "  - {name: b, password: \"" + kMd5 + "\"}\n" +                                              // 4
                     "  - {name: c, auth: md5, password: \"" + kMd5 + "\"}\n" +             // 5 ok
                     "  - {name: d, auth: md5, password: plain}\n" +                        // 6 ok
                     "  - {name: e, auth: trust}\n" +                                       // 7 ok
                     "  - {name: f}\n" +                                                    // 8
                     "  - {name: g, password: \"\"}\n" +                                    // 9
                     "  - {name: h, password: \"SCRAM-SHA-256$4096:bad\"}\n" +              // 10
                     "  - {name: i, password: \"" + kVerifier + "\"}\n" +                   // 11 ok
                     "  - {name: j, auth: cleartext, password: \"" + kVerifier + "\"}\n" +  // 12 ok
                     "  - {name: k, auth: cleartext, password: \"" + kMd5 + "\"}\n" +       // 13 ok
                     "  - {name: l, auth: md5, password: }\n";                              // 14
  auto problems = problems_of(text);
  CHECK(problems ==
        Lines{"pgroute.yaml:3:36: users[0].password: auth md5 needs a plaintext password or an md5 hash, "
              "not a SCRAM-SHA-256 verifier",
              "pgroute.yaml:4:25: users[1].password: auth scram-sha-256 needs a plaintext password or a "
              "SCRAM-SHA-256 verifier, not an md5 hash",
              "pgroute.yaml:8:5: users[5]: missing required key \"password\" (only auth: trust and cert need none)",
              "pgroute.yaml:9:25: users[6].password: must not be empty (use auth: trust for no password)",
              "pgroute.yaml:10:25: users[7].password: malformed SCRAM-SHA-256 verifier "
              "(expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)",
              "pgroute.yaml:14:26: users[11].password: missing value"});
  for (const std::string& p : problems) CHECK(p.find("4096:bad") == std::string::npos);
}

TEST_CASE("problems: a missing environment variable is reported at its scalar") {
  CHECK(problems_of(yaml(R"(
backends: {default: {url: "postgresql://app:${DB_PASSWORD}@h/db"}}
users:
  - {name: app, password: "${APP_PASSWORD}"}
listen: {port: "${PORT:-x}"}
)")) == Lines{"pgroute.yaml:1:27: backends.default.url: environment variable DB_PASSWORD is not set",
              "pgroute.yaml:3:27: users[0].password: environment variable APP_PASSWORD is not set",
              "pgroute.yaml:4:16: listen.port: expected an integer, got \"x\""});
  CHECK(problems_of(kBackendLine + "pool: {reset_query: \"SELECT ${oops\"}\n") ==
        Lines{"pgroute.yaml:2:21: pool.reset_query: unterminated \"${\" (write \"$$\" for a literal \"$\")"});
  // Keys are names, not values: they are not expanded.
  CHECK(problems_of(kBackendLine + "databases: {\"${DB}\": default}\n").empty());
}

TEST_CASE("problems: every problem of a file, in file order") {
  CHECK(problems_of(yaml(R"(
lisen: {port: 6432}
databases: {app: nowhere}
backends:
  default: {url: "postgresql://h:0"}
users:
  - {name: app, auth: nope}
pool: {mode: transction, size: 0}
threads: -1
pool: {}
)")) == Lines{"pgroute.yaml:1:1: unknown key \"lisen\" (did you mean \"listen\"?)",
              "pgroute.yaml:2:18: databases.app: unknown alias \"nowhere\" (known: default)",
              "pgroute.yaml:4:18: backends.default.url: invalid port \"0\" (must be 1..65535)",
              "pgroute.yaml:6:23: users[0].auth: unknown value \"nope\" "
              "(allowed: scram-sha-256, md5, cleartext, trust, cert)",
              "pgroute.yaml:7:14: pool.mode: unknown value \"transction\" (allowed: session, transaction)",
              "pgroute.yaml:7:32: pool.size: must be at least 1, got 0",
              "pgroute.yaml:8:10: threads: must be between 0 and 1024, got -1",
              "pgroute.yaml:9:1: duplicate key \"pool\" (first at 7:1)"});
}

TEST_CASE("problems: a failed load returns no config and the source name in every problem") {
  LoadResult r = load_text("threads: x\n", "/etc/pgroute/pgroute.yaml", fake_env());
  CHECK(r.config == nullptr);
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].file == "/etc/pgroute/pgroute.yaml");
  CHECK(r.problems[0].line == 1);
  CHECK(r.problems[0].column == 10);
  CHECK(r.problems[0].message == "threads: expected an integer, got \"x\"");
  CHECK(r.problems[1].to_string() == "/etc/pgroute/pgroute.yaml: backends: at least one backend is required");
}
