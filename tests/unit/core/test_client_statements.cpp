// The client's prepared statements and their translation for a server connection, without sockets:
// client messages are built as bytes, translated for one or two "server connections" (each a
// ServerPreparedSet with its outgoing bytes and expected answers), and the bytes read back.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/session/client_statements.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/frontend.hpp"
#include "proxy/wire/message_type.hpp"

using namespace pgroute;
namespace fe = pgroute::wire::frontend;

namespace {

// One server connection as the translation sees it.
struct FakeServer {
  ServerPreparedSet prepared;
  std::string out;
  ResponseQueue expect;
  StatementTarget target(int max_prepared = 0) { return {prepared, out, expect, max_prepared}; }

  // The messages written so far, as (type, statement or portal name) pairs; cleared.
  std::vector<std::pair<char, std::string>> take() {
    std::vector<std::pair<char, std::string>> seen;
    wire::for_each_frame(out, 1u << 20, [&](const wire::Frame& f) {
      std::string name;
      if (f.type == fe::kParse) {
        wire::ParseMsg p;
        REQUIRE(wire::parse_parse(f.body, p));
        name = p.name;
      } else if (f.type == fe::kBind) {
        wire::BindMsg b;
        REQUIRE(wire::parse_bind(f.body, b));
        name = b.statement;
      } else if (f.type == fe::kDescribe || f.type == fe::kClose) {
        wire::TargetMsg t;
        REQUIRE(wire::parse_describe_or_close(f.body, t));
        name = std::string(1, t.kind) + ":" + std::string(t.name);
      }
      seen.emplace_back(f.type, name);
      return true;
    });
    out.clear();
    return seen;
  }
  std::vector<Expect> answers() {
    std::vector<Expect> kinds;
    for (; !expect.empty(); expect.pop()) kinds.push_back(expect.front().kind);
    return kinds;
  }
};

// A client message, kept with its parsed form (the views point into `bytes`).
struct ClientMessage {
  std::string bytes;
  wire::Frame frame;
  wire::ParseMsg parse;
  wire::BindMsg bind;
  wire::TargetMsg target;

  explicit ClientMessage(std::string b) : bytes(std::move(b)) {
    size_t consumed = 0;
    REQUIRE(wire::next_frame(bytes, 1u << 20, frame, consumed) == wire::Decode::Ready);
    if (frame.type == fe::kParse) REQUIRE(wire::parse_parse(frame.body, parse));
    if (frame.type == fe::kBind) REQUIRE(wire::parse_bind(frame.body, bind));
    if (frame.type == fe::kDescribe || frame.type == fe::kClose)
      REQUIRE(wire::parse_describe_or_close(frame.body, target));
  }
  ClientMessage(const ClientMessage&) = delete;
  StatementMessage message() const { return {frame, &parse, &bind, &target}; }
};

ClientMessage parse_msg(std::string_view name, std::string_view sql) {
  std::string b;
  wire::put_parse(b, name, sql, 0, {});
  return ClientMessage(std::move(b));
}
ClientMessage bind_msg(std::string_view portal, std::string_view statement) {
  std::string b;
  // No parameters, no result formats: the bytes after the statement name as a client sends them.
  wire::put_bind_renamed(b, portal, statement, std::string_view("\0\0\0\0\0\0", 6));
  return ClientMessage(std::move(b));
}
ClientMessage describe_msg(char kind, std::string_view name) {
  std::string b;
  wire::put_describe(b, kind, name);
  return ClientMessage(std::move(b));
}
ClientMessage close_msg(char kind, std::string_view name) {
  std::string b;
  wire::put_close(b, kind, name);
  return ClientMessage(std::move(b));
}

StatementTranslation translate(const ClientMessage& m, ClientStatements& st, FakeServer& server, int max = 0) {
  StatementTarget to = server.target(max);
  return translate_statement_message(m.message(), st, to);
}

}  // namespace

