// 16. `pgroute --check FILE`: 0 for a good file; FILE:LINE:COL: lines for a bad one.
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
               "listen: {host: 127.0.0.1, port: 16432}\n"              // 1
               "backends:\n"                                           // 2
               "  default:\n"                                          // 3
               "    url: \"postgresql://app:apppass@127.0.0.1:5432/app\"\n"  // 4
               "    pool_szie: 4\n"                                    // 5: misspelt key
               "users:\n"                                              // 6
               "  - {name: app, password: \"secret\"}\n");             // 7
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
    const std::regex located("(^|\n)" + std::regex_replace(broken.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"),
                                                           R"(\$&)") +
                             ":[0-9]+:[0-9]+: ");
    CHECK(std::regex_search(s.out + s.err, located));

    RunResult missing = run({pgroute_binary(), "--check", (dir / "absent.yaml").string()}, {.timeout = 10s});
    CHECK(missing.exit_code != 0);
}
