// SQLSTATE codes the proxy puts in its own ErrorResponses or looks for in a server's (PostgreSQL "Appendix A.
// Error Codes").
#pragma once

#include <string_view>

namespace pgroute::wire::sqlstate {

// Class 08: connection exception
constexpr std::string_view connection_exception = "08000";
constexpr std::string_view cannot_connect = "08001";  // sqlclient_unable_to_establish_sqlconnection
constexpr std::string_view connection_failure = "08006";
constexpr std::string_view protocol_violation = "08P01";
// Class 0A: feature not supported
constexpr std::string_view feature_not_supported = "0A000";
// Class 26 / 28: statement names and authorization
constexpr std::string_view invalid_sql_statement_name = "26000";
constexpr std::string_view invalid_authorization = "28000";  // invalid_authorization_specification
constexpr std::string_view invalid_password = "28P01";
// Class 3D: invalid catalog name (unknown database)
constexpr std::string_view invalid_catalog_name = "3D000";
// Class 22: data exception
constexpr std::string_view invalid_text_representation = "22P02";
// Class 42: syntax error or access rule violation
constexpr std::string_view syntax_error = "42601";
constexpr std::string_view datatype_mismatch = "42804";
constexpr std::string_view undefined_column = "42703";
constexpr std::string_view undefined_table = "42P01";
constexpr std::string_view insufficient_privilege = "42501";
constexpr std::string_view undefined_object = "42704";
constexpr std::string_view duplicate_prepared_statement = "42P05";
// Class 53 / 54: resources and limits
constexpr std::string_view too_many_connections = "53300";
constexpr std::string_view configuration_limit_exceeded = "53400";
constexpr std::string_view program_limit_exceeded = "54000";
// Class 57: operator intervention
constexpr std::string_view query_canceled = "57014";
constexpr std::string_view admin_shutdown = "57P01";
constexpr std::string_view crash_shutdown = "57P02";  // only ever read from a server, never sent
constexpr std::string_view cannot_connect_now = "57P03";
// Class 25: invalid transaction state
constexpr std::string_view active_sql_transaction = "25001";
constexpr std::string_view in_failed_sql_transaction = "25P02";
constexpr std::string_view no_active_sql_transaction = "25P01";
// Class XX: internal error
constexpr std::string_view config_file_error = "F0000";
constexpr std::string_view internal_error = "XX000";

}  // namespace pgroute::wire::sqlstate
