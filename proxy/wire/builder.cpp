#include "proxy/wire/builder.hpp"

#include <cassert>
#include <exception>

#include "proxy/wire/bytes.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/startup.hpp"

namespace pgroute::wire {

namespace {

// A NUL inside `s` would end the string early on the other side and shift every later field, so the
// text is cut at the first NUL. Text can come from clients (names, values quoted in errors).
void append_cstring(std::string& out, std::string_view s) {
  out.append(s.substr(0, s.find('\0')));
  out.push_back('\0');
}

}  // namespace

MessageWriter::MessageWriter(std::string& out, char type) : out_(out) {
  out_.push_back(type);
  length_pos_ = out_.size();
  put_u32(out_, 0);
}

MessageWriter::~MessageWriter() {
  // Unwinding (e.g. bad_alloc mid-message) legitimately abandons a writer; anything else is a bug.
  assert((finished_ || std::uncaught_exceptions() > 0) && "MessageWriter destroyed without finish()");
}

MessageWriter& MessageWriter::u8(uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}

MessageWriter& MessageWriter::i16(int16_t v) {
  put_u16(out_, static_cast<uint16_t>(v));
  return *this;
}

MessageWriter& MessageWriter::i32(int32_t v) {
  put_u32(out_, static_cast<uint32_t>(v));
  return *this;
}

MessageWriter& MessageWriter::cstring(std::string_view s) {
  append_cstring(out_, s);
  return *this;
}

MessageWriter& MessageWriter::bytes(std::string_view s) {
  out_.append(s);
  return *this;
}

void MessageWriter::finish() {
  // The length counts itself and the body, not the type byte.
  set_u32(out_, length_pos_, static_cast<uint32_t>(out_.size() - length_pos_));
  finished_ = true;
}

void put_message(std::string& out, char type, std::string_view body) {
  out.push_back(type);
  put_u32(out, static_cast<uint32_t>(body.size() + 4));
  out.append(body);
}

namespace {

void put_error_fields(std::string& out, char type, const ErrorInfo& e) {
  MessageWriter w(out, type);
  w.u8('S').cstring(e.severity);
  w.u8('V').cstring(e.severity);
  w.u8('C').cstring(e.sqlstate);
  w.u8('M').cstring(e.message);
  if (!e.detail.empty()) w.u8('D').cstring(e.detail);
  if (!e.hint.empty()) w.u8('H').cstring(e.hint);
  w.u8(0);
  w.finish();
}

}  // namespace

void put_error(std::string& out, const ErrorInfo& e) { put_error_fields(out, backend::kErrorResponse, e); }
void put_notice(std::string& out, const ErrorInfo& e) { put_error_fields(out, backend::kNoticeResponse, e); }

bool put_error_with_prefix(std::string& out, std::string_view body, std::string_view prefix) {
  size_t start = out.size();
  MessageWriter w(out, backend::kErrorResponse);
  while (!body.empty() && body.front() != '\0') {
    char field = body.front();
    size_t end = body.find('\0', 1);
    if (end == std::string_view::npos) {
      w.finish();
      out.resize(start);
      return false;
    }
    std::string_view value = body.substr(1, end - 1);
    w.u8(static_cast<uint8_t>(field));
    if (field == 'M') w.bytes(prefix);
    w.cstring(value);
    body.remove_prefix(end + 1);
  }
  w.u8(0);
  w.finish();
  if (body.empty()) {  // the list must end with its terminator
    out.resize(start);
    return false;
  }
  return true;
}

void put_auth(std::string& out, int32_t code, std::string_view data) {
  MessageWriter(out, backend::kAuthentication).i32(code).bytes(data).finish();
}

void put_auth_sasl(std::string& out, std::initializer_list<std::string_view> mechanisms) {
  MessageWriter w(out, backend::kAuthentication);
  w.i32(kAuthSasl);
  for (std::string_view m : mechanisms) w.cstring(m);
  w.u8(0);
  w.finish();
}

void put_parameter_status(std::string& out, std::string_view name, std::string_view value) {
  MessageWriter(out, backend::kParameterStatus).cstring(name).cstring(value).finish();
}

void put_backend_key_data(std::string& out, int32_t pid, int32_t secret) {
  MessageWriter(out, backend::kBackendKeyData).i32(pid).i32(secret).finish();
}

void put_ready_for_query(std::string& out, char status) {
  MessageWriter(out, backend::kReadyForQuery).u8(static_cast<uint8_t>(status)).finish();
}

void put_row_description_text(std::string& out, const std::vector<std::string_view>& columns) {
  constexpr int32_t kTextOid = 25;
  MessageWriter w(out, backend::kRowDescription);
  w.i16(static_cast<int16_t>(columns.size()));
  for (std::string_view name : columns) w.cstring(name).i32(0).i16(0).i32(kTextOid).i16(-1).i32(-1).i16(0);
  w.finish();
}

void put_data_row(std::string& out, const std::vector<std::string>& values) {
  MessageWriter w(out, backend::kDataRow);
  w.i16(static_cast<int16_t>(values.size()));
  for (const std::string& v : values) w.i32(static_cast<int32_t>(v.size())).bytes(v);
  w.finish();
}

void put_command_complete(std::string& out, std::string_view tag) {
  MessageWriter(out, backend::kCommandComplete).cstring(tag).finish();
}

void put_parse_complete(std::string& out) { put_message(out, backend::kParseComplete, {}); }
void put_bind_complete(std::string& out) { put_message(out, backend::kBindComplete, {}); }
void put_close_complete(std::string& out) { put_message(out, backend::kCloseComplete, {}); }

void put_negotiate_protocol_version(std::string& out, int32_t newest_minor,
                                    const std::vector<std::string>& unsupported_options) {
  MessageWriter w(out, backend::kNegotiateProtocolVersion);
  w.i32((3 << 16) | (newest_minor & 0xFFFF));
  w.i32(static_cast<int32_t>(unsupported_options.size()));
  for (const auto& name : unsupported_options) w.cstring(name);
  w.finish();
}

void put_startup(std::string& out, const std::vector<std::pair<std::string, std::string>>& params) {
  // No type byte: the length is the first field and counts itself.
  const size_t start = out.size();
  put_u32(out, 0);
  put_u32(out, static_cast<uint32_t>(kProtocol30));
  for (const auto& [key, value] : params) {
    // An empty key would read as the final terminator and turn the rest into garbage: skip it.
    if (key.empty()) continue;
    append_cstring(out, key);
    append_cstring(out, value);
  }
  out.push_back('\0');
  set_u32(out, start, static_cast<uint32_t>(out.size() - start));
}

void put_cancel_request(std::string& out, int32_t pid, int32_t secret) {
  put_u32(out, static_cast<uint32_t>(kCancelRequestSize));
  put_u32(out, static_cast<uint32_t>(kCancelRequestCode));
  put_u32(out, static_cast<uint32_t>(pid));
  put_u32(out, static_cast<uint32_t>(secret));
}

void put_ssl_request(std::string& out) {
  put_u32(out, static_cast<uint32_t>(kStartupHeaderSize));
  put_u32(out, static_cast<uint32_t>(kSslRequestCode));
}

void put_password(std::string& out, std::string_view password) {
  MessageWriter(out, frontend::kPasswordMessage).cstring(password).finish();
}

void put_sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data) {
  MessageWriter(out, frontend::kPasswordMessage)
      .cstring(mechanism)
      .i32(static_cast<int32_t>(data.size()))
      .bytes(data)
      .finish();
}

