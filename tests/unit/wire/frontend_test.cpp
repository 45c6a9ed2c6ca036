#include <doctest/doctest.h>

#include <string>

#include "proxy/wire/builder.hpp"
#include "proxy/wire/frontend.hpp"
#include "wire_test_util.hpp"

using namespace pgroute::wire;
using namespace pgroute::wire::test;

namespace {

// The bytes after a Bind's statement name: formats, values (nullopt = NULL), result formats.
std::string bind_tail(std::initializer_list<int16_t> formats, std::initializer_list<std::optional<std::string>> values,
                      std::initializer_list<int16_t> result_formats) {
  std::string s = be16(static_cast<uint16_t>(formats.size()));
  for (int16_t f : formats) s += be16(static_cast<uint16_t>(f));
  s += be16(static_cast<uint16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      s += be32(0xFFFFFFFFu);
    } else {
      s += be32(static_cast<uint32_t>(v->size())) + *v;
    }
  }
  s += be16(static_cast<uint16_t>(result_formats.size()));
  for (int16_t f : result_formats) s += be16(static_cast<uint16_t>(f));
  return s;
}

}  // namespace

TEST_CASE("Parse: round trip through put_parse, and truncations") {
  std::string wire;
  const std::string types = be32(23) + be32(25);
  put_parse(wire, "stmt_1", "select $1::int, $2", 2, types);
  const std::string_view body = only_body(wire, 'P');

  ParseMsg m;
  REQUIRE(parse_parse(body, m));
  CHECK(m.name == "stmt_1");
  CHECK(m.query == "select $1::int, $2");
  CHECK(m.num_params == 2);
  CHECK(m.param_types == types);
  check_prefixes_rejected(body, [](std::string_view b) {
    ParseMsg x;
    return parse_parse(b, x);
  });

  // Unnamed statement, no declared types.
  wire.clear();
  put_parse(wire, "", "begin", 0, "");
  REQUIRE(parse_parse(only_body(wire, 'P'), m));
  CHECK(m.name.empty());
  CHECK(m.num_params == 0);
  CHECK(m.param_types.empty());
}

TEST_CASE("Parse: negative count, short type list, trailing bytes") {
  ParseMsg m;
  CHECK_FALSE(parse_parse(raw("s\0q\0") + be16(0xFFFF), m));
  CHECK_FALSE(parse_parse(raw("s\0q\0") + be16(2) + be32(23), m));
  CHECK_FALSE(parse_parse(raw("s\0q\0") + be16(1) + be32(23) + "x", m));
  CHECK(parse_parse(raw("s\0q\0") + be16(1) + be32(23), m));
}

TEST_CASE("Bind: names, parameters and renaming keep the tail byte for byte") {
  const std::string tail = bind_tail({1}, {std::string("\x00\x00\x00\x2a", 4), std::nullopt, std::string()}, {0, 1});
  std::string wire;
  put_bind_renamed(wire, "portal_a", "client_stmt", tail);
  const std::string_view body = only_body(wire, 'B');

  BindMsg b;
  REQUIRE(parse_bind(body, b));
  CHECK(b.portal == "portal_a");
  CHECK(b.statement == "client_stmt");
  CHECK(b.after_statement == tail);

  BindParams params;
  REQUIRE(parse_bind_params(b.after_statement, params));
  REQUIRE(params.values.size() == 3);
  CHECK(params.values[0] == std::string_view("\x00\x00\x00\x2a", 4));
  CHECK_FALSE(params.values[1].has_value());
  REQUIRE(params.values[2].has_value());
  CHECK(params.values[2]->empty());  // empty string, not NULL
  CHECK(params.format_of(0) == 1);
  CHECK(params.format_of(2) == 1);  // one code applies to all
  CHECK(params.result_formats == std::vector<int16_t>{0, 1});

  // Rename: only the statement name changes, the rest is forwarded as it came.
  std::string renamed;
  put_bind_renamed(renamed, b.portal, "pgroute_5f3a", b.after_statement);
  BindMsg r;
  REQUIRE(parse_bind(only_body(renamed, 'B'), r));
  CHECK(r.portal == "portal_a");
  CHECK(r.statement == "pgroute_5f3a");
  CHECK(r.after_statement == tail);
  CHECK(renamed.size() == wire.size() + 1);  // "pgroute_5f3a" is one byte longer than "client_stmt"

  check_prefixes_rejected(tail, [](std::string_view t) {
    BindParams x;
    return parse_bind_params(t, x);
  });
  // Cut inside either name: no statement name terminator.
  const size_t names_end = body.size() - tail.size();
  for (size_t n = 0; n < names_end; ++n) {
    BindMsg x;
    CHECK_FALSE(parse_bind(HeapBytes(body.substr(0, n)).view(), x));
  }
}

