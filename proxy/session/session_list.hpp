// The live sessions of one worker, linked through the sessions themselves: a map from id to session
// cost each idle client a node and a bucket, more than the two pointers here. Touched only on the
// worker's thread. A session links itself when it starts and unlinks in its destructor, so every
// session in the list is alive.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace pgroute {

class ClientSession;

struct SessionListHook {
  ClientSession* prev = nullptr;
  ClientSession* next = nullptr;
};

class SessionList {
 public:
  void add(ClientSession& s);
  void remove(ClientSession& s);
  size_t size() const { return size_; }
  // Calls f(ClientSession&) for each; f must not end a session synchronously.
  template <typename F>
  void for_each(F&& f) const {
    for (ClientSession* s = head_; s;) {
      ClientSession* next = next_of(*s);
      f(*s);
      s = next;
    }
  }
  // Those in the list, held: for a caller that may end sessions while it goes through them.
  std::vector<std::shared_ptr<ClientSession>> held() const;

 private:
  static ClientSession* next_of(const ClientSession& s);
  ClientSession* head_ = nullptr;
  size_t size_ = 0;
};

}  // namespace pgroute