TEST_CASE("client statements: a named Parse is answered by the proxy and prepared under the proxy's name") {
  ClientStatements statements;
  FakeServer a;
  auto parse = parse_msg("s1", "SELECT $1::int");
  StatementTranslation t = translate(parse, statements, a);
  CHECK(t.answer == Expect::SynthParseComplete);
  REQUIRE(t.statement != nullptr);
  CHECK(t.statement->parse_number == 1);
  const std::string server_name = server_statement_name(statement_id("SELECT $1::int", {}));
  CHECK(t.statement->server_name == server_name);
  CHECK(t.statement->query() == "SELECT $1::int");
  CHECK(a.take() == std::vector<std::pair<char, std::string>>{{fe::kParse, server_name}});
  CHECK(a.answers() == std::vector<Expect>{Expect::InjectedParse});

  // Bind and Describe on the same connection use the proxy's name and prepare nothing again.
  auto bind = bind_msg("", "s1");
  CHECK(translate(bind, statements, a).answer == Expect::Bind);
  auto describe = describe_msg(fe::kTargetStatement, "s1");
  CHECK(translate(describe, statements, a).answer == Expect::Describe);
  CHECK(a.take() ==
        std::vector<std::pair<char, std::string>>{{fe::kBind, server_name}, {fe::kDescribe, "S:" + server_name}});
  CHECK(a.answers().empty());
}

TEST_CASE("client statements: a second server connection gets the Parse before the first Bind that needs it") {
  ClientStatements statements;
  FakeServer a, b;
  auto parse = parse_msg("s1", "SELECT 1");
  translate(parse, statements, a);
  a.take();
  a.answers();
  // The next transaction runs on another pooled connection that never saw the statement.
  auto bind = bind_msg("p", "s1");
  StatementTranslation t = translate(bind, statements, b);
  CHECK(t.answer == Expect::Bind);
  const std::string server_name = statements.find("s1")->server_name;
  CHECK(b.take() == std::vector<std::pair<char, std::string>>{{fe::kParse, server_name}, {fe::kBind, server_name}});
  CHECK(b.answers() == std::vector<Expect>{Expect::InjectedParse});
  // And a Describe of the statement on a third connection, likewise.
  FakeServer c;
  auto describe = describe_msg(fe::kTargetStatement, "s1");
  translate(describe, statements, c);
  CHECK(c.take() ==
        std::vector<std::pair<char, std::string>>{{fe::kParse, server_name}, {fe::kDescribe, "S:" + server_name}});
}

TEST_CASE("client statements: unnamed statements, portals and unknown names go as they came") {
  ClientStatements statements;
  FakeServer a;
  auto parse = parse_msg("", "SELECT 2");
  auto bind = bind_msg("", "");
  auto describe = describe_msg(fe::kTargetPortal, "");
  auto close = close_msg(fe::kTargetPortal, "p");
  auto unknown = bind_msg("", "never_prepared");  // the server answers 26000, as it would directly
  CHECK(translate(parse, statements, a).answer == Expect::Parse);
  CHECK(translate(bind, statements, a).answer == Expect::Bind);
  CHECK(translate(describe, statements, a).answer == Expect::Describe);
  CHECK(translate(close, statements, a).answer == Expect::Close);
  StatementTranslation t = translate(unknown, statements, a);
  CHECK(t.answer == Expect::Bind);
  CHECK(t.statement == nullptr);
  CHECK(a.out == parse.bytes + bind.bytes + describe.bytes + close.bytes + unknown.bytes);
  CHECK(a.answers().empty());
  CHECK(statements.size() == 0);
}

TEST_CASE("client statements: a named Close is answered by the proxy and the server keeps the statement") {
  ClientStatements statements;
  FakeServer a;
  auto parse = parse_msg("s1", "SELECT 3");
  translate(parse, statements, a);
  a.take();
  a.answers();
  auto close = close_msg(fe::kTargetStatement, "s1");
  StatementTranslation t = translate(close, statements, a);
  CHECK(t.answer == Expect::SynthCloseComplete);
  CHECK(t.statement == statements.find("s1"));  // the caller forgets it when its unit is handled
  CHECK(a.out.empty());
  CHECK(a.prepared.size() == 1);
  statements.forget("s1");
  CHECK_FALSE(statements.prepared("s1"));
}

