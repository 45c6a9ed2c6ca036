#include "router/causal_floors.hpp"

#include <mutex>

namespace pgroute::router {

void CausalFloors::raise(const std::vector<std::string>& tables, uint64_t lsn) {
  std::unique_lock lock(mu_);
  for (const std::string& t : tables) {
    auto [it, added] = floors_.try_emplace(t, lsn);
    if (!added && it->second < lsn) it->second = lsn;
  }
  uint64_t lowest = UINT64_MAX;
  for (const auto& [table, floor] : floors_) lowest = std::min(lowest, floor);
  lowest_.store(lowest, std::memory_order_relaxed);
  count_.store(floors_.size(), std::memory_order_release);
}

uint64_t CausalFloors::floor_for(const std::vector<TableRef>& tables) const {
  if (empty()) return 0;
  std::shared_lock lock(mu_);
  uint64_t floor = 0;
  if (auto it = floors_.find(kAnyTable); it != floors_.end()) floor = it->second;
  for (const TableRef& t : tables)
    if (auto it = floors_.find(key(t)); it != floors_.end()) floor = std::max(floor, it->second);
  return floor;
}

void CausalFloors::forget_replayed(uint64_t replayed) {
  if (empty() || replayed < lowest_.load(std::memory_order_relaxed)) return;
  std::unique_lock lock(mu_);
  uint64_t lowest = UINT64_MAX;
  for (auto it = floors_.begin(); it != floors_.end();) {
    if (it->second <= replayed) {
      it = floors_.erase(it);
    } else {
      lowest = std::min(lowest, it->second);
      ++it;
    }
  }
  lowest_.store(lowest, std::memory_order_relaxed);
  count_.store(floors_.size(), std::memory_order_release);
}

}  // namespace pgroute::router
