// One thread running one io_context. Sessions accepted here stay here; their server connections are
// rebound to this io_context at checkout, so all of a session's I/O completes on one thread.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>

#include "proxy/io/asio.hpp"
#include "proxy/pool/runtime.hpp"
#include "proxy/session/client_identity.hpp"
#include "proxy/session/client_view.hpp"
#include "proxy/session/column_order_cache.hpp"
#include "proxy/session/session_list.hpp"
#include "router/analysis_cache.hpp"

namespace pgroute {

class ClientSession;
namespace admin {
struct Control;
}

struct Worker {
  Worker(Runtime& runtime, int i, size_t cache_entries = 10000)
      : rt(runtime), index(i), analyses(cache_entries), ctx(1) {}
  Runtime& rt;  // the process's pools, snapshot and counters (outlives the workers)
  int index;
  std::thread thread;
  // Live sessions, touched only on this worker's thread (for shutdown, the park sweep, SHOW CLIENTS).
  SessionList sessions;
  // Those of them not logged in yet, oldest first (ids grow with accepts): who makes room when
  // max_startup_connections is reached.
  std::map<uint64_t, std::weak_ptr<ClientSession>> starting;
  // Connections not read yet because max_startup_connections was reached, waiting for a place, oldest
  // first: a login that ends here wakes the first (its timer is cancelled).
  struct StartupWaiter {
    asio::steady_timer* wake;  // cancelled to wake it
    int fd;                    // its socket: a client that left while waiting frees its place
  };
  std::deque<StartupWaiter> startup_queue;
  // Advanced by the park sweep (ProxyServer::park_sweep): sessions idle across two ticks are parked.
  uint32_t park_tick = 0;
  // Statement analyses for routing, per thread so a lookup takes no lock.
  router::AnalysisCache analyses;
  // Where shard keys stand in their tables (INSERT without a column list), learnt from the shards.
  ColumnOrderCache column_orders;
  // ParameterStatus values its idle clients have seen, shared among them (client_view.hpp).
  ClientViews client_views;
  // Who its clients are, shared among those that logged in alike (client_identity.hpp).
  ClientIdentities identities;
  // What the admin console may ask of the server (reload, the other workers); set by ProxyServer before
  // any client is accepted, null without one.
  admin::Control* control = nullptr;
  // Last, so destroyed first: destroying it destroys the handlers still queued on it, and with them
  // sessions whose destructors use the members above (starting, sessions, the interned identities).
  asio::io_context ctx;
};

}  // namespace pgroute
