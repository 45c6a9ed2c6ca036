#include "router/model_router.hpp"

namespace pgroute::router {

ModelRouter::ModelRouter(ModelRouterOptions options) {
  for (auto& rule : options.tables) rules_.push_back({TablePattern(std::move(rule.pattern)), std::move(rule.alias)});
}

const ModelRouter::Rule* ModelRouter::rule_for(const TableRef& table) const {
  for (const auto& rule : rules_)
    if (rule.pattern.matches(table)) return &rule;
  return nullptr;
}

Opinion ModelRouter::decide(const RouteContext& ctx) const {
  for (const auto& table : ctx.analysis->tables) {
    if (const Rule* rule = rule_for(table))
      return RouteDecision{rule->alias,
                           "model",
                           "table \"" + display_name(table) + "\" matches \"" + rule->pattern.text() + "\"",
                           {},
                           false};
  }
  return kNoOpinion;
}

std::optional<TablePlacement> ModelRouter::place_table(const TableRef& table, const RouteContext&) const {
  if (const Rule* rule = rule_for(table)) return TablePlacement{{rule->alias}};
  return std::nullopt;
}

}  // namespace pgroute::router
