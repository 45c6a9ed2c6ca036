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

Glob::Glob(std::string pattern) : text_(std::move(pattern)), kind_(Kind::fnmatch) {
  const size_t meta = text_.find_first_of("*?[\\");
  if (meta == std::string::npos) {
    kind_ = Kind::exact;
  } else if (meta + 1 == text_.size() && text_[meta] == '*') {
    kind_ = Kind::prefix;
    text_.pop_back();
  }
}

bool Glob::matches(std::string_view text) const {
  switch (kind_) {
    case Kind::exact: return text == text_;
    case Kind::prefix: return text.starts_with(text_);
    case Kind::fnmatch: return glob_matches(text_, text);
  }
  return false;
}

namespace {

std::string_view before_dot(std::string_view pattern) {
  const size_t dot = pattern.find('.');
  return dot == std::string_view::npos ? std::string_view() : pattern.substr(0, dot);
}

std::string_view after_dot(std::string_view pattern) {
  const size_t dot = pattern.find('.');
  return dot == std::string_view::npos ? pattern : pattern.substr(dot + 1);
}

}  // namespace

TablePattern::TablePattern(std::string pattern)
    : text_(std::move(pattern)),
      any_schema_(before_dot(text_).empty()),
      schema_glob_(std::string(before_dot(text_))),
      name_glob_(std::string(after_dot(text_))) {}

bool TablePattern::matches(std::string_view schema, std::string_view name) const {
  if (!name_glob_.matches(name)) return false;
  return any_schema_ || schema.empty() || schema_glob_.matches(schema);
}

}  // namespace pgroute::router
