// routers: the router chain, one item per router, each shaped by its `type:`.
// Shard routers have their own file (schema_shard_router.cpp); the rest are small enough to share this one.
#include <regex.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "config/schema.hpp"
#include "config/yaml_json.hpp"

namespace pgroute::config {
namespace {

using Entry = SchemaReader::Entry;
using Field = SchemaReader::Field;

enum class RouterType { Model, Shard, Replicas, Rule, Plugin };

constexpr std::array<Choice<RouterType>, 5> kRouterTypes = {{{"model", RouterType::Model},
                                                             {"shard", RouterType::Shard},
                                                             {"replicas", RouterType::Replicas},
                                                             {"rule", RouterType::Rule},
                                                             {"plugin", RouterType::Plugin}}};

constexpr std::array<Choice<RuleKindSpec>, 3> kRuleKinds = {
    {{"read", RuleKindSpec::Read}, {"write", RuleKindSpec::Write}, {"any", RuleKindSpec::Any}}};

constexpr std::array<Choice<WhenNoReplica>, 2> kWhenNoReplica = {
    {{"primary", WhenNoReplica::Primary}, {"error", WhenNoReplica::Error}}};

constexpr std::array<Choice<ReplicasRouterSpec::CausalReads>, 3> kCausalReads = {
    {{"off", ReplicasRouterSpec::CausalReads::off},
     {"tables", ReplicasRouterSpec::CausalReads::tables},
     {"strict", ReplicasRouterSpec::CausalReads::strict}}};

constexpr int64_t kMaxReplicaWeight = 1000000;
// Below this, checks would load the servers more than they tell.
constexpr Duration kMinLagCheckInterval{10};

// `type:` is read before the other keys decide the shape; in the field tables it is just accepted.
void skip(const Entry&) {}

// An alias-valued key: non-empty, and (checked after the walk) a backend's name.
void read_alias(SchemaReader& r, const Config& config, const Entry& e, std::string& alias) {
  auto value = r.non_empty_text(e.value, e.path);
  if (!value) return;
  alias = *value;
  require_alias(r, config, *value, e.value.Mark(), e.path);
}

void read_model(SchemaReader& r, const YAML::Node& item, const KeyPath& path, const Config& config,
                ModelRouterSpec& spec) {
  const Field fields[] = {
      {"type", skip},
      {"tables",
       [&](const Entry& e) {
         if (!r.expect_map(e.value, e.path)) return;
         if (e.value.size() == 0) {
           r.report(e.value.Mark(), e.path, "at least one table pattern is required");
           return;
         }
         r.for_each_entry(e.value, e.path, [&](const Entry& table) {
           if (table.key.empty()) {
             r.report(table.key_node.Mark(), e.path, "table patterns must not be empty");
             return;
           }
           if (!r.has_value(table)) return;
           std::string alias;
           read_alias(r, config, table, alias);
           if (!alias.empty()) spec.tables.emplace_back(table.key, std::move(alias));
         });
       },
       true},
  };
  r.read_fields(item, path, fields);
}

void read_replica(SchemaReader& r, const YAML::Node& node, const KeyPath& path, const Config& config,
                  ReplicasRouterSpec& spec) {
  ReplicaSpec replica;
  if (node.IsScalar()) {  // "- replica_1": weight 1
    if (auto alias = r.non_empty_text(node, path)) {
      replica.alias = *alias;
      require_alias(r, config, *alias, node.Mark(), path);
    }
  } else {
    const Field fields[] = {
        {"alias", [&](const Entry& e) { read_alias(r, config, e, replica.alias); }, true},
        {"weight", [&](const Entry& e) { assign(replica.weight, r.integer(e.value, e.path, 1, kMaxReplicaWeight)); }},
    };
    r.read_fields(node, path, fields);
  }
  if (!replica.alias.empty()) spec.replicas.push_back(std::move(replica));
}

// Lag checks log in to the primary and every replica with the backend URL's user: a backend whose URL has
// none (clients log in as themselves) leaves the checks without a login, reported at the limit's key.
// The spec is read by index once the walk is over: the item being read is pushed to config.routers after.
void require_monitor_login(SchemaReader& r, const Config& config, const Entry& e) {
  r.defer([&r, &config, index = config.routers.size(), mark = e.key_node.Mark(), path = e.path] {
    if (index >= config.routers.size()) return;
    const auto* spec = std::get_if<ReplicasRouterSpec>(&config.routers[index].settings);
    if (spec == nullptr) return;
    std::vector<std::string> aliases{spec->primary};
    for (const auto& replica : spec->replicas) aliases.push_back(replica.alias);
    for (const std::string& alias : aliases) {
      const Backend* b = config.backend(alias);
      if (b == nullptr || !b->user.empty()) continue;
      r.report(mark, path,
               "lag checks log in with the backend URL's user, but backend \"" + alias +
                   "\" has none (its clients log in as themselves); put a user (and password) in its url");
      return;
    }
  });
}

void read_replicas(SchemaReader& r, const YAML::Node& item, const KeyPath& path, const Config& config,
                   ReplicasRouterSpec& spec) {
  const Field fields[] = {
      {"type", skip},
      {"primary", [&](const Entry& e) { read_alias(r, config, e, spec.primary); }, true},
      {"replicas",
       [&](const Entry& e) {
         if (e.value.IsSequence() && e.value.size() == 0) {
           r.report(e.value.Mark(), e.path, "at least one replica is required");
           return;
         }
         r.for_each_item(e.value, e.path,
                         [&](const YAML::Node& node, const KeyPath& at) { read_replica(r, node, at, config, spec); });
       },
       true},
      {"read_your_writes",
       [&](const Entry& e) { assign(spec.read_your_writes, r.duration(e.value, e.path, Duration(0))); }},
      {"max_lag",
       [&](const Entry& e) {
         spec.max_lag = r.duration(e.value, e.path, Duration(0));
         if (spec.max_lag) require_monitor_login(r, config, e);
       }},
      {"max_lag_bytes",
       [&](const Entry& e) {
         spec.max_lag_bytes = r.byte_size(e.value, e.path, 0, UINT64_MAX);
         if (spec.max_lag_bytes && !spec.max_lag) require_monitor_login(r, config, e);
       }},
      {"lag_check_interval",
       [&](const Entry& e) { assign(spec.lag_check_interval, r.duration(e.value, e.path, kMinLagCheckInterval)); }},
      {"when_no_replica",
       [&](const Entry& e) { assign(spec.when_no_replica, r.choice(e.value, e.path, kWhenNoReplica)); }},
      {"causal_wait", [&](const Entry& e) { assign(spec.causal_wait, r.duration(e.value, e.path, Duration(0))); }},
      {"causal_reads",
       [&](const Entry& e) {
         assign(spec.causal_reads, r.choice(e.value, e.path, kCausalReads));
         // The replay positions come from the lag checks, which log in with the URLs' users.
         if (spec.causal_reads != ReplicasRouterSpec::CausalReads::off && !spec.max_lag && !spec.max_lag_bytes)
           require_monitor_login(r, config, e);
       }},
  };
  r.read_fields(item, path, fields);
}

// Compiled here with the flags RuleRouter uses, so a bad pattern is reported where it is written.
void read_sql_regex(SchemaReader& r, const Entry& e, std::string& sql) {
  auto pattern = r.non_empty_text(e.value, e.path);
  if (!pattern) return;
  regex_t compiled;
  if (int rc = regcomp(&compiled, pattern->c_str(), REG_EXTENDED | REG_NOSUB | REG_ICASE); rc != 0) {
    char message[256];
    regerror(rc, &compiled, message, sizeof message);
    r.report(e.value.Mark(), e.path,
             "invalid regular expression \"" + *pattern + "\": " + message +
                 " (POSIX extended syntax, matched case-insensitively)");
    return;
  }
  regfree(&compiled);
  sql = std::move(*pattern);
}

void read_rule(SchemaReader& r, const YAML::Node& item, const KeyPath& path, const Config& config,
               RuleRouterSpec& spec) {
  const Field fields[] = {
      {"type", skip},
      {"match",
       [&](const Entry& match) {
         const Field conditions[] = {
             {"user", [&](const Entry& e) { assign(spec.user, r.non_empty_text(e.value, e.path)); }},
             {"database", [&](const Entry& e) { assign(spec.database, r.non_empty_text(e.value, e.path)); }},
             {"application_name",
              [&](const Entry& e) { assign(spec.application_name, r.non_empty_text(e.value, e.path)); }},
             {"kind", [&](const Entry& e) { assign(spec.kind, r.choice(e.value, e.path, kRuleKinds)); }},
             {"sql", [&](const Entry& e) { read_sql_regex(r, e, spec.sql); }},
         };
         r.read_fields(match.value, match.path, conditions);
       },
       true},
      {"alias", [&](const Entry& e) { read_alias(r, config, e, spec.alias); }, true},
  };
  r.read_fields(item, path, fields);
}

void read_plugin_path(SchemaReader& r, const Entry& e, std::string& path) {
  auto value = r.non_empty_text(e.value, e.path);
  if (!value) return;
  struct stat st {};
  if (::stat(value->c_str(), &st) != 0) {
    r.report(e.value.Mark(), e.path, "cannot use plugin \"" + *value + "\": " + std::strerror(errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    r.report(e.value.Mark(), e.path, "plugin \"" + *value + "\" is not a regular file");
    return;
  }
  path = std::move(*value);
}

void read_plugin(SchemaReader& r, const YAML::Node& item, const KeyPath& path, PluginRouterSpec& spec) {
  spec.options_json = "{}";
  const Field fields[] = {
      {"type", skip},
      {"path", [&](const Entry& e) { read_plugin_path(r, e, spec.path); }, true},
      {"options", [&](const Entry& e) { spec.options_json = yaml_to_json(e.value); }},
  };
  r.read_fields(item, path, fields);
}

void read_router(SchemaReader& r, const YAML::Node& item, const KeyPath& path, Config& config) {
  if (!r.expect_map(item, path)) return;
  const YAML::Node type_node = item["type"];
  if (!type_node.IsDefined()) {
    r.report(item.Mark(), path, "missing required key \"type\" (one of: model, shard, replicas, rule, plugin)");
    return;
  }
  if (type_node.IsNull()) {
    r.report(item.Mark(), path.key("type"), "missing value (one of: model, shard, replicas, rule, plugin)");
    return;
  }
  auto type = r.choice(type_node, path.key("type"), kRouterTypes);
  if (!type) return;
  RouterSpec spec;
  spec.where = r.source() + ":" + position_of(item.Mark()) + ": " + path.str();
  switch (*type) {
    case RouterType::Model: read_model(r, item, path, config, spec.settings.emplace<ModelRouterSpec>()); break;
    case RouterType::Shard: read_shard_router(r, item, path, config, spec.settings.emplace<ShardRouterSpec>()); break;
    case RouterType::Replicas: read_replicas(r, item, path, config, spec.settings.emplace<ReplicasRouterSpec>()); break;
    case RouterType::Rule: read_rule(r, item, path, config, spec.settings.emplace<RuleRouterSpec>()); break;
    case RouterType::Plugin: read_plugin(r, item, path, spec.settings.emplace<PluginRouterSpec>()); break;
  }
  config.routers.push_back(std::move(spec));
}

}  // namespace

void read_routers(SchemaReader& r, const Entry& section, Config& config) {
  r.for_each_item(section.value, section.path,
                  [&](const YAML::Node& item, const KeyPath& path) { read_router(r, item, path, config); });
}

}  // namespace pgroute::config
