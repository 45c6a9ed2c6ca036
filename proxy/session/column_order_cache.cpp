#include "proxy/session/column_order_cache.hpp"

#include <algorithm>

namespace pgroute {

void ColumnOrderCache::sync(uint64_t generation) {
  if (generation <= generation_) return;
  by_table_.clear();
  generation_ = generation;
}

std::optional<router::KeyPosition> ColumnOrderCache::find(std::string_view table, std::string_view column,
                                                          Clock::time_point now) const {
  auto it = by_table_.find(table);
  if (it == by_table_.end()) return std::nullopt;
  for (const Entry& e : it->second) {
    if (e.column != column) continue;
    if (e.position.state == router::KeyPosition::State::Failed && now - e.learnt >= kSettle) return std::nullopt;
    return e.position;
  }
  return std::nullopt;
}

void ColumnOrderCache::store(std::string_view table, std::string_view column, router::KeyPosition position,
                             Clock::time_point now) {
  auto it = by_table_.find(table);
  if (it == by_table_.end()) it = by_table_.emplace(std::string(table), std::vector<Entry>{}).first;
  auto& entries = it->second;
  auto e = std::find_if(entries.begin(), entries.end(), [&](const Entry& x) { return x.column == column; });
  if (e != entries.end())
    *e = {std::string(column), std::move(position), now};
  else
    entries.push_back({std::string(column), std::move(position), now});
}

bool ColumnOrderCache::forget(std::string_view table, Clock::time_point now) {
  auto it = by_table_.find(table);
  if (it == by_table_.end()) return false;
  for (const Entry& e : it->second)
    if (now - e.learnt < kSettle) return false;
  by_table_.erase(it);
  return true;
}

router::KeyPosition ColumnOrderLookup::key_position(std::string_view table, std::string_view column,
                                                    std::span<const std::string> shards) const {
  used_table_ = table;
  if (learnt_) return *learnt_;
  cache_.sync(generation_);
  if (auto position = cache_.find(table, column, ColumnOrderCache::Clock::now())) return std::move(*position);
  missing_ = Request{table, column, shards};
  return {};
}

}  // namespace pgroute
