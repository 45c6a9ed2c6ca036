// The few values a worker's sessions offered most recently for sharing, held weakly: a session that
// brings an equal value takes the one already held instead of keeping its own copy (ClientViews,
// ClientIdentities). Bounded: clients that each bring a value of their own (each its own
// application_name) cost a lookup over at most kKept, never a growing table.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace pgroute {

template <typename T, size_t kKept = 16>
class RecentlyOffered {
 public:
  // An equal value (by `equal`) that a session still holds, else `offered`, kept for later lookups.
  template <typename Equal>
  std::shared_ptr<T> find_or_keep(const std::shared_ptr<T>& offered, Equal equal) {
    for (auto& kept : kept_) {
      auto other = kept.lock();
      if (other == offered) return offered;  // offered before
      if (other && equal(*other, *offered)) return other;
    }
    for (auto& kept : kept_)
      if (kept.expired()) {
        kept = offered;
        return offered;
      }
    if (kept_.size() < kKept) {
      kept_.push_back(offered);
    } else {
      kept_[next_] = offered;
      next_ = (next_ + 1) % kKept;
    }
    return offered;
  }

 private:
  std::vector<std::weak_ptr<T>> kept_;
  size_t next_ = 0;  // the slot the next new value replaces once kKept are kept
};

}  // namespace pgroute
