#pragma once
// A table name pattern from configuration: "events", "public.events", "auth_*", "app.*" (shell globs:
// * ? [...]). A pattern without a dot matches the table name in any schema. A pattern with a dot matches
// schema and name; a table the statement did not qualify matches on its name alone, because the proxy
// cannot know the session's search_path.

#include <string>
#include <string_view>

#include "router/statement.hpp"

namespace pgroute::router {

class TablePattern {
 public:
  explicit TablePattern(std::string pattern);

  bool matches(const TableRef& table) const { return matches(table.schema, table.name); }
  bool matches(std::string_view schema, std::string_view name) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string schema_glob_;  // empty: any schema
  std::string name_glob_;
};

// fnmatch(3) on std::string_views.
bool glob_matches(std::string_view pattern, std::string_view text);

}  // namespace pgroute::router
