#pragma once
// Which reads may run on several shards at once (a router's RouteDecision::scatter): the proxy merges
// their rows UNION ALL style, so only a single plain SELECT outside a transaction, whose top-level
// ORDER BY / LIMIT it can redo on the merged rows (result_order.hpp). Shared by the proxy, the admin
// console and `pgroute explain`.

#include <optional>

#include "router/router.hpp"

namespace pgroute::router {

// nullopt: `d` (whose scatter is non-empty) may run as decided; else the refusal (0A000) naming the
// router, the shards and why.
std::optional<RouteError> scatter_refusal(const Analysis& a, const RouteDecision& d, bool in_transaction);

// The refusal's first words, for refusals the proxy adds (its unit shape): "pgroute: router "R" would
// read every shard (A, B) for this SELECT (reason), but ".
std::string scatter_refusal_prefix(const Analysis* a, const RouteDecision& d);

}  // namespace pgroute::router