void put_sasl_response(std::string& out, std::string_view data) { put_message(out, frontend::kPasswordMessage, data); }

void put_query(std::string& out, std::string_view sql) { MessageWriter(out, frontend::kQuery).cstring(sql).finish(); }

void put_parse(std::string& out, std::string_view name, std::string_view query, int16_t num_params,
               std::string_view raw_param_types) {
  assert(num_params >= 0 && raw_param_types.size() == 4 * static_cast<size_t>(num_params));
  MessageWriter(out, frontend::kParse).cstring(name).cstring(query).i16(num_params).bytes(raw_param_types).finish();
}

void put_bind_renamed(std::string& out, std::string_view portal, std::string_view statement,
                      std::string_view after_statement) {
  MessageWriter(out, frontend::kBind).cstring(portal).cstring(statement).bytes(after_statement).finish();
}

void put_describe(std::string& out, char kind, std::string_view name) {
  MessageWriter(out, frontend::kDescribe).u8(static_cast<uint8_t>(kind)).cstring(name).finish();
}

void put_close(std::string& out, char kind, std::string_view name) {
  MessageWriter(out, frontend::kClose).u8(static_cast<uint8_t>(kind)).cstring(name).finish();
}

void put_execute(std::string& out, std::string_view portal, int32_t max_rows) {
  MessageWriter(out, frontend::kExecute).cstring(portal).i32(max_rows).finish();
}

void put_sync(std::string& out) { put_message(out, frontend::kSync, {}); }
void put_flush(std::string& out) { put_message(out, frontend::kFlush, {}); }
void put_terminate(std::string& out) { put_message(out, frontend::kTerminate, {}); }

}  // namespace pgroute::wire
