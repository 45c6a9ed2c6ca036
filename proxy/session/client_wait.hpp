// What the client message being handled waits for. Handling a message is a plain function call; when it
// cannot finish without waiting (rare: a pool with no idle connection, a pipelined answer routing must
// see first, a table's column order to learn, a read across shards), it names the wait and returns. The
// wait runs on a cold path (a coroutine), and then the message is handled again from its start, or, for
// the reads across shards, is over. The message stays in the client's read buffer meanwhile and nothing
// more is read from the client.
#pragma once
#include <cstdint>
#include <string_view>

namespace pgroute {

enum class ClientWait : uint8_t {
  none,
  server_idle,           // the attached server has answered everything asked of it (or started a COPY IN)
  attach,                // a connection of the unit's pool: then handled again (attach_failed_ if none came)
  column_order,          // a sharded table's column order, learnt from its shards: then handled again
  scatter_then_retry,    // the held unit spread over shards runs first: then this message is handled again
  scatter_held,          // this Flush runs the held unit spread over shards: then the message is over
  scatter_held_at_sync,  // the same at Sync (answered with ReadyForQuery)
  scatter_query,         // this simple query runs on every shard (pending_scatter_): then it is over
  replay,                // causal reads: a replica to replay the read's floor (routed again every few ms)
  server_write,          // the server's socket did not take all of what is queued for it
  client_write,          // the client's socket did not take all of its answers
};

constexpr std::string_view client_wait_name(ClientWait w) {
  switch (w) {
    case ClientWait::none: return "";
    case ClientWait::server_idle: return "server_idle";
    case ClientWait::attach: return "attach";
    case ClientWait::column_order: return "column_order";
    case ClientWait::scatter_then_retry:
    case ClientWait::scatter_held:
    case ClientWait::scatter_held_at_sync:
    case ClientWait::scatter_query: return "scatter";
    case ClientWait::replay: return "replay";
    case ClientWait::server_write: return "server_write";
    case ClientWait::client_write: return "client_write";
  }
  return "unknown";
}

}  // namespace pgroute
