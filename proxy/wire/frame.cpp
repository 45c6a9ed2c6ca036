#include "proxy/wire/frame.hpp"

#include "proxy/wire/bytes.hpp"

namespace pgroute::wire {

Decode next_frame(std::string_view in, uint32_t max_body, Frame& out, size_t& consumed, std::string* error) {
  if (in.size() < kFrameHeaderSize) {
    consumed = kFrameHeaderSize;
    return Decode::NeedMore;
  }
  // Read the length unsigned: a "negative" int32 is just a very large value and fails the same check.
  const uint32_t length = get_u32(in.data() + 1);
  if (length < 4) {
    consumed = 0;
    if (error) *error = "message length " + std::to_string(length) + " is shorter than the length field itself";
    return Decode::Invalid;
  }
  const uint32_t body_size = length - 4;
  if (body_size > max_body) {
    consumed = 0;
    if (error) {
      *error =
          "message length " + std::to_string(length) + " exceeds the limit of " + std::to_string(max_body) + " bytes";
    }
    return Decode::Invalid;
  }
  // size_t arithmetic: 1 + length cannot overflow here, body_size <= max_body < 2^32.
  const size_t total = kFrameHeaderSize + size_t{body_size};
  if (in.size() < total) {
    consumed = total;
    return Decode::NeedMore;
  }
  out.type = in[0];
  out.body = in.substr(kFrameHeaderSize, body_size);
  consumed = total;
  return Decode::Ready;
}

bool frame_too_large(std::string_view in, uint32_t max_body) {
  if (in.size() < kFrameHeaderSize) return false;
  const uint32_t length = get_u32(in.data() + 1);
  return length >= 4 && length - 4 > max_body;
}

}  // namespace pgroute::wire
