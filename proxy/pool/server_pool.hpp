// Server connections for one (alias, server user) pair, shared by all worker threads.
// The lock is taken only at checkout and return, never per message. Idle connections are kept per worker
// so a checkout usually finds one already registered with the caller's io_context.
// acquire() hands out only connections that are alive and fresh: idle ones past their lifetime, idle
// limit or the server's own idle timeout (minus recycle_margin) are closed, and one idle longer than
// check_after gets a round trip first. A maintenance loop on one worker sweeps, keeps min_size warm and
// probes the backend's health.
#pragma once
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/io/asio.hpp"
#include "proxy/metrics/atomic_histogram.hpp"
#include "proxy/pool/close_reason.hpp"
#include "proxy/pool/connection_expiry.hpp"
#include "proxy/pool/pause_gate.hpp"
#include "proxy/pool/server_connection.hpp"

namespace pgroute {

struct PoolSettings {
  int max_size = 20;
  std::chrono::milliseconds queue_timeout{5000};
  std::chrono::milliseconds connect_timeout{5000};
  uint32_t max_message = 64u << 20;
  config::Lifecycle life;
  // The backend's TLS (its URL's sslmode and files, loaded for the configuration in force); null:
  // plaintext. A reload gives the pool the files loaded again: new connections use them.
  std::shared_ptr<const BackendTlsContext> tls;
};

struct PoolCounters {
  std::atomic<uint64_t> checkouts{0}, waits{0}, wait_timeouts{0}, connects{0}, connect_failures{0};
  std::atomic<uint64_t> fast_failures{0};  // refused at once: the backend is down (back-off window)
  std::atomic<uint64_t> checks{0};         // pre-use round trips
  std::atomic<uint64_t> health_probes{0};  // connects made only to learn whether the backend is up
  // Open connections with TLS; each holds a share and gives it back when it is destroyed.
  std::shared_ptr<std::atomic<int>> tls_connections = std::make_shared<std::atomic<int>>(0);
  std::atomic<uint64_t> closes[kCloseReasonCount] = {};
  metrics::AtomicHistogram wait_time;  // checkouts that queued: how long (served or timed out)
};

// Whether an alias's backend answers, shared by the alias's pools; read without locks.
struct AliasHealth {
  std::atomic<bool> healthy{true};
};

class ServerPool : public std::enable_shared_from_this<ServerPool> {
 public:
  ServerPool(std::shared_ptr<const ServerEndpoint> endpoint, PoolSettings settings, int workers,
             std::shared_ptr<AliasHealth> health = std::make_shared<AliasHealth>());
  ~ServerPool();

  struct Checkout {
    std::unique_ptr<ServerConnection> conn;  // null on failure
    std::string sqlstate, error;             // why not, naming the alias
    bool transient = false;                  // the connect failed as a restarting server's does
  };
  // Takes a fit idle connection, opens a new one while under max_size, or waits up to queue_timeout.
  // A backend that is restarting (connection refused, 57P03, ...) is retried with a short back-off until
  // queue_timeout; one that fails otherwise (timeout, authentication), or has been refusing for longer
  // than a queue_timeout, fails the checkout at once (08001) with the last connect error.
  awaitable<Checkout> acquire(asio::io_context& ctx, int worker);

  // Where acquire_queued() delivers its checkout.
  class Receiver {
   public:
    virtual void checkout_done(Checkout checkout) = 0;

   protected:
    ~Receiver() = default;
  };
  // acquire() for a caller that is not a coroutine, after try_acquire_idle() found nothing: the checkout
  // goes to receiver->checkout_done() on ctx's thread, from a handler (never inside this call). The usual
  // wait, for a connection another client is giving back, runs on a timer's handler alone: a checkout
  // that queues is most of them in a busy pool (more clients than connections), and three coroutine
  // frames per wait cost as much as the rest of a short transaction. Anything else (a pause, opening or
  // checking a connection, a back-off) goes on in acquire()'s coroutine.
  void acquire_queued(asio::io_context& ctx, int worker, std::shared_ptr<Receiver> receiver);
  // The common checkout, without a coroutine: a fit idle connection taken now, bound to ctx. Null when
  // acquire() must run instead: none idle, the alias paused, or the one found needs a round trip first
  // (it goes back to the pool, or to a waiter, for acquire() to check).
  std::unique_ptr<ServerConnection> try_acquire_idle(asio::io_context& ctx, int worker);

  // PAUSE of the alias: acquire() waits while the gate is closed. Set once, before the pool is shared.
  void set_pause_gate(std::shared_ptr<admin::PauseGate> gate) { pause_gate_ = std::move(gate); }

  // Returns a healthy idle connection (ReadyForQuery 'I' already seen); hands it to a waiter if any.
  // A connection past its lifetime is closed instead.
  void release(std::unique_ptr<ServerConnection> conn);
  // Closes a connection that must not be reused, and lets a waiter open a replacement.
  void discard(std::unique_ptr<ServerConnection> conn, CloseReason why);

  // Reload with the same backend: new size, timeouts and lifecycle apply from now on.
  void apply(const PoolSettings& settings);
  // A retired pool (its backend changed on reload) closes connections as they come back.
  void retire();
  void close_idle(CloseReason why);
  // Starts the periodic sweep / min_size warm-up / health probe on ctx (a worker's io_context).
  void start_maintenance(asio::io_context& ctx, int worker);
  // No more warm-ups or probes (shutdown); the loop ends at its next tick.
  void stop_maintenance();

