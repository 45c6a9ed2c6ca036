// The answers a server connection owes for what was sent on a client's behalf, matched message by
// message against what was sent: which server messages the client sees, which the proxy swallows
// (answers to messages it injected: a Parse the connection lacked, a SET of session parameters), where
// the proxy's own answers go, and when an answer is complete. Pure: no sockets, no session.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/pool/server_prepared_set.hpp"
#include "proxy/session/response_queue.hpp"

namespace pgroute {

class ServerReplies {
 public:
  // What is owed, in order. The senders push to it as they write to the server.
  ResponseQueue expect;

  // An ErrorResponse the proxy gives itself, at its place among the server's answers.
  void queue_error(std::string error_response);
  // The proxy's answers at the head of the queue (ParseComplete and CloseComplete of statements the
  // proxy handled, queued errors) go to the client now: they precede whatever the server says next.
  void emit_synthetic(std::string& to_client) {
    if (!expect.empty() && is_synthetic(expect.front().kind)) emit_synthetic_now(to_client);  // seldom
  }
  bool idle() const { return expect.empty(); }
  void clear();

  struct Outcome {
    bool expected = false;   // something was owed (else the server speaks on its own, e.g. FATAL)
    bool forward = false;    // the client sees the message (an answer to its own message)
    bool completed = false;  // it ended the answer to `head`, which has left the queue
    Pending head{};          // what the message answered (when expected)
  };
  // One server message other than ParameterStatus, NoticeResponse and NotificationResponse (those are
  // not answers). After an error in an extended-protocol unit the server skips to the next Sync, and so
  // does the queue: a Parse so lost leaves `prepared` (injected or forwarded with a proxy id), and a
  // client Parse the proxy had answered made no statement: its parse number goes to `failed_parses`.
  Outcome on_reply(char type, ServerPreparedSet& prepared, std::vector<uint64_t>& failed_parses);

 private:
  void emit_synthetic_now(std::string& to_client);
  std::vector<std::string> errors_;  // SynthError bodies, in queue order (a vector: an empty deque is ~600 B)
};

}  // namespace pgroute
