#pragma once
// SQL text -> Analysis, with PostgreSQL 15's own grammar (libpg_query). Pure and thread-safe; never
// throws for any input: text the grammar rejects comes back as StatementKind::Unparsed with the
// parser's message in Analysis::error.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "router/statement.hpp"

namespace pgroute::router {

// Statements longer than this are not parsed (too_complex): a pathological one could need about
// 1 KB of stack per byte while parsing, so the bound caps that memory.
inline constexpr size_t kMaxAnalyzedBytes = 1024 * 1024;

// Budget of one statement string's analysis, on top of its length: parse tree nodes walked (every
// statement of the string together) and distinct tables touched. Analysis is linear in the nodes, but
// routing a statement compares its tables with each other and with every router, so both are bounded.
// Past either the statement is too_complex: Unparsed, which the chain refuses with 54001 unless an
// alias hint names where it goes (a statement whose contents cannot be seen cannot be placed safely;
// without routers it simply goes to the client's alias). A 1 MB statement of ordinary shape (a
// multi-row INSERT, a long IN list, a 60,000-term AND chain) stays within the node budget.
inline constexpr uint64_t kMaxAnalyzedNodes = 1'000'000;
inline constexpr size_t kMaxAnalyzedTables = 1000;

// Statements up to this length are parsed on the caller's stack (needs up to ~2 MB of it); longer
// ones on a private stack sized from their length (private_stack.hpp).
inline constexpr size_t kInlineAnalyzeBytes = 2048;

Analysis analyze(std::string_view sql);

}  // namespace pgroute::router
