// The statement name of a query that is one SQL `DEALLOCATE [PREPARE] name`: the client's names are not
// the server's (client_session.hpp), so the proxy passes it on with the server's name.
#pragma once
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace pgroute {

// The name `sql` deallocates if it is one DEALLOCATE of a name (not ALL, optionally ended by ';'):
// unquoted names folded to lower case as PostgreSQL does, quoted ones as written; else nothing.
// Returns at the first character for any other query (called for every simple query).
inline std::optional<std::string> deallocated_name(std::string_view sql) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  };
  auto word_char = [&](size_t at) {
    unsigned char c = static_cast<unsigned char>(sql[at]);
    return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80;
  };
  auto keyword = [&](std::string_view word) {
    if (sql.size() - i < word.size()) return false;
    for (size_t k = 0; k < word.size(); ++k)
      if (std::tolower(static_cast<unsigned char>(sql[i + k])) != word[k]) return false;
    if (i + word.size() < sql.size() && word_char(i + word.size())) return false;
    i += word.size();
    return true;
  };
  skip_space();
  if (!keyword("deallocate")) return std::nullopt;
  skip_space();
  if (keyword("prepare")) skip_space();
  std::string name;
  if (i < sql.size() && sql[i] == '"') {
    for (++i;; ++i) {
      if (i >= sql.size()) return std::nullopt;
      if (sql[i] == '"') {
        if (i + 1 < sql.size() && sql[i + 1] == '"')
          ++i;
        else
          break;
      }
      name += sql[i];
    }
    ++i;
  } else {
    size_t at = i;
    if (keyword("all")) return std::nullopt;
    i = at;
    for (; i < sql.size() && word_char(i); ++i)
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i])));
  }
  skip_space();
  if (i < sql.size() && sql[i] == ';') ++i;
  skip_space();
  if (name.empty() || i != sql.size()) return std::nullopt;
  return name;
}

}  // namespace pgroute
