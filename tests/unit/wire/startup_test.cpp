#include <doctest/doctest.h>

#include <string>

#include "proxy/wire/builder.hpp"
#include "proxy/wire/startup.hpp"
#include "wire_test_util.hpp"

using namespace pgroute::wire;
using namespace pgroute::wire::test;

namespace {

constexpr uint32_t kMaxStartup = 10000;

// length + code + payload, with the length computed from the payload.
std::string startup_packet(int32_t code, std::string_view payload) {
  return be32(static_cast<uint32_t>(8 + payload.size())) + be32(static_cast<uint32_t>(code)) + std::string(payload);
}

Decode decode(std::string_view in, StartupPacket& out, size_t& consumed, std::string* error = nullptr) {
  const HeapBytes copy(in);  // exact-size heap copy: ASan catches any over-read
  return decode_startup(copy.view(), kMaxStartup, out, consumed, error);
}

Decode decode_error(std::string_view in, std::string& error) {
  StartupPacket p;
  size_t consumed = 99;
  const Decode d = decode(in, p, consumed, &error);
  if (d == Decode::Invalid) CHECK(consumed == 0);
  return d;
}

}  // namespace

TEST_CASE("decode_startup: a StartupMessage built by put_startup, whole and byte by byte") {
  std::string wire;
  put_startup(wire, {{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}, {"options", "-c a=b"}});

  for (size_t n = 0; n < wire.size(); ++n) {
    StartupPacket p;
    size_t consumed = 0;
    REQUIRE(decode(std::string_view(wire).substr(0, n), p, consumed) == Decode::NeedMore);
    CHECK(consumed == (n < 4 ? size_t{8} : wire.size()));
  }

  StartupPacket p;
  size_t consumed = 0;
  REQUIRE(decode(wire + "trailing bytes of the next read", p, consumed) == Decode::Ready);
  CHECK(consumed == wire.size());
  CHECK(p.kind == StartupKind::Startup);
  CHECK(p.protocol == kProtocol30);
  REQUIRE(p.params.size() == 4);
  CHECK(p.params[0] == std::pair<std::string, std::string>{"user", "alice"});
  CHECK(p.params[1] == std::pair<std::string, std::string>{"database", "shop"});
  CHECK(p.params[3] == std::pair<std::string, std::string>{"options", "-c a=b"});
  REQUIRE(p.param("database") != nullptr);
  CHECK(*p.param("database") == "shop");
  CHECK(p.param("replication") == nullptr);
}

TEST_CASE("decode_startup: empty values and a packet with no parameters") {
  StartupPacket p;
  size_t consumed = 0;
  REQUIRE(decode(startup_packet(kProtocol30, raw("user\0bob\0options\0\0\0")), p, consumed) == Decode::Ready);
  REQUIRE(p.params.size() == 2);
  REQUIRE(p.param("options") != nullptr);
  CHECK(p.param("options")->empty());

  REQUIRE(decode(startup_packet(kProtocol30, raw("\0")), p, consumed) == Decode::Ready);
  CHECK(p.params.empty());
  CHECK(consumed == 9);
}

TEST_CASE("decode_startup: a reused packet object does not keep old parameters") {
  StartupPacket p;
  size_t consumed = 0;
  REQUIRE(decode(startup_packet(kProtocol30, raw("user\0a\0\0")), p, consumed) == Decode::Ready);
  std::string cancel;
  put_cancel_request(cancel, 1, 2);
  REQUIRE(decode(cancel, p, consumed) == Decode::Ready);
  CHECK(p.kind == StartupKind::Cancel);
  CHECK(p.params.empty());
}

TEST_CASE("decode_startup: SSLRequest and GSSENCRequest") {
  StartupPacket p;
  size_t consumed = 0;
  const std::string ssl = startup_packet(kSslRequestCode, "");
  REQUIRE(ssl.size() == 8);
  // Bytes a client pipelined after SSLRequest are not part of it: the caller gets consumed = 8.
  REQUIRE(decode(ssl + raw("\x00\x00\x00\x09"), p, consumed) == Decode::Ready);
  CHECK(p.kind == StartupKind::SslRequest);
  CHECK(consumed == 8);

  REQUIRE(decode(startup_packet(kGssEncRequestCode, ""), p, consumed) == Decode::Ready);
  CHECK(p.kind == StartupKind::GssEncRequest);
  CHECK(consumed == 8);

  std::string error;
  CHECK(decode_error(startup_packet(kSslRequestCode, "xxxx"), error) == Decode::Invalid);
  CHECK(error.find("SSLRequest") != std::string::npos);
  // Decided from the 8-byte header, without waiting for the announced payload.
  CHECK(decode_error(be32(12) + be32(kGssEncRequestCode), error) == Decode::Invalid);
}

