// The admin console's language: a handful of commands, parsed without a SQL grammar.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pgroute::admin {

enum class Verb { Show, ExplainRoute, Reload, Pause, Resume, Shutdown };

struct Command {
  Verb verb;
  std::string argument;  // SHOW: the upper-cased subject; EXPLAIN ROUTE: the SQL; PAUSE/RESUME: alias or ""
};

// For the error of an unknown command.
inline constexpr std::string_view kCommandList =
    "SHOW POOLS|CLIENTS|SERVERS|BACKENDS|ROUTES|REPLICAS|CONFIG|STATS|STATEMENTS, EXPLAIN ROUTE 'SQL', RELOAD, "
    "PAUSE [alias], RESUME [alias], SHUTDOWN";

// nullopt with `error` set when the text is not a command (the caller answers 42601).
std::optional<Command> parse_command(std::string_view text, std::string& error);

}  // namespace pgroute::admin
