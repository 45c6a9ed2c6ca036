#include "router/key_type.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

namespace pgroute::router {

std::optional<KeyType> parse_key_type(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::pair<std::string_view, KeyType>, 10> kNames{{
      {"int2", KeyType::Int2},
      {"smallint", KeyType::Int2},
      {"int4", KeyType::Int4},
      {"int", KeyType::Int4},
      {"integer", KeyType::Int4},
      {"int8", KeyType::Int8},
      {"bigint", KeyType::Int8},
      {"text", KeyType::Text},
      {"uuid", KeyType::Uuid},
      {"varchar", KeyType::Text},  // varchar partitions with text's hash opclass
  }};
  for (const auto& [spelling, type] : kNames)
    if (lower == spelling) return type;
  return std::nullopt;
}

std::string_view key_type_name(KeyType type) {
  switch (type) {
    case KeyType::Int2: return "smallint";
    case KeyType::Int4: return "integer";
    case KeyType::Int8: return "bigint";
    case KeyType::Text: return "text";
    case KeyType::Uuid: return "uuid";
  }
  return "unknown";
}

}  // namespace pgroute::router
