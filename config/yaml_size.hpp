// How big a configuration may be, as a file and once its YAML aliases are expanded. yaml-cpp keeps an
// alias as a second reference to its anchor's node, so a small file of nested aliases (a "billion
// laughs" bomb) parses in a moment; it is every walk over the tree afterwards (the schema check, the
// JSON given to plugins as options) that would visit the expansion. The loader measures the expansion
// once, with a budget, before anything else walks the tree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "config/problem.hpp"

namespace pgroute::config {

// Real configurations are a few KB; these leave room for thousands of users and routers.
inline constexpr size_t kMaxConfigFileBytes = 4u << 20;
inline constexpr uint64_t kMaxExpandedNodes = 1'000'000;
inline constexpr uint64_t kMaxExpandedBytes = 16u << 20;  // scalar text, keys included
// yaml-cpp registers an anchor before the node it names is parsed, so `x: &a [*a]` loads as a node that
// contains itself: a walk of it never ends (each step a stack frame). Real configurations nest about 5
// levels; yaml-cpp's own parser stops at 500.
inline constexpr size_t kMaxNestingDepth = 200;

// A problem when `root`, with every alias expanded, has more than kMaxExpandedNodes nodes, more than
// kMaxExpandedBytes of scalar text or more than kMaxNestingDepth levels: placed at the node where the walk crossed the limit, with its path.
// Costs at most the budget, however large the expansion.
std::optional<Problem> check_expanded_size(const YAML::Node& root, const std::string& source);

}  // namespace pgroute::config
