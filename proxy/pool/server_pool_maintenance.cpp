// The pool's housekeeping, run on one worker's io_context: close idle connections before they expire or
// after the server dropped them, keep min_size open, and find out whether a backend with nothing pooled
// (or one that is down) answers.
#include "proxy/base/log.hpp"
#include "proxy/pool/server_pool.hpp"

namespace pgroute {
namespace {
// Short against recycle_margin's default (2 s), so the sweep closes connections before the server does.
constexpr std::chrono::milliseconds kMaintenanceTick{250};
}  // namespace

void ServerPool::start_maintenance(asio::io_context& ctx, int worker) {
  {
    std::lock_guard lock(mu_);
    if (maintenance_started_) return;
    maintenance_started_ = true;
  }
  asio::co_spawn(ctx, maintain(weak_from_this(), ctx, worker), asio::detached);
}

void ServerPool::stop_maintenance() {
  std::lock_guard lock(mu_);
  maintenance_stopped_ = true;
}

// Holds the pool only while working, so a dropped pool ends its loop at the next tick. The timer lives in
// this frame: when the worker's io_context is destroyed at exit, the frame goes with it.
awaitable<void> ServerPool::maintain(std::weak_ptr<ServerPool> weak, asio::io_context& ctx, int worker) {
  asio::steady_timer timer(ctx);
  for (;;) {
    {
      auto self = weak.lock();
      if (!self) co_return;
      {
        std::lock_guard lock(self->mu_);
        if (self->retired_ || self->maintenance_stopped_) co_return;
      }
      self->sweep();
      co_await self->warm_up(ctx, worker);
      co_await self->probe(ctx, worker);
    }
    timer.expires_after(kMaintenanceTick);
    co_await timer.async_wait(use_nothrow);
  }
}

void ServerPool::sweep() {
  std::vector<std::pair<std::unique_ptr<ServerConnection>, CloseReason>> doomed;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    for (auto& stack : idle_) {
      std::vector<std::unique_ptr<ServerConnection>> kept;
      for (auto& c : stack) {
        Expiry e = idle_expiry(*c, settings_.life);
        if (e.at <= now) {
          doomed.emplace_back(std::move(c), e.why);
        } else if (c->peek_idle() == ServerConnection::IdleState::closed) {
          // The server hung up (restart, pg_terminate_backend, its own timeout): found by the same
          // look as the pre-use check, so counted as that check's failure.
          doomed.emplace_back(std::move(c), CloseReason::failed_check);
        } else {
          kept.push_back(std::move(c));
        }
      }
      stack = std::move(kept);
    }
    idle_count_ -= static_cast<int>(doomed.size());
    total_ -= static_cast<int>(doomed.size());
  }
  for (auto& [conn, why] : doomed) {
    count_close(*conn, why);
    conn->close();
  }
}

awaitable<void> ServerPool::warm_up(asio::io_context& ctx, int worker) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      int want = std::min(settings_.life.min_size, settings_.max_size);
      if (retired_ || maintenance_stopped_ || Clock::now() < down_until_ || total_ >= want) co_return;
      ++total_;
    }
    auto checkout = co_await open_new(ctx, worker);
    if (!checkout.conn) co_return;  // open_new started the back-off
    release(std::move(checkout.conn));
  }
}

awaitable<void> ServerPool::probe(asio::io_context& ctx, int worker) {
  PoolSettings s;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (retired_ || maintenance_stopped_ || now < down_until_) co_return;
    bool down = !last_error_.empty();
    bool nothing_pooled = total_ == 0 && now - last_probe_ >= settings_.life.health_check_interval;
    if (!down && !nothing_pooled) co_return;
    last_probe_ = now;
    s = settings_;
  }
  counters_.health_probes.fetch_add(1, std::memory_order_relaxed);
  ServerConnection conn(ctx, worker, endpoint_);
  std::string error = co_await conn.open(s.connect_timeout, s.max_message, s.tls);
  conn.close();
  if (error.empty()) {
    connect_succeeded();
    co_return;
  }
  PGR_LOG(debug) << "health probe of " << endpoint_->describe() << " failed: " << error;
  std::lock_guard lock(mu_);
  connect_failed_locked(error, conn.failure_is_transient);
}

}  // namespace pgroute
