// Server connections for one (alias, server user) pair, shared by all worker threads.
// The lock is taken only at checkout and return, never per message. Idle connections are kept per worker
// so a checkout usually finds one already registered with the caller's io_context.
#pragma once
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/asio.hpp"
#include "proxy/close_reason.hpp"
#include "proxy/server_connection.hpp"

namespace pgroute {

struct PoolSettings {
  int max_size = 20;
  std::chrono::milliseconds queue_timeout{5000};
  std::chrono::milliseconds connect_timeout{5000};
  uint32_t max_message = 64u << 20;
};

struct PoolCounters {
  std::atomic<uint64_t> checkouts{0}, waits{0}, wait_timeouts{0}, connects{0}, connect_failures{0};
  std::atomic<uint64_t> closes[kCloseReasonCount] = {};
};

class ServerPool : public std::enable_shared_from_this<ServerPool> {
 public:
  ServerPool(std::shared_ptr<const ServerEndpoint> endpoint, PoolSettings settings, int workers);
  ~ServerPool();

  struct Checkout {
    std::unique_ptr<ServerConnection> conn;  // null on failure
    std::string sqlstate, error;             // why not, naming the alias
  };
  // Takes an idle connection, opens a new one while under max_size, or waits up to queue_timeout.
  awaitable<Checkout> acquire(asio::io_context& ctx, int worker);

  // Returns a healthy idle connection (ReadyForQuery 'I' already seen); hands it to a waiter if any.
  void release(std::unique_ptr<ServerConnection> conn);
  // Closes a connection that must not be reused, and lets a waiter open a replacement.
  void discard(std::unique_ptr<ServerConnection> conn, CloseReason why);

  // A retired pool (its backend changed on reload) closes connections as they come back.
  void retire();
  void close_idle(CloseReason why);

  const ServerEndpoint& endpoint() const { return *endpoint_; }
  std::shared_ptr<const ServerEndpoint> endpoint_ptr() const { return endpoint_; }
  const PoolSettings& settings() const { return settings_; }
  PoolCounters& counters() { return counters_; }
  struct Snapshot { int total, idle, waiting, max_size; };
  Snapshot snapshot();

 private:
  struct Waiter;
  awaitable<Checkout> open_new(asio::io_context& ctx, int worker);
  void wake_one_locked(std::unique_ptr<ServerConnection> conn);

  std::shared_ptr<const ServerEndpoint> endpoint_;
  PoolSettings settings_;
  PoolCounters counters_;
  std::mutex mu_;
  std::vector<std::vector<std::unique_ptr<ServerConnection>>> idle_;  // per worker, used as a stack
  int idle_count_ = 0;
  int total_ = 0;  // open + opening
  bool retired_ = false;
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace pgroute