TEST_CASE("BindParams: the 0 / 1 / n format rule") {
  BindParams p;
  REQUIRE(parse_bind_params(bind_tail({}, {std::string("a"), std::string("b")}, {}), p));
  CHECK(p.formats.empty());
  CHECK(p.format_of(0) == 0);
  CHECK(p.format_of(1) == 0);

  REQUIRE(parse_bind_params(bind_tail({0, 1, 0}, {std::string("a"), std::string("b"), std::nullopt}, {1}), p));
  CHECK(p.format_of(0) == 0);
  CHECK(p.format_of(1) == 1);
  CHECK(p.format_of(2) == 0);
  CHECK(p.result_formats == std::vector<int16_t>{1});

  // Neither 0, 1 nor the number of values.
  CHECK_FALSE(parse_bind_params(bind_tail({0, 1}, {std::string("a"), std::string("b"), std::string("c")}, {}), p));

  // No parameters at all.
  REQUIRE(parse_bind_params(bind_tail({}, {}, {}), p));
  CHECK(p.values.empty());
}

TEST_CASE("BindParams: a reused object holds only the latest Bind") {
  BindParams p;
  REQUIRE(parse_bind_params(bind_tail({1}, {std::string("a"), std::string("b")}, {1, 1}), p));
  REQUIRE(parse_bind_params(bind_tail({}, {std::nullopt}, {}), p));
  CHECK(p.formats.empty());
  REQUIRE(p.values.size() == 1);
  CHECK_FALSE(p.values[0].has_value());
  CHECK(p.result_formats.empty());
}

TEST_CASE("BindParams: hostile counts and lengths") {
  BindParams p;
  // Negative counts.
  CHECK_FALSE(parse_bind_params(be16(0xFFFF) + be16(0) + be16(0), p));
  CHECK_FALSE(parse_bind_params(be16(0) + be16(0x8000) + be16(0), p));
  CHECK_FALSE(parse_bind_params(be16(0) + be16(0) + be16(0xFFFF), p));
  // Value length -2, and a length larger than what follows.
  CHECK_FALSE(parse_bind_params(be16(0) + be16(1) + be32(0xFFFFFFFEu) + be16(0), p));
  CHECK_FALSE(parse_bind_params(be16(0) + be16(1) + be32(0x7FFFFFFFu) + "abc" + be16(0), p));
  // Counts claiming far more entries than there are bytes.
  CHECK_FALSE(parse_bind_params(be16(0x7FFF) + be16(0) + be16(0), p));
  CHECK_FALSE(parse_bind_params(be16(0) + be16(0x7FFF) + be32(0), p));
  // Trailing byte.
  CHECK_FALSE(parse_bind_params(bind_tail({}, {}, {}) + "x", p));
}

