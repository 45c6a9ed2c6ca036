#include <doctest/doctest.h>

#include <string>

#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/sqlstate.hpp"
#include "proxy/wire/startup.hpp"
#include "wire_test_util.hpp"

using namespace pgroute::wire;
using namespace pgroute::wire::test;

TEST_CASE("ErrorResponse and NoticeResponse: round trip through put_error / put_notice") {
  std::string wire;
  put_error(wire, {.severity = "FATAL",
                   .sqlstate = sqlstate::too_many_connections,
                   .message = "pool \"shard_1\" is full",
                   .detail = "20 of 20 connections in use",
                   .hint = "raise pool_size"});
  const std::string_view body = only_body(wire, 'E');
  ErrorFields e;
  REQUIRE(parse_error_fields(body, e));
  CHECK(e.severity == "FATAL");
  CHECK(e.sqlstate == "53300");
  CHECK(e.message == "pool \"shard_1\" is full");
  CHECK(e.detail == "20 of 20 connections in use");
  CHECK(e.hint == "raise pool_size");
  check_prefixes_rejected(body, [](std::string_view b) {
    ErrorFields x;
    return parse_error_fields(b, x);
  });

  wire.clear();
  put_notice(wire, {.severity = "NOTICE", .sqlstate = "00000", .message = "hello"});
  REQUIRE(parse_error_fields(only_body(wire, 'N'), e));
  CHECK(e.severity == "NOTICE");
  CHECK(e.message == "hello");
  CHECK(e.detail.empty());
  CHECK(e.hint.empty());
  // Optional fields are left out, not sent empty.
  CHECK(only_body(wire, 'N') == raw("SNOTICE\0VNOTICE\0C00000\0Mhello\0\0"));
}

TEST_CASE("ErrorResponse: V (never localized) wins over S, unknown fields are skipped") {
  // The bodies outlive the views parsed from them.
  const std::string localized = raw("SFEHLER\0VERROR\0C42P01\0MRelation fehlt\0P15\0Fparse.c\0\0");
  const std::string old_server = raw("SERROR\0C42P01\0Mx\0\0");
  ErrorFields e;
  REQUIRE(parse_error_fields(localized, e));
  CHECK(e.severity == "ERROR");
  CHECK(e.sqlstate == "42P01");
  CHECK(e.message == "Relation fehlt");
  // Servers before 9.6 send only S.
  REQUIRE(parse_error_fields(old_server, e));
  CHECK(e.severity == "ERROR");
  CHECK(parse_error_fields(raw("\0"), e));
  CHECK_FALSE(parse_error_fields(raw("SERROR\0\0junk"), e));
}

TEST_CASE("ParameterStatus") {
  std::string wire;
  put_parameter_status(wire, "TimeZone", "Europe/Paris");
  std::string_view name, value;
  REQUIRE(parse_parameter_status(only_body(wire, 'S'), name, value));
  CHECK(name == "TimeZone");
  CHECK(value == "Europe/Paris");
  check_prefixes_rejected(only_body(wire, 'S'), [](std::string_view b) {
    std::string_view n, v;
    return parse_parameter_status(b, n, v);
  });
}

TEST_CASE("BackendKeyData") {
  std::string wire;
  put_backend_key_data(wire, 31337, -559038737);
  CHECK(wire.size() == 13);
  int32_t pid = 0, secret = 0;
  REQUIRE(parse_backend_key_data(only_body(wire, 'K'), pid, secret));
  CHECK(pid == 31337);
  CHECK(secret == -559038737);
  check_prefixes_rejected(only_body(wire, 'K'), [](std::string_view b) {
    int32_t p = 0, s = 0;
    return parse_backend_key_data(b, p, s);
  });
  CHECK_FALSE(parse_backend_key_data(be32(1) + be32(2) + "x", pid, secret));
}

TEST_CASE("ReadyForQuery: I, T and E only") {
  for (char status : {'I', 'T', 'E'}) {
    std::string wire;
    put_ready_for_query(wire, status);
    CHECK(wire == std::string("Z\0\0\0\x05", 5) + status);
    char got = 0;
    REQUIRE(parse_ready_for_query(only_body(wire, 'Z'), got));
    CHECK(got == status);
  }
  char got = 'x';
  CHECK_FALSE(parse_ready_for_query("X", got));
  CHECK_FALSE(parse_ready_for_query("", got));
  CHECK_FALSE(parse_ready_for_query("II", got));
  CHECK(got == 'x');
}

TEST_CASE("CommandComplete") {
  std::string wire;
  MessageWriter(wire, 'C').cstring("INSERT 0 5").finish();
  std::string_view tag;
  REQUIRE(parse_command_tag(only_body(wire, 'C'), tag));
  CHECK(tag == "INSERT 0 5");
  check_prefixes_rejected(only_body(wire, 'C'), [](std::string_view b) {
    std::string_view t;
    return parse_command_tag(b, t);
  });
}

