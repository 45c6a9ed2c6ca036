// The startup phase as a client sends it: SSLRequest / GSSENCRequest, then a StartupMessage or a
// CancelRequest, decoded packet after packet as the session's read_client_startup() does.
// Checked on every packet: a decision never needs more bytes than the packet (the packet alone decodes
// the same; one byte less is NeedMore), and a 3.0 StartupMessage re-encodes to the bytes accepted.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/startup.hpp"

using namespace pgroute::wire;

namespace {
constexpr uint32_t kMaxStartupPacket = 10000;  // proxy/session/client_startup.cpp
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = pgroute::fuzz::bytes(data, size);
  // PostgreSQL answers at most one SSLRequest and one GSSENCRequest before the StartupMessage.
  for (int packet = 0; packet < 3; ++packet) {
    StartupPacket pkt;
    size_t consumed = 0;
    std::string error;
    switch (decode_startup(in, kMaxStartupPacket, pkt, consumed, &error)) {
      case Decode::Invalid: FUZZ_CHECK(consumed == 0 && !error.empty()); return 0;
      case Decode::NeedMore: FUZZ_CHECK(consumed > in.size() && consumed <= kMaxStartupPacket); return 0;
      case Decode::Ready: break;
    }
    FUZZ_CHECK(consumed >= kStartupHeaderSize && consumed <= in.size() && consumed <= kMaxStartupPacket);
    const std::string_view packet_bytes = in.substr(0, consumed);

    StartupPacket alone;
    size_t alone_consumed = 0;
    FUZZ_CHECK(decode_startup(packet_bytes, kMaxStartupPacket, alone, alone_consumed) == Decode::Ready);
    FUZZ_CHECK(alone_consumed == consumed && alone.kind == pkt.kind && alone.params == pkt.params);
    size_t short_need = 0;
    FUZZ_CHECK(decode_startup(packet_bytes.substr(0, consumed - 1), kMaxStartupPacket, alone, short_need) ==
               Decode::NeedMore);

    if (pkt.kind == StartupKind::Startup) {
      (void)pkt.param("user");
      (void)pkt.param("database");
      if (pkt.protocol == kProtocol30) {
        std::string again;
        put_startup(again, pkt.params);
        FUZZ_CHECK(again == packet_bytes);
      }
      return 0;
    }
    if (pkt.kind == StartupKind::Cancel) return 0;
    in.remove_prefix(consumed);  // SSLRequest / GSSENCRequest: answered 'N', the next packet follows
  }
  return 0;
}
