#pragma once
// The column types a shard key may have, and their names in configuration.

#include <optional>
#include <string_view>

namespace pgroute::router {

enum class KeyType { Int2, Int4, Int8, Text, Uuid };

// Accepts the names used in pgroute.yaml and their PostgreSQL spellings:
// int2/smallint, int4/int/integer, int8/bigint, text, uuid (case-insensitive).
std::optional<KeyType> parse_key_type(std::string_view name);

// Canonical PostgreSQL name: "smallint", "integer", "bigint", "text", "uuid".
std::string_view key_type_name(KeyType type);

}  // namespace pgroute::router