TEST_CASE("DataRow: values and NULLs; damaged rows are rejected") {
  std::string wire;
  MessageWriter(wire, 'D').i16(3).i32(2).bytes("42").i32(-1).i32(0).finish();
  std::vector<std::optional<std::string_view>> columns;
  REQUIRE(parse_data_row(only_body(wire, 'D'), columns));
  REQUIRE(columns.size() == 3);
  CHECK(columns[0] == "42");
  CHECK_FALSE(columns[1].has_value());
  CHECK(columns[2] == "");
  check_prefixes_rejected(only_body(wire, 'D'), [](std::string_view b) {
    std::vector<std::optional<std::string_view>> c;
    return parse_data_row(b, c);
  });
  std::string negative;
  MessageWriter(negative, 'D').i16(1).i32(-2).finish();
  CHECK_FALSE(parse_data_row(only_body(negative, 'D'), columns));
  std::string trailing;
  MessageWriter(trailing, 'D').i16(0).bytes("x").finish();
  CHECK_FALSE(parse_data_row(only_body(trailing, 'D'), columns));
}

TEST_CASE("Authentication requests") {
  AuthRequest a;
  std::string wire;
  put_auth(wire, kAuthOk);
  CHECK(wire == raw("R\0\0\0\x08\0\0\0\0"));
  REQUIRE(parse_auth_request(only_body(wire, 'R'), a));
  CHECK(a.code == kAuthOk);
  CHECK(a.data.empty());

  wire.clear();
  put_auth(wire, kAuthMd5, "salt");
  REQUIRE(parse_auth_request(only_body(wire, 'R'), a));
  CHECK(a.code == kAuthMd5);
  CHECK(a.data == "salt");
  CHECK_FALSE(parse_auth_request(be32(kAuthMd5) + "sal", a));
  CHECK_FALSE(parse_auth_request(be32(kAuthOk) + "x", a));
  CHECK_FALSE(parse_auth_request(be32(kAuthCleartext) + "x", a));
  CHECK_FALSE(parse_auth_request("abc", a));

  wire.clear();
  put_auth(wire, kAuthSaslContinue, "r=abc,s=c2FsdA==,i=4096");
  REQUIRE(parse_auth_request(only_body(wire, 'R'), a));
  CHECK(a.code == kAuthSaslContinue);
  CHECK(a.data == "r=abc,s=c2FsdA==,i=4096");
}

TEST_CASE("AuthenticationSASL mechanism list") {
  std::string wire;
  put_auth_sasl(wire, {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
  AuthRequest a;
  REQUIRE(parse_auth_request(only_body(wire, 'R'), a));
  CHECK(a.code == kAuthSasl);
  const auto names = sasl_mechanisms(a.data);
  REQUIRE(names.size() == 2);
  CHECK(names[0] == "SCRAM-SHA-256-PLUS");
  CHECK(names[1] == "SCRAM-SHA-256");

  CHECK(sasl_mechanisms(raw("SCRAM-SHA-256\0")).empty());        // no final terminator
  CHECK(sasl_mechanisms(raw("SCRAM-SHA-256\0\0junk")).empty());  // bytes after it
  CHECK(sasl_mechanisms("SCRAM").empty());
  CHECK(sasl_mechanisms(raw("\0")).empty());  // well-formed, no mechanisms
}

TEST_CASE("NegotiateProtocolVersion carries major 3 and the minor, then the unknown options") {
  std::string wire;
  put_negotiate_protocol_version(wire, 0, {"_pq_.compression", "_pq_.x"});
  const std::string_view body = only_body(wire, 'v');
  CHECK(body == be32(196608) + be32(2) + raw("_pq_.compression\0_pq_.x\0"));
  NegotiateProtocolVersionMsg m;
  REQUIRE(parse_negotiate_protocol_version(body, m));
  CHECK(m.newest_version == kProtocol30);
  REQUIRE(m.unsupported_options.size() == 2);
  CHECK(m.unsupported_options[1] == "_pq_.x");
  check_prefixes_rejected(body, [](std::string_view b) {
    NegotiateProtocolVersionMsg x;
    return parse_negotiate_protocol_version(b, x);
  });
  CHECK_FALSE(parse_negotiate_protocol_version(be32(196608) + be32(0xFFFFFFFFu), m));
  CHECK_FALSE(parse_negotiate_protocol_version(be32(196608) + be32(1000000), m));

  wire.clear();
  put_negotiate_protocol_version(wire, 2, {});
  REQUIRE(parse_negotiate_protocol_version(only_body(wire, 'v'), m));
  CHECK(m.newest_version == ((3 << 16) | 2));
  CHECK(m.unsupported_options.empty());
}

TEST_CASE("put_error_with_prefix keeps every field and prefixes only the message") {
  // A server error with fields the proxy does not model (position P, routine R) must survive as sent.
  const std::string server_body = raw("SERROR\0VERROR\0C22012\0Mdivision by zero\0P8\0Rint4div\0\0");
  std::string wire;
  REQUIRE(put_error_with_prefix(wire, server_body, "alias \"shard_1\": "));
  CHECK(only_body(wire, 'E') == raw("SERROR\0VERROR\0C22012\0Malias \"shard_1\": division by zero\0P8\0Rint4div\0\0"));
  ErrorFields e;
  REQUIRE(parse_error_fields(only_body(wire, 'E'), e));
  CHECK(e.sqlstate == "22012");
  // A body without its terminator, or with an unterminated field, writes nothing.
  std::string bad;
  CHECK_FALSE(put_error_with_prefix(bad, raw("SERROR\0Mhalf"), "x: "));
  CHECK_FALSE(put_error_with_prefix(bad, raw("SERROR\0"), "x: "));
  CHECK_FALSE(put_error_with_prefix(bad, "", "x: "));
  CHECK(bad.empty());
}
