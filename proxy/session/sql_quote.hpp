// Quoting for the few SQL statements the proxy writes itself (session parameters, resets).
#pragma once
#include <string>
#include <string_view>

namespace pgroute {

// An E'' literal: correct whatever standard_conforming_strings is on the server.
inline std::string quote_literal(std::string_view v) {
  std::string out = "E'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

inline std::string quote_ident(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace pgroute
