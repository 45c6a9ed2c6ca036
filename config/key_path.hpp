// Where a value sits in the document, as messages name it: "pool.mode", "users[1].auth".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgroute::config {

class KeyPath {
 public:
  KeyPath() = default;  // the document root: messages carry no path prefix

  KeyPath key(std::string_view name) const {
    return KeyPath(text_.empty() ? std::string(name) : text_ + "." + std::string(name));
  }
  KeyPath index(size_t i) const { return KeyPath(text_ + "[" + std::to_string(i) + "]"); }

  const std::string& str() const { return text_; }
  bool is_root() const { return text_.empty(); }

 private:
  explicit KeyPath(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

}  // namespace pgroute::config
