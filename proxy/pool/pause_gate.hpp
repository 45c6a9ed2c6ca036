// PAUSE / RESUME of an alias: new transactions on a paused alias wait (without a timeout, as in
// PgBouncer) until it is resumed. Transactions already running finish normally.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/io/asio.hpp"

namespace pgroute::admin {

class PauseGate {
 public:
  void pause();
  void resume();  // wakes every waiter
  // Lock-free: checked on every checkout before anything waits.
  bool paused() const { return paused_.load(std::memory_order_acquire); }
  // Returns when resumed (at once if not paused). `ex` is the waiting coroutine's executor.
  awaitable<void> wait(asio::any_io_executor ex);

 private:
  mutable std::mutex mu_;
  std::atomic<bool> paused_{false};  // written under mu_, so waiters_ and the flag agree
  std::vector<std::shared_ptr<asio::steady_timer>> waiters_;
};

// One gate per alias name, created on first use and kept (a pool created later finds its gate paused).
class PauseRegistry {
 public:
  std::shared_ptr<PauseGate> gate(const std::string& alias);
  std::vector<std::pair<std::string, bool>> states() const;  // alias -> paused, sorted by alias
  void resume_all();

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<PauseGate>> gates_;
};

}  // namespace pgroute::admin
