#include "proxy/wire/frontend.hpp"

#include "proxy/wire/bytes.hpp"

namespace pgroute::wire {

bool parse_parse(std::string_view body, ParseMsg& out) {
  BodyReader r(body);
  if (!r.read_cstring(out.name) || !r.read_cstring(out.query) || !r.read_i16(out.num_params)) return false;
  if (out.num_params < 0) return false;
  if (!r.read_bytes(4 * static_cast<size_t>(out.num_params), out.param_types)) return false;
  return r.at_end();
}

bool parse_bind(std::string_view body, BindMsg& out) {
  BodyReader r(body);
  if (!r.read_cstring(out.portal) || !r.read_cstring(out.statement)) return false;
  out.after_statement = r.rest();
  return true;
}

int16_t BindParams::format_of(size_t i) const {
  if (formats.empty()) return 0;
  if (formats.size() == 1) return formats[0];
  return i < formats.size() ? formats[i] : int16_t{0};
}

namespace {

bool read_format_codes(BodyReader& r, std::vector<int16_t>& codes) {
  int16_t count = 0;
  if (!r.read_i16(count) || count < 0) return false;
  // Each code takes 2 bytes: reject an impossible count before reserving memory for it.
  if (r.remaining() < 2 * static_cast<size_t>(count)) return false;
  codes.resize(static_cast<size_t>(count));
  for (auto& code : codes) r.read_i16(code);
  return true;
}

}  // namespace

bool parse_bind_params(std::string_view after_statement, BindParams& out) {
  out.formats.clear();
  out.values.clear();
  out.result_formats.clear();
  BodyReader r(after_statement);
  if (!read_format_codes(r, out.formats)) return false;

  int16_t num_values = 0;
  if (!r.read_i16(num_values) || num_values < 0) return false;
  // Each value needs at least its 4-byte length.
  if (r.remaining() < 4 * static_cast<size_t>(num_values)) return false;
  const size_t n = static_cast<size_t>(num_values);
  if (out.formats.size() > 1 && out.formats.size() != n) return false;
  out.values.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    int32_t length = 0;
    if (!r.read_i32(length)) return false;
    if (length == -1) {
      out.values.emplace_back(std::nullopt);
      continue;
    }
    std::string_view value;
    if (length < -1 || !r.read_bytes(static_cast<size_t>(length), value)) return false;
    out.values.emplace_back(value);
  }

  if (!read_format_codes(r, out.result_formats)) return false;
  return r.at_end();
}

bool parse_describe_or_close(std::string_view body, TargetMsg& out) {
  BodyReader r(body);
  uint8_t kind = 0;
  if (!r.read_u8(kind) || (kind != 'S' && kind != 'P')) return false;
  out.kind = static_cast<char>(kind);
  return r.read_cstring(out.name) && r.at_end();
}

bool parse_query(std::string_view body, std::string_view& sql) {
  BodyReader r(body);
  return r.read_cstring(sql) && r.at_end();
}

bool parse_execute(std::string_view body, ExecuteMsg& out) {
  BodyReader r(body);
  return r.read_cstring(out.portal) && r.read_i32(out.max_rows) && r.at_end();
}

bool parse_password(std::string_view body, std::string_view& password) {
  BodyReader r(body);
  return r.read_cstring(password) && r.at_end();
}

bool parse_sasl_initial_response(std::string_view body, SaslInitialResponse& out) {
  BodyReader r(body);
  int32_t length = 0;
  if (!r.read_cstring(out.mechanism) || !r.read_i32(length)) return false;
  out.has_data = length != -1;
  out.data = {};
  if (length == -1) return r.at_end();
  if (length < 0 || !r.read_bytes(static_cast<size_t>(length), out.data)) return false;
  return r.at_end();
}

}  // namespace pgroute::wire
