// The literal normalizer (proxy/session/literal_normalizer.cpp) on any simple-query text. Checked: putting the
// constants back in place of $1..$n gives exactly the original text (a number as it was written, with
// its unary sign, a string quoted again with '' for a quote), so routing on the constants sees the
// client's values, and no $n runs into the characters after it.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "proxy/session/literal_normalizer.hpp"

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string quoted(const std::string& value) {
  std::string q = "'";
  for (char c : value) {
    q += c;
    if (c == '\'') q += '\'';
  }
  return q + "'";
}

// Undoes the normalization step by step against the original; false where they differ.
bool restores(std::string_view sql, const pgroute::NormalizedSql& out) {
  std::string_view text = out.text;
  size_t next_param = 1;
  while (!text.empty()) {
    if (text.front() != '$') {  // copied as is (the original has no '$' at all)
      if (sql.empty() || sql.front() != text.front()) return false;
      sql.remove_prefix(1);
      text.remove_prefix(1);
      continue;
    }
    text.remove_prefix(1);
    size_t digits = 0;
    while (digits < text.size() && is_digit(text[digits])) ++digits;
    if (text.substr(0, digits) != std::to_string(next_param)) return false;  // $1, $2, ... in order
    text.remove_prefix(digits);
    std::string_view literal = out.literals[next_param - 1];
    if (!sql.empty() && sql.front() == '\'') {
      const std::string written = quoted(std::string(literal));
      if (!sql.starts_with(written)) return false;
      sql.remove_prefix(written.size());
    } else {
      // A number, with its unary sign if it had one: "-5" from "- 5" or "-5", "5" from "+ 5".
      if (!sql.empty() && (sql.front() == '-' || sql.front() == '+')) {
        if (sql.front() == '-') {
          if (!literal.starts_with('-')) return false;
          literal.remove_prefix(1);
        }
        sql.remove_prefix(1);
        while (!sql.empty() && is_space(sql.front())) sql.remove_prefix(1);
      }
      if (literal.empty() || !is_digit(literal.front()) || !sql.starts_with(literal)) return false;
      sql.remove_prefix(literal.size());
    }
    ++next_param;
  }
  return sql.empty() && next_param == out.literals.size() + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql = pgroute::fuzz::bytes(data, size);
  static pgroute::NormalizedSql out;   // reused, as the session reuses its own
  constexpr size_t kMaxLiterals = 64;  // the session's default
  if (!pgroute::normalize_literals(sql, out, kMaxLiterals)) return 0;
  FUZZ_CHECK(sql.find('$') == std::string_view::npos);
  FUZZ_CHECK(!out.literals.empty() && out.literals.size() <= kMaxLiterals);
  FUZZ_CHECK(restores(sql, out));
  return 0;
}
