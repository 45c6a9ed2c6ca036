#include "router/analysis_cache.hpp"

#include <algorithm>

#include "router/analyzer.hpp"

namespace pgroute::router {

AnalysisCache::AnalysisCache(size_t max_entries, size_t max_sql_bytes)
    : max_entries_(std::max<size_t>(max_entries, 1)), max_sql_bytes_(max_sql_bytes) {}

std::shared_ptr<const Analysis> AnalysisCache::get(std::string_view sql) {
  if (auto it = index_.find(sql); it != index_.end()) {
    ++hits_;
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->analysis;
  }
  ++misses_;
  auto analysis = std::make_shared<const Analysis>(analyze(sql));
  if (sql.size() > max_sql_bytes_) return analysis;
  if (entries_.size() >= max_entries_) {
    index_.erase(entries_.back().sql);
    entries_.pop_back();
    ++evictions_;
  }
  entries_.push_front({std::string(sql), analysis});
  index_.emplace(entries_.front().sql, entries_.begin());
  return analysis;
}

std::shared_ptr<const Analysis> AnalysisCache::peek(std::string_view sql) const {
  auto it = index_.find(sql);
  return it == index_.end() ? nullptr : it->second->analysis;
}

void AnalysisCache::clear() {
  index_.clear();
  entries_.clear();
}

}  // namespace pgroute::router
