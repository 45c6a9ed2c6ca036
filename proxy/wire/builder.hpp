// Builders: each appends one complete message to `out`, so a caller can batch several messages into
// one buffer and one write.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgroute::wire {

// Writes the type byte and a placeholder length; finish() patches the length once the body is
// complete. Every writer must be finished (checked by an assert in debug builds), and nothing else may
// be appended to `out` between construction and finish().
class MessageWriter {
 public:
  MessageWriter(std::string& out, char type);
  ~MessageWriter();
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  MessageWriter& u8(uint8_t v);
  MessageWriter& i16(int16_t v);
  MessageWriter& i32(int32_t v);
  MessageWriter& cstring(std::string_view s);  // appends s (cut at its first NUL, if any) and a NUL
  MessageWriter& bytes(std::string_view s);    // appends s as is
  void finish();

 private:
  std::string& out_;
  size_t length_pos_;
  bool finished_ = false;
};

void put_message(std::string& out, char type, std::string_view body);

// What an ErrorResponse / NoticeResponse says. `severity` goes into both S and V, so it must be one of
// the non-localized words: ERROR, FATAL, PANIC, WARNING, NOTICE, DEBUG, INFO, LOG.
struct ErrorInfo {
  std::string_view severity = "ERROR", sqlstate, message, detail = {}, hint = {};
};
void put_error(std::string& out, const ErrorInfo& e);   // 'E' with fields S, V, C, M, [D], [H]
void put_notice(std::string& out, const ErrorInfo& e);  // 'N', same fields
// A server's ErrorResponse (its body) again, every field kept, with `prefix` put before its message (M):
// how the proxy says which server an error came from. false if the body is not a field list.
bool put_error_with_prefix(std::string& out, std::string_view body, std::string_view prefix);

enum AuthCode : int32_t {
  kAuthOk = 0,
  kAuthCleartext = 3,
  kAuthMd5 = 5,
  kAuthSasl = 10,
  kAuthSaslContinue = 11,
  kAuthSaslFinal = 12
};
void put_auth(std::string& out, int32_t code, std::string_view data = {});  // 'R'
void put_auth_sasl(std::string& out, std::initializer_list<std::string_view> mechanisms);
void put_parameter_status(std::string& out, std::string_view name, std::string_view value);
void put_backend_key_data(std::string& out, int32_t pid, int32_t secret);
void put_ready_for_query(std::string& out, char status);
// A result set of text columns (type text, format text), as the admin console answers: RowDescription,
// DataRow per row (nullopt = NULL), CommandComplete with `tag` ("SHOW", "SELECT 3", ...).
void put_row_description_text(std::string& out, const std::vector<std::string_view>& columns);
void put_data_row(std::string& out, const std::vector<std::string>& values);
void put_command_complete(std::string& out, std::string_view tag);
void put_parse_complete(std::string& out);
void put_bind_complete(std::string& out);
void put_close_complete(std::string& out);
// 'v'. The version field carries major 3 with `newest_minor` (3 << 16 | newest_minor): that is what
// PostgreSQL servers send and what libpq checks, despite older docs calling it "minor version".
void put_negotiate_protocol_version(std::string& out, int32_t newest_minor,
                                    const std::vector<std::string>& unsupported_options);

// Frontend messages the proxy itself sends to servers.
void put_startup(std::string& out, const std::vector<std::pair<std::string, std::string>>& params);  // 3.0
void put_cancel_request(std::string& out, int32_t pid, int32_t secret);
void put_ssl_request(std::string& out);
void put_password(std::string& out, std::string_view password);  // 'p', NUL-terminated
// 'p' with the mechanism name and the length-prefixed client-first message.
void put_sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data);
void put_sasl_response(std::string& out, std::string_view data);  // 'p', raw
void put_query(std::string& out, std::string_view sql);
// `raw_param_types` is 4 * num_params bytes, as ParseMsg::param_types holds them.
void put_parse(std::string& out, std::string_view name, std::string_view query, int16_t num_params,
               std::string_view raw_param_types);
// A Bind whose names are replaced; `after_statement` is BindMsg::after_statement, forwarded untouched.
void put_bind_renamed(std::string& out, std::string_view portal, std::string_view statement,
                      std::string_view after_statement);
void put_describe(std::string& out, char kind, std::string_view name);  // kind 'S' or 'P'
void put_close(std::string& out, char kind, std::string_view name);
void put_execute(std::string& out, std::string_view portal, int32_t max_rows);
void put_sync(std::string& out);
void put_flush(std::string& out);
void put_terminate(std::string& out);

}  // namespace pgroute::wire
