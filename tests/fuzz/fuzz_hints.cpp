// The routing-hint scanner (router/hint_scanner.cpp) on any statement text: comments found by
// PostgreSQL's own scanner, /* pgroute: shard_key=42 */ and -- pgroute: alias=shard_1.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "router/hint_scanner.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // As the analyzer passes it: the text up to an embedded NUL (where PostgreSQL stops too).
  std::string_view in = pgroute::fuzz::bytes(data, size);
  const std::string sql(in.substr(0, in.find('\0')));
  pgroute::router::Hints hints = pgroute::router::scan_hints(sql);
  // A hint's value is a part of a comment of the text: never longer than the text.
  if (hints.shard_key) FUZZ_CHECK(hints.shard_key->size() < sql.size());
  if (hints.alias) FUZZ_CHECK(hints.alias->size() < sql.size());
  return 0;
}
