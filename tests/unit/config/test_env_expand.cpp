#include <doctest/doctest.h>

#include <cstdlib>

#include "config/env_expand.hpp"
#include "config_test_support.hpp"

using namespace pgroute::config;
using pgroute::config::test::fake_env;

namespace {

std::string expanded(std::string_view text, const EnvLookup& env) {
  Expansion e = expand_env(text, env);
  INFO("error: " << e.error);
  REQUIRE(e.value.has_value());
  CHECK(e.error.empty());
  return *e.value;
}

std::string error_of(std::string_view text, const EnvLookup& env) {
  Expansion e = expand_env(text, env);
  CHECK_FALSE(e.value.has_value());
  return e.error;
}

}  // namespace

TEST_CASE("env: text without variables is unchanged") {
  CHECK(expanded("plain text", fake_env()) == "plain text");
  CHECK(expanded("", fake_env()) == "");
}

TEST_CASE("env: ${VAR} takes the variable, set-but-empty gives empty") {
  auto env = fake_env({{"HOST", "db1"}, {"PORT", "5433"}, {"EMPTY", ""}});
  CHECK(expanded("${HOST}", env) == "db1");
  CHECK(expanded("h=${HOST}:${PORT}/x", env) == "h=db1:5433/x");
  CHECK(expanded("[${EMPTY}]", env) == "[]");
}

TEST_CASE("env: ${VAR:-fallback} uses the fallback when unset or empty") {
  auto env = fake_env({{"SET", "value"}, {"EMPTY", ""}});
  CHECK(expanded("${SET:-fb}", env) == "value");
  CHECK(expanded("${UNSET:-fb}", env) == "fb");
  CHECK(expanded("${EMPTY:-fb}", env) == "fb");
  CHECK(expanded("${UNSET:-}", env) == "");
  CHECK(expanded("${UNSET:-a:-b c}", env) == "a:-b c");  // the fallback is literal
}

TEST_CASE("env: $$ is a literal dollar; other dollars stay as they are") {
  auto env = fake_env({{"A", "x"}});
  CHECK(expanded("$$", env) == "$");
  CHECK(expanded("pa$$word", env) == "pa$word");
  CHECK(expanded("$${A}", env) == "${A}");
  CHECK(expanded("$$$${A}", env) == "$${A}");
  CHECK(expanded("$$${A}", env) == "$x");
  CHECK(expanded("cost: 5$", env) == "cost: 5$");
  CHECK(expanded("$A", env) == "$A");
  // A SCRAM verifier must survive unescaped.
  std::string verifier = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
  CHECK(expanded(verifier, env) == verifier);
}

TEST_CASE("env: errors") {
  auto env = fake_env();
  CHECK(error_of("${APP_PASSWORD}", env) == "environment variable APP_PASSWORD is not set");
  CHECK(error_of("x${A:-b", env) == "unterminated \"${\" (write \"$$\" for a literal \"$\")");
  CHECK(error_of("${1ABC}", env) ==
        "invalid environment variable name in \"${...}\" (letters, digits and _; "
        "write \"$$\" for a literal \"$\")");
  CHECK(error_of("${}", env).starts_with("invalid environment variable name"));
  CHECK(error_of("${A-b}", env).starts_with("invalid environment variable name"));
  // The first missing variable is the one named.
  CHECK(error_of("${FIRST}${SECOND}", env) == "environment variable FIRST is not set");
}

TEST_CASE("env: the secret between the braces is never echoed") {
  CHECK(error_of("${s3cr et}", fake_env()).find("s3cr") == std::string::npos);
}

TEST_CASE("env: process_env reads the real environment") {
  REQUIRE(::setenv("PGROUTE_TEST_CONFIG_VAR", "from-env", 1) == 0);
  CHECK(process_env("PGROUTE_TEST_CONFIG_VAR") == std::optional<std::string>("from-env"));
  REQUIRE(::unsetenv("PGROUTE_TEST_CONFIG_VAR") == 0);
  CHECK_FALSE(process_env("PGROUTE_TEST_CONFIG_VAR").has_value());
}
