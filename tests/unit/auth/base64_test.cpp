#include <doctest/doctest.h>

#include <string>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/random.hpp"

using pgroute::auth::base64_decode;
using pgroute::auth::base64_encode;

TEST_CASE("base64: RFC 4648 section 10 vectors encode and decode") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [raw, text] : vectors) {
    CAPTURE(raw);
    CHECK(base64_encode(raw) == text);
    const auto decoded = base64_decode(text);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == raw);
  }
}

TEST_CASE("base64: every byte value and every tail length round-trips") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    const std::string raw = all.substr(all.size() - len);  // includes NUL, 0x80, 0xFF
    const auto decoded = base64_decode(base64_encode(raw));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == raw);
  }
  for (int round = 0; round < 50; ++round) {
    std::string raw(static_cast<size_t>(round), '\0');
    pgroute::auth::random_bytes(raw.data(), raw.size());
    CHECK(base64_decode(base64_encode(raw)) == raw);
  }
}

TEST_CASE("base64: invalid input is rejected") {
  const char* invalid[] = {
      "Zg",        // length not a multiple of 4
      "Zg=",       // length not a multiple of 4
      "Z===",      // three padding characters
      "=Zg=",      // padding at the start
      "Z=g=",      // padding in the middle
      "Zg==Zg==",  // padding before more data
      "Zm9v====",  // a whole block of padding
      "Zm9v\n",    // whitespace
      "Zm 9",      // space
      "-_8=",      // URL-safe alphabet is not ours
      "Zh==",      // non-zero unused bits: not the canonical encoding of "f"
      "Zm9=",      // non-zero unused bits: not the canonical encoding of "fo"
      "Zm9v\x80YmE",
  };
  for (const char* text : invalid) {
    CAPTURE(text);
    CHECK_FALSE(base64_decode(text).has_value());
  }
  CHECK_FALSE(base64_decode(std::string("Zm\0v", 4)).has_value());
}
