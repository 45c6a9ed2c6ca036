// set_config(name, value, is_local) as a statement calls it, read from the parse tree: the session-state
// detection (relation_collector.cpp) and the settings the proxy follows (statement_classifier.cpp) read
// it alike.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <pg_query/pg_query.pb-c.h>

namespace pgroute::router {

struct SetConfigCall {
  std::optional<std::string> name;  // lower case, when it is a constant string
  bool local_true = false;          // is_local is the constant true: the setting ends with the transaction
  bool local_false = false;         // is_local is the constant false: it lasts for the session
};

// Nothing when `f` does not call set_config (schema-qualified or not).
std::optional<SetConfigCall> read_set_config(const PgQuery__FuncCall* f);

// "role" or "session_authorization", in any case: the settings that change who the session runs as.
bool is_role_setting(std::string_view name);

}  // namespace pgroute::router
