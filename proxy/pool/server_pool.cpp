#include "proxy/pool/server_pool.hpp"

#include <algorithm>

#include "proxy/base/log.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {
namespace {
// A pre-use check is a single empty query: a server slower than this is not one to hand a client.
constexpr std::chrono::milliseconds kMaxCheckTimeout{2000};
// A restarting server (`pg_ctl restart -m fast` is about a second) is tried again soon: refused
// connections cost it nothing, and a waiting client should be let in right after it is back.
constexpr std::chrono::milliseconds kRestartRetryInitial{50}, kRestartRetryMax{500};
}  // namespace

// A client waiting for a connection. The releasing thread fills `conn` (or sets `may_open`, or `error`
// when the backend went down) under the pool lock and then cancels the timer on the waiter's own
// executor, which wakes the waiting coroutine.
struct ServerPool::Waiter {
  explicit Waiter(asio::io_context& c) : ctx(c), timer(c) {}
  asio::io_context& ctx;
  asio::steady_timer timer;
  std::unique_ptr<ServerConnection> conn;
  bool handed_over = false;  // conn came straight from release(): in use until a moment ago
  bool may_open = false;
  bool done = false;
  std::string error;

  // Ends the wait. The timer is not thread-safe: it is cancelled at once on the waiter's own thread
  // (the usual case, a release by a session on the same worker; the waiter is already suspended in
  // its async_wait, which it starts before it yields), else from a handler posted to that thread.
  static void wake(const std::shared_ptr<Waiter>& w) {
    if (w->ctx.get_executor().running_in_this_thread())
      w->timer.cancel();
    else
      asio::post(w->ctx, [w] { w->timer.cancel(); });
  }
};

ServerPool::ServerPool(std::shared_ptr<const ServerEndpoint> endpoint, PoolSettings settings, int workers,
                       std::shared_ptr<AliasHealth> health)
    : endpoint_(std::move(endpoint)),
      health_(std::move(health)),
      settings_(std::move(settings)),
      idle_(static_cast<size_t>(workers)) {}

ServerPool::~ServerPool() { close_idle(CloseReason::shutdown); }

ServerPool::LastLogin ServerPool::last_login() const {
  std::lock_guard lock(mu_);
  return last_login_;
}

PoolSettings ServerPool::settings() const {
  std::lock_guard lock(mu_);
  return settings_;
}

void ServerPool::apply(const PoolSettings& settings) {
  std::vector<std::unique_ptr<ServerConnection>> excess;
  {
    std::lock_guard lock(mu_);
    settings_ = settings;
    // A larger pool lets waiters open connections now rather than at the next return.
    while (!waiters_.empty() && total_ < settings_.max_size) wake_one_locked(nullptr);
    // A smaller one closes idle connections over the new size now; those in use close when returned.
    while (total_ > settings_.max_size && idle_count_ > 0) {
      auto& stack = *std::max_element(idle_.begin(), idle_.end(),
                                      [](const auto& a, const auto& b) { return a.size() < b.size(); });
      excess.push_back(std::move(stack.front()));  // the longest idle of the fullest stack
      stack.erase(stack.begin());
      --idle_count_;
      --total_;
    }
  }
  for (auto& c : excess) {
    count_close(*c, CloseReason::reload);
    c->close();
  }
}

ServerPool::Fitness ServerPool::idle_fitness(ServerConnection& conn, const PoolSettings& s, CloseReason& why) {
  auto now = Clock::now();
  Expiry expiry = idle_expiry(conn, s.life);
  if (expiry.at <= now) {
    why = expiry.why;
    return Fitness::unfit;
  }
  auto state = conn.peek_idle();
  if (state == ServerConnection::IdleState::closed) {
    PGR_LOG(info) << "server connection " << conn.id() << " to " << endpoint_->describe()
                  << " was closed by the server while pooled; using another";
    why = CloseReason::failed_check;
    return Fitness::unfit;
  }
  bool check = state == ServerConnection::IdleState::has_data ||
               (s.life.check_after && now - conn.last_used >= *s.life.check_after);
  return check ? Fitness::needs_check : Fitness::fit;
}

awaitable<bool> ServerPool::passes_check(ServerConnection& conn, const PoolSettings& s) {
  counters_.checks.fetch_add(1, std::memory_order_relaxed);
  std::string error = co_await conn.ping(std::min(s.connect_timeout, kMaxCheckTimeout), s.max_message);
  if (error.empty()) co_return true;
  PGR_LOG(info) << "server connection " << conn.id() << " to " << endpoint_->describe() << " failed its pre-use check ("
                << error << "); using another";
  co_return false;
}

