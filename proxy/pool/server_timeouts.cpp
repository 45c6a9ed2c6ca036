#include "proxy/pool/server_timeouts.hpp"

#include <charconv>
#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

namespace pgroute {
namespace {

int32_t get_i32(std::string_view b, size_t at) {
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return static_cast<int32_t>((u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3));
}

// DataRow: int16 column count, then per column int32 length (-1 = NULL) and the bytes.
std::optional<std::vector<std::string_view>> columns(std::string_view body) {
  if (body.size() < 2) return std::nullopt;
  auto count = static_cast<size_t>((static_cast<unsigned char>(body[0]) << 8) | static_cast<unsigned char>(body[1]));
  std::vector<std::string_view> out;
  size_t at = 2;
  for (size_t i = 0; i < count; ++i) {
    if (body.size() - at < 4) return std::nullopt;
    int32_t len = get_i32(body, at);
    at += 4;
    if (len < 0) {
      out.emplace_back();
      continue;
    }
    if (body.size() - at < static_cast<size_t>(len)) return std::nullopt;
    out.push_back(body.substr(at, static_cast<size_t>(len)));
    at += static_cast<size_t>(len);
  }
  return out;
}

}  // namespace

bool apply_server_timeout_row(std::string_view data_row_body, ServerTimeouts& out) {
  auto cols = columns(data_row_body);
  if (!cols || cols->size() != 3) return false;
  auto [name, setting, unit] = std::tie((*cols)[0], (*cols)[1], (*cols)[2]);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(setting.data(), setting.data() + setting.size(), value);
  if (ec != std::errc() || end != setting.data() + setting.size() || value < 0) return false;
  ServerTimeouts::ms v = unit == "s"     ? ServerTimeouts::ms(value * 1000)
                         : unit == "min" ? ServerTimeouts::ms(value * 60000)
                                         : ServerTimeouts::ms(value);
  if (name == "idle_session_timeout")
    out.idle_session = v;
  else if (name == "idle_in_transaction_session_timeout")
    out.idle_in_transaction = v;
  else if (name == "tcp_keepalives_idle")
    out.tcp_keepalives_idle = v;
  else if (name == "statement_timeout")
    out.statement = v;
  else
    return false;
  return true;
}

}  // namespace pgroute
