#include "proxy/pool/cancel_registry.hpp"

#include "proxy/auth/random.hpp"

namespace pgroute {

CancelRegistry::Key CancelRegistry::add(std::shared_ptr<CancelSlot> slot) {
  for (;;) {
    uint32_t raw[2];
    auth::random_bytes(raw, sizeof raw);
    // Positive pids look like real PostgreSQL backends to clients that print them.
    int32_t pid = static_cast<int32_t>(raw[0] & 0x7fffffffu);
    int32_t secret = static_cast<int32_t>(raw[1]);
    if (pid == 0) continue;
    std::lock_guard lock(mu_);
    if (entries_.emplace(pid, Entry{secret, slot}).second) return {pid, secret};
  }
}

void CancelRegistry::remove(int32_t pid) {
  std::lock_guard lock(mu_);
  entries_.erase(pid);
}

std::shared_ptr<CancelSlot> CancelRegistry::find(int32_t pid, int32_t secret) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(pid);
  if (it == entries_.end() || it->second.secret != secret) return nullptr;
  return it->second.slot.lock();
}

size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace pgroute
