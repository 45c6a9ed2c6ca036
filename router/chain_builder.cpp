#include "router/chain_builder.hpp"

#include "router/model_router.hpp"
#include "router/plugin_router.hpp"
#include "router/replicas_router.hpp"
#include "router/rule_router.hpp"
#include "router/shard_router.hpp"

namespace pgroute::router {
namespace {

KeyType key_type_of(config::ShardKeyType type) {
  switch (type) {
    case config::ShardKeyType::Int2: return KeyType::Int2;
    case config::ShardKeyType::Int4: return KeyType::Int4;
    case config::ShardKeyType::Int8: return KeyType::Int8;
    case config::ShardKeyType::Text: return KeyType::Text;
    case config::ShardKeyType::Uuid: return KeyType::Uuid;
  }
  return KeyType::Int8;
}

ShardMethod method_of(config::ShardMethod method) {
  switch (method) {
    case config::ShardMethod::Hash: return ShardMethod::Hash;
    case config::ShardMethod::Range: return ShardMethod::Range;
    case config::ShardMethod::List: return ShardMethod::List;
  }
  return ShardMethod::Hash;
}

// One overload per router type; each returns nullptr and sets error on failure.
struct Build {
  std::string& error;
  const std::vector<std::string>& aliases;

  std::unique_ptr<Router> operator()(const config::ModelRouterSpec& spec) const {
    ModelRouterOptions options;
    for (const auto& [pattern, alias] : spec.tables) options.tables.push_back({pattern, alias});
    return std::make_unique<ModelRouter>(std::move(options));
  }

  std::unique_ptr<Router> operator()(const config::ShardRouterSpec& spec) const {
    ShardRouterOptions o;
    o.table = spec.table;
    o.key = spec.key;
    o.key_type = key_type_of(spec.key_type);
    o.method = method_of(spec.method);
    o.shards = spec.shards;
    for (const auto& r : spec.ranges) o.ranges.push_back({r.from, r.to, r.alias});
    for (const auto& l : spec.lists) o.lists.push_back({l.values, l.alias});
    o.fallback_alias = spec.fallback;
    o.without_key = spec.without_key == config::WithoutKey::All ? WithoutKey::All : WithoutKey::Error;
    o.colocated = spec.colocated;
    return ShardRouter::create(std::move(o), error);
  }

  std::unique_ptr<Router> operator()(const config::ReplicasRouterSpec& spec) const {
    ReplicasRouterOptions o{spec.primary, {}, spec.read_your_writes};
    if (spec.monitored()) o.lag_limits = LagLimits{spec.max_lag, spec.max_lag_bytes};
    o.when_no_replica = spec.when_no_replica == config::WhenNoReplica::Error ? NoReplica::Error : NoReplica::Primary;
    // strict keeps the table floors too: a commit through this pgroute is known without a sample.
    o.causal_tables = spec.causal_reads != config::ReplicasRouterSpec::CausalReads::off;
    o.causal_strict = spec.causal_reads == config::ReplicasRouterSpec::CausalReads::strict;
    o.causal_wait = spec.causal_wait;
    for (const auto& r : spec.replicas) o.replicas.push_back({r.alias, r.weight});
    return ReplicasRouter::create(std::move(o), error);
  }

  std::unique_ptr<Router> operator()(const config::RuleRouterSpec& spec) const {
    RuleRouterOptions o;
    o.user = spec.user;
    o.database = spec.database;
    o.application_name = spec.application_name;
    o.kind = spec.kind == config::RuleKindSpec::Read    ? RuleKind::Read
             : spec.kind == config::RuleKindSpec::Write ? RuleKind::Write
                                                        : RuleKind::Any;
    o.sql_regex = spec.sql;
    o.sql_regex_ignore_case = true;
    o.alias = spec.alias;
    return RuleRouter::create(std::move(o), error);
  }

  std::unique_ptr<Router> operator()(const config::PluginRouterSpec& spec) const {
    return PluginRouter::load(spec.path, spec.options_json, aliases, error);
  }
};

}  // namespace

std::shared_ptr<const RouterChain> build_router_chain(const config::Config& cfg, std::string& error) {
  std::vector<std::string> aliases;
  aliases.reserve(cfg.backends.size());
  for (const auto& backend : cfg.backends) aliases.push_back(backend.alias);
  std::vector<std::unique_ptr<Router>> routers;
  routers.reserve(cfg.routers.size());
  for (const auto& spec : cfg.routers) {
    std::string why;
    std::unique_ptr<Router> router = std::visit(Build{why, aliases}, spec.settings);
    if (!router) {
      error = spec.where + ": " + (why.empty() ? "cannot build this router" : why);
      return nullptr;
    }
    routers.push_back(std::move(router));
  }
  return std::make_shared<const RouterChain>(cfg.default_alias, std::move(routers), std::move(aliases));
}

}  // namespace pgroute::router
