#include <doctest/doctest.h>

#include <string>

#include "proxy/wire/builder.hpp"
#include "proxy/wire/bytes.hpp"
#include "proxy/wire/frame.hpp"
#include "wire_test_util.hpp"

using namespace pgroute::wire;
using namespace pgroute::wire::test;

TEST_CASE("big-endian helpers") {
  std::string s;
  put_u32(s, 0x01020304u);
  put_u16(s, 0xA0B0);
  CHECK(s == "\x01\x02\x03\x04\xA0\xB0");
  CHECK(get_u32(s.data()) == 0x01020304u);
  CHECK(get_u16(s.data() + 4) == 0xA0B0);
  // High bytes must not sign-extend through a signed char.
  CHECK(get_u32("\xFF\xFF\xFF\xFE") == 0xFFFFFFFEu);
  CHECK(get_u16("\x80\x01") == 0x8001);
}

TEST_CASE("BodyReader: every read is bounds-checked and a failed read consumes nothing") {
  const std::string body = raw("\x07\xFF\xFE\x80\x00\x00\x01name\0tail");
  BodyReader r(body);
  uint8_t u8 = 0;
  int16_t i16 = 0;
  int32_t i32 = 0;
  std::string_view s;
  REQUIRE(r.read_u8(u8));
  CHECK(u8 == 7);
  REQUIRE(r.read_i16(i16));
  CHECK(i16 == -2);
  REQUIRE(r.read_i32(i32));
  CHECK(i32 == static_cast<int32_t>(0x80000001u));
  CHECK(r.offset() == 7);
  REQUIRE(r.read_cstring(s));
  CHECK(s == "name");
  CHECK(r.rest() == "tail");
  CHECK_FALSE(r.read_cstring(s));  // no NUL left
  CHECK_FALSE(r.read_bytes(5, s));
  CHECK(r.remaining() == 4);  // nothing consumed by the failed reads
  REQUIRE(r.read_bytes(4, s));
  CHECK(s == "tail");
  CHECK(r.at_end());
  CHECK_FALSE(r.read_u8(u8));
  CHECK_FALSE(r.read_i16(i16));
  REQUIRE(r.read_bytes(0, s));
  CHECK(s.empty());
}

TEST_CASE("MessageWriter: the length counts itself and the body, not the type") {
  std::string out = "prefix";
  MessageWriter w(out, 'X');
  w.u8(1).i16(-1).i32(258).cstring("ab").bytes(raw("\0z"));
  w.finish();
  CHECK(out == raw("prefix"
                   "X"
                   "\0\0\0\x10"
                   "\x01"
                   "\xFF\xFF"
                   "\0\0\x01\x02"
                   "ab\0"
                   "\0z"));
  // Appending, not replacing: a second message follows the first.
  put_sync(out);
  CHECK(out.substr(out.size() - 5) == raw("S\0\0\0\x04"));
}

TEST_CASE("MessageWriter: a NUL inside a C string cuts it there instead of corrupting the message") {
  std::string out;
  MessageWriter(out, 'Q').cstring(raw("select 1\0; drop table x")).finish();
  std::string_view body = only_body(out, 'Q');
  CHECK(body == raw("select 1\0"));
}

TEST_CASE("fixed messages") {
  std::string out;
  put_parse_complete(out);
  put_bind_complete(out);
  put_close_complete(out);
  put_sync(out);
  put_flush(out);
  put_terminate(out);
  CHECK(out == raw("1\0\0\0\x04"
                   "2\0\0\0\x04"
                   "3\0\0\0\x04"
                   "S\0\0\0\x04"
                   "H\0\0\0\x04"
                   "X\0\0\0\x04"));
}

TEST_CASE("put_message wraps an arbitrary body") {
  std::string out;
  put_message(out, 'd', "copy data");
  CHECK(only_body(out, 'd') == "copy data");
  out.clear();
  put_message(out, 'c', {});
  CHECK(out == raw("c\0\0\0\x04"));
}

TEST_CASE("put_startup: protocol 3.0, pairs in order, final terminator, empty keys skipped") {
  std::string out;
  put_startup(out, {{"user", "u"}, {"", "ignored"}, {"database", "d"}});
  CHECK(out == be32(8 + 18 + 1) + be32(196608) + raw("user\0u\0database\0d\0\0"));
}
