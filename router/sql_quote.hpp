// Quoting for the few SQL texts the proxy writes itself (session parameters, resets, a SET to repeat).
#pragma once
#include <string>
#include <string_view>

namespace pgroute::router {

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

// As PostgreSQL writes a name back (quote_identifier): a plain lower-case name stays bare.
inline std::string quote_ident_if_needed(std::string_view v) {
  bool plain = !v.empty() && ((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_');
  for (char c : v) plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$');
  return plain ? std::string(v) : quote_ident(v);
}

}  // namespace pgroute::router