std::unique_ptr<ServerConnection> ServerPool::pop_idle_locked(int worker) {
  if (idle_count_ == 0) return nullptr;
  auto* stack = &idle_[static_cast<size_t>(worker)];
  if (stack->empty()) {
    for (auto& s : idle_)
      if (!s.empty()) stack = &s;
  }
  auto conn = std::move(stack->back());
  stack->pop_back();
  --idle_count_;
  return conn;
}

std::unique_ptr<ServerConnection> ServerPool::try_acquire_idle(asio::io_context& ctx, int worker) {
  if (pause_gate_ && pause_gate_->paused()) return nullptr;
  for (;;) {
    std::unique_ptr<ServerConnection> conn;
    PoolSettings s;
    {
      std::lock_guard lock(mu_);
      conn = pop_idle_locked(worker);
      if (!conn) return nullptr;
      s = settings_;
    }
    CloseReason why = CloseReason::failed_check;
    switch (idle_fitness(*conn, s, why)) {
      case Fitness::fit:
        counters_.checkouts.fetch_add(1, std::memory_order_relaxed);
        conn->rebind(ctx, worker);
        return conn;
      case Fitness::needs_check: {
        std::lock_guard lock(mu_);
        wake_one_locked(std::move(conn));  // a waiter that queued meanwhile gets it; else it is idle again
        return nullptr;
      }
      case Fitness::unfit: discard(std::move(conn), why); break;
    }
  }
}

// A checkout across its looks at the pool: when it gives up, and since when it has waited (counted once;
// pgroute_pool_wait_seconds observes it however the checkout ends).
struct ServerPool::Attempt {
  explicit Attempt(PoolCounters& c) : counters(&c) {}
  Attempt(Attempt&& o) noexcept
      : counters(o.counters), give_up_at(o.give_up_at), waiting_since(std::exchange(o.waiting_since, std::nullopt)) {}
  Attempt& operator=(Attempt&&) = delete;
  ~Attempt() { finish(); }

  void queued() {
    if (waiting_since) return;
    counters->waits.fetch_add(1, std::memory_order_relaxed);
    waiting_since = Clock::now();
  }
  void finish() {
    if (waiting_since) counters->wait_time.observe(Clock::now() - *std::exchange(waiting_since, std::nullopt));
  }

  PoolCounters* counters;
  std::optional<Clock::time_point> give_up_at;  // set at the first look
  std::optional<Clock::time_point> waiting_since;
};

struct ServerPool::Pass {
  std::unique_ptr<ServerConnection> conn;
  std::shared_ptr<Waiter> waiter;  // queued: wait on its timer, then collect what it was given
  bool handed_over = false;        // conn came straight from release()
  bool may_open = false;           // a slot is reserved for a new connection
  std::string refusal;             // the backend is down: fail with this
  PoolSettings s;
};

ServerPool::Pass ServerPool::look_locked(asio::io_context& ctx, int worker, Attempt& attempt) {
  Pass p;
  p.s = settings_;
  auto now = Clock::now();
  if (!attempt.give_up_at) attempt.give_up_at = now + p.s.queue_timeout;
  p.conn = pop_idle_locked(worker);
  if (p.conn) return p;
  // While the backend is down: fail now if no attempt worth waiting for comes within our queue time, else
  // wait for the next one (a returned connection may still come first) and then try.
  bool down = now < down_until_;
  if (down && fails_fast_locked(now, p.s, *attempt.give_up_at)) {
    p.refusal = down_message_locked(now);
  } else if (!down && total_ < p.s.max_size) {
    ++total_;
    p.may_open = true;
  } else if (now < *attempt.give_up_at) {
    p.waiter = std::make_shared<Waiter>(ctx);
    p.waiter->timer.expires_at(down ? down_until_ : *attempt.give_up_at);
    waiters_.push_back(p.waiter);
  }
  return p;
}

bool ServerPool::collect_locked(Pass& p) {
  auto waiter = std::move(p.waiter);
  p.s = settings_;
  waiter->done = true;
  if (waiter->conn) {
    p.conn = std::move(waiter->conn);
    p.handed_over = waiter->handed_over;
    return true;
  }
  if (waiter->may_open) {
    p.may_open = true;  // the slot was reserved for us by discard()
    return true;
  }
  if (!waiter->error.empty()) {
    p.refusal = waiter->error;
    return true;
  }
  std::erase(waiters_, waiter);
  return false;
}

