// Extended-protocol messages kept (sent nowhere yet) until a Bind, Flush or Sync decides the alias of
// their unit. Each message is decoded once, as it is held: its place, type and the statement a Parse or
// Close names are kept beside the bytes, so deciding and replaying never cut the bytes again.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/wire/frame.hpp"

namespace pgroute {

class HeldUnit {
 public:
  // Keeps a whole message (a Frame cut from a buffer by next_frame).
  void hold(const wire::Frame& f);
  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size(); }
  std::string_view bytes() const { return bytes_; }
  // The i-th held message, viewing into this unit's bytes.
  wire::Frame message(size_t i) const;
  // An Execute is held (the unit runs a statement, not only prepares one).
  bool has_execute() const { return executes_ > 0; }
  int binds() const { return binds_; }
  int executes() const { return executes_; }
  // What a held Parse (true) or Close (false) last did to the client's statement `name`; null when no held
  // message names it.
  const bool* statement_state(std::string_view name) const;
  // The text of the statement a held Parse names (the last one); empty when none does.
  std::string_view parsed_query(std::string_view name) const;
  void clear();

 private:
  struct Message {
    char type;
    uint32_t offset;  // of the type byte in bytes_
    uint32_t size;    // whole message
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::string bytes_;
  std::vector<Message> messages_;
  std::unordered_map<std::string, bool, NameHash, std::equal_to<>> statements_;
  int binds_ = 0, executes_ = 0;
};

}  // namespace pgroute
