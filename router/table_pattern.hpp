#pragma once
// A table name pattern from configuration: "events", "public.events", "auth_*", "app.*" (shell globs:
// * ? [...]). A pattern without a dot matches the table name in any schema. A pattern with a dot matches
// schema and name; a table the statement did not qualify matches on its name alone, because the proxy
// cannot know the session's search_path.

#include <cstdint>
#include <string>
#include <string_view>

#include "router/statement.hpp"

namespace pgroute::router {

// A shell glob read once: most are a name (an equality test) or a prefix with one trailing '*'; only
// the rest go to fnmatch(3) at each match.
class Glob {
 public:
  explicit Glob(std::string pattern);
  bool matches(std::string_view text) const;

 private:
  enum class Kind : uint8_t { exact, prefix, fnmatch };
  std::string text_;  // a prefix without its '*'
  Kind kind_;
};

class TablePattern {
 public:
  explicit TablePattern(std::string pattern);

  bool matches(const TableRef& table) const { return matches(table.schema, table.name); }
  bool matches(std::string_view schema, std::string_view name) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  bool any_schema_;  // nothing before a dot (or no dot)
  Glob schema_glob_;
  Glob name_glob_;
};

// fnmatch(3) on std::string_views.
bool glob_matches(std::string_view pattern, std::string_view text);

}  // namespace pgroute::router
