// The admin console's command parser.
#include <doctest/doctest.h>

#include "proxy/admin/command.hpp"

using namespace pgroute::admin;

namespace {
std::optional<Command> parse(std::string_view text) {
  std::string error;
  return parse_command(text, error);
}
std::string error_of(std::string_view text) {
  std::string error;
  CHECK_FALSE(parse_command(text, error).has_value());
  return error;
}
}  // namespace

TEST_CASE("admin commands: keywords in any case, trailing semicolons and blanks") {
  auto c = parse("  show pools ;; ");
  REQUIRE(c);
  CHECK(c->verb == Verb::Show);
  CHECK(c->argument == "POOLS");
  for (std::string_view what : {"CLIENTS", "SERVERS", "BACKENDS", "ROUTES", "CONFIG", "STATS", "STATEMENTS"}) {
    auto s = parse("SHOW " + std::string(what));
    REQUIRE(s);
    CHECK(s->argument == what);
  }
  CHECK(parse("reload")->verb == Verb::Reload);
  CHECK(parse("SHUTDOWN;")->verb == Verb::Shutdown);
  auto p = parse("PAUSE shard_1");
  REQUIRE(p);
  CHECK(p->verb == Verb::Pause);
  CHECK(p->argument == "shard_1");  // alias names keep their case
  CHECK(parse("resume")->argument.empty());
}

TEST_CASE("admin commands: EXPLAIN ROUTE takes one quoted SQL string") {
  auto e = parse("EXPLAIN ROUTE 'SELECT * FROM t WHERE s = ''it''s'''");
  REQUIRE(e);
  CHECK(e->verb == Verb::ExplainRoute);
  CHECK(e->argument == "SELECT * FROM t WHERE s = 'it's'");
  CHECK(error_of("EXPLAIN ROUTE 'SELECT 1") == "unterminated quoted string");
  CHECK(error_of("EXPLAIN ROUTE SELECT 1").starts_with("unknown admin command"));
}

TEST_CASE("admin commands: anything else is unknown") {
  CHECK(error_of("") == "empty command");
  CHECK(error_of(" ; ") == "empty command");
  CHECK(error_of("SHOW TABLES") == "unknown admin command \"SHOW TABLES\"");
  CHECK(error_of("SELECT 1") == "unknown admin command \"SELECT 1\"");
  CHECK(error_of("PAUSE a b").starts_with("unknown admin command"));
  CHECK(error_of("PAUSE 'a'").starts_with("unknown admin command"));
  CHECK(error_of("RELOAD now").starts_with("unknown admin command"));
  CHECK(error_of("SHOW").starts_with("unknown admin command"));
}
