#pragma once
// Routing hints written as SQL comments: /* pgroute: shard_key=42 */, -- pgroute: alias=shard_1
// Only real comments count (PostgreSQL's own scanner finds them), never text inside string literals.

#include <optional>
#include <string>

namespace pgroute::router {

struct Hints {
  std::optional<std::string> shard_key;
  std::optional<std::string> alias;
};

// `sql` must be NUL-terminated (std::string is). Values are bare words or 'single-quoted' (with ''
// for a quote); pairs are separated by spaces or commas; unknown keys are ignored; the first
// occurrence of a key wins. If the scanner rejects the text, there are no hints.
Hints scan_hints(const std::string& sql);

}  // namespace pgroute::router
