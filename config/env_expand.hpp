// ${VAR} substitution in configuration scalars, so secrets and ports can come from the environment.
//   ${NAME}            the variable's value (set but empty → empty); unset → error
//   ${NAME:-fallback}  the fallback (taken literally, up to the first '}') when unset or empty
//   $$                 a literal '$'
// Any other '$' is kept as is, so SCRAM verifiers ("SCRAM-SHA-256$4096:...$...") need no escaping.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pgroute::config {

// Injected so that tests (and reloads) do not depend on the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The real environment (getenv); nullopt when unset.
std::optional<std::string> process_env(std::string_view name);

struct Expansion {
  std::optional<std::string> value;  // set iff error is empty
  std::string error;                 // e.g. "environment variable APP_PASSWORD is not set"
};

Expansion expand_env(std::string_view text, const EnvLookup& env);

// Whether text takes part of its value from the environment (holds a ${...} reference).
bool written_with_env(std::string_view text);

}  // namespace pgroute::config
