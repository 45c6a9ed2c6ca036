#include "router/scatter_rules.hpp"

#include <string>

#include "router/result_order.hpp"

namespace pgroute::router {
namespace {

constexpr const char* kNarrow =
    "Add the shard key (WHERE key = ...), a /* pgroute: shard_key=... */ comment, or SET pgroute.shard_key.";

}  // namespace

std::string scatter_refusal_prefix(const Analysis* a, const RouteDecision& d) {
  std::string what = a && !a->command.empty() ? a->command : std::string("statement");
  return "pgroute: router \"" + d.router + "\" would read every shard (" + join(d.scatter) + ") for this " + what +
         " (" + d.reason + "), but ";
}

std::optional<RouteError> scatter_refusal(const Analysis& a, const RouteDecision& d, bool in_transaction) {
  auto refuse = [&](const std::string& why, const std::string& hint) {
    return RouteError{"0A000", scatter_refusal_prefix(&a, d) + why, hint, d.router};
  };
  if (in_transaction)
    return refuse("it runs inside a transaction, and a transaction stays on one alias",
                  std::string("Run it outside the transaction, or narrow it to one shard. ") + kNarrow);
  if (a.statement_count != 1 || a.kind != StatementKind::Read || a.command != "SELECT")
    return refuse("only a single plain SELECT can be spread over shards", kNarrow);
  // Each shard's connection goes back to its pool right after the read: what the read left there
  // (a session advisory lock) would pass to whichever client gets that connection next.
  if (a.session_state != SessionStateKind::none)
    return refuse("it takes " + std::string(session_state_name(a.session_state)) +
                      ", which would stay on shard connections that other clients get next",
                  kNarrow);
  if (!a.result_clauses.empty() && (!a.result_order || !a.result_order->unmergeable.empty())) {
    std::string what = a.result_order ? a.result_order->unmergeable : join(a.result_clauses);
    return refuse(
        "its " + what + " cannot be redone on rows merged from several shards",
        std::string("Order by output columns (by name or position) and limit by a constant or parameter, or sort "
                    "and cut the rows in the application, or narrow it to one shard. ") +
            kNarrow);
  }
  return std::nullopt;
}

}  // namespace pgroute::router
