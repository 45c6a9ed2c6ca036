#pragma once
// SQL text -> Analysis, with PostgreSQL 15's own grammar (libpg_query). Pure and thread-safe; never
// throws for any input: text the grammar rejects comes back as StatementKind::Unparsed with the
// parser's message in Analysis::error.

#include <cstddef>
#include <string_view>

#include "router/statement.hpp"

namespace pgroute::router {

// Statements longer than this are not parsed (too_complex): a pathological one could need about
// 1 KB of stack per byte while parsing, so the bound caps that memory.
inline constexpr size_t kMaxAnalyzedBytes = 1024 * 1024;

// Statements up to this length are parsed on the caller's stack (needs up to ~2 MB of it); longer
// ones on a private stack sized from their length (private_stack.hpp).
inline constexpr size_t kInlineAnalyzeBytes = 2048;

Analysis analyze(std::string_view sql);

}  // namespace pgroute::router
