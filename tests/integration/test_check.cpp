// 16. `pgroute --check FILE`: 0 for a good file; FILE:LINE:COL: lines for a bad one.
#include <sys/stat.h>

#include <regex>

#include "harness.hpp"

using namespace pgroute::it;

TEST_CASE("pgroute --check accepts a good file and points at the problems of a bad one") {
  TempDir dir("check");
  const auto good = dir / "good.yaml";
  write_file(good, default_proxy_config().to_yaml(16432));
  RunResult ok = run({pgroute_binary(), "--check", good.string()}, {.timeout = 10s});
  INFO(ok.describe());
  CHECK(ok.exit_code == 0);

  const auto bad = dir / "bad.yaml";
  write_file(bad,
             "listen: {host: 127.0.0.1, port: 16432}\n"                    // 1
             "backends:\n"                                                 // 2
             "  default:\n"                                                // 3
             "    url: \"postgresql://app:apppass@127.0.0.1:5432/app\"\n"  // 4
             "    pool_szie: 4\n"                                          // 5: misspelt key
             "users:\n"                                                    // 6
             "  - {name: app, password: \"secret\"}\n");                   // 7
  RunResult r = run({pgroute_binary(), "--check", bad.string()}, {.timeout = 10s});
  const std::string output = r.out + r.err;
  INFO(r.describe());
  CHECK(r.exit_code != 0);
  CHECK(output.find(bad.string() + ":5:5: ") != std::string::npos);
  CHECK(output.find("pool_szie") != std::string::npos);

  const auto broken = dir / "broken.yaml";
  write_file(broken, "listen: {host: 127.0.0.1, port: 16432\nbackends: [\n");  // unclosed flows
  RunResult s = run({pgroute_binary(), "--check", broken.string()}, {.timeout = 10s});
  INFO(s.describe());
  CHECK(s.exit_code != 0);
  const std::regex located("(^|\n)" +
                           std::regex_replace(broken.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                           ":[0-9]+:[0-9]+: ");
  CHECK(std::regex_search(s.out + s.err, located));

  RunResult missing = run({pgroute_binary(), "--check", (dir / "absent.yaml").string()}, {.timeout = 10s});
  CHECK(missing.exit_code != 0);
}

// Issue 16, defect 6: a YAML alias bomb under a plugin router's options took 42 s and 3.9 GB.
TEST_CASE("pgroute --check refuses a YAML alias bomb at once, with its place") {
  TempDir dir("check-bomb");
  ProxyConfig cfg = default_proxy_config();
  std::string bomb = "      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    bomb += "      l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", " : "") + prev;
    bomb += "]\n";
  }
  cfg.extra_yaml =
      "routers:\n  - type: plugin\n    path: " + std::string(PGROUTE_EXAMPLE_PLUGIN) + "\n    options:\n" + bomb;
  const auto file = dir / "bomb.yaml";
  write_file(file, cfg.to_yaml(16432));
  const auto started = std::chrono::steady_clock::now();
  RunResult r = run({pgroute_binary(), "--check", file.string()}, {.timeout = 30s});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(r.describe());
  CHECK(r.exit_code == 1);
  const std::regex located(std::regex_replace(file.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                           ":[0-9]+:[0-9]+: routers\\[0\\]\\.options\\..*aliases are expanded");
  CHECK(std::regex_search(r.err, located));
  CHECK(took < 10s);  // generous: the check itself takes well under a second
}

// Issue 16, 9d: plaintext passwords in a file others can read get a warning (like libpq's ~/.pgpass).
TEST_CASE("pgroute --check warns about plaintext passwords in a file others can read, and still passes it") {
  TempDir dir("check-secrets");
  const auto file = dir / "pgroute.yaml";
  write_file(file, default_proxy_config().to_yaml(16432));
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  RunResult open = run({pgroute_binary(), "--check", file.string()}, {.timeout = 10s});
  INFO(open.describe());
  CHECK(open.exit_code == 0);
  const std::regex warned(
      "warning: " + std::regex_replace(file.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
      R"(: is readable by group/others \(mode 0644\) and holds [1-9][0-9]* plaintext password\(s\); chmod 600 it)");
  CHECK(std::regex_search(open.err, warned));

  REQUIRE(::chmod(file.c_str(), 0600) == 0);
  RunResult closed = run({pgroute_binary(), "--check", file.string()}, {.timeout = 10s});
  INFO(closed.describe());
  CHECK(closed.exit_code == 0);
  CHECK(closed.err.find("plaintext password") == std::string::npos);
}