awaitable<ServerPool::Checkout> ServerPool::acquire(asio::io_context& ctx, int worker) {
  if (pause_gate_ && pause_gate_->paused()) co_await pause_gate_->wait(ctx.get_executor());
  counters_.checkouts.fetch_add(1, std::memory_order_relaxed);
  co_return co_await checkout(ctx, worker, Attempt(counters_), std::nullopt);
}

// Each pass takes an idle connection (closing unfit ones), opens one, or waits; it ends at the queue
// timeout, a fast failure, or a fit connection. `given`: the first pass, already looked at (or woken).
awaitable<ServerPool::Checkout> ServerPool::checkout(asio::io_context& ctx, int worker, Attempt attempt,
                                                     std::optional<Pass> given) {
  for (;;) {
    Pass p;
    if (given) {
      p = std::move(*given);
      given.reset();
    } else {
      {
        std::lock_guard lock(mu_);
        p = look_locked(ctx, worker, attempt);
      }
      if (p.waiter) {
        attempt.queued();
        co_await p.waiter->timer.async_wait(use_nothrow);
      }
    }
    if (p.waiter) {
      std::lock_guard lock(mu_);
      if (!collect_locked(p) && Clock::now() < *attempt.give_up_at) continue;  // the back-off ended: look again
    }
    const PoolSettings& s = p.s;
    if (!p.refusal.empty()) {
      counters_.fast_failures.fetch_add(1, std::memory_order_relaxed);
      co_return Checkout{nullptr, std::string(wire::sqlstate::cannot_connect), p.refusal};
    }
    if (p.may_open) {
      auto opened = co_await open_new(ctx, worker);
      if (opened.conn || !opened.transient) co_return opened;
      // The server is restarting: this client waits for the next attempt while its queue time lasts.
      std::lock_guard lock(mu_);
      auto now = Clock::now();
      if (now < *attempt.give_up_at && !fails_fast_locked(now, s, *attempt.give_up_at)) continue;
      co_return opened;
    }
    if (!p.conn) {
      counters_.wait_timeouts.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(mu_);
      if (!last_error_.empty())  // it waited for a restarting backend that did not come back in time
        co_return Checkout{nullptr, std::string(wire::sqlstate::cannot_connect),
                           down_message_locked(Clock::now()) + "; waited " + std::to_string(s.queue_timeout.count()) +
                               " ms (queue_timeout)"};
      co_return Checkout{nullptr, std::string(wire::sqlstate::too_many_connections),
                         "pgroute: no server connection for alias \"" + endpoint_->alias + "\" became free within " +
                             std::to_string(s.queue_timeout.count()) + " ms (pool size " + std::to_string(s.max_size) +
                             ", all in use)"};
    }
    p.conn->rebind(ctx, worker);
    if (fit_as_handed_over(*p.conn, p.handed_over)) co_return Checkout{std::move(p.conn), {}, {}};
    CloseReason why = CloseReason::failed_check;
    // Decided without a coroutine of its own when no round trip is needed (nearly every checkout).
    Fitness fitness = idle_fitness(*p.conn, s, why);
    if (fitness == Fitness::needs_check && co_await passes_check(*p.conn, s)) fitness = Fitness::fit;
    if (fitness == Fitness::fit) co_return Checkout{std::move(p.conn), {}, {}};
    discard(std::move(p.conn), why);
  }
}

void ServerPool::acquire_queued(asio::io_context& ctx, int worker, std::shared_ptr<Receiver> receiver) {
  if (pause_gate_ && pause_gate_->paused())
    return continue_in_coroutine(ctx, worker, std::nullopt, std::nullopt, std::move(receiver));
  counters_.checkouts.fetch_add(1, std::memory_order_relaxed);
  Attempt attempt(counters_);
  Pass p;
  {
    std::lock_guard lock(mu_);
    p = look_locked(ctx, worker, attempt);
  }
  if (!p.waiter) return continue_in_coroutine(ctx, worker, std::move(attempt), std::move(p), std::move(receiver));
  attempt.queued();
  // Started before anything else runs on this thread: a wake by a release here finds the wait pending.
  auto& timer = p.waiter->timer;
  timer.async_wait([self = shared_from_this(), &ctx, worker, attempt = std::move(attempt), waiter = std::move(p.waiter),
                    receiver = std::move(receiver)](boost::system::error_code) mutable {
    std::unique_ptr<ServerConnection> conn;
    {
      std::lock_guard lock(self->mu_);
      // The usual end: a connection another client just gave back.
      if (waiter->conn && fit_as_handed_over(*waiter->conn, waiter->handed_over)) {
        waiter->done = true;
        conn = std::move(waiter->conn);
      }
    }
    if (!conn) {
      Pass woken;
      woken.waiter = std::move(waiter);
      return self->continue_in_coroutine(ctx, worker, std::move(attempt), std::move(woken), std::move(receiver));
    }
    conn->rebind(ctx, worker);
    attempt.finish();
    receiver->checkout_done(Checkout{std::move(conn), {}, {}});
  });
}

