#include "router/router_chain.hpp"

#include <algorithm>

namespace pgroute::router {
namespace {

struct Placed {
  const TableRef* table;
  TablePlacement placement;
  std::string by;      // router name, or "default"
  size_t group = 0;    // tables with equal placements share a group: pairs compare two integers
  std::string joined;  // join(placement.aliases), for messages and allow_relation
};

// Statements that name their alias, and errors, are rare: built apart from route_as()'s common path, which
// runs for every routed statement and should stay small in the instruction cache.
[[gnu::cold]] RouteError too_complex(const Analysis& a) {
  return RouteError{"54001", "pgroute: statement is too complex to route: " + a.error,
                    "Split it into smaller statements, or name the alias with /* pgroute: alias=<alias> */.", "chain"};
}

}  // namespace

[[gnu::cold]] RouteResult RouterChain::route_by_hint(const std::string& alias) const {
  if (!known_aliases_.empty() && std::find(known_aliases_.begin(), known_aliases_.end(), alias) == known_aliases_.end())
    return RouteError{"42704", "pgroute: hint names unknown alias \"" + alias + "\"",
                      "Known aliases: " + join(known_aliases_) + ".", "hint"};
  return RouteDecision{alias, "hint", "/* pgroute: alias=" + alias + " */", {}, true};
}

RouterChain::RouterChain(std::string default_alias, std::vector<std::unique_ptr<Router>> routers,
                         std::vector<std::string> known_aliases)
    : default_alias_(std::move(default_alias)),
      routers_(std::move(routers)),
      known_aliases_(std::move(known_aliases)) {}

RouteResult RouterChain::route(const RouteContext& ctx) const {
  bool write = !ctx.analysis || is_write_kind(ctx.analysis->kind);
  return route_as(ctx, write);
}

RouteResult RouterChain::route_as(const RouteContext& ctx, bool write) const {
  if (ctx.analysis && ctx.analysis->hint_alias) [[unlikely]]
    return route_by_hint(*ctx.analysis->hint_alias);
  if (ctx.analysis && ctx.analysis->too_complex) [[unlikely]]
    return too_complex(*ctx.analysis);
  // A reason of at most 15 bytes stays in std::string's own buffer: no allocation per statement.
  RouteDecision decision{default_alias_, "default", "no router chose", {}, false};
  if (ctx.analysis) {
    for (const auto& router : routers_) {
      Opinion opinion = write ? router->db_for_write(ctx) : router->db_for_read(ctx);
      if (auto* error = std::get_if<RouteError>(&opinion)) return std::move(*error);
      if (auto* d = std::get_if<RouteDecision>(&opinion)) {
        decision = std::move(*d);
        break;
      }
    }
    if (!decision.statement_level)
      if (auto error = check_relations(ctx)) return std::move(*error);
  }
  return decision;
}

std::optional<RouteError> RouterChain::check_relations(const RouteContext& ctx) const {
  const auto& tables = ctx.analysis->tables;
  if (tables.size() < 2) return std::nullopt;
  std::vector<Placed> placed;
  placed.reserve(tables.size());
  for (const auto& table : tables) {
    Placed p{&table, {{default_alias_}}, "default"};
    for (const auto& router : routers_) {
      if (auto placement = router->place_table(table, ctx)) {
        p.placement = std::move(*placement);
        p.by = std::string(router->name());
        break;
      }
    }
    placed.push_back(std::move(p));
  }
  // Up to kMaxAnalyzedTables tables: the pairs below cost an integer comparison each unless two
  // tables sit on different aliases. Distinct placements are few (a handful of aliases), so a linear
  // search finds a table's group; nothing is allocated when every table sits with the first one.
  std::vector<const std::vector<std::string>*> groups;
  for (auto& p : placed) {
    size_t g = 0;
    while (g < groups.size() && *groups[g] != p.placement.aliases) ++g;
    if (g == groups.size()) groups.push_back(&p.placement.aliases);
    p.group = g;
  }
  if (groups.size() < 2) return std::nullopt;
  for (auto& p : placed) p.joined = join(p.placement.aliases);
  for (size_t i = 0; i < placed.size(); ++i) {
    for (size_t j = i + 1; j < placed.size(); ++j) {
      const Placed& a = placed[i];
      const Placed& b = placed[j];
      if (a.group == b.group) continue;
      const std::string& alias_a = a.joined;
      const std::string& alias_b = b.joined;
      std::optional<bool> allowed;
      for (const auto& router : routers_) {
        allowed = router->allow_relation(*a.table, alias_a, *b.table, alias_b);
        if (allowed) break;
      }
      if (allowed.value_or(false)) continue;
      return RouteError{"0A000",
                        "pgroute: statement touches tables on different aliases: \"" + display_name(*a.table) +
                            "\" is on " + alias_a + " (router " + a.by + ") but \"" + display_name(*b.table) +
                            "\" is on " + alias_b + " (router " + b.by + ")",
                        "Query these tables separately, or route them to the same alias.", "chain"};
    }
  }
  return std::nullopt;
}

}  // namespace pgroute::router
