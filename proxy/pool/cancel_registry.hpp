// Maps the BackendKeyData the proxy gave each client to where that client's query is running right now.
// Touched at login, logout, attach/detach and on CancelRequest; never per message.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/base/spin_lock.hpp"

namespace pgroute {

// The server-side key of the connection currently serving a client (absent while it holds none).
struct CancelTarget {
  std::string host;
  uint16_t port = 0;
  int32_t pid = 0, secret = 0;
};

// Where a client's query runs now: one server connection, several during a read across shards, or
// none between transactions.
class CancelSlot {
 public:
  void set(CancelTarget t) {
    std::lock_guard lock(mu_);
    targets_.assign(1, std::move(t));
  }
  void set_all(std::vector<CancelTarget> targets) {
    std::lock_guard lock(mu_);
    targets_ = std::move(targets);
  }
  void clear() {
    std::lock_guard lock(mu_);
    targets_.clear();
  }
  // Frees the storage of an empty slot (a parked client's: set() and clear() per transaction keep it).
  void release_memory() {
    std::lock_guard lock(mu_);
    if (targets_.empty()) std::vector<CancelTarget>().swap(targets_);
  }
  std::vector<CancelTarget> get() const {
    std::lock_guard lock(mu_);
    return targets_;
  }
  // The targets for a cancel request about to be forwarded; end_forward() once it has arrived. Until
  // then forwarding() holds, and the client's connection must serve nobody else: the cancel would stop
  // their statement instead.
  std::vector<CancelTarget> begin_forward() {
    std::lock_guard lock(mu_);
    if (!targets_.empty()) ++forwarding_;
    return targets_;
  }
  void end_forward() {
    std::lock_guard lock(mu_);
    --forwarding_;
  }
  bool forwarding() const {
    std::lock_guard lock(mu_);
    return forwarding_ > 0;
  }
  // The server connection (host, port, pid) no longer serves the client: forgets it as the target,
  // unless the slot names another connection by now (one the client attached since), and tells in the
  // same lock whether a cancel is still on its way (then the connection must serve nobody else yet).
  bool detach(std::string_view host, uint16_t port, int32_t pid) {
    std::lock_guard lock(mu_);
    if (targets_.size() == 1 && targets_[0].pid == pid && targets_[0].port == port && targets_[0].host == host)
      targets_.clear();
    return forwarding_ > 0;
  }

 private:
  std::vector<CancelTarget> targets_;
  int forwarding_ = 0;
  mutable SpinLock mu_;  // a session holds its slot inline: this lock is one byte
};

// A cancel request being forwarded: forwarding() holds while this lives, whichever way its coroutine
// ends (an exception, or destruction at shutdown).
class CancelForward {
 public:
  explicit CancelForward(std::shared_ptr<CancelSlot> slot) : slot_(std::move(slot)), targets_(slot_->begin_forward()) {}
  ~CancelForward() {
    if (!targets_.empty()) slot_->end_forward();  // begin_forward() counted only a forward with targets
  }
  CancelForward(const CancelForward&) = delete;
  CancelForward& operator=(const CancelForward&) = delete;
  const std::vector<CancelTarget>& targets() const { return targets_; }

 private:
  std::shared_ptr<CancelSlot> slot_;
  std::vector<CancelTarget> targets_;  // none: nothing was running
};

class CancelRegistry {
 public:
  struct Key {
    int32_t pid, secret;
  };
  // Allocates a fresh random key (CSPRNG), unique among live clients.
  Key add(std::shared_ptr<CancelSlot> slot);
  void remove(int32_t pid);
  // The slot for a key, if the key is live and the secret matches.
  std::shared_ptr<CancelSlot> find(int32_t pid, int32_t secret) const;
  size_t size() const;

 private:
  struct Entry {
    int32_t secret;
    std::weak_ptr<CancelSlot> slot;
  };
  mutable std::mutex mu_;
  std::unordered_map<int32_t, Entry> entries_;
};

}  // namespace pgroute
