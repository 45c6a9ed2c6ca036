#include "proxy/wire/backend.hpp"

#include "proxy/wire/builder.hpp"
#include "proxy/wire/bytes.hpp"

namespace pgroute::wire {

bool parse_error_fields(std::string_view body, ErrorFields& out) {
  out = ErrorFields{};
  std::string_view localized_severity;
  bool have_v = false;
  BodyReader r(body);
  for (;;) {
    uint8_t field = 0;
    if (!r.read_u8(field)) return false;  // the terminating zero byte is missing
    if (field == 0) break;
    std::string_view value;
    if (!r.read_cstring(value)) return false;
    switch (field) {
      case 'S': localized_severity = value; break;
      case 'V':
        out.severity = value;
        have_v = true;
        break;
      case 'C': out.sqlstate = value; break;
      case 'M': out.message = value; break;
      case 'D': out.detail = value; break;
      case 'H': out.hint = value; break;
      default: break;  // position, where, schema, ...: not needed by the proxy
    }
  }
  if (!have_v) out.severity = localized_severity;
  return r.at_end();
}

bool parse_parameter_status(std::string_view body, std::string_view& name, std::string_view& value) {
  BodyReader r(body);
  return r.read_cstring(name) && r.read_cstring(value) && r.at_end();
}

bool parse_backend_key_data(std::string_view body, int32_t& pid, int32_t& secret) {
  BodyReader r(body);
  return r.read_i32(pid) && r.read_i32(secret) && r.at_end();
}

bool parse_ready_for_query(std::string_view body, char& status) {
  if (body.size() != 1) return false;
  if (body[0] != 'I' && body[0] != 'T' && body[0] != 'E') return false;
  status = body[0];
  return true;
}

bool parse_command_tag(std::string_view body, std::string_view& tag) {
  BodyReader r(body);
  return r.read_cstring(tag) && r.at_end();
}

bool parse_data_row(std::string_view body, std::vector<std::optional<std::string_view>>& columns) {
  BodyReader r(body);
  int16_t n = 0;
  if (!r.read_i16(n) || n < 0) return false;
  columns.clear();
  for (int16_t i = 0; i < n; ++i) {
    int32_t len = 0;
    if (!r.read_i32(len) || len < -1) return false;
    if (len == -1) {
      columns.emplace_back(std::nullopt);
      continue;
    }
    std::string_view value;
    if (!r.read_bytes(static_cast<size_t>(len), value)) return false;
    columns.emplace_back(value);
  }
  return r.at_end();
}

bool parse_auth_request(std::string_view body, AuthRequest& out) {
  BodyReader r(body);
  if (!r.read_i32(out.code)) return false;
  out.data = r.rest();
  switch (out.code) {
    case kAuthOk:
    case kAuthCleartext: return out.data.empty();
    case kAuthMd5: return out.data.size() == 4;
    default: return true;
  }
}

std::vector<std::string_view> sasl_mechanisms(std::string_view auth_sasl_data) {
  std::vector<std::string_view> names;
  BodyReader r(auth_sasl_data);
  for (;;) {
    std::string_view name;
    if (!r.read_cstring(name)) return {};
    if (name.empty()) break;
    names.push_back(name);
  }
  if (!r.at_end()) return {};
  return names;
}

bool parse_negotiate_protocol_version(std::string_view body, NegotiateProtocolVersionMsg& out) {
  out.unsupported_options.clear();
  BodyReader r(body);
  int32_t count = 0;
  if (!r.read_i32(out.newest_version) || !r.read_i32(count) || count < 0) return false;
  // Each name takes at least its NUL: reject an impossible count before reserving for it.
  if (r.remaining() < static_cast<size_t>(count)) return false;
  out.unsupported_options.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    std::string_view name;
    if (!r.read_cstring(name)) return false;
    out.unsupported_options.push_back(name);
  }
  return r.at_end();
}

}  // namespace pgroute::wire
