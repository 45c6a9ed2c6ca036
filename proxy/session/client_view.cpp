#include "proxy/session/client_view.hpp"

#include <functional>

namespace pgroute {

bool ClientView::changes(std::string_view name, std::string_view value) {
  const auto key = static_cast<uint32_t>(std::hash<std::string_view>{}(name));
  const auto seen = static_cast<uint32_t>(std::hash<std::string_view>{}(value));
  if (entries_) {
    for (const auto& [k, v] : *entries_)
      if (k == key && v == seen) return false;
  }
  if (!entries_)
    entries_ = std::make_shared<Entries>();
  else if (entries_.use_count() > 1)
    entries_ = std::make_shared<Entries>(*entries_);  // shared with other sessions: this one's own copy
  for (auto& [k, v] : *entries_) {
    if (k != key) continue;
    v = seen;
    return true;
  }
  entries_->emplace_back(key, seen);
  return true;
}

void ClientView::intern(ClientViews& views) {
  if (!entries_ || entries_.use_count() > 1) return;  // nothing to share, or shared already
  entries_->shrink_to_fit();                          // grown one by one at login
  entries_ = views.find_or_add(entries_);
}

std::shared_ptr<ClientView::Entries> ClientViews::find_or_add(const std::shared_ptr<ClientView::Entries>& view) {
  for (auto& kept : views_) {
    auto other = kept.lock();
    if (other == view) return view;  // offered before
    if (other && *other == *view) return other;
  }
  for (auto& kept : views_)
    if (kept.expired()) {
      kept = view;
      return view;
    }
  if (views_.size() < kKept) {
    views_.push_back(view);
  } else {
    views_[next_] = view;
    next_ = (next_ + 1) % kKept;
  }
  return view;
}

}  // namespace pgroute
