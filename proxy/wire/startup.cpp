#include "proxy/wire/startup.hpp"

#include "proxy/wire/bytes.hpp"

namespace pgroute::wire {

const std::string* StartupPacket::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

namespace {

Decode invalid(size_t& consumed, std::string* error, std::string text) {
  consumed = 0;
  if (error) *error = std::move(text);
  return Decode::Invalid;
}

// Checks the packet length against what its code allows. Empty result = acceptable.
std::string check_length_for_code(int32_t code, uint32_t length) {
  switch (code) {
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (length != kStartupHeaderSize) {
        return std::string(code == kSslRequestCode ? "SSLRequest" : "GSSENCRequest") + " has length " +
               std::to_string(length) + ", expected 8";
      }
      return {};
    case kCancelRequestCode:
      if (length != kCancelRequestSize) {
        return "CancelRequest has length " + std::to_string(length) + ", expected 16";
      }
      return {};
    default:
      if (protocol_major(code) != 3) {
        // Codes that are neither a request nor 3.x: protocol 2.0 clients land here, and so does garbage.
        return "unsupported frontend protocol " + std::to_string(protocol_major(code)) + "." +
               std::to_string(protocol_minor(code)) + " (only protocol 3.x is supported)";
      }
      return {};
  }
}

// Payload of a StartupMessage: `key\0value\0`... then a final `\0`. Nothing may follow it.
bool parse_params(std::string_view payload, std::vector<std::pair<std::string, std::string>>& params,
                  std::string& why) {
  BodyReader r(payload);
  for (;;) {
    std::string_view key, value;
    if (!r.read_cstring(key)) {
      why = "startup packet parameters are not terminated by a zero byte";
      return false;
    }
    if (key.empty()) break;  // the final terminator
    if (!r.read_cstring(value)) {
      why = "startup packet parameter \"" + std::string(key) + "\" has no value";
      return false;
    }
    params.emplace_back(std::string(key), std::string(value));
  }
  if (!r.at_end()) {
    why = "startup packet has " + std::to_string(r.remaining()) + " bytes after the final terminator";
    return false;
  }
  return true;
}

}  // namespace

Decode decode_startup(std::string_view in, uint32_t max_len, StartupPacket& out, size_t& consumed, std::string* error) {
  if (in.size() < 4) {
    consumed = kStartupHeaderSize;
    return Decode::NeedMore;
  }
  const uint32_t length = get_u32(in.data());
  if (length < kStartupHeaderSize) {
    return invalid(consumed, error, "startup packet length " + std::to_string(length) + " is shorter than 8 bytes");
  }
  if (length > max_len) {
    return invalid(consumed, error,
                   "startup packet length " + std::to_string(length) + " exceeds the limit of " +
                       std::to_string(max_len) + " bytes");
  }
  if (in.size() < kStartupHeaderSize) {
    consumed = length;
    return Decode::NeedMore;
  }
  const auto code = static_cast<int32_t>(get_u32(in.data() + 4));
  if (std::string why = check_length_for_code(code, length); !why.empty()) {
    return invalid(consumed, error, std::move(why));
  }
  if (in.size() < length) {
    consumed = length;
    return Decode::NeedMore;
  }

  out = StartupPacket{};
  const std::string_view payload = in.substr(kStartupHeaderSize, length - kStartupHeaderSize);
  switch (code) {
    case kSslRequestCode: out.kind = StartupKind::SslRequest; break;
    case kGssEncRequestCode: out.kind = StartupKind::GssEncRequest; break;
    case kCancelRequestCode:
      out.kind = StartupKind::Cancel;
      out.cancel_pid = static_cast<int32_t>(get_u32(payload.data()));
      out.cancel_secret = static_cast<int32_t>(get_u32(payload.data() + 4));
      break;
    default: {
      out.kind = StartupKind::Startup;
      out.protocol = code;
      std::string why;
      if (!parse_params(payload, out.params, why)) {
        out.params.clear();
        return invalid(consumed, error, std::move(why));
      }
      break;
    }
  }
  consumed = length;
  return Decode::Ready;
}

}  // namespace pgroute::wire
