// A held extended-protocol unit, without sockets: messages fed one at a time (as cut from the client's
// stream) are kept, decoded once, and given back byte for byte.
#include <doctest/doctest.h>

#include <string>

#include "proxy/session/held_unit.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/message_type.hpp"

using namespace pgroute;
namespace fe = pgroute::wire::frontend;

namespace {
// Cuts `stream` into messages and holds each, as the session does when routing waits for a Bind or Sync.
void hold_all(HeldUnit& unit, std::string_view stream) {
  wire::for_each_frame(stream, 1u << 20, [&](const wire::Frame& f) {
    unit.hold(f);
    return true;
  });
}
}  // namespace

TEST_CASE("held unit: messages come back byte for byte, each decoded once") {
  std::string stream;
  wire::put_parse(stream, "s1", "SELECT $1::int", 0, {});
  wire::put_describe(stream, fe::kTargetStatement, "s1");
  wire::put_bind_renamed(stream, "", "s1", std::string_view("\0\0\0\0\0\0", 6));
  wire::put_execute(stream, "", 0);
  HeldUnit unit;
  CHECK(unit.empty());
  hold_all(unit, stream);
  REQUIRE(unit.size() == 4);
  CHECK(unit.bytes() == stream);
  CHECK(unit.has_execute());
  CHECK(unit.binds() == 1);
  CHECK(unit.executes() == 1);
  std::string again;
  for (size_t i = 0; i < unit.size(); ++i) again.append(unit.message(i).bytes());
  CHECK(again == stream);
  CHECK(unit.message(0).type == fe::kParse);
  CHECK(unit.message(3).type == fe::kExecute);
  CHECK(unit.parsed_query("s1") == "SELECT $1::int");
  CHECK(unit.parsed_query("other").empty());
}

TEST_CASE("held unit: a Parse and a Close of a name: the last one says whether the statement exists") {
  std::string stream;
  wire::put_parse(stream, "a", "SELECT 1", 0, {});
  wire::put_parse(stream, "b", "SELECT 2", 0, {});
  wire::put_close(stream, fe::kTargetStatement, "a");
  wire::put_close(stream, fe::kTargetPortal, "b");  // a portal: says nothing of statement b
  wire::put_parse(stream, "", "SELECT 3", 0, {});   // the unnamed statement is not tracked
  HeldUnit unit;
  hold_all(unit, stream);
  REQUIRE(unit.statement_state("a") != nullptr);
  CHECK_FALSE(*unit.statement_state("a"));
  REQUIRE(unit.statement_state("b") != nullptr);
  CHECK(*unit.statement_state("b"));
  CHECK(unit.statement_state("") == nullptr);
  CHECK(unit.statement_state("c") == nullptr);
  CHECK_FALSE(unit.has_execute());
  CHECK(unit.parsed_query("") == "SELECT 3");
}

TEST_CASE("held unit: moved out, it keeps its messages and the source is empty and reusable") {
  std::string stream;
  wire::put_parse(stream, "", "SELECT 4", 0, {});  // short enough for a string's own buffer
  HeldUnit unit;
  hold_all(unit, stream);
  HeldUnit taken = std::move(unit);
  unit.clear();
  CHECK(unit.empty());
  CHECK(unit.bytes().empty());
  REQUIRE(taken.size() == 1);
  CHECK(taken.message(0).bytes() == stream);
  hold_all(unit, stream);
  CHECK(unit.size() == 1);
  taken.clear();
  CHECK(taken.empty());
  CHECK(taken.binds() == 0);
}
