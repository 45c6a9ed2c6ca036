// Big-endian integer access and a bounds-checked reader over a message body.
//
// Everything on the PostgreSQL wire is network byte order. These helpers work on `char` buffers
// (our buffers are std::string) and never assume alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pgroute::wire {

inline uint32_t get_u32(const char* p) {
  // Go through unsigned char: a plain char may be signed and would sign-extend.
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

inline uint16_t get_u16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

inline void put_u32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out.append(b, 4);
}

inline void put_u16(std::string& out, uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}

// Overwrites 4 bytes at `pos` (used to patch a length placeholder). `pos + 4 <= out.size()`.
inline void set_u32(std::string& out, size_t pos, uint32_t v) {
  out[pos] = static_cast<char>(v >> 24);
  out[pos + 1] = static_cast<char>(v >> 16);
  out[pos + 2] = static_cast<char>(v >> 8);
  out[pos + 3] = static_cast<char>(v);
}

// Reads fields from the front of a body. Every read checks the remaining size first and returns
// false without consuming anything when the body is too short, so a parser can be a chain of
// `if (!r.read_...) return false;` and cannot run past the end of untrusted input.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : body_(body) {}

  bool read_u8(uint8_t& v) {
    if (remaining() < 1) return false;
    v = static_cast<uint8_t>(body_[pos_]);
    pos_ += 1;
    return true;
  }

  bool read_i16(int16_t& v) {
    if (remaining() < 2) return false;
    v = static_cast<int16_t>(get_u16(body_.data() + pos_));
    pos_ += 2;
    return true;
  }

  bool read_i32(int32_t& v) {
    if (remaining() < 4) return false;
    v = static_cast<int32_t>(get_u32(body_.data() + pos_));
    pos_ += 4;
    return true;
  }

  // A NUL-terminated string; `s` excludes the NUL, which is consumed. False if there is no NUL.
  bool read_cstring(std::string_view& s) {
    const std::string_view r = rest();
    const size_t nul = r.find('\0');
    if (nul == std::string_view::npos) return false;
    s = r.substr(0, nul);
    pos_ += nul + 1;
    return true;
  }

  bool read_bytes(size_t n, std::string_view& s) {
    if (remaining() < n) return false;
    s = body_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  size_t remaining() const { return body_.size() - pos_; }
  size_t offset() const { return pos_; }
  std::string_view rest() const { return body_.substr(pos_); }
  bool at_end() const { return pos_ == body_.size(); }

 private:
  std::string_view body_;
  size_t pos_ = 0;
};

}  // namespace pgroute::wire
