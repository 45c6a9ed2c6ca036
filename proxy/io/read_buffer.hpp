// A reusable receive buffer: bytes arrive at the end, complete messages are consumed from the front.
// Keeps its capacity between messages so the steady-state path does not allocate.
#pragma once
#include <cstring>
#include <string_view>
#include <vector>

namespace pgroute {

class ReadBuffer {
 public:
  // Storage is allocated by the first prepare(), so an idle owner can hold none (release()).
  ReadBuffer() = default;

  std::string_view view() const { return {data_.data() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Space to read into, at least `min_free` bytes (the buffer compacts or grows as needed).
  std::pair<char*, size_t> prepare(size_t min_free = 4096) {
    if (data_.size() - end_ < min_free) {
      if (begin_ > 0) {
        std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (data_.size() - end_ < min_free) data_.resize(end_ + min_free);
    }
    return {data_.data() + end_, data_.size() - end_};
  }
  void commit(size_t n) { end_ += n; }

  // Frees the storage while nothing is buffered (an idle client connection then costs no buffer).
  void release() {
    if (empty()) {
      std::vector<char>().swap(data_);
      begin_ = end_ = 0;
    }
  }

  // Frees the storage while nothing is buffered and it holds more than `cap` bytes: the next
  // prepare() then allocates only what it is asked for.
  void shrink_to(size_t cap) {
    if (empty() && data_.size() > cap) release();
  }

  // Give memory back after an unusually large message.
  void shrink_if_idle(size_t keep = 64 * 1024) {
    if (empty() && data_.size() > keep) {
      data_.resize(keep);
      data_.shrink_to_fit();
    }
  }

 private:
  std::vector<char> data_;
  size_t begin_ = 0, end_ = 0;
};

}  // namespace pgroute
