// A file with plaintext passwords that group or others can read gets a warning (issue 16, 9d).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/secret_exposure.hpp"
#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;

namespace {

struct TempFile {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("pgroute_secrets_" + std::to_string(::getpid()) + ".yaml");
  explicit TempFile(const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
  }
  ~TempFile() { std::filesystem::remove(path); }
};

std::optional<std::string> warning_for(const std::string& text, mode_t mode, const EnvLookup& env = fake_env()) {
  TempFile file(text, mode);
  LoadResult r = load_file(file.path.string(), env);
  REQUIRE(r.problems.empty());
  return secret_exposure_warning(*r.config);
}

const std::string kListen = "listen: {host: 127.0.0.1, port: 6432}\n";

}  // namespace

TEST_CASE("secret exposure: plaintext passwords in a file others can read are counted and warned about") {
  const std::string text = kListen + yaml(R"(
backends:
  default: {url: "postgresql://app:serverpass@127.0.0.1:5432/app"}
  other: {url: "postgresql://app:${SERVER_PW}@127.0.0.1:5432/app"}
users:
  - {name: alice, password: secret}
  - {name: bob, password: "${BOB_PW}"}
  - {name: carol, password: "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
  - {name: dave, auth: trust}
)");
  const auto env = fake_env({{"SERVER_PW", "x"}, {"BOB_PW", "y"}});
  auto warning = warning_for(text, 0644, env);
  REQUIRE(warning);
  CHECK(warning->find("is readable by group/others (mode 0644) and holds 2 plaintext password(s); "
                      "chmod 600 it or use ${ENV} / SCRAM secrets") != std::string::npos);
  CHECK(warning->starts_with((std::filesystem::temp_directory_path() / "pgroute_secrets_").string()));
  CHECK(warning_for(text, 0640, env));  // group only
  CHECK(warning_for(text, 0604, env));  // others only
  CHECK_FALSE(warning_for(text, 0600, env));
  CHECK_FALSE(warning_for(text, 0400, env));
}

TEST_CASE("secret exposure: no warning without plaintext passwords written in the file") {
  const std::string text = kListen + yaml(R"(
backends:
  default: {url: "postgresql://app:${SERVER_PW}@127.0.0.1:5432/${DB:-app}"}
users:
  - {name: bob, password: "${BOB_PW}"}
  - {name: eve, password: "md5a3556571e93b0d20722ba62be61e8c2d", auth: md5}
)");
  CHECK_FALSE(warning_for(text, 0644, fake_env({{"SERVER_PW", "x"}, {"BOB_PW", "y"}})));
  CHECK(written_with_env("${A}"));
  CHECK(written_with_env("pre${A:-b}post"));
  CHECK_FALSE(written_with_env("$${A}"));  // an escaped '$': literal text
  CHECK_FALSE(written_with_env("SCRAM-SHA-256$4096:salt$key:key"));
}
