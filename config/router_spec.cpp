#include "config/router_spec.hpp"

namespace pgroute::config {

std::string_view RouterSpec::type_name() const {
  struct Name {
    std::string_view operator()(const ModelRouterSpec&) const { return "model"; }
    std::string_view operator()(const ShardRouterSpec&) const { return "shard"; }
    std::string_view operator()(const ReplicasRouterSpec&) const { return "replicas"; }
    std::string_view operator()(const RuleRouterSpec&) const { return "rule"; }
    std::string_view operator()(const PluginRouterSpec&) const { return "plugin"; }
  };
  return std::visit(Name{}, settings);
}

std::string_view to_string(ShardKeyType type) {
  switch (type) {
    case ShardKeyType::Int2: return "int2";
    case ShardKeyType::Int4: return "int4";
    case ShardKeyType::Int8: return "int8";
    case ShardKeyType::Text: return "text";
    case ShardKeyType::Uuid: return "uuid";
  }
  return "?";
}

std::string_view to_string(ShardMethod method) {
  switch (method) {
    case ShardMethod::Hash: return "hash";
    case ShardMethod::Range: return "range";
    case ShardMethod::List: return "list";
  }
  return "?";
}

std::string_view to_string(WithoutKey without_key) {
  switch (without_key) {
    case WithoutKey::Error: return "error";
    case WithoutKey::All: return "all";
  }
  return "?";
}

std::string_view to_string(WhenNoReplica when) {
  switch (when) {
    case WhenNoReplica::Primary: return "primary";
    case WhenNoReplica::Error: return "error";
  }
  return "?";
}

}  // namespace pgroute::config
