// Shared helpers for the config tests: a controllable environment and problem lists as text.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.hpp"

// Problem lists print one per line when an assertion fails.
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& lines) {
    std::string out = "{";
    for (const std::string& line : lines) out += "\n  " + line;
    out += lines.empty() ? "}" : "\n}";
    return out.c_str();
  }
};

namespace pgroute::config::test {

// An environment holding exactly vars (the process environment is never consulted).
inline EnvLookup fake_env(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// One valid backend, for tests about other sections.
inline const std::string kBackendLine = "backends: {default: {url: \"postgresql://h\"}}\n";

// Lets a test write its YAML as a raw string that starts on the line after R"( .
inline std::string yaml(std::string_view text) {
  if (text.starts_with('\n')) text.remove_prefix(1);
  return std::string(text);
}

// Every problem of loading text as "pgroute.yaml", rendered; also checks the config/problem contract.
inline std::vector<std::string> problems_of(std::string_view text, const EnvLookup& env = fake_env()) {
  LoadResult result = load_text(text, "pgroute.yaml", env);
  CHECK((result.config == nullptr) == !result.problems.empty());
  std::vector<std::string> out;
  for (const Problem& p : result.problems) out.push_back(p.to_string());
  return out;
}

// The config of a file that must load; fails the test (with the problems) otherwise.
inline std::shared_ptr<const Config> config_of(std::string_view text, const EnvLookup& env = fake_env()) {
  LoadResult result = load_text(text, "pgroute.yaml", env);
  std::string all;
  for (const Problem& p : result.problems) all += p.to_string() + "\n";
  INFO(all);
  REQUIRE(result.problems.empty());
  REQUIRE(result.config != nullptr);
  return result.config;
}

}  // namespace pgroute::config::test
