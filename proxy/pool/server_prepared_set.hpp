// Which proxy-named prepared statements exist on one server connection, oldest first, so the pool can
// bound them per connection and evict the least recently prepared with a Close.
#pragma once
#include <cstdint>
#include <list>
#include <unordered_map>

namespace pgroute {

class ServerPreparedSet {
 public:
  bool contains(uint64_t name) const { return index_.count(name) != 0; }
  size_t size() const { return order_.size(); }
  void add(uint64_t name) {
    if (contains(name)) return;
    order_.push_back(name);
    index_.emplace(name, std::prev(order_.end()));
  }
  void remove(uint64_t name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  uint64_t oldest() const { return order_.front(); }
  void clear() {
    order_.clear();
    index_.clear();
  }

 private:
  std::list<uint64_t> order_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

}  // namespace pgroute
