#include "router/hint_scanner.hpp"

#include <string_view>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

namespace pgroute::router {
namespace {

constexpr std::string_view kPrefix = "pgroute:";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Body of a comment token without its delimiters.
std::string_view comment_body(std::string_view token) {
  if (token.starts_with("--")) return token.substr(2);
  if (token.starts_with("/*")) {
    token.remove_prefix(2);
    if (token.ends_with("*/")) token.remove_suffix(2);
  }
  return token;
}

void parse_pairs(std::string_view body, Hints& hints) {
  size_t i = 0;
  auto skip_separators = [&] {
    while (i < body.size() && (is_space(body[i]) || body[i] == ',')) ++i;
  };
  while (true) {
    skip_separators();
    if (i >= body.size()) return;
    size_t key_start = i;
    while (i < body.size() && body[i] != '=' && !is_space(body[i]) && body[i] != ',') ++i;
    std::string_view key = body.substr(key_start, i - key_start);
    if (i >= body.size() || body[i] != '=') continue;  // a bare word: not a pair, skip it
    ++i;
    std::string value;
    if (i < body.size() && body[i] == '\'') {
      for (++i; i < body.size(); ++i) {
        if (body[i] == '\'') {
          if (i + 1 < body.size() && body[i + 1] == '\'') {
            value.push_back('\'');
            ++i;
            continue;
          }
          ++i;
          break;
        }
        value.push_back(body[i]);
      }
    } else {
      size_t start = i;
      while (i < body.size() && !is_space(body[i]) && body[i] != ',') ++i;
      value.assign(body.substr(start, i - start));
    }
    if (key == "shard_key" && !hints.shard_key) hints.shard_key = value;
    if (key == "alias" && !hints.alias && !value.empty()) hints.alias = value;
  }
}

}  // namespace

Hints scan_hints(const std::string& sql) {
  Hints hints;
  if (sql.find(kPrefix) == std::string::npos) return hints;  // the common case costs one search
  PgQueryScanResult result = pg_query_scan(sql.c_str());
  if (!result.error) {
    PgQuery__ScanResult* scan =
        pg_query__scan_result__unpack(nullptr, result.pbuf.len, reinterpret_cast<const uint8_t*>(result.pbuf.data));
    for (size_t i = 0; scan && i < scan->n_tokens; ++i) {
      const PgQuery__ScanToken* token = scan->tokens[i];
      if (token->token != PG_QUERY__TOKEN__C_COMMENT && token->token != PG_QUERY__TOKEN__SQL_COMMENT) continue;
      if (token->start < 0 || token->end < token->start || static_cast<size_t>(token->end) > sql.size()) continue;
      std::string_view body = comment_body(std::string_view(sql).substr(
          static_cast<size_t>(token->start), static_cast<size_t>(token->end - token->start)));
      while (!body.empty() && is_space(body.front())) body.remove_prefix(1);
      if (!body.starts_with(kPrefix)) continue;
      parse_pairs(body.substr(kPrefix.size()), hints);
    }
    if (scan) pg_query__scan_result__free_unpacked(scan, nullptr);
  }
  pg_query_free_scan_result(result);
  return hints;
}

}  // namespace pgroute::router
