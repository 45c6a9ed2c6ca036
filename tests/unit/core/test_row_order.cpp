// RowOrder: DataRows compared as PostgreSQL's ORDER BY would, for the types the proxy may merge.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "proxy/session/row_order.hpp"
#include "proxy/wire/builder.hpp"

using namespace pgroute;
using router::SortKey;

namespace {

// RowDescription body: columns (name, type oid, format).
std::string description(const std::vector<std::tuple<std::string, uint32_t, int16_t>>& columns) {
  std::string body;
  auto u16 = [&](uint16_t v) { body.push_back(char(v >> 8)), body.push_back(char(v & 0xff)); };
  auto u32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) body.push_back(char((v >> s) & 0xff));
  };
  u16(static_cast<uint16_t>(columns.size()));
  for (const auto& [name, oid, format] : columns) {
    body += name;
    body.push_back('\0');
    u32(0), u16(0), u32(oid), u16(0xffff), u32(0xffffffff), u16(static_cast<uint16_t>(format));
  }
  return body;
}

// DataRow body; nullopt = NULL.
std::string row(const std::vector<std::optional<std::string>>& values) {
  std::string body;
  body.push_back(char(values.size() >> 8)), body.push_back(char(values.size() & 0xff));
  for (const auto& v : values) {
    uint32_t len = v ? static_cast<uint32_t>(v->size()) : 0xffffffffu;
    for (int s = 24; s >= 0; s -= 8) body.push_back(char((len >> s) & 0xff));
    if (v) body += *v;
  }
  return body;
}

SortKey by(std::string column, bool desc = false) {
  SortKey k;
  k.column = std::move(column);
  k.descending = desc;
  k.nulls_first = desc;
  return k;
}

}  // namespace

TEST_CASE("integers, NULLs last ascending and first descending, and ties keep their order") {
  RowOrder o;
  std::string d = description({{"id", 20, 0}, {"name", 25, 0}});
  REQUIRE(o.prepare(d, {by("id")}, true).empty());
  CHECK(o.before(row({"9"}), row({"10"})));  // numerically, not as text
  CHECK(o.before(row({"-5"}), row({"3"})));
  CHECK(o.before(row({"3"}), row({std::nullopt})));
  CHECK_FALSE(o.before(row({"3"}), row({"3"})));
  REQUIRE(o.prepare(d, {by("id", true)}, true).empty());
  CHECK(o.before(row({std::nullopt}), row({"3"})));
  CHECK(o.before(row({"10"}), row({"9"})));
  SortKey first = by("id");
  first.nulls_first = true;
  REQUIRE(o.prepare(d, {first}, true).empty());
  CHECK(o.before(row({std::nullopt}), row({"-100"})));
}

TEST_CASE("several keys, positions, binary integers and floats") {
  RowOrder o;
  std::string d = description({{"a", 23, 1}, {"b", 701, 0}});
  SortKey second;
  second.position = 2;
  second.descending = true;
  REQUIRE(o.prepare(d, {by("a"), second}, true).empty());
  auto be32 = [](int32_t v) {
    std::string s;
    for (int sh = 24; sh >= 0; sh -= 8) s.push_back(char((static_cast<uint32_t>(v) >> sh) & 0xff));
    return s;
  };
  CHECK(o.before(row({be32(-1), "1"}), row({be32(1), "1"})));  // signed
  CHECK(o.before(row({be32(2), "2.5"}), row({be32(2), "1e-3"})));
  CHECK(o.before(row({be32(2), "NaN"}), row({be32(2), "Infinity"})));  // NaN above all, descending first
  // oid is unsigned: in binary, 3000000000 sorts after 5.
  RowOrder oids;
  REQUIRE(oids.prepare(description({{"o", 26, 1}}), {by("o")}, true).empty());
  CHECK(oids.before(row({be32(5)}), row({be32(static_cast<int32_t>(3000000000u))})));
}

TEST_CASE("numeric text compares by value; text needs COLLATE C; unknown columns and types are refused") {
  CHECK(compare_numeric_text("10.5", "9.99") == 1);
  CHECK(compare_numeric_text("-10.5", "-9.99") == -1);
  CHECK(compare_numeric_text("1.50", "1.5") == 0);
  CHECK(compare_numeric_text("-0.0", "0") == 0);
  CHECK(compare_numeric_text("0.001", "0.01") == -1);
  CHECK(compare_numeric_text("NaN", "Infinity") == 1);
  CHECK(compare_numeric_text("-Infinity", "-99999") == -1);

  RowOrder o;
  std::string d = description({{"name", 25, 0}, {"at", 1114, 0}, {"j", 3802, 0}});
  CHECK(o.prepare(d, {by("name")}, true).find("COLLATE \"C\"") != std::string::npos);
  SortKey c = by("name");
  c.c_collation = true;
  REQUIRE(o.prepare(d, {c}, true).empty());
  CHECK(o.before(row({"B"}), row({"a"})));  // bytewise, as COLLATE "C"
  CHECK(o.prepare(d, {by("at")}, true).empty());
  CHECK(o.prepare(d, {by("at")}, false).find("DateStyle") != std::string::npos);
  CHECK(o.prepare(d, {by("j")}, true).find("type") != std::string::npos);
  CHECK(o.prepare(d, {by("missing")}, true).find("not a column of the result") != std::string::npos);
  SortKey far;
  far.position = 4;
  CHECK(o.prepare(d, {far}, true).find("position 4") != std::string::npos);
}
