#pragma once
// Routers consulted in order: the first with an opinion (a decision or a refusal) wins; with none, the
// default alias. A decision based on where tables live is then checked: every table the statement touches
// must live on the same alias (each table placed by the first router claiming it, unclaimed tables on the
// default alias), unless a router's allow_relation() says the pair is fine.

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "router/router.hpp"

namespace pgroute::router {

using RouteResult = std::variant<RouteDecision, RouteError>;

class RouterChain {
 public:
  // known_aliases: when non-empty, a /* pgroute: alias=... */ hint must name one of them.
  RouterChain(std::string default_alias, std::vector<std::unique_ptr<Router>> routers,
              std::vector<std::string> known_aliases = {});

  // db_for_write for kinds is_write_kind() accepts, db_for_read for the rest.
  RouteResult route(const RouteContext& ctx) const;
  RouteResult route_read(const RouteContext& ctx) const { return route_as(ctx, false); }
  RouteResult route_write(const RouteContext& ctx) const { return route_as(ctx, true); }

  const std::string& default_alias() const { return default_alias_; }
  size_t size() const { return routers_.size(); }

 private:
  RouteResult route_as(const RouteContext& ctx, bool write) const;
  // /* pgroute: alias=... */: that alias, if the configuration knows it.
  RouteResult route_by_hint(const std::string& alias) const;
  std::optional<RouteError> check_relations(const RouteContext& ctx) const;

  std::string default_alias_;
  std::vector<std::unique_ptr<Router>> routers_;
  std::vector<std::string> known_aliases_;
};

}  // namespace pgroute::router
