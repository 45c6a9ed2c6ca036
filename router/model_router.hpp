#pragma once
// Places tables by name: `tables: {"auth_*": users, "public.votes": votes}`. A statement goes to the
// alias of the first of its tables that a pattern claims (patterns tried in order).

#include <string>
#include <vector>

#include "router/router.hpp"
#include "router/table_pattern.hpp"

namespace pgroute::router {

struct ModelRule {
  std::string pattern;  // see TablePattern
  std::string alias;
};

struct ModelRouterOptions {
  std::vector<ModelRule> tables;  // in configuration order; the first matching pattern wins
};

class ModelRouter final : public Router {
 public:
  explicit ModelRouter(ModelRouterOptions options);

  std::string_view name() const override { return "model"; }
  Opinion db_for_read(const RouteContext& ctx) const override { return decide(ctx); }
  Opinion db_for_write(const RouteContext& ctx) const override { return decide(ctx); }
  std::optional<TablePlacement> place_table(const TableRef& table, const RouteContext& ctx) const override;

 private:
  struct Rule {
    TablePattern pattern;
    std::string alias;
  };
  const Rule* rule_for(const TableRef& table) const;
  Opinion decide(const RouteContext& ctx) const;

  std::vector<Rule> rules_;
};

}  // namespace pgroute::router
