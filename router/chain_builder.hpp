#pragma once
// config::Config's `routers:` (plain data) -> a RouterChain (router objects), once per config snapshot.
// Build it where the snapshot is made, and keep the old chain when this fails, as for the config itself.

#include <memory>
#include <string>

#include "config/config.hpp"
#include "router/router_chain.hpp"

namespace pgroute::router {

// The chain for cfg: routers in file order, cfg.default_alias as default, every backend alias known
// to /* pgroute: alias=... */ hints. An empty `routers:` gives a chain with no routers (all to default).
// Returns nullptr and sets error for what only fails when routers are built (a plugin that does not
// load, overlapping shard ranges, a list value given twice); error starts with the router's
// "file:line:col: routers[i]" so it points into the file like a config problem.
std::shared_ptr<const RouterChain> build_router_chain(const config::Config& cfg, std::string& error);

}  // namespace pgroute::router
