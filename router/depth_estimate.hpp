#pragma once
// An upper estimate of how deeply a statement's parse tree nests, from its tokens alone. libpg_query
// packs the tree with protobuf-c, whose cost grows with the square of the nesting depth (each level
// measures and moves everything below it): a 400 KB left-deep `1+1+...` took 98 s to parse. The
// analyzer asks this first and does not parse a statement that would nest too deeply.

#include <cstddef>
#include <string>

namespace pgroute::router {

// Parse cost at this depth is tens of milliseconds; real statements nest a few dozen levels.
inline constexpr size_t kMaxEstimatedDepth = 5000;

// Depth of parentheses plus, on every open level, the run of operators since the last `,`, `;`, AND,
// OR or other reserved keyword (a run of left-associative operators nests one level per operator).
// Linear in the text (one scan, no parse); 0 if the text does not scan.
size_t estimate_nesting_depth(const std::string& sql);

}  // namespace pgroute::router
