#include "proxy/column_order_cache.hpp"

#include <algorithm>

namespace pgroute {

void ColumnOrderCache::sync(uint64_t generation) {
  if (generation <= generation_) return;
  by_table_.clear();
  generation_ = generation;
}

std::optional<int> ColumnOrderCache::find(std::string_view table, std::string_view column) const {
  auto it = by_table_.find(table);
  if (it == by_table_.end()) return std::nullopt;
  for (const Entry& e : it->second)
    if (e.column == column) return e.position;
  return std::nullopt;
}

void ColumnOrderCache::store(std::string_view table, std::string_view column, int position) {
  auto it = by_table_.find(table);
  if (it == by_table_.end()) it = by_table_.emplace(std::string(table), std::vector<Entry>{}).first;
  auto& entries = it->second;
  auto e = std::find_if(entries.begin(), entries.end(), [&](const Entry& x) { return x.column == column; });
  if (e != entries.end()) e->position = position;
  else entries.push_back({std::string(column), position});
}

void ColumnOrderCache::forget(std::string_view table) {
  auto it = by_table_.find(table);
  if (it != by_table_.end()) by_table_.erase(it);
}

router::KeyPosition ColumnOrderLookup::key_position(std::string_view table, std::string_view column,
                                                    std::span<const std::string> shards) const {
  used_table_ = table;
  if (learnt_) return *learnt_;
  cache_.sync(generation_);
  if (auto position = cache_.find(table, column)) return {router::KeyPosition::State::Known, *position, {}, {}};
  missing_ = Request{table, column, shards};
  return {};
}

}  // namespace pgroute
