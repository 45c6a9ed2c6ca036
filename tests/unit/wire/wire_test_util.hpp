// Helpers shared by the wire codec tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/wire/bytes.hpp"
#include "proxy/wire/frame.hpp"

namespace pgroute::wire::test {

// Bytes from a literal that contains NULs (std::string's const char* constructor stops at the first).
template <size_t N>
std::string raw(const char (&s)[N]) {
  return std::string(s, N - 1);
}

inline std::string be32(uint32_t v) {
  std::string s;
  put_u32(s, v);
  return s;
}

inline std::string be16(uint16_t v) {
  std::string s;
  put_u16(s, v);
  return s;
}

// A copy of some bytes in a heap block of exactly their size: unlike a short std::string (whose small
// buffer has spare room), any read one byte past the end is caught by ASan.
class HeapBytes {
 public:
  explicit HeapBytes(std::string_view s) : data_(new char[s.size()]), size_(s.size()) {
    if (size_ != 0) std::memcpy(data_.get(), s.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_;
};

// Type byte + length field announcing `length` (which counts itself), no body.
inline std::string frame_header(char type, uint32_t length) { return std::string(1, type) + be32(length); }

// The body of the single complete message in `wire`; fails the test if `wire` is not exactly one frame.
inline std::string_view only_body(std::string_view wire, char expected_type) {
  Frame f;
  size_t consumed = 0;
  REQUIRE(next_frame(wire, 1u << 20, f, consumed) == Decode::Ready);
  REQUIRE(consumed == wire.size());
  CHECK(f.type == expected_type);
  return f.body;
}

// Every strict prefix of a self-delimiting body must be rejected by its parser (and must not crash).
template <typename Parse>
void check_prefixes_rejected(std::string_view body, Parse parse) {
  for (size_t n = 0; n < body.size(); ++n) {
    const HeapBytes prefix(body.substr(0, n));
    INFO("prefix length " << n << " of " << body.size());
    CHECK_FALSE(parse(prefix.view()));
  }
}

}  // namespace pgroute::wire::test
