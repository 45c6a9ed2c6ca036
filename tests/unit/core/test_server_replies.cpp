// Matching a server's answers against what was sent for a client, without sockets: a queue of expected
// answers is filled as a session would fill it, server message types are fed in, and what the client
// sees (forwarded or answered by the proxy) is checked in order.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/session/server_replies.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/message_type.hpp"

using namespace pgroute;
namespace be = pgroute::wire::backend;

namespace {

// Feeds server message types and records what reaches the client: 'F'+type for a forwarded message, the
// proxy's own answers by their type byte ('1' ParseComplete, '3' CloseComplete, 'E' a queued error).
struct Conversation {
  ServerReplies replies;
  ServerPreparedSet prepared;
  std::vector<uint64_t> failed_parses;
  std::string client;  // proxy-made bytes since the last take()
  std::vector<std::string> seen;

  void proxy_answers() {
    replies.emit_synthetic(client);
    wire::for_each_frame(client, 1u << 20, [&](const wire::Frame& f) {
      seen.push_back(std::string(1, f.type));
      return true;
    });
    client.clear();
  }
  ServerReplies::Outcome server(char type) {
    proxy_answers();
    ServerReplies::Outcome o = replies.on_reply(type, prepared, failed_parses);
    if (o.forward) seen.push_back(std::string("F") + type);
    proxy_answers();
    return o;
  }
};

}  // namespace

TEST_CASE("server replies: a pipeline Parse/Bind/Describe/Execute/Sync, with the Parse answered by the proxy") {
  Conversation c;
  c.prepared.add(7);  // the statement exists on this connection already
  c.replies.expect.push({Expect::SynthParseComplete, 0, {}, 1});
  c.replies.expect.push({Expect::Bind});
  c.replies.expect.push({Expect::Describe});
  c.replies.expect.push({Expect::Execute});
  c.replies.expect.push({Expect::Sync});
  c.proxy_answers();  // nothing was sent ahead of the Parse: its answer goes at once
  CHECK(c.seen == std::vector<std::string>{"1"});
  CHECK(c.server(be::kBindComplete).completed);
  CHECK(c.server(be::kRowDescription).completed);
  CHECK_FALSE(c.server(be::kDataRow).completed);
  CHECK_FALSE(c.server(be::kDataRow).completed);
  CHECK(c.server(be::kCommandComplete).completed);
  ServerReplies::Outcome z = c.server(be::kReadyForQuery);
  CHECK(z.completed);
  CHECK(z.head.kind == Expect::Sync);
  CHECK(c.replies.idle());
  CHECK(c.seen == std::vector<std::string>{"1", "F2", "FT", "FD", "FD", "FC", "FZ"});
}

TEST_CASE("server replies: answers to injected messages are swallowed, the client's go through") {
  Conversation c;
  c.replies.expect.push({Expect::InjectedQuery});      // SET of the client's session parameters
  c.replies.expect.push({Expect::InjectedParse, 42});  // a statement the connection lacked
  c.replies.expect.push({Expect::Bind});
  c.replies.expect.push({Expect::Execute});
  c.replies.expect.push({Expect::Sync});
  c.prepared.add(42);
  CHECK_FALSE(c.server(be::kCommandComplete).forward);  // SET
  CHECK_FALSE(c.server(be::kReadyForQuery).forward);
  CHECK_FALSE(c.server(be::kParseComplete).forward);
  c.server(be::kBindComplete);
  c.server(be::kCommandComplete);
  c.server(be::kReadyForQuery);
  CHECK(c.seen == std::vector<std::string>{"F2", "FC", "FZ"});
  CHECK(c.prepared.contains(42));
}

TEST_CASE("server replies: an error inside a pipeline skips to Sync as the server does") {
  Conversation c;
  c.replies.expect.push({Expect::InjectedParse, 42});
  c.replies.expect.push({Expect::SynthParseComplete, 0, {}, 5});  // the client's Parse of that statement
  c.replies.expect.push({Expect::Bind});
  c.replies.expect.push({Expect::Execute});
  c.replies.expect.push({Expect::Parse, 43});  // a second, forwarded Parse
  c.replies.expect.push({Expect::SynthParseComplete, 0, {}, 6});
  c.replies.expect.push({Expect::Sync});
  c.replies.expect.push({Expect::Query});  // the next unit, pipelined behind
  c.prepared.add(42);
  c.prepared.add(43);
  // The injected Parse fails (e.g. a syntax error): the server reports it and ignores the rest to Sync.
  ServerReplies::Outcome e = c.server(be::kErrorResponse);
  CHECK(e.forward);  // the client sees why its statement failed
  CHECK(e.completed);
  CHECK_FALSE(c.prepared.contains(42));
  CHECK_FALSE(c.prepared.contains(43));  // skipped: never made on the server
  CHECK(c.failed_parses == std::vector<uint64_t>{5, 6});
  // No ParseComplete was made up for the skipped Parses: the next answer is the Sync's.
  ServerReplies::Outcome z = c.server(be::kReadyForQuery);
  CHECK(z.head.kind == Expect::Sync);
  CHECK(c.replies.expect.front().kind == Expect::Query);
  CHECK(c.seen == std::vector<std::string>{"FE", "FZ"});
}

TEST_CASE("server replies: an error of a simple query does not skip the next unit") {
  Conversation c;
  c.replies.expect.push({Expect::Query});
  c.replies.expect.push({Expect::Query});
  CHECK_FALSE(c.server(be::kErrorResponse).completed);
  CHECK(c.server(be::kReadyForQuery).completed);
  CHECK(c.replies.expect.size() == 1);
  CHECK(c.failed_parses.empty());
}

TEST_CASE("server replies: the proxy's own error takes its place behind the answers owed before it") {
  Conversation c;
  c.replies.expect.push({Expect::Bind});
  c.replies.expect.push({Expect::Execute});
  std::string refusal;
  wire::put_error(refusal, {.severity = "ERROR", .sqlstate = "0A000", .message = "another alias"});
  c.replies.queue_error(refusal);
  c.replies.expect.push({Expect::Sync});
  c.proxy_answers();
  CHECK(c.seen.empty());  // not before the Bind's and Execute's answers
  c.server(be::kBindComplete);
  c.server(be::kCommandComplete);
  c.server(be::kReadyForQuery);
  CHECK(c.seen == std::vector<std::string>{"F2", "FC", "E", "FZ"});
}

TEST_CASE("server replies: a message nobody asked for is not an answer") {
  Conversation c;
  ServerReplies::Outcome o = c.server(be::kErrorResponse);  // a FATAL as the server ends the session
  CHECK_FALSE(o.expected);
  CHECK(o.forward);
  c.replies.expect.push({Expect::Query});
  c.replies.queue_error("x");
  c.replies.clear();
  CHECK(c.replies.idle());
}
