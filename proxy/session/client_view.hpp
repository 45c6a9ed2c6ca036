// The ParameterStatus values a client has seen, as (hash of name, hash of value): the proxy tells a
// client of a value only when it differs from what it has seen. 32-bit hashes: a changed value taken for
// the old one (one chance in 2^32) skips one ParameterStatus.
//
// An idle client holds a dozen of them, and clients of one pool mostly see the same values: sessions
// share one copy (interned per worker when they park) and copy it only when a value they see changes.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/session/recently_offered.hpp"

namespace pgroute {

class ClientViews;

class ClientView {
 public:
  using Entries = std::vector<std::pair<uint32_t, uint32_t>>;
  // Records `value` for `name`; true if it differs from what the client has seen.
  bool changes(std::string_view name, std::string_view value);
  // Shares an equal copy another session of this worker holds, or offers this one for sharing.
  void intern(ClientViews& views);
  size_t size() const { return entries_ ? entries_->size() : 0; }
  bool shares_with(const ClientView& other) const { return entries_ && entries_ == other.entries_; }

 private:
  std::shared_ptr<Entries> entries_;  // shared when use_count() > 1: copied before a change
};

// A worker's views open for sharing: a few, the most recently offered (recently_offered.hpp).
class ClientViews {
 public:
  std::shared_ptr<ClientView::Entries> find_or_add(const std::shared_ptr<ClientView::Entries>& view) {
    return views_.find_or_keep(view, [](const auto& a, const auto& b) { return a == b; });
  }

 private:
  RecentlyOffered<ClientView::Entries> views_;
};

}  // namespace pgroute
