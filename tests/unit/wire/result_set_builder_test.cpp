// Result-set builders used by the admin console: exact bytes of RowDescription, DataRow, CommandComplete.
#include <doctest/doctest.h>

#include <string>

#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "wire_test_util.hpp"

using namespace pgroute::wire;
using namespace pgroute::wire::test;

TEST_CASE("result set builders: text columns, rows and the command tag") {
  std::string out;
  put_row_description_text(out, {"a", "bc"});
  // 'T', length, 2 fields; each: name\0, table oid 0, attnum 0, type oid 25 (text), typlen -1, typmod -1, format 0.
  const std::string field_a = raw("a\0") + be32(0) + be16(0) + be32(25) + be16(0xFFFF) + be32(0xFFFFFFFF) + be16(0);
  const std::string field_bc = raw("bc\0") + be32(0) + be16(0) + be32(25) + be16(0xFFFF) + be32(0xFFFFFFFF) + be16(0);
  const std::string body = be16(2) + field_a + field_bc;
  CHECK(out == "T" + be32(static_cast<uint32_t>(4 + body.size())) + body);

  out.clear();
  put_data_row(out, {"x", ""});
  CHECK(out == "D" + be32(4 + 2 + 4 + 1 + 4) + be16(2) + be32(1) + "x" + be32(0));

  out.clear();
  put_command_complete(out, "SHOW");
  CHECK(out == "C" + be32(4 + 5) + raw("SHOW\0"));
  std::string_view tag;
  REQUIRE(parse_command_tag(std::string_view(out).substr(5), tag));
  CHECK(tag == "SHOW");
}
