#include "proxy/session/session_list.hpp"

#include "proxy/session/client_session.hpp"

namespace pgroute {

void SessionList::add(ClientSession& s) {
  s.list_hook_.prev = nullptr;
  s.list_hook_.next = head_;
  if (head_) head_->list_hook_.prev = &s;
  head_ = &s;
  ++size_;
}

void SessionList::remove(ClientSession& s) {
  SessionListHook& h = s.list_hook_;
  if (h.prev)
    h.prev->list_hook_.next = h.next;
  else if (head_ == &s)
    head_ = h.next;
  else
    return;  // not in the list
  if (h.next) h.next->list_hook_.prev = h.prev;
  h = {};
  --size_;
}

ClientSession* SessionList::next_of(const ClientSession& s) { return s.list_hook_.next; }

std::vector<std::shared_ptr<ClientSession>> SessionList::held() const {
  std::vector<std::shared_ptr<ClientSession>> out;
  out.reserve(size_);
  for_each([&](ClientSession& s) {
    if (auto p = s.weak_from_this().lock()) out.push_back(std::move(p));
  });
  return out;
}

}  // namespace pgroute
