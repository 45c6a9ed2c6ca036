#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "wire_test_util.hpp"

using namespace pgroute::wire;
using namespace pgroute::wire::test;

namespace {

constexpr uint32_t kLimit = 64u << 20;  // 67108864

// A few real messages of different shapes, including an empty body.
std::vector<std::string> sample_messages() {
  std::vector<std::string> msgs(5);
  put_query(msgs[0], "select 1");
  put_sync(msgs[1]);
  put_error(msgs[2], {.severity = "FATAL", .sqlstate = "08P01", .message = "bad", .hint = "fix it"});
  put_parse(msgs[3], "s1", "select $1::int", 1, be32(23));
  put_ready_for_query(msgs[4], 'T');
  return msgs;
}

// Feeds `stream` in chunks ending at the given cut points, the way a socket reader would: append
// what arrived, take every complete frame, keep the rest.
std::vector<std::pair<char, std::string>> decode_in_chunks(const std::string& stream, const std::vector<size_t>& cuts) {
  std::vector<std::pair<char, std::string>> frames;
  std::string buffer;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t to : ends) {
    buffer.append(stream, from, to - from);
    from = to;
    for (;;) {
      Frame f;
      size_t consumed = 0;
      const Decode d = next_frame(buffer, kLimit, f, consumed);
      REQUIRE(d != Decode::Invalid);
      if (d == Decode::NeedMore) {
        CHECK(consumed > buffer.size());
        break;
      }
      frames.emplace_back(f.type, std::string(f.body));
      buffer.erase(0, consumed);
    }
  }
  CHECK(buffer.empty());
  return frames;
}

}  // namespace

TEST_CASE("next_frame: a message fed one byte at a time is NeedMore until its last byte") {
  for (const std::string& msg : sample_messages()) {
    INFO("message type " << msg[0] << ", size " << msg.size());
    for (size_t n = 0; n < msg.size(); ++n) {
      const HeapBytes prefix(std::string_view(msg).substr(0, n));
      Frame f;
      size_t consumed = 0;
      REQUIRE(next_frame(prefix.view(), kLimit, f, consumed) == Decode::NeedMore);
      // Before the header is complete only the header size is known; after it, the whole size.
      CHECK(consumed == (n < 5 ? size_t{5} : msg.size()));
    }
    Frame f;
    size_t consumed = 0;
    REQUIRE(next_frame(msg, kLimit, f, consumed) == Decode::Ready);
    CHECK(consumed == msg.size());
    CHECK(f.type == msg[0]);
    CHECK(f.wire_size() == msg.size());
    CHECK(f.body == std::string_view(msg).substr(5));
    CHECK(f.body.data() == msg.data() + 5);  // a view, not a copy
  }
}

TEST_CASE("next_frame: only the first message is taken from a buffer holding more") {
  std::string two;
  put_query(two, "select 1");
  const size_t first = two.size();
  put_terminate(two);
  Frame f;
  size_t consumed = 0;
  REQUIRE(next_frame(two, kLimit, f, consumed) == Decode::Ready);
  CHECK(consumed == first);
  CHECK(f.type == 'Q');
  CHECK(f.body == raw("select 1\0"));
  REQUIRE(next_frame(std::string_view(two).substr(consumed), kLimit, f, consumed) == Decode::Ready);
  CHECK(f.type == 'X');
  CHECK(f.body.empty());
}

TEST_CASE("next_frame: three messages split at every pair of read boundaries") {
  const auto msgs = sample_messages();
  const std::string stream = msgs[0] + msgs[1] + msgs[2];
  std::vector<std::pair<char, std::string>> expected;
  for (size_t i = 0; i < 3; ++i) expected.emplace_back(msgs[i][0], msgs[i].substr(5));

  for (size_t a = 0; a <= stream.size(); ++a) {
    for (size_t b = a; b <= stream.size(); ++b) {
      INFO("cuts at " << a << " and " << b);
      REQUIRE(decode_in_chunks(stream, {a, b}) == expected);
    }
  }
}

TEST_CASE("next_frame: lengths below 4 are Invalid") {
  for (uint32_t length : {0u, 1u, 3u}) {
    const std::string in = frame_header('Q', length) + "abcd";
    Frame f;
    size_t consumed = 99;
    std::string error;
    CHECK(next_frame(in, kLimit, f, consumed, &error) == Decode::Invalid);
    CHECK(consumed == 0);
    CHECK(error.find("message length " + std::to_string(length)) != std::string::npos);
  }
}

TEST_CASE("next_frame: length 4 is a complete message with an empty body") {
  const std::string in = frame_header('S', 4);
  Frame f;
  size_t consumed = 0;
  REQUIRE(next_frame(in, kLimit, f, consumed) == Decode::Ready);
  CHECK(consumed == 5);
  CHECK(f.type == 'S');
  CHECK(f.body.empty());
}

TEST_CASE("next_frame: oversized lengths are Invalid from the header alone") {
  // Only the 5 header bytes are present: the decoder must not ask to wait for a giant body.
  for (uint32_t length : {0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, kLimit + 5}) {
    INFO("length " << length);
    const HeapBytes in(frame_header('Q', length));
    Frame f;
    size_t consumed = 99;
    std::string error;
    CHECK(next_frame(in.view(), kLimit, f, consumed, &error) == Decode::Invalid);
    CHECK(consumed == 0);
    CHECK(error.find(std::to_string(length)) != std::string::npos);
  }
  std::string error;
  Frame f;
  size_t consumed = 0;
  CHECK(next_frame(frame_header('Q', 0xFFFFFFFFu), kLimit, f, consumed, &error) == Decode::Invalid);
  CHECK(error == "message length 4294967295 exceeds the limit of 67108864 bytes");
}

TEST_CASE("frame_too_large: only a length over the limit, not a length under 4 nor a short header") {
  CHECK(frame_too_large(frame_header('Q', 0xFFFFFFFFu), kLimit));
  CHECK(frame_too_large(frame_header('d', 4 + 4) + "abcd", 3));
  CHECK_FALSE(frame_too_large(frame_header('d', 4 + 3) + "abc", 3));
  for (uint32_t length : {0u, 1u, 3u}) CHECK_FALSE(frame_too_large(frame_header('Q', length), kLimit));
  CHECK_FALSE(frame_too_large(frame_header('Q', 0xFFFFFFFFu).substr(0, 4), kLimit));
}

TEST_CASE("next_frame: a body exactly at the limit is accepted and NeedMore reports its size") {
  Frame f;
  size_t consumed = 0;
  CHECK(next_frame(frame_header('d', kLimit + 4), kLimit, f, consumed) == Decode::NeedMore);
  CHECK(consumed == size_t{kLimit} + 5);

  // A tiny limit makes the boundary easy to test with real bytes.
  const std::string at_limit = frame_header('d', 4 + 3) + "abc";
  CHECK(next_frame(at_limit, 3, f, consumed) == Decode::Ready);
  CHECK(f.body == "abc");
  const std::string over_limit = frame_header('d', 4 + 4) + "abcd";
  CHECK(next_frame(over_limit, 3, f, consumed) == Decode::Invalid);
}

TEST_CASE("next_frame: the error pointer is optional") {
  Frame f;
  size_t consumed = 0;
  CHECK(next_frame(frame_header('Q', 2), kLimit, f, consumed) == Decode::Invalid);
}
