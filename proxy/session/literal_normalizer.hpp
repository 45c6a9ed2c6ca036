// Replaces the plain constants of a simple-protocol statement with $n parameters, so that statements
// differing only in their constants ("... WHERE aid = 17" / "... WHERE aid = 42") share one cached
// analysis and are routed with the constants as parameter values. Pure text work, no parser.
//
// Only unambiguous constants are replaced: numbers that start a token (with their sign where the sign is
// unary, as in "= -5" or "+ -1234"), and standard '...' strings not glued to a prefix (E'', B'', X'',
// U&'', typed literals like date '...' are kept, as are $-quoted strings, quoted identifiers and
// comments, so /* pgroute: ... */ hints survive). A text
// containing '$' is left alone: its own parameters or dollar quotes would clash with the new ones.
// The caller must fall back to the original text if the normalized one does not parse (a constant
// where PostgreSQL's grammar allows no parameter, e.g. SET x = 5 or INTERVAL '1 day').
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pgroute {

struct NormalizedSql {
  std::string text;                   // the statement with $1..$n in place of its constants
  std::vector<std::string> literals;  // constant n-1 as a text-format parameter value
};

// Returns false (and leaves `out` unspecified) when nothing was replaced or the text is not eligible.
// `out` is reused by the caller so steady-state use does not allocate.
bool normalize_literals(std::string_view sql, NormalizedSql& out, size_t max_literals = 64);

}  // namespace pgroute