  const ServerEndpoint& endpoint() const { return *endpoint_; }
  std::shared_ptr<const ServerEndpoint> endpoint_ptr() const { return endpoint_; }
  PoolSettings settings() const;
  PoolCounters& counters() { return counters_; }
  // How the last connection opened logged in, for SHOW SERVERS: tls "TLSv1.3 TLS_AES_256_GCM_SHA384"
  // ("" in plaintext), auth as ServerConnection::auth_method ("" before any login).
  struct LastLogin {
    std::string tls, auth;
  };
  LastLogin last_login() const;
  bool healthy() const { return health_->healthy.load(std::memory_order_relaxed); }
  struct Snapshot {
    int total, idle, waiting, max_size;
  };
  Snapshot snapshot();

 private:
  struct Waiter;
  struct Attempt;
  struct Pass;
  using Clock = std::chrono::steady_clock;

  // One look at the pool, under the lock: an idle connection, the right to open one, a refusal, or a
  // waiter queued.
  Pass look_locked(asio::io_context& ctx, int worker, Attempt& attempt);
  // What the woken pass.waiter was given, under the lock (pass.s: the settings now); false: nothing (its
  // back-off window ended, or its queue time), look again if time is left.
  bool collect_locked(Pass& pass);
  // acquire() after the pause gate; `given`: its first pass, already looked at (or its waiter woken).
  awaitable<Checkout> checkout(asio::io_context& ctx, int worker, Attempt attempt, std::optional<Pass> given);
  // acquire_queued() goes on in checkout()'s coroutine (no attempt: all of acquire() from the pause gate);
  // the end is posted to the receiver.
  void continue_in_coroutine(asio::io_context& ctx, int worker, std::optional<Attempt> attempt,
                             std::optional<Pass> given, std::shared_ptr<Receiver> receiver);
  static awaitable<void> finish_queued(std::shared_ptr<ServerPool> self, asio::io_context& ctx, int worker,
                                       std::optional<Attempt> attempt, std::optional<Pass> given,
                                       std::shared_ptr<Receiver> receiver);
  // Straight from a client whose transaction just ended (ReadyForQuery 'I'), never idle in the pool, and
  // nothing left unread: no expiry can have passed and nothing to peek at (a system call saved per queued
  // checkout). Connections that sat idle are judged by idle_fitness().
  static bool fit_as_handed_over(const ServerConnection& conn, bool handed_over) {
    return handed_over && conn.rbuf.empty();
  }
  awaitable<Checkout> open_new(asio::io_context& ctx, int worker);
  // An idle connection taken from the pool: expired or closed by the server (unfit, closed for `why`),
  // fit as it is, or to be checked with a round trip first (idle > check_after, or data arrived).
  enum class Fitness { fit, unfit, needs_check };
  Fitness idle_fitness(ServerConnection& conn, const PoolSettings& s, CloseReason& why);
  // That round trip; false: close the connection (failed_check).
  awaitable<bool> passes_check(ServerConnection& conn, const PoolSettings& s);
  std::unique_ptr<ServerConnection> pop_idle_locked(int worker);
  // handed_over: conn comes straight from release() (a client's transaction just ended on it).
  void wake_one_locked(std::unique_ptr<ServerConnection> conn, bool handed_over = false);
  void count_close(const ServerConnection& conn, CloseReason why);
  void connect_succeeded();
  // Returns the message for clients.
  std::string connect_failed_locked(const std::string& error, bool transient);
  std::string down_message_locked(Clock::time_point now) const;
  // While the backend is down: whether a checkout with this deadline gets no attempt worth waiting for.
  bool fails_fast_locked(Clock::time_point now, const PoolSettings& s, Clock::time_point give_up_at) const;
  // Wakes every waiter; with an error, they fail with it, else they look at the pool again.
  void wake_all_locked(const std::string& error = {});

  static awaitable<void> maintain(std::weak_ptr<ServerPool> weak, asio::io_context& ctx, int worker);
  void sweep();
  awaitable<void> warm_up(asio::io_context& ctx, int worker);
  awaitable<void> probe(asio::io_context& ctx, int worker);

  std::shared_ptr<const ServerEndpoint> endpoint_;
  std::shared_ptr<AliasHealth> health_;
  PoolCounters counters_;
  mutable std::mutex mu_;
  PoolSettings settings_;
  std::vector<std::vector<std::unique_ptr<ServerConnection>>> idle_;  // per worker, used as a stack
  int idle_count_ = 0;
  int total_ = 0;  // open + opening
  bool retired_ = false;
  bool maintenance_started_ = false, maintenance_stopped_ = false;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  // Connect back-off: after a failure no new attempt is made until down_until_. down_since_: the first
  // failure of the current outage; transient_down_: the last failure was a restarting server's.
  std::chrono::milliseconds backoff_{0};
  Clock::time_point down_until_{}, down_since_{}, last_probe_{};
  bool transient_down_ = false;
  std::string last_error_;
  LastLogin last_login_;
  std::shared_ptr<admin::PauseGate> pause_gate_;
};

}  // namespace pgroute
