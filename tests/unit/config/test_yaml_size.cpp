// YAML alias bombs and oversized files are refused before anything walks the tree (issue 16, defect 6).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "config/yaml_size.hpp"
#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;

namespace {

const std::string kBase = yaml(R"(
listen: {host: 127.0.0.1, port: 6432}
backends:
  default: {url: "postgresql://app@127.0.0.1:5432/app"}
users:
  - {name: app, password: secret}
)");

// `levels` anchors, each a list of ten aliases of the one before: 10^levels leaves once expanded.
std::string bomb(int levels) {
  std::string out = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < levels; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    out += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) out += (j ? ", " : "") + prev;
    out += "]\n";
  }
  return out;
}

std::string indent(const std::string& text, const std::string& by) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    out += by + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

bool mentions_bomb(const std::vector<std::string>& problems) {
  for (const auto& p : problems)
    if (p.find("aliases are expanded") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("yaml size: an alias bomb under a plugin router's options is refused with its place") {
  // 10^7 leaves: before the check, converting these options to JSON took seconds and gigabytes.
  std::string text = kBase + "routers:\n  - type: plugin\n    path: /nonexistent/router.so\n    options:\n" +
                     indent(bomb(7), "      ");
  auto problems = problems_of(text);
  INFO(problems);
  REQUIRE(problems.size() == 1);
  CHECK(mentions_bomb(problems));
  // FILE:LINE:COL: path: message
  CHECK(problems[0].starts_with("pgroute.yaml:"));
  CHECK(problems[0].find("routers[0].options.") != std::string::npos);
}

TEST_CASE("yaml size: the same bomb anywhere else is refused by the same check") {
  auto problems = problems_of(kBase + "unknown_section:\n" + indent(bomb(9), "  "));
  INFO(problems);
  REQUIRE(problems.size() == 1);
  CHECK(mentions_bomb(problems));

  // A long scalar repeated by aliases: few nodes, but gigabytes of text once expanded.
  std::string big(64 * 1024, 'x');
  std::string text = kBase + "routers:\n  - type: plugin\n    path: /nonexistent/router.so\n    options:\n" +
                     "      s: &s " + big + "\n      l1: &l1 [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n" +
                     "      l2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\n" +
                     "      l3: [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n";
  problems = problems_of(text);
  INFO(problems);
  CHECK(mentions_bomb(problems));
  CHECK(problems[0].find("MiB of text") != std::string::npos);
}

TEST_CASE("yaml size: modest aliases still load, and an oversized file is refused") {
  // The loader only checks that a plugin file exists.
  const auto plugin = std::filesystem::temp_directory_path() / ("pgroute_size_" + std::to_string(::getpid()) + ".so");
  std::ofstream(plugin) << "not really a library\n";
  auto c = config_of(kBase + "routers:\n  - type: plugin\n    path: " + plugin.string() +
                     "\n    options: {base: &b {n: 1, list: [a, b]}, again: *b}\n");
  std::filesystem::remove(plugin);
  REQUIRE(c->routers.size() == 1);
  CHECK(std::get<PluginRouterSpec>(c->routers[0].settings).options_json ==
        R"({"base":{"n":1,"list":["a","b"]},"again":{"n":1,"list":["a","b"]}})");

  std::string huge = kBase + "# " + std::string(kMaxConfigFileBytes, 'x') + "\n";
  auto problems = problems_of(huge);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "pgroute.yaml: is larger than 4 MiB; refusing to read it");
}

TEST_CASE("yaml size: an alias inside its own anchor is refused, not walked forever") {
  // yaml-cpp registers the anchor before the node it names, so these load as nodes containing
  // themselves: `--check` and a reload died of a stack overflow walking them.
  for (const std::string cycle : {"x: &a [*a]\n", "x: &m {k: *m}\n", "routers: &r [{type: plugin, options: *r}]\n"}) {
    auto problems = problems_of(kBase + cycle);
    INFO(cycle << problems);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("levels of nesting") != std::string::npos);
    CHECK(problems[0].starts_with("pgroute.yaml:"));
  }
}