TEST_CASE("Describe and Close: both kinds, bad kind, truncations") {
  for (char kind : {'S', 'P'}) {
    std::string d, c;
    put_describe(d, kind, "s1");
    put_close(c, kind, "");
    TargetMsg t;
    REQUIRE(parse_describe_or_close(only_body(d, 'D'), t));
    CHECK(t.kind == kind);
    CHECK(t.name == "s1");
    REQUIRE(parse_describe_or_close(only_body(c, 'C'), t));
    CHECK(t.kind == kind);
    CHECK(t.name.empty());
    check_prefixes_rejected(only_body(d, 'D'), [](std::string_view b) {
      TargetMsg x;
      return parse_describe_or_close(b, x);
    });
  }
  TargetMsg t;
  CHECK_FALSE(parse_describe_or_close(raw("Xs1\0"), t));
  CHECK_FALSE(parse_describe_or_close(raw("Ss1\0extra"), t));
}

TEST_CASE("Query: round trip, missing terminator, embedded NUL") {
  std::string wire;
  put_query(wire, "select 1; select 2");
  CHECK(wire == raw("Q\0\0\0\x17select 1; select 2\0"));
  std::string_view sql;
  REQUIRE(parse_query(only_body(wire, 'Q'), sql));
  CHECK(sql == "select 1; select 2");
  check_prefixes_rejected(only_body(wire, 'Q'), [](std::string_view b) {
    std::string_view s;
    return parse_query(b, s);
  });
  CHECK_FALSE(parse_query(raw("select 1\0select 2\0"), sql));
  CHECK(parse_query(raw("\0"), sql));
  CHECK(sql.empty());
}

TEST_CASE("Execute: round trip and truncations") {
  std::string wire;
  put_execute(wire, "p1", 100);
  ExecuteMsg e;
  REQUIRE(parse_execute(only_body(wire, 'E'), e));
  CHECK(e.portal == "p1");
  CHECK(e.max_rows == 100);
  check_prefixes_rejected(only_body(wire, 'E'), [](std::string_view b) {
    ExecuteMsg x;
    return parse_execute(b, x);
  });
  CHECK_FALSE(parse_execute(raw("p1\0") + be32(0) + "x", e));
}

TEST_CASE("Password and SASL responses") {
  std::string wire;
  put_password(wire, "md5a3556571e93b0d20722ba62be61e8c2d");
  std::string_view password;
  REQUIRE(parse_password(only_body(wire, 'p'), password));
  CHECK(password == "md5a3556571e93b0d20722ba62be61e8c2d");
  check_prefixes_rejected(only_body(wire, 'p'), [](std::string_view b) {
    std::string_view s;
    return parse_password(b, s);
  });

  wire.clear();
  put_sasl_initial_response(wire, "SCRAM-SHA-256", "n,,n=,r=abc");
  SaslInitialResponse s;
  REQUIRE(parse_sasl_initial_response(only_body(wire, 'p'), s));
  CHECK(s.mechanism == "SCRAM-SHA-256");
  CHECK(s.has_data);
  CHECK(s.data == "n,,n=,r=abc");
  check_prefixes_rejected(only_body(wire, 'p'), [](std::string_view b) {
    SaslInitialResponse x;
    return parse_sasl_initial_response(b, x);
  });

  // -1: no initial response; nothing may follow.
  REQUIRE(parse_sasl_initial_response(raw("SCRAM-SHA-256\0") + be32(0xFFFFFFFFu), s));
  CHECK_FALSE(s.has_data);
  CHECK(s.data.empty());
  CHECK_FALSE(parse_sasl_initial_response(raw("SCRAM-SHA-256\0") + be32(0xFFFFFFFFu) + "x", s));
  CHECK_FALSE(parse_sasl_initial_response(raw("SCRAM-SHA-256\0") + be32(0xFFFFFFFEu), s));
  CHECK_FALSE(parse_sasl_initial_response(raw("SCRAM-SHA-256\0") + be32(5) + "abcdef", s));

  wire.clear();
  put_sasl_response(wire, "c=biws,r=abc,p=xyz");
  CHECK(only_body(wire, 'p') == "c=biws,r=abc,p=xyz");
}
