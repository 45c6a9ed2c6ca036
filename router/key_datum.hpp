#pragma once
// A shard key value decoded from SQL text or a Bind parameter, in the form hashing and range/list
// comparison need. Decoding follows PostgreSQL 15's input rules, so a value the server would reject
// is rejected here too (and a value it accepts maps to the same datum).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "router/key_type.hpp"

namespace pgroute::router {

struct KeyDatum {
  KeyType type = KeyType::Int8;
  int64_t integer = 0;  // Int2 / Int4 / Int8
  std::string bytes;    // Text: the UTF-8 bytes; Uuid: the 16 raw bytes
};

// Text format (SQL literal contents or Bind text format). Integers: optional surrounding whitespace,
// optional sign, decimal digits, range-checked for the type. Uuid: 32 hex digits, optionally in braces,
// a hyphen allowed after any group of four digits. Text: taken as is.
std::optional<KeyDatum> parse_key_text(KeyType type, std::string_view text);

// Binary Bind format (network byte order). Integer keys accept 2, 4 or 8 bytes: the client may have
// declared the parameter as another integer type, and the server casts it to the column type, so we
// sign-extend and range-check for the column type instead. Uuid needs 16 bytes; text is taken as is.
std::optional<KeyDatum> parse_key_binary(KeyType type, std::string_view raw);

// Orders two datums of the same type the way range bounds compare: integers numerically, text and uuid
// byte-wise (text: like the "C" collation).
int compare_keys(const KeyDatum& lhs, const KeyDatum& rhs);

// The text form PostgreSQL would print (integers in decimal, uuids lower-case with hyphens).
std::string key_to_string(const KeyDatum& datum);

}  // namespace pgroute::router
