#include "router/table_pattern.hpp"

#include <fnmatch.h>

#include <cstring>

namespace pgroute::router {

// Called for every table of every routed statement: no allocation.
bool glob_matches(std::string_view pattern, std::string_view text) {
  // Without metacharacters fnmatch is an equality test (most patterns name one table), and with
  // one trailing '*' a prefix test (a family of tables: "billing_*").
  const size_t meta = pattern.find_first_of("*?[\\");
  if (meta == std::string_view::npos) return pattern == text;
  if (meta + 1 == pattern.size() && pattern[meta] == '*') return text.starts_with(pattern.substr(0, meta));
  // fnmatch wants NUL-terminated strings; identifiers (at most 63 bytes) fit on the stack.
  char p[256], t[256];
  if (pattern.size() >= sizeof p || text.size() >= sizeof t)
    return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
  std::memcpy(p, pattern.data(), pattern.size());
  p[pattern.size()] = '\0';
  std::memcpy(t, text.data(), text.size());
  t[text.size()] = '\0';
  return fnmatch(p, t, 0) == 0;
}

TablePattern::TablePattern(std::string pattern) : text_(std::move(pattern)) {
  auto dot = text_.find('.');
  if (dot == std::string::npos) {
    name_glob_ = text_;
  } else {
    schema_glob_ = text_.substr(0, dot);
    name_glob_ = text_.substr(dot + 1);
  }
}

bool TablePattern::matches(std::string_view schema, std::string_view name) const {
  if (!glob_matches(name_glob_, name)) return false;
  return schema_glob_.empty() || schema.empty() || glob_matches(schema_glob_, schema);
}

}  // namespace pgroute::router
