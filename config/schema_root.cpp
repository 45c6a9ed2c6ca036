// Top level of pgroute.yaml and its small sections (listen, pool, databases, routing_cache_size).
#include <limits>
#include <optional>

#include "config/schema.hpp"

namespace pgroute::config {
namespace {

using Entry = SchemaReader::Entry;
using Field = SchemaReader::Field;

constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kMaxThreads = 1024;
// Below 1kB even a startup packet may not fit; PostgreSQL itself refuses messages over 1GB.
constexpr uint64_t kMinMessageSize = 1ull << 10;
constexpr uint64_t kMaxMessageSize = 1ull << 30;
// Per worker; an entry costs about a statement's text plus its analysis.
constexpr int64_t kMaxRoutingCacheSize = 10'000'000;
// Shorter than a login can take over a slow network would lock every client out.
constexpr Duration kMinAuthenticationTimeout{100};

constexpr std::array<Choice<PoolMode>, 2> kPoolModes = {
    {{"session", PoolMode::Session}, {"transaction", PoolMode::Transaction}}};

void read_listen(SchemaReader& r, const Entry& section, Listen& listen) {
  const Field fields[] = {
      {"host", [&](const Entry& e) { assign(listen.host, r.non_empty_text(e.value, e.path)); }},
      {"port", [&](const Entry& e) { assign(listen.port, r.integer(e.value, e.path, 1, 65535)); }},
  };
  r.read_fields(section.value, section.path, fields);
}

void read_pool(SchemaReader& r, const Entry& section, Pool& pool) {
  std::optional<Entry> min_size_entry;
  std::vector<Field> fields = {
      {"mode", [&](const Entry& e) { assign(pool.mode, r.choice(e.value, e.path, kPoolModes)); }},
      {"size", [&](const Entry& e) { assign(pool.size, r.integer(e.value, e.path, 1, kIntMax)); }},
      {"queue_timeout", [&](const Entry& e) { assign(pool.queue_timeout, r.duration(e.value, e.path, Duration(1))); }},
      {"connect_timeout",
       [&](const Entry& e) { assign(pool.connect_timeout, r.duration(e.value, e.path, Duration(1))); }},
      // May be empty: no reset between clients (fine when every client is the same application).
      {"reset_query", [&](const Entry& e) { assign(pool.reset_query, r.text(e.value, e.path)); }},
      {"max_prepared_statements",
       [&](const Entry& e) { assign(pool.max_prepared_statements, r.integer(e.value, e.path, 0, kIntMax)); }},
  };
  for (Field& f : lifecycle_fields(r, pool.lifecycle)) {
    if (f.key == "min_size") {
      f.read = [&min_size_entry, read = f.read](const Entry& e) {
        min_size_entry = e;
        read(e);
      };
    }
    fields.push_back(std::move(f));
  }
  r.read_fields(section.value, section.path, fields);
  if (min_size_entry) check_min_size(r, *min_size_entry, pool.lifecycle.min_size, pool.size);
}

void read_databases(SchemaReader& r, const Entry& section, Config& config) {
  config.databases_listed = true;
  r.for_each_entry(section.value, section.path, [&](const Entry& e) {
    if (e.key.empty()) {
      r.report(e.key_node.Mark(), section.path, "database names must not be empty");
      return;
    }
    if (!r.has_value(e)) return;
    auto alias = r.non_empty_text(e.value, e.path);
    if (!alias) return;
    config.databases[e.key] = *alias;
    require_alias(r, config, *alias, e.value.Mark(), e.path);
  });
}

}  // namespace

void read_config(SchemaReader& r, const YAML::Node& root, Config& config) {
  // Presence, not a successful read: "backends:" with no value is its own problem already.
  const bool backends_given = root.IsMap() && root["backends"].IsDefined();
  bool default_given = false;
  YAML::Mark backends_mark = YAML::Mark::null_mark();
  std::optional<Entry> reserved_entry;
  const Field fields[] = {
      {"listen", [&](const Entry& e) { read_listen(r, e, config.listen); }},
      {"threads", [&](const Entry& e) { assign(config.threads, r.integer(e.value, e.path, 0, kMaxThreads)); }},
      {"max_client_connections",
       [&](const Entry& e) { assign(config.max_client_connections, r.integer(e.value, e.path, 1, kIntMax)); }},
      {"max_startup_connections",
       [&](const Entry& e) { assign(config.max_startup_connections, r.integer(e.value, e.path, 0, kIntMax)); }},
      {"reserved_admin_connections",
       [&](const Entry& e) {
         reserved_entry = e;
         assign(config.reserved_admin_connections, r.integer(e.value, e.path, 0, kIntMax));
       }},
      {"authentication_timeout",
       [&](const Entry& e) {
         assign(config.authentication_timeout, r.duration(e.value, e.path, kMinAuthenticationTimeout));
       }},
      {"max_message_size",
       [&](const Entry& e) {
         assign(config.max_message_size, r.byte_size(e.value, e.path, kMinMessageSize, kMaxMessageSize));
       }},
      {"default",
       [&](const Entry& e) {
         default_given = true;
         if (auto alias = r.non_empty_text(e.value, e.path)) {
           config.default_alias = *alias;
           require_alias(r, config, *alias, e.value.Mark(), e.path);
         }
       }},
      {"backends",
       [&](const Entry& e) {
         backends_mark = e.key_node.Mark();
         read_backends(r, e, config);
       }},
      {"databases", [&](const Entry& e) { read_databases(r, e, config); }},
      {"users", [&](const Entry& e) { read_users(r, e, config); }},
      {"pool", [&](const Entry& e) { read_pool(r, e, config.pool); }},
      {"routers", [&](const Entry& e) { read_routers(r, e, config); }},
      {"routing_cache_size",
       [&](const Entry& e) { assign(config.routing_cache_size, r.integer(e.value, e.path, 1, kMaxRoutingCacheSize)); }},
      {"metrics", [&](const Entry& e) { read_metrics(r, e, config); }},
      {"tls", [&](const Entry& e) { read_tls(r, e, config); }},
      {"admin", [&](const Entry& e) { read_admin(r, e, config); }},
      {"reload", [&](const Entry& e) { read_reload(r, e, config); }},
  };
  // An empty file (or only comments) is an empty mapping: it then fails for lack of backends.
  if (!root.IsNull()) r.read_fields(root, KeyPath(), fields);
  if (root.IsNull() || (root.IsMap() && !backends_given))
    r.report_unplaced(KeyPath().key("backends"), "at least one backend is required");
  if (!default_given) {
    // The implicit default alias is "default" (or the only backend); point at the backends that lack it.
    r.defer([&r, &config, backends_mark] {
      if (config.backends.empty() || config.backend(config.default_alias)) return;
      if (config.backends.size() == 1) {  // a lone backend is unambiguously the default
        config.default_alias = config.backends.front().alias;
        return;
      }
      r.report(backends_mark, KeyPath().key("default"),
               "no backend is named \"" + config.default_alias + "\" (known: " + known_aliases(config) +
                   "); add one or set \"default:\" to one of them");
    });
  }
  // Written out, the reserve must leave room for other users (the default shrinks to fit).
  if (reserved_entry && config.reserved_admin_connections >= config.max_client_connections &&
      config.reserved_admin_connections > 0)
    r.report(reserved_entry->value.Mark(), reserved_entry->path,
             "must be less than max_client_connections (" + std::to_string(config.max_client_connections) + "), got " +
                 std::to_string(config.reserved_admin_connections));
  r.run_deferred();
}

}  // namespace pgroute::config