void ServerPool::continue_in_coroutine(asio::io_context& ctx, int worker, std::optional<Attempt> attempt,
                                       std::optional<Pass> given, std::shared_ptr<Receiver> receiver) {
  asio::co_spawn(
      ctx, finish_queued(shared_from_this(), ctx, worker, std::move(attempt), std::move(given), std::move(receiver)),
      asio::detached);
}

awaitable<void> ServerPool::finish_queued(std::shared_ptr<ServerPool> self, asio::io_context& ctx, int worker,
                                          std::optional<Attempt> attempt, std::optional<Pass> given,
                                          std::shared_ptr<Receiver> receiver) {
  Checkout result;
  try {
    // Not a conditional expression: GCC mishandles co_await in the arms of one.
    if (attempt)
      result = co_await self->checkout(ctx, worker, std::move(*attempt), std::move(given));
    else
      result = co_await self->acquire(ctx, worker);
  } catch (const std::exception& e) {
    result = Checkout{nullptr, std::string(wire::sqlstate::internal_error),
                      "pgroute: internal error while waiting for a connection of alias \"" + self->endpoint_->alias +
                          "\": " + e.what()};
  }
  // Posted: the receiver is never called from inside acquire_queued(), which may have spawned us.
  asio::post(ctx, [receiver = std::move(receiver), result = std::move(result)]() mutable {
    receiver->checkout_done(std::move(result));
  });
}

awaitable<ServerPool::Checkout> ServerPool::open_new(asio::io_context& ctx, int worker) {
  PoolSettings s = settings();
  auto conn = std::make_unique<ServerConnection>(ctx, worker, endpoint_);
  std::string error = co_await conn->open(s.connect_timeout, s.max_message, s.tls);
  if (error.empty()) {
    counters_.connects.fetch_add(1, std::memory_order_relaxed);
    if (conn->tls) conn->count_in(counters_.tls_connections);
    {
      std::lock_guard lock(mu_);
      last_login_.tls =
          conn->tls ? std::string(conn->tls->version()) + " " + std::string(conn->tls->cipher()) : std::string();
      last_login_.auth = conn->auth_method;
    }
    const auto& t = conn->server_timeouts;
    PGR_LOG(debug) << "server connection " << conn->id() << " opened to " << endpoint_->describe() << " as "
                   << endpoint_->user << " (backend pid " << conn->backend_pid << "; server idle_session_timeout "
                   << t.idle_session.count() << " ms, idle_in_transaction_session_timeout "
                   << t.idle_in_transaction.count() << " ms, tcp_keepalives_idle " << t.tcp_keepalives_idle.count()
                   << " ms, statement_timeout " << t.statement.count() << " ms)";
    connect_succeeded();
    co_return Checkout{std::move(conn), {}, {}};
  }
  counters_.connect_failures.fetch_add(1, std::memory_order_relaxed);
  counters_.closes[static_cast<int>(CloseReason::connect_failed)].fetch_add(1, std::memory_order_relaxed);
  PGR_LOG(warn) << "cannot open server connection to " << endpoint_->describe() << ": " << error;
  {
    std::lock_guard lock(mu_);
    --total_;
    connect_failed_locked(error, conn->failure_is_transient);
  }
  co_return Checkout{nullptr, std::string(wire::sqlstate::cannot_connect),
                     "pgroute: cannot connect to backend " + endpoint_->describe() + ": " + error,
                     conn->failure_is_transient};
}

void ServerPool::connect_succeeded() {
  {
    std::lock_guard lock(mu_);
    backoff_ = std::chrono::milliseconds(0);
    down_until_ = {};
    // Clients waiting out a back-off window try now.
    if (!last_error_.empty()) wake_all_locked();
    last_error_.clear();
  }
  if (!health_->healthy.exchange(true)) PGR_LOG(info) << endpoint_->describe() << " is up again";
}

