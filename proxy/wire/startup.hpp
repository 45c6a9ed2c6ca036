// The untyped packets of the startup phase: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest.
//
// They have no type byte: `length:i32 (counts itself), code:i32, payload`. The code tells them apart;
// for a StartupMessage it is the protocol version (major << 16 | minor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/wire/frame.hpp"

namespace pgroute::wire {

constexpr int32_t kProtocol30 = 196608;  // 3.0
constexpr int32_t kSslRequestCode = 80877103;
constexpr int32_t kGssEncRequestCode = 80877104;
constexpr int32_t kCancelRequestCode = 80877102;

// The one-byte answers to SSLRequest (and GSSENCRequest): go on with the handshake, or go on in plaintext.
constexpr char kSslAccepted = 'S';
constexpr char kSslRefused = 'N';

// Length + code: the smallest startup-phase packet (SSLRequest, GSSENCRequest).
constexpr size_t kStartupHeaderSize = 8;
// CancelRequest with the 4-byte secret of protocol 3.0.
constexpr size_t kCancelRequestSize = 16;

constexpr int32_t protocol_major(int32_t version) { return version >> 16; }
constexpr int32_t protocol_minor(int32_t version) { return version & 0xFFFF; }

enum class StartupKind { Startup, SslRequest, GssEncRequest, Cancel };

struct StartupPacket {
  StartupKind kind = StartupKind::Startup;
  int32_t protocol = 0;  // for Startup: major << 16 | minor
  // In the order sent (user, database, options, ...). Owned copies: the packet outlives the read buffer.
  std::vector<std::pair<std::string, std::string>> params;
  int32_t cancel_pid = 0, cancel_secret = 0;

  // The value of the first parameter called `name`; nullptr if absent.
  const std::string* param(std::string_view name) const;
};

// Decodes one startup-phase packet from the front of `in`.
//   Ready:    `out` is filled; consumed = the packet's length.
//   NeedMore: consumed = the packet's length once the length field is complete, else 8 (no packet is
//             shorter, so reading that many never reads past the packet).
//   Invalid:  length < 8 or > max_len, unknown code, major version != 3, malformed parameters,
//             SSLRequest/GSSENCRequest length != 8, CancelRequest length != 16. Decided as soon as the
//             bytes that prove it have arrived (length and code are checked before the payload).
//             consumed = 0; `error` (if non-null) gets a sentence.
// Any 3.x minor version is accepted: the caller answers with NegotiateProtocolVersion.
Decode decode_startup(std::string_view in, uint32_t max_len, StartupPacket& out, size_t& consumed,
                      std::string* error = nullptr);

}  // namespace pgroute::wire
