// Parsers for the bodies of server -> client messages (body = what follows type and length).
//
// Same contract as frontend.hpp: false for any body that does not have exactly the documented shape;
// views point into `body`. The proxy reads these to track session state (ParameterStatus,
// ReadyForQuery), to authenticate to servers ('R', 'K') and to log server errors ('E', 'N').
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pgroute::wire {

// 'E' ErrorResponse / 'N' NoticeResponse. Fields absent from the message stay empty; other field
// types are skipped. `severity` prefers V (never localized, PostgreSQL 9.6+) over S (localized), so
// comparing it with "FATAL" works whatever lc_messages the server uses. On false (damaged message) the
// fields read before the damage are kept, which is still worth logging.
struct ErrorFields {
  std::string_view severity, sqlstate, message, detail, hint;
};
bool parse_error_fields(std::string_view body, ErrorFields& out);

// 'S' ParameterStatus
bool parse_parameter_status(std::string_view body, std::string_view& name, std::string_view& value);

// 'K' BackendKeyData with the 4-byte secret of protocol 3.0 (the proxy asks servers for 3.0).
bool parse_backend_key_data(std::string_view body, int32_t& pid, int32_t& secret);

// 'Z' ReadyForQuery: status is 'I' idle, 'T' in a transaction block, 'E' in a failed one; any other
// byte is false.
bool parse_ready_for_query(std::string_view body, char& status);

// 'C' CommandComplete
bool parse_command_tag(std::string_view body, std::string_view& tag);

// 'D' DataRow: one view per column, nullopt for SQL NULL.
bool parse_data_row(std::string_view body, std::vector<std::optional<std::string_view>>& columns);

// 'R' Authentication*: the code (see AuthCode in builder.hpp) and whatever follows it (md5 salt,
// SASL mechanism list, SASL challenge). The shape of `data` is checked only for codes whose size is
// fixed: Ok/Cleartext take none, MD5 takes a 4-byte salt.
struct AuthRequest {
  int32_t code = 0;
  std::string_view data;
};
bool parse_auth_request(std::string_view body, AuthRequest& out);

// The mechanism names in AuthenticationSASL's data (`name\0`... `\0`). Empty if the list is malformed.
std::vector<std::string_view> sasl_mechanisms(std::string_view auth_sasl_data);

// 'v' NegotiateProtocolVersion: the newest version the peer supports (major << 16 | minor) and the
// `_pq_.` options it did not recognise.
struct NegotiateProtocolVersionMsg {
  int32_t newest_version = 0;
  std::vector<std::string_view> unsupported_options;
};
bool parse_negotiate_protocol_version(std::string_view body, NegotiateProtocolVersionMsg& out);

}  // namespace pgroute::wire
