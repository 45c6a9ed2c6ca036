// Framing of typed messages: everything after the startup phase, in both directions.
//
// A message is `type:u8, length:i32 (counts itself, not the type), body`. next_frame() looks at the
// front of a read buffer and says whether a whole message is there, without copying: the Frame views
// into the caller's buffer. It never allocates and never waits for a body whose announced length is
// already over the limit, so a hostile length cannot make the caller buffer gigabytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgroute::wire {

enum class Decode { NeedMore, Ready, Invalid };

// Size of `type + length`, the smallest possible message.
constexpr size_t kFrameHeaderSize = 5;

struct Frame {
  char type = 0;
  std::string_view body;  // after type and length
  size_t wire_size() const { return kFrameHeaderSize + body.size(); }
  // The whole message as it came (type, length, body), for forwarding without re-encoding. Only for a
  // Frame that next_frame() cut from a buffer, whose header precedes the body.
  std::string_view bytes() const { return {body.data() - kFrameHeaderSize, wire_size()}; }
};

// Decodes one message from the front of `in`.
//   Ready:    `out` views into `in`; consumed = out.wire_size().
//   NeedMore: consumed = total bytes the message needs once the 5-byte header is complete (so the
//             caller can size its read), else 5.
//   Invalid:  length < 4, or length - 4 > max_body; decided from the header alone. consumed = 0 and
//             `error` (if non-null) gets a sentence for the log / ErrorResponse.
Decode next_frame(std::string_view in, uint32_t max_body, Frame& out, size_t& consumed, std::string* error = nullptr);
// Whether the message at the front of `in` announces a body longer than `max_body` (one of the two
// causes of Invalid; the other, a length under 4, is malformed rather than too large).
bool frame_too_large(std::string_view in, uint32_t max_body);

// Calls fn(frame) for each whole message at the front of `in`, in order, until fn returns false or no
// whole message is left. For buffers the proxy filled itself (held messages), already validated.
template <typename Fn>
void for_each_frame(std::string_view in, uint32_t max_body, Fn&& fn) {
  while (!in.empty()) {
    Frame f;
    size_t need = 0;
    if (next_frame(in, max_body, f, need) != Decode::Ready) return;
    in.remove_prefix(f.wire_size());
    if (!fn(f)) return;
  }
}

}  // namespace pgroute::wire