TEST_CASE("client statements: the same text shares one server statement; a name parsed again may change it") {
  ClientStatements one, other;
  FakeServer a;
  auto p1 = parse_msg("mine", "SELECT 4");
  auto p2 = parse_msg("theirs", "SELECT 4");
  translate(p1, one, a);
  a.take();
  translate(p2, other, a);  // another client, same text: already on the connection
  CHECK(a.out.empty());
  CHECK(one.find("mine")->server_name == other.find("theirs")->server_name);

  // After a Close the client may reuse the name for another text.
  one.forget("mine");
  auto p3 = parse_msg("mine", "SELECT 5");
  StatementTranslation t = translate(p3, one, a);
  CHECK(t.statement->query() == "SELECT 5");
  CHECK(t.statement->server_name != other.find("theirs")->server_name);
  CHECK(t.statement->parse_number == 2);
}

TEST_CASE("client statements: a connection over max_prepared closes its least recently prepared statement") {
  ClientStatements statements;
  FakeServer a;
  auto p1 = parse_msg("s1", "SELECT 11");
  auto p2 = parse_msg("s2", "SELECT 12");
  auto p3 = parse_msg("s3", "SELECT 13");
  translate(p1, statements, a, 2);
  translate(p2, statements, a, 2);
  a.take();
  a.answers();
  translate(p3, statements, a, 2);
  const std::string first = statements.find("s1")->server_name, third = statements.find("s3")->server_name;
  CHECK(a.take() == std::vector<std::pair<char, std::string>>{{fe::kClose, "S:" + first}, {fe::kParse, third}});
  CHECK(a.answers() == std::vector<Expect>{Expect::InjectedClose, Expect::InjectedParse});
  CHECK(a.prepared.size() == 2);
  // s1 is still the client's: its next Bind prepares it again (closing s2, now the oldest).
  auto bind = bind_msg("", "s1");
  translate(bind, statements, a, 2);
  auto seen = a.take();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::pair<char, std::string>{fe::kClose, "S:" + statements.find("s2")->server_name});
  CHECK(seen[1] == std::pair<char, std::string>{fe::kParse, first});
  CHECK(seen[2] == std::pair<char, std::string>{fe::kBind, first});
}

TEST_CASE("client statements: refused Parses and DISCARD ALL forget by parse number") {
  ClientStatements statements;
  FakeServer a;
  auto p1 = parse_msg("s1", "SELECT 21");
  auto p2 = parse_msg("s2", "SELECT 22");
  auto p3 = parse_msg("s3", "SELECT 23");
  translate(p1, statements, a);
  translate(p2, statements, a);
  translate(p3, statements, a);
  statements.forget_parses({2});  // the server refused s2's Parse
  CHECK(statements.prepared("s1"));
  CHECK_FALSE(statements.prepared("s2"));
  CHECK(statements.prepared("s3"));
  // A DISCARD ALL sent after s1 and before s3 was parsed forgets only s1.
  statements.forget_parsed_up_to(1);
  CHECK_FALSE(statements.prepared("s1"));
  CHECK(statements.prepared("s3"));
  CHECK(statements.parses() == 3);
}

TEST_CASE("client statements: a statement only analysed by routing is not prepared, and is not renamed") {
  ClientStatements statements;
  FakeServer a;
  statements.set_analysis("held", nullptr);
  CHECK(statements.find("held") != nullptr);
  CHECK_FALSE(statements.prepared("held"));
  auto bind = bind_msg("", "held");
  CHECK(translate(bind, statements, a).statement == nullptr);
  CHECK(a.out == bind.bytes);
}
