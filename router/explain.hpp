#pragma once
// "Where would this statement go, and why?" for operators: `pgroute explain` and, later, the admin
// console. Runs the real analysis and the real chain on one statement outside any session.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "router/router_chain.hpp"

namespace pgroute::router {

// The session the statement is explained for (what rule routers match on).
struct ExplainSession {
  std::string user = "postgres", database = "postgres", application_name;
  bool in_transaction = false;
  std::optional<std::string> shard_key;  // as if SET pgroute.shard_key = ... were in effect
  // Where shard keys stand in their tables (INSERT without a column list); null: not known here.
  const ColumnOrderSource* column_order = nullptr;
};

struct Explanation {
  bool routed = false;  // false: the chain refused the statement
  std::string text;     // one "label: value" per line
};

// params: ($n, text value) Bind parameters in text format; a $n below the highest given that is not
// listed is bound to NULL, one above it is unbound (as at Parse time).
Explanation explain(const config::Config& cfg, const RouterChain& chain, std::string_view sql,
                    const std::vector<std::pair<int, std::string>>& params, const ExplainSession& session = {});

// explain(...).text with the default session. Lines: statement (kind and command), tables, keys, hints,
// then either alias (with the backend's masked url), router and reason, or refused (SQLSTATE and
// message), hint and router.
std::string explain_route(const config::Config& cfg, const RouterChain& chain, std::string_view sql,
                          const std::vector<std::pair<int, std::string>>& params);

}  // namespace pgroute::router
