#include "proxy/server_pool.hpp"

#include "proxy/log.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

// A client waiting for a connection. The releasing thread fills `conn` (or sets `may_open`) under the pool
// lock and then cancels the timer on the waiter's own executor, which wakes the waiting coroutine.
struct ServerPool::Waiter {
  explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  std::unique_ptr<ServerConnection> conn;
  bool may_open = false;
  bool done = false;
};

ServerPool::ServerPool(std::shared_ptr<const ServerEndpoint> endpoint, PoolSettings settings, int workers)
    : endpoint_(std::move(endpoint)), settings_(settings), idle_(static_cast<size_t>(workers)) {}

ServerPool::~ServerPool() { close_idle(CloseReason::shutdown); }

awaitable<ServerPool::Checkout> ServerPool::acquire(asio::io_context& ctx, int worker) {
  counters_.checkouts.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<Waiter> waiter;
  {
    std::unique_lock lock(mu_);
    if (idle_count_ > 0) {
      auto* stack = &idle_[static_cast<size_t>(worker)];
      if (stack->empty()) {
        for (auto& s : idle_)
          if (!s.empty()) stack = &s;
      }
      auto conn = std::move(stack->back());
      stack->pop_back();
      --idle_count_;
      lock.unlock();
      conn->rebind(ctx, worker);
      co_return Checkout{std::move(conn), {}, {}};
    }
    if (total_ < settings_.max_size) {
      ++total_;
      lock.unlock();
      co_return co_await open_new(ctx, worker);
    }
    waiter = std::make_shared<Waiter>(ctx.get_executor());
    waiter->timer.expires_after(settings_.queue_timeout);
    waiters_.push_back(waiter);
  }
  counters_.waits.fetch_add(1, std::memory_order_relaxed);
  co_await waiter->timer.async_wait(use_nothrow);
  std::unique_lock lock(mu_);
  waiter->done = true;
  if (waiter->conn) {
    auto conn = std::move(waiter->conn);
    lock.unlock();
    conn->rebind(ctx, worker);
    co_return Checkout{std::move(conn), {}, {}};
  }
  if (waiter->may_open) {
    lock.unlock();
    co_return co_await open_new(ctx, worker);  // the slot was reserved for us by discard()
  }
  std::erase(waiters_, waiter);
  lock.unlock();
  counters_.wait_timeouts.fetch_add(1, std::memory_order_relaxed);
  co_return Checkout{nullptr, std::string(wire::sqlstate::too_many_connections),
                     "pgroute: no server connection for alias \"" + endpoint_->alias + "\" became free within " +
                         std::to_string(settings_.queue_timeout.count()) + " ms (pool size " +
                         std::to_string(settings_.max_size) + ", all in use)"};
}

awaitable<ServerPool::Checkout> ServerPool::open_new(asio::io_context& ctx, int worker) {
  auto conn = std::make_unique<ServerConnection>(ctx, worker, endpoint_);
  std::string error = co_await conn->open(settings_.connect_timeout, settings_.max_message);
  if (error.empty()) {
    counters_.connects.fetch_add(1, std::memory_order_relaxed);
    PGR_LOG(debug) << "server connection " << conn->id() << " opened to " << endpoint_->describe() << " as "
                   << endpoint_->user << " (backend pid " << conn->backend_pid << ")";
    co_return Checkout{std::move(conn), {}, {}};
  }
  counters_.connect_failures.fetch_add(1, std::memory_order_relaxed);
  counters_.closes[static_cast<int>(CloseReason::connect_failed)].fetch_add(1, std::memory_order_relaxed);
  PGR_LOG(warn) << "cannot open server connection to " << endpoint_->describe() << ": " << error;
  {
    std::lock_guard lock(mu_);
    --total_;
    wake_one_locked(nullptr);
  }
  co_return Checkout{nullptr, std::string(wire::sqlstate::cannot_connect),
                     "pgroute: cannot connect to backend " + endpoint_->describe() + ": " + error};
}

// Caller holds mu_. Gives `conn` (or, when null, the right to open one) to the oldest live waiter.
void ServerPool::wake_one_locked(std::unique_ptr<ServerConnection> conn) {
  while (!waiters_.empty()) {
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    if (w->done) continue;
    if (conn) {
      w->conn = std::move(conn);
    } else {
      if (total_ >= settings_.max_size) {
        waiters_.push_front(std::move(w));
        return;
      }
      ++total_;
      w->may_open = true;
    }
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
    return;
  }
  if (conn) {
    if (retired_) {
      --total_;
      counters_.closes[static_cast<int>(CloseReason::reload)].fetch_add(1, std::memory_order_relaxed);
      conn->close();
      return;
    }
    idle_[static_cast<size_t>(conn->worker())].push_back(std::move(conn));
    ++idle_count_;
  }
}

void ServerPool::release(std::unique_ptr<ServerConnection> conn) {
  conn->last_used = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  wake_one_locked(std::move(conn));
}

void ServerPool::discard(std::unique_ptr<ServerConnection> conn, CloseReason why) {
  counters_.closes[static_cast<int>(why)].fetch_add(1, std::memory_order_relaxed);
  PGR_LOG(debug) << "server connection " << conn->id() << " to " << endpoint_->describe() << " closed ("
                 << close_reason_name(why) << ")";
  conn->close();
  std::lock_guard lock(mu_);
  --total_;
  wake_one_locked(nullptr);
}

void ServerPool::retire() {
  {
    std::lock_guard lock(mu_);
    retired_ = true;
  }
  close_idle(CloseReason::reload);
}

void ServerPool::close_idle(CloseReason why) {
  std::vector<std::unique_ptr<ServerConnection>> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto& stack : idle_) {
      for (auto& c : stack) doomed.push_back(std::move(c));
      stack.clear();
    }
    total_ -= static_cast<int>(doomed.size());
    idle_count_ = 0;
  }
  for (auto& c : doomed) {
    counters_.closes[static_cast<int>(why)].fetch_add(1, std::memory_order_relaxed);
    c->close();
  }
}

ServerPool::Snapshot ServerPool::snapshot() {
  std::lock_guard lock(mu_);
  return {total_, idle_count_, static_cast<int>(waiters_.size()), settings_.max_size};
}

}  // namespace pgroute
