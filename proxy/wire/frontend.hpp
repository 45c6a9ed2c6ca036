// Parsers for the bodies of client -> server messages (body = what follows type and length).
//
// Each returns false for a body that does not have exactly the documented shape (short, missing NUL,
// negative counts, trailing bytes); on false the output is unspecified. Views point into `body`.
// The proxy forwards most messages untouched; these exist for the ones it must look inside:
// routing (Query, Parse, Bind), prepared-statement renaming (Bind, Describe, Close) and auth ('p').
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pgroute::wire {

// 'P' Parse
struct ParseMsg {
  std::string_view name, query;
  int16_t num_params = 0;
  std::string_view param_types;  // raw 4 * num_params bytes (type OIDs, big-endian)
};
bool parse_parse(std::string_view body, ParseMsg& out);

// 'B' Bind, split at the statement name: renaming a statement only replaces the two names and
// forwards `after_statement` as it came.
struct BindMsg {
  std::string_view portal, statement;
  std::string_view after_statement;  // raw bytes after the statement name's NUL
};
bool parse_bind(std::string_view body, BindMsg& out);

// The rest of a Bind, decoded on demand (routing on a parameter value). Reuse the object: its vectors
// keep their capacity between calls.
struct BindParams {
  std::vector<int16_t> formats;                         // parameter format codes as sent (0, 1 or n entries)
  std::vector<std::optional<std::string_view>> values;  // nullopt = SQL NULL (length -1)
  std::vector<int16_t> result_formats;
  // Format of parameter i: no codes = all text (0), one code = all params, else one per param.
  int16_t format_of(size_t i) const;
};
// Also false if the number of format codes is not 0, 1 or the number of values, or a value length is
// below -1. Format code values are not checked (the server rejects unknown ones with its own error).
bool parse_bind_params(std::string_view after_statement, BindParams& out);

// 'D' Describe and 'C' Close
struct TargetMsg {
  char kind = 0;  // 'S' statement or 'P' portal
  std::string_view name;
};
bool parse_describe_or_close(std::string_view body, TargetMsg& out);

// 'Q' Query
bool parse_query(std::string_view body, std::string_view& sql);

// 'E' Execute
struct ExecuteMsg {
  std::string_view portal;
  int32_t max_rows = 0;  // 0 = no limit
};
bool parse_execute(std::string_view body, ExecuteMsg& out);

// 'p' in answer to AuthenticationCleartextPassword / AuthenticationMD5Password.
bool parse_password(std::string_view body, std::string_view& password);

// 'p' in answer to AuthenticationSASL. `data` is empty both for an empty and for an absent (-1)
// initial response; `has_data` tells them apart.
struct SaslInitialResponse {
  std::string_view mechanism;
  bool has_data = false;
  std::string_view data;
};
bool parse_sasl_initial_response(std::string_view body, SaslInitialResponse& out);
// A SASLResponse ('p' after AuthenticationSASLContinue) is the raw body: no parser needed.

}  // namespace pgroute::wire
