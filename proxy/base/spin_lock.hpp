// A one-byte lock for data that more than one thread touches rarely and for a moment (a client's
// cancel target: its session sets it per transaction, a CancelRequest on another worker reads it).
// std::mutex is 40 bytes, paid by every idle client that holds one.
#pragma once
#include <atomic>
#include <thread>

namespace pgroute {

class SpinLock {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire))
      while (locked_.load(std::memory_order_relaxed)) std::this_thread::yield();
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace pgroute