TEST_CASE("decode_startup: CancelRequest from put_cancel_request") {
  std::string wire;
  put_cancel_request(wire, 4242, -123456789);
  CHECK(wire.size() == 16);
  StartupPacket p;
  size_t consumed = 0;
  REQUIRE(decode(wire, p, consumed) == Decode::Ready);
  CHECK(p.kind == StartupKind::Cancel);
  CHECK(p.cancel_pid == 4242);
  CHECK(p.cancel_secret == -123456789);
  CHECK(consumed == 16);

  std::string error;
  CHECK(decode_error(startup_packet(kCancelRequestCode, "12345678xxxx"), error) == Decode::Invalid);
  CHECK(error.find("CancelRequest") != std::string::npos);
  CHECK(decode_error(startup_packet(kCancelRequestCode, "1234"), error) == Decode::Invalid);
}

TEST_CASE("decode_startup: protocol 2.0 is rejected with the version in the text, 3.x is accepted") {
  std::string error;
  CHECK(decode_error(startup_packet(2 << 16, raw("user\0bob\0\0")), error) == Decode::Invalid);
  CHECK(error.find("2.0") != std::string::npos);
  // Known from the header: no need to wait for the rest.
  CHECK(decode_error(be32(100) + be32(2 << 16), error) == Decode::Invalid);
  CHECK(decode_error(startup_packet(4 << 16, raw("\0")), error) == Decode::Invalid);
  CHECK(error.find("4.0") != std::string::npos);

  StartupPacket p;
  size_t consumed = 0;
  REQUIRE(decode(startup_packet((3 << 16) | 2, raw("user\0bob\0_pq_.x\0y\0\0")), p, consumed) == Decode::Ready);
  CHECK(p.protocol == ((3 << 16) | 2));
  CHECK(protocol_major(p.protocol) == 3);
  CHECK(protocol_minor(p.protocol) == 2);
  CHECK(p.params.size() == 2);
}

TEST_CASE("decode_startup: malformed parameter lists") {
  std::string error;
  // No final terminator after the last value.
  CHECK(decode_error(startup_packet(kProtocol30, raw("user\0bob\0")), error) == Decode::Invalid);
  // Key without a NUL.
  CHECK(decode_error(startup_packet(kProtocol30, "user"), error) == Decode::Invalid);
  // Value without a NUL.
  CHECK(decode_error(startup_packet(kProtocol30, raw("user\0bob")), error) == Decode::Invalid);
  // Key with no value at all.
  CHECK(decode_error(startup_packet(kProtocol30, raw("user\0bob\0database\0")), error) == Decode::Invalid);
  CHECK(error.find("database") != std::string::npos);
  // Bytes after the final terminator.
  CHECK(decode_error(startup_packet(kProtocol30, raw("user\0bob\0\0junk")), error) == Decode::Invalid);
  // Empty payload: not even the terminator.
  CHECK(decode_error(startup_packet(kProtocol30, ""), error) == Decode::Invalid);
}

TEST_CASE("decode_startup: bad lengths are Invalid from the length field alone") {
  std::string error;
  for (uint32_t length : {0u, 4u, 7u}) {
    INFO("length " << length);
    CHECK(decode_error(be32(length), error) == Decode::Invalid);
    CHECK(error.find(std::to_string(length)) != std::string::npos);
  }
  for (uint32_t length : {kMaxStartup + 1, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu}) {
    INFO("length " << length);
    CHECK(decode_error(be32(length), error) == Decode::Invalid);
    CHECK(error.find("exceeds the limit of 10000 bytes") != std::string::npos);
  }
  // Exactly at the limit is fine: wait for the rest.
  StartupPacket p;
  size_t consumed = 0;
  CHECK(decode(be32(kMaxStartup) + be32(kProtocol30), p, consumed) == Decode::NeedMore);
  CHECK(consumed == kMaxStartup);
}

TEST_CASE("decode_startup: unknown request codes") {
  std::string error;
  // 1234.5681 looks like a request code but is not one we know.
  CHECK(decode_error(startup_packet(80877105, ""), error) == Decode::Invalid);
  CHECK(decode_error(startup_packet(0, raw("\0")), error) == Decode::Invalid);
  CHECK(decode_error(startup_packet(-1, raw("\0")), error) == Decode::Invalid);
}
