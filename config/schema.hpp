// The pgroute.yaml schema: which keys exist, what their values may be, how sections refer to each
// other. One reader per section; a new section is a new row in read_config's table.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"
#include "config/schema_reader.hpp"

namespace pgroute::config {

// Reads the whole document into config; every problem goes to reader. Runs the deferred checks.
void read_config(SchemaReader& reader, const YAML::Node& root, Config& config);

void read_backends(SchemaReader& reader, const SchemaReader::Entry& section, Config& config);
void read_routers(SchemaReader& reader, const SchemaReader::Entry& section, Config& config);
void read_shard_router(SchemaReader& reader, const YAML::Node& item, const KeyPath& path, const Config& config,
                       ShardRouterSpec& spec);
// metrics:, admin: and reload: (schema_ops.cpp). read_admin defers its check that each user exists.
void read_metrics(SchemaReader& reader, const SchemaReader::Entry& section, Config& config);
// tls: (schema_ops.cpp): the files are only named here; proxy/io/tls_context.cpp loads them.
void read_tls(SchemaReader& reader, const SchemaReader::Entry& section, Config& config);
void read_admin(SchemaReader& reader, const SchemaReader::Entry& section, Config& config);
void read_reload(SchemaReader& reader, const SchemaReader::Entry& section, Config& config);
// users: (schema_users.cpp); defers its check that auth: cert users have a tls.ca.
void read_users(SchemaReader& reader, const SchemaReader::Entry& section, Config& config);

// The connection lifecycle keys (min_size, max_lifetime, ...) as Fields that write into l; shared by
// `pool:` and the backend mappings.
std::vector<SchemaReader::Field> lifecycle_fields(SchemaReader& reader, Lifecycle& l);
// Reports at the min_size entry when min_size > size.
void check_min_size(SchemaReader& reader, const SchemaReader::Entry& min_size_entry, int min_size, int size);

// After the walk, reports "unknown alias" at mark unless config has a backend named alias.
// Silent when config has no backends at all: that is reported once, on its own.
void require_alias(SchemaReader& reader, const Config& config, std::string alias, const YAML::Mark& mark,
                   const KeyPath& path);

// "default, analytics": the aliases of config in file order, for messages.
std::string known_aliases(const Config& config);

}  // namespace pgroute::config
