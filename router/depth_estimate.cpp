#include "router/depth_estimate.hpp"

#include <algorithm>
#include <vector>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

namespace pgroute::router {
namespace {

// Tokens that are operands, or say nothing about nesting.
bool is_operand(PgQuery__Token token) {
  switch (token) {
    case PG_QUERY__TOKEN__IDENT:
    case PG_QUERY__TOKEN__UIDENT:
    case PG_QUERY__TOKEN__FCONST:
    case PG_QUERY__TOKEN__SCONST:
    case PG_QUERY__TOKEN__USCONST:
    case PG_QUERY__TOKEN__BCONST:
    case PG_QUERY__TOKEN__XCONST:
    case PG_QUERY__TOKEN__ICONST:
    case PG_QUERY__TOKEN__PARAM:
    case PG_QUERY__TOKEN__SQL_COMMENT:
    case PG_QUERY__TOKEN__C_COMMENT:
    case PG_QUERY__TOKEN__ASCII_93:  // ']'
      return true;
    default: return false;
  }
}

}  // namespace

size_t estimate_nesting_depth(const std::string& sql) {
  PgQueryScanResult result = pg_query_scan(sql.c_str());
  size_t deepest = 0;
  if (!result.error) {
    PgQuery__ScanResult* scan =
        pg_query__scan_result__unpack(nullptr, result.pbuf.len, reinterpret_cast<const uint8_t*>(result.pbuf.data));
    std::vector<size_t> runs(1, 0);  // operator run per open parenthesis level
    size_t total = 0;                // sum of runs
    for (size_t i = 0; scan && i < scan->n_tokens; ++i) {
      const PgQuery__ScanToken* t = scan->tokens[i];
      const PgQuery__Token token = t->token;
      if (token == PG_QUERY__TOKEN__ASCII_40) {  // '('
        runs.push_back(0);
      } else if (token == PG_QUERY__TOKEN__ASCII_41) {  // ')': the group is one operand of the level outside
        if (runs.size() > 1) {
          total -= runs.back();
          runs.pop_back();
        }
      } else if (token == PG_QUERY__TOKEN__ASCII_44 || token == PG_QUERY__TOKEN__ASCII_59 ||
                 token == PG_QUERY__TOKEN__AND || token == PG_QUERY__TOKEN__OR ||
                 (t->keyword_kind == PG_QUERY__KEYWORD_KIND__RESERVED_KEYWORD && token != PG_QUERY__TOKEN__NOT)) {
        total -= runs.back();  // a new sibling: AND/OR lists and argument lists are flat
        runs.back() = 0;
      } else if (t->keyword_kind == PG_QUERY__KEYWORD_KIND__NO_KEYWORD && !is_operand(token)) {
        ++runs.back();  // an operator, a cast, a subscript or a field selection
        ++total;
      } else if (token == PG_QUERY__TOKEN__NOT || token == PG_QUERY__TOKEN__NOT_LA) {
        ++runs.back();
        ++total;
      }
      deepest = std::max(deepest, total + runs.size() - 1);
    }
    if (scan) pg_query__scan_result__free_unpacked(scan, nullptr);
  }
  pg_query_free_scan_result(result);
  return deepest;
}

}  // namespace pgroute::router
