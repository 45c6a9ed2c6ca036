// "did you mean ...?" for misspelt keys.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace pgroute::config {

// Edits to turn a into b: insert, delete, substitute, or swap two adjacent characters (so the
// common typo "pool_szie" is one edit from "pool_size").
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to word if it is at most max_distance edits away (the first on ties).
std::optional<std::string_view> closest_match(std::string_view word, std::span<const std::string_view> candidates,
                                              size_t max_distance = 2);

}  // namespace pgroute::config
