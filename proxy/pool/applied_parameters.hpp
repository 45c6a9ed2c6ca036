// The session parameters a server connection was brought to for the clients it served (SET through
// set_config, or the client's own SET), and which client identity they equal as a whole: the next
// client with that identity (ClientIdentity::serial) then needs no comparison, and no SQL, at attach.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace pgroute {

class AppliedParameters {
 public:
  using Values = std::map<std::string, std::string, std::less<>>;
  const Values& values() const { return values_; }
  // One parameter changed: the whole no longer equals any identity's.
  void set(std::string name, std::string value) {
    values_[std::move(name)] = std::move(value);
    identity_ = 0;
  }
  void erase(std::string_view name) {
    if (auto it = values_.find(name); it != values_.end()) values_.erase(it);
    identity_ = 0;
  }
  void clear() {
    values_.clear();
    identity_ = 0;
  }
  // They are now exactly `params`, the parameters of identity `serial` (0: of no interned identity).
  template <typename Params>
  void assign(const Params& params, uint64_t serial) {
    values_.clear();
    for (const auto& [name, value] : params) values_[name] = value;
    identity_ = serial;
  }
  void mark_equal_to(uint64_t serial) { identity_ = serial; }
  bool equal_to(uint64_t serial) const { return serial != 0 && identity_ == serial; }

 private:
  Values values_;
  uint64_t identity_ = 0;
};

}  // namespace pgroute
