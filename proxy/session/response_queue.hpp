// What the proxy expects back from the server, in order, for what it has sent on behalf of a client.
// Server responses are matched against the head: forwarded ones go to the client, those to messages the
// proxy injected (a Parse a pooled connection lacked, a SET of session parameters) are swallowed, and
// answers the proxy gives itself (ParseComplete for a statement already prepared) are emitted at their
// exact place in the stream.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

#include "proxy/pool/server_prepared_set.hpp"
#include "proxy/wire/message_type.hpp"

namespace pgroute {

enum class Expect : uint8_t {
  Parse,
  Bind,
  Describe,
  Execute,
  Close,
  Sync,
  Query,
  FunctionCall,  // forwarded client messages
  SynthParseComplete,
  SynthCloseComplete,
  SynthError,  // answered by the proxy itself
  InjectedParse,
  InjectedClose,
  InjectedQuery,     // sent by the proxy, answer swallowed
  InjectedDescribe,  // a read across shards learns its row types (client_scatter.cpp)
  // Ends a unit that only prepared and described on this server, so that its Bind may go to another
  // (ClientSession::route_bind): its ReadyForQuery is swallowed.
  InjectedSync,
};

inline bool is_synthetic(Expect e) {
  return e == Expect::SynthParseComplete || e == Expect::SynthCloseComplete || e == Expect::SynthError;
}

// Which server message ends the response to each thing the proxy sent.
inline bool completes(Expect kind, char type) {
  namespace be = wire::backend;
  switch (kind) {
    case Expect::Parse:
    case Expect::InjectedParse: return type == be::kParseComplete || type == be::kErrorResponse;
    case Expect::Bind: return type == be::kBindComplete || type == be::kErrorResponse;
    case Expect::Describe:
    case Expect::InjectedDescribe:
      return type == be::kRowDescription || type == be::kNoData || type == be::kErrorResponse;
    case Expect::Execute:
      return type == be::kCommandComplete || type == be::kEmptyQueryResponse || type == be::kPortalSuspended ||
             type == be::kErrorResponse;
    case Expect::Close:
    case Expect::InjectedClose: return type == be::kCloseComplete || type == be::kErrorResponse;
    case Expect::Sync:
    case Expect::Query:
    case Expect::FunctionCall:
    case Expect::InjectedQuery:
    case Expect::InjectedSync: return type == be::kReadyForQuery;
    default: return false;
  }
}

// After an error in an extended-protocol unit the server skips to the next Sync.
inline bool is_extended(Expect kind) {
  switch (kind) {
    case Expect::Parse:
    case Expect::Bind:
    case Expect::Describe:
    case Expect::Execute:
    case Expect::Close:
    case Expect::InjectedParse:
    case Expect::InjectedClose:
    case Expect::InjectedDescribe: return true;
    default: return false;
  }
}

struct Pending {
  Expect kind;
  uint64_t statement = 0;  // proxy statement id for Parse/InjectedParse: forgotten if the server skips it;
                           // for a Query: the statement its SQL DEALLOCATE removes from the connection
  std::chrono::steady_clock::time_point queued{};  // Query/Sync/FunctionCall: start of the unit (metrics)
  // The session's count of named client Parses: for SynthParseComplete, the one it answers (that statement
  // exists only if this answer is given); for Query/Execute, the count when it was sent (a DISCARD ALL
  // or DEALLOCATE ALL forgets only statements parsed before it).
  uint64_t parse_number = 0;
  // Query/Bind/Execute of a statement placed by a learnt column order (UnitState::column_order_table):
  // the errors a changed order would cause make it be learnt again; other statements' errors do not.
  bool column_order = false;
  // An InjectedQuery asking the primary's WAL position right after a commit (causal reads): its DataRow
  // and ReadyForQuery are read, not just swallowed.
  bool lsn_probe = false;
  // An InjectedQuery asking whether the session state a client kept its connection for is gone
  // (kept_server.cpp): its DataRow and ReadyForQuery are read, not just swallowed.
  bool keep_probe = false;
  // A client Query that is one session-level SET/RESET the proxy repeats on its later connections: its
  // entry in UnitState::settings (0: none), applied when the server confirms it.
  uint32_t setting = 0;
};

// A FIFO that keeps its storage: allocation-free once warmed up.
class ResponseQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  const Pending& front() const { return items_[head_]; }
  void push(Pending p) {
    if (p.kind == Expect::Query || p.kind == Expect::Sync || p.kind == Expect::FunctionCall)
      p.queued = std::chrono::steady_clock::now();
    items_.push_back(p);
  }
  void pop() {
    if (++head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  // Drops the entries of `kind` that directly follow the head (rare: a COPY's ignored Syncs).
  void drop_after_front(Expect kind) {
    if (empty()) return;
    auto first = items_.begin() + static_cast<std::ptrdiff_t>(head_) + 1, last = first;
    while (last != items_.end() && last->kind == kind) ++last;
    items_.erase(first, last);
  }

 private:
  std::vector<Pending> items_;
  size_t head_ = 0;
};

// After an ErrorResponse in an extended-protocol unit the server skips to the next Sync (or the simple
// Query): drops what it skipped from `expect`, and forgets statements whose Parse it skipped.
// `skipped_parse(n)` is called for each client Parse (SynthParseComplete, parse_number n) skipped.
template <class SkippedParse>
inline void skip_to_sync(ResponseQueue& expect, ServerPreparedSet* prepared, SkippedParse&& skipped_parse) {
  while (!expect.empty() && expect.front().kind != Expect::Sync && expect.front().kind != Expect::InjectedSync &&
         expect.front().kind != Expect::Query) {
    const Pending& p = expect.front();
    if ((p.kind == Expect::Parse || p.kind == Expect::InjectedParse) && p.statement && prepared)
      prepared->remove(p.statement);
    if (p.kind == Expect::SynthParseComplete && p.parse_number) skipped_parse(p.parse_number);
    expect.pop();
  }
}

inline void skip_to_sync(ResponseQueue& expect, ServerPreparedSet* prepared) {
  skip_to_sync(expect, prepared, [](uint64_t) {});
}

}  // namespace pgroute