// Caller holds mu_. Starts (or lengthens) the back-off window. After a restarting server's failure the
// waiters look again (each waits for the next attempt within its queue time); after any other they all
// fail at once. Failures of attempts made together (clients arriving at once) lengthen it once.
std::string ServerPool::connect_failed_locked(const std::string& error, bool transient) {
  const auto& life = settings_.life;
  auto initial = life.connect_retry_initial, max = life.connect_retry_max;
  if (transient) {
    initial = std::min(initial, std::chrono::milliseconds(kRestartRetryInitial));
    max = std::min(max, std::chrono::milliseconds(kRestartRetryMax));
  }
  auto now = Clock::now();
  if (last_error_.empty()) down_since_ = now;
  if (now >= down_until_) {
    backoff_ = backoff_.count() == 0 ? initial : std::min(backoff_ * 2, max);
    down_until_ = now + backoff_;
  } else if (transient) {
    down_until_ = std::min(down_until_, now + max);
  }
  transient_down_ = transient;
  last_error_ = error;
  if (health_->healthy.exchange(false))
    PGR_LOG(warn) << endpoint_->describe() << " is down: " << error
                  << (transient ? "; retrying while clients' queue_timeout lasts"
                                : "; clients fail fast until it answers");
  std::string message = down_message_locked(now);
  wake_all_locked(transient ? std::string() : message);
  return message;
}

// Caller holds mu_. Waiters woken with no error look at the pool again; with one, they fail with it.
void ServerPool::wake_all_locked(const std::string& error) {
  for (auto& w : waiters_) {
    if (w->done) continue;
    if (!error.empty()) w->error = error;
    Waiter::wake(w);
  }
  waiters_.clear();
}

// Caller holds mu_, the backend is in its back-off window. A restarting server is waited for, unless the
// next attempt comes after the checkout's deadline or the outage has already lasted a whole queue_timeout
// (then it is down, not restarting). Any other failure (a timeout, a refused password) fails fast.
bool ServerPool::fails_fast_locked(Clock::time_point now, const PoolSettings& s, Clock::time_point give_up_at) const {
  if (!transient_down_) return true;
  return down_until_ >= give_up_at || now - down_since_ >= s.queue_timeout;
}

std::string ServerPool::down_message_locked(Clock::time_point now) const {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(down_until_ - now).count();
  return "pgroute: backend of " + endpoint_->describe() + " is down (last connection attempt: " + last_error_ +
         "); next attempt in " + std::to_string(std::max<int64_t>(wait, 0)) + " ms";
}

// Caller holds mu_. Gives `conn` (or, when null, the right to open one) to the oldest live waiter.
void ServerPool::wake_one_locked(std::unique_ptr<ServerConnection> conn, bool handed_over) {
  while (!waiters_.empty()) {
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    if (w->done) continue;
    if (conn) {
      w->conn = std::move(conn);
      w->handed_over = handed_over;
    } else {
      if (total_ >= settings_.max_size) {
        waiters_.push_front(std::move(w));
        return;
      }
      ++total_;
      w->may_open = true;
    }
    Waiter::wake(w);
    return;
  }
  if (conn) {
    if (retired_) {
      --total_;
      count_close(*conn, CloseReason::reload);
      conn->close();
      return;
    }
    idle_[static_cast<size_t>(conn->worker())].push_back(std::move(conn));
    ++idle_count_;
  }
}

void ServerPool::release(std::unique_ptr<ServerConnection> conn) {
  auto now = Clock::now();
  conn->last_used = now;
  std::lock_guard lock(mu_);
  // Past its lifetime: close it now, while nobody uses it (the idle limits cannot have passed yet).
  Expiry expiry = idle_expiry(*conn, settings_.life);
  if (expiry.at <= now && !retired_) {
    --total_;
    count_close(*conn, expiry.why);
    conn->close();
    wake_one_locked(nullptr);
    return;
  }
  // Over a size lowered by a reload: this one goes, so the pool shrinks to the new size even when busy.
  if (total_ > settings_.max_size && !retired_) {
    --total_;
    count_close(*conn, CloseReason::reload);
    conn->close();
    return;
  }
  wake_one_locked(std::move(conn), /*handed_over=*/true);
}

void ServerPool::discard(std::unique_ptr<ServerConnection> conn, CloseReason why) {
  count_close(*conn, why);
  conn->close();
  std::lock_guard lock(mu_);
  --total_;
  wake_one_locked(nullptr);
}

void ServerPool::count_close(const ServerConnection& conn, CloseReason why) {
  counters_.closes[static_cast<int>(why)].fetch_add(1, std::memory_order_relaxed);
  PGR_LOG(debug) << "server connection " << conn.id() << " to " << endpoint_->describe() << " closed ("
                 << close_reason_name(why) << ")";
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
    count_close(*c, why);
    c->close();
  }
}

ServerPool::Snapshot ServerPool::snapshot() {
  std::lock_guard lock(mu_);
  return {total_, idle_count_, static_cast<int>(waiters_.size()), settings_.max_size};
}

}  // namespace pgroute
