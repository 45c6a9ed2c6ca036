#pragma once
// Bounded LRU of analyses keyed by SQL text, so a repeated statement (every Parse of a hot query, every
// simple-protocol repeat) costs one hash lookup instead of a parse. One per worker thread: not
// thread-safe. Entries are shared_ptr<const Analysis>, so a caller may keep one after eviction.

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "router/statement.hpp"

namespace pgroute::router {

class AnalysisCache {
 public:
  // max_entries >= 1. Texts longer than max_sql_bytes are analysed but not kept (they are rarely
  // repeated and would crowd out everything else).
  explicit AnalysisCache(size_t max_entries, size_t max_sql_bytes = 64 * 1024);

  // The cached analysis of `sql`, analysing and inserting it on a miss.
  std::shared_ptr<const Analysis> get(std::string_view sql);
  // Only looks; counts neither a hit nor a miss and does not refresh recency.
  std::shared_ptr<const Analysis> peek(std::string_view sql) const;

  size_t size() const { return entries_.size(); }
  size_t capacity() const { return max_entries_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t evictions() const { return evictions_; }
  void clear();

 private:
  struct Entry {
    std::string sql;
    std::shared_ptr<const Analysis> analysis;
  };
  using List = std::list<Entry>;  // most recently used first

  size_t max_entries_;
  size_t max_sql_bytes_;
  List entries_;
  // Keys view the sql strings owned by the list nodes, which never move.
  std::unordered_map<std::string_view, List::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace pgroute::router
