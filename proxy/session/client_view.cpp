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

}  // namespace pgroute
