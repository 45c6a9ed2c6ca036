#include "proxy/pool/pause_gate.hpp"

namespace pgroute::admin {

void PauseGate::pause() {
  std::lock_guard lock(mu_);
  paused_ = true;
}

void PauseGate::resume() {
  std::vector<std::shared_ptr<asio::steady_timer>> wake;
  {
    std::lock_guard lock(mu_);
    paused_ = false;
    wake.swap(waiters_);
  }
  // Each timer is cancelled on its own executor (the waiter's worker thread), as the pool does.
  for (auto& t : wake) asio::post(t->get_executor(), [t] { t->cancel(); });
}

awaitable<void> PauseGate::wait(asio::any_io_executor ex) {
  for (;;) {
    auto timer = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    {
      std::lock_guard lock(mu_);
      if (!paused_) co_return;
      waiters_.push_back(timer);
    }
    // The cancel is posted to this same single-threaded executor, so it runs after the wait has begun.
    co_await timer->async_wait(use_nothrow);
  }
}

std::shared_ptr<PauseGate> PauseRegistry::gate(const std::string& alias) {
  std::lock_guard lock(mu_);
  auto& g = gates_[alias];
  if (!g) g = std::make_shared<PauseGate>();
  return g;
}

std::vector<std::pair<std::string, bool>> PauseRegistry::states() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, bool>> out;
  for (auto& [alias, g] : gates_) out.emplace_back(alias, g->paused());
  return out;
}

void PauseRegistry::resume_all() {
  std::lock_guard lock(mu_);
  for (auto& [alias, g] : gates_) g->resume();
}

}  // namespace pgroute::admin
