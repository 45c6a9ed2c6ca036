#include "router/key_datum.hpp"

#include <cstring>
#include <limits>

namespace pgroute::router {
namespace {

// PostgreSQL's integer input skips the same characters isspace() accepts in the C locale.
bool is_pg_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

struct IntRange {
  int64_t min, max;
};

IntRange range_of(KeyType type) {
  switch (type) {
    case KeyType::Int2: return {std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max()};
    case KeyType::Int4: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

std::optional<int64_t> parse_integer(std::string_view s, IntRange range) {
  size_t i = 0;
  while (i < s.size() && is_pg_space(s[i])) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  // Accumulate as a negative number: its range is one larger, so INT64_MIN parses without overflow.
  int64_t value = 0;
  size_t digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
    int d = s[i] - '0';
    if (value < (std::numeric_limits<int64_t>::min() + d) / 10) return std::nullopt;
    value = value * 10 - d;
  }
  while (i < s.size() && is_pg_space(s[i])) ++i;
  if (digits == 0 || i != s.size()) return std::nullopt;
  if (!negative) {
    if (value == std::numeric_limits<int64_t>::min()) return std::nullopt;
    value = -value;
  }
  if (value < range.min || value > range.max) return std::nullopt;
  return value;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> parse_uuid(std::string_view s) {
  if (!s.empty() && s.front() == '{') {
    if (s.size() < 2 || s.back() != '}') return std::nullopt;
    s = s.substr(1, s.size() - 2);
  }
  std::string out;
  out.reserve(16);
  size_t i = 0;
  for (int digit = 0; digit < 32; digit += 2) {
    // A hyphen may follow any complete group of four hex digits (not at the start or the end).
    if (digit > 0 && digit % 4 == 0 && i < s.size() && s[i] == '-') ++i;
    if (i + 2 > s.size()) return std::nullopt;
    int hi = hex_value(s[i]);
    int lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

int64_t read_big_endian_signed(std::string_view raw) {
  uint64_t v = 0;
  for (unsigned char c : raw) v = (v << 8) | c;
  unsigned bits = static_cast<unsigned>(raw.size() * 8);
  if (bits < 64 && (v >> (bits - 1)) & 1) v |= ~uint64_t{0} << bits;  // sign-extend
  return static_cast<int64_t>(v);
}

}  // namespace

std::optional<KeyDatum> parse_key_text(KeyType type, std::string_view text) {
  KeyDatum datum;
  datum.type = type;
  switch (type) {
    case KeyType::Int2:
    case KeyType::Int4:
    case KeyType::Int8: {
      auto value = parse_integer(text, range_of(type));
      if (!value) return std::nullopt;
      datum.integer = *value;
      return datum;
    }
    case KeyType::Text: datum.bytes.assign(text); return datum;
    case KeyType::Uuid: {
      auto bytes = parse_uuid(text);
      if (!bytes) return std::nullopt;
      datum.bytes = std::move(*bytes);
      return datum;
    }
  }
  return std::nullopt;
}

std::optional<KeyDatum> parse_key_binary(KeyType type, std::string_view raw) {
  KeyDatum datum;
  datum.type = type;
  switch (type) {
    case KeyType::Int2:
    case KeyType::Int4:
    case KeyType::Int8: {
      if (raw.size() != 2 && raw.size() != 4 && raw.size() != 8) return std::nullopt;
      int64_t value = read_big_endian_signed(raw);
      IntRange range = range_of(type);
      if (value < range.min || value > range.max) return std::nullopt;
      datum.integer = value;
      return datum;
    }
    case KeyType::Text: datum.bytes.assign(raw); return datum;
    case KeyType::Uuid:
      if (raw.size() != 16) return std::nullopt;
      datum.bytes.assign(raw);
      return datum;
  }
  return std::nullopt;
}

int compare_keys(const KeyDatum& lhs, const KeyDatum& rhs) {
  switch (lhs.type) {
    case KeyType::Int2:
    case KeyType::Int4:
    case KeyType::Int8: return lhs.integer < rhs.integer ? -1 : lhs.integer > rhs.integer ? 1 : 0;
    case KeyType::Text:
    case KeyType::Uuid: {
      int c = lhs.bytes.compare(rhs.bytes);  // char_traits<char>::compare is memcmp: unsigned bytes
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
  }
  return 0;
}

std::string key_to_string(const KeyDatum& datum) {
  switch (datum.type) {
    case KeyType::Int2:
    case KeyType::Int4:
    case KeyType::Int8: return std::to_string(datum.integer);
    case KeyType::Text: return datum.bytes;
    case KeyType::Uuid: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out;
      for (size_t i = 0; i < datum.bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        auto byte = static_cast<unsigned char>(datum.bytes[i]);
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 15]);
      }
      return out;
    }
  }
  return {};
}

}  // namespace pgroute::router
