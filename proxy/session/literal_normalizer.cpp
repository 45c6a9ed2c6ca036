#include "proxy/session/literal_normalizer.hpp"

#include <array>
#include <cstdint>

namespace pgroute {
namespace {

// Character classes by table: the normalizer looks at every character of every simple-protocol query.
constexpr uint8_t kIdentStart = 1, kDigit = 2, kIdentChar = 4, kStartsToken = 8;
constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> cls{};
  for (int c = 0; c < 256; ++c) {
    uint8_t k = 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80) k |= kIdentStart | kIdentChar;
    if (c >= '0' && c <= '9') k |= kDigit | kIdentChar;
    if (c == '$') k |= kIdentChar;
    // What the main loop handles apart: comments, quoted text, words, numbers (and a sign before one).
    if ((k & (kIdentStart | kDigit)) || c == '-' || c == '/' || c == '"' || c == '\'' || c == '+') k |= kStartsToken;
    cls[static_cast<size_t>(c)] = k;
  }
  return cls;
}();

uint8_t class_of(char c) { return kClass[static_cast<unsigned char>(c)]; }
bool is_ident_start(char c) { return (class_of(c) & kIdentStart) != 0; }
bool is_digit(char c) { return (class_of(c) & kDigit) != 0; }
bool is_ident_char(char c) { return (class_of(c) & kIdentChar) != 0; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Index of the last character of out[0, end) that is not white space; npos if none.
size_t last_significant(const std::string& out, size_t end) {
  for (size_t i = end; i > 0; --i)
    if (!is_space(out[i - 1])) return i - 1;
  return std::string::npos;
}

// Where a '+' or '-' right before a number is a sign (unary), the index of that sign in `out`; else npos.
// It is unary after '(', ',', '[' or one of the operator characters below. PostgreSQL's lexer splits "=-"
// or "<>-" into two operators (a name ending in + or - needs one of ~ ! @ # % ^ & | ` ?), so the sign
// there is its own token; after those other characters "@-" would be one operator, and after a word or
// a ')' the '-' is binary (a - 5) or a keyword's operand (BETWEEN -5): both keep their sign as text.
size_t unary_sign_at(const std::string& out) {
  const size_t sign = last_significant(out, out.size());
  if (sign == std::string::npos || (out[sign] != '-' && out[sign] != '+')) return std::string::npos;
  const size_t before = last_significant(out, sign);
  if (before == std::string::npos) return sign;
  switch (out[before]) {
    case '(':
    case ',':
    case '[':
    case '=':
    case '<':
    case '>':
    case '+':
    case '-':
    case '*':
    case '/': return sign;
    default: return std::string::npos;
  }
}

}  // namespace

bool normalize_literals(std::string_view sql, NormalizedSql& out, size_t max_literals) {
  if (sql.find('$') != std::string_view::npos) return false;
  out.text.clear();
  out.literals.clear();
  out.text.reserve(sql.size() + 8);
  const size_t n = sql.size();
  size_t i = 0;
  // What is kept as written is copied in runs, when a constant is replaced (and at the end): sql[copied, i)
  // is not in out.text yet. A query is mostly words, punctuation and white space.
  size_t copied = 0;
  const auto copy_up_to = [&](size_t end) {
    out.text.append(sql.data() + copied, end - copied);
    copied = end;
  };
  auto add_param = [&out](std::string value) {
    out.literals.push_back(std::move(value));
    out.text += '$';
    out.text += std::to_string(out.literals.size());
  };
  while (i < n) {
    char c = sql[i];
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {  // -- comment to end of line
      size_t end = sql.find('\n', i);
      i = end == std::string_view::npos ? n : end;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {  // block comment, nesting like PostgreSQL
      size_t depth = 0;
      while (i < n) {
        if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
      // Unterminated: the parser reports it on the original text.
      if (depth != 0) return false;
    } else if (c == '"') {  // quoted identifier
      ++i;
      for (;;) {
        if (i >= n) return false;  // unterminated
        if (sql[i] == '"') {
          if (i + 1 < n && sql[i + 1] == '"') {
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        ++i;
      }
    } else if (c == '\'') {
      // Glued to a prefix (E'', B'', X'', N'', U&''): kept as written; E'' honours backslash escapes.
      char before = i == copied ? (out.text.empty() ? 0 : out.text.back()) : sql[i - 1];
      bool prefixed = is_ident_char(before) || before == '&';
      bool backslashes = prefixed && (before == 'e' || before == 'E');
      size_t start = i++;
      std::string value;
      for (;;) {
        if (i >= n) return false;  // unterminated
        if (backslashes && sql[i] == '\\' && i + 1 < n) {
          i += 2;
          continue;
        }
        if (sql[i] == '\'') {
          if (i + 1 < n && sql[i + 1] == '\'') {
            value += '\'';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        value += sql[i++];
      }
      // Glued to what follows ('a'b, ''9): as $n the next characters would continue the parameter's
      // number or name ("$64" and a kept 9 read as $649), so the string stays as written.
      bool glued = i < n && is_ident_char(sql[i]);
      if (!prefixed && !glued && out.literals.size() < max_literals) {
        copy_up_to(start);
        add_param(std::move(value));
        copied = i;
      }
    } else if (is_ident_start(c)) {  // identifiers and keywords, digits included (t1, x2y)
      while (i < n && is_ident_char(sql[i])) ++i;
    } else if (is_digit(c)) {
      size_t start = i;
      while (i < n && is_digit(sql[i])) ++i;
      if (i < n && sql[i] == '.') {
        ++i;
        while (i < n && is_digit(sql[i])) ++i;
      }
      if (i < n && (sql[i] == 'e' || sql[i] == 'E')) {
        size_t e = i + 1;
        if (e < n && (sql[e] == '+' || sql[e] == '-')) ++e;
        if (e < n && is_digit(sql[e])) {
          i = e;
          while (i < n && is_digit(sql[i])) ++i;
        }
      }
      if (i < n && is_ident_char(sql[i])) return false;  // 123abc: not a number we understand
      if (out.literals.size() >= max_literals) continue;
      std::string_view number = sql.substr(start, i - start);
      copy_up_to(start);
      // A signed constant (key = -5) is one parameter with its sign: as -$1 it would hide the key from
      // the router, and kept as text every value would be a text of its own for the analysis cache
      // (pgbench's "abalance + -1234" missed it for half the values).
      const size_t sign = unary_sign_at(out.text);
      if (sign == std::string::npos) {
        add_param(std::string(number));
      } else {
        std::string value = out.text[sign] == '-' ? "-" : "";
        value.append(number);
        out.text.resize(sign);
        add_param(std::move(value));
      }
      copied = i;
    } else {  // operators, punctuation and white space: kept as they are, up to the next token
      ++i;
      while (i < n && (class_of(sql[i]) & kStartsToken) == 0) ++i;
    }
  }
  copy_up_to(n);
  return !out.literals.empty();
}

}  // namespace pgroute
