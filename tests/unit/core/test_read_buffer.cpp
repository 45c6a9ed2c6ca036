// ReadBuffer: the client loop waits on a small read between messages and grows only when a message
// needs it; a buffer holding unconsumed bytes is never shrunk.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "proxy/io/read_buffer.hpp"

using pgroute::ReadBuffer;

namespace {
void put(ReadBuffer& b, const std::string& s) {
  auto [space, len] = b.prepare(s.size());
  REQUIRE(len >= s.size());
  std::memcpy(space, s.data(), s.size());
  b.commit(s.size());
}
}  // namespace

TEST_CASE("read buffer: an empty buffer allocates what the first prepare asks for") {
  ReadBuffer b;
  auto [space, len] = b.prepare(256);
  CHECK(space != nullptr);
  CHECK(len == 256);
}

TEST_CASE("read buffer: shrink_to frees a large empty buffer, then prepare gives the small size") {
  ReadBuffer b;
  put(b, std::string(10000, 'x'));
  b.consume(10000);
  CHECK(b.prepare(256).second >= 10000);  // kept while not shrunk
  b.shrink_to(256);
  CHECK(b.prepare(256).second == 256);
}

TEST_CASE("read buffer: shrink_to keeps a buffer that still holds bytes, and its bytes") {
  ReadBuffer b;
  put(b, std::string(5000, 'a') + "tail");
  b.consume(5000);
  b.shrink_to(256);
  CHECK(b.view() == "tail");
  put(b, "+more");
  CHECK(b.view() == "tail+more");
}

TEST_CASE("read buffer: a small buffer grows for a message longer than it, bytes intact") {
  ReadBuffer b;
  put(b, std::string(200, 'q'));
  put(b, std::string(9000, 'r'));  // prepare grows past the first 256 bytes
  REQUIRE(b.size() == 9200);
  CHECK(b.view().substr(0, 200) == std::string(200, 'q'));
  CHECK(b.view().substr(200) == std::string(9000, 'r'));
}
