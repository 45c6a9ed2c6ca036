// Everything an integration test needs: processes, scratch dirs, libpq connections, shared
// PostgreSQL clusters, the proxy process and a raw protocol client.
#pragma once

#include <doctest/doctest.h>

#include "pg_cluster.hpp"
#include "pg_conn.hpp"
#include "process.hpp"
#include "proxy_process.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pgroute::it {

// 1-based line and column of the first `needle` in `text`, as "LINE:COL" (how problems point into files).
inline std::string position_of(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  if (at == std::string::npos) throw std::logic_error(needle + " not in the text");
  const size_t newline = text.rfind('\n', at);
  const size_t line_start = newline == std::string::npos ? 0 : newline + 1;
  const long line = std::count(text.begin(), text.begin() + static_cast<long>(at), '\n') + 1;
  return std::to_string(line) + ":" + std::to_string(at - line_start + 1);
}

// Polls `pred` (every 20 ms) until it holds or `within` has passed; its last answer. For effects with
// no event to wait on (a reload applied, a server's view of its sessions).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = std::chrono::seconds(5)) {
  for (auto deadline = std::chrono::steady_clock::now() + within; std::chrono::steady_clock::now() < deadline;) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// Worker threads must not assert (a doctest REQUIRE throws on the wrong thread): they record
// what went wrong here and the test checks the list after joining them.
class ThreadErrors {
 public:
  void add(std::string what) {
    std::lock_guard lock(mutex_);
    errors_.push_back(std::move(what));
  }
  std::vector<std::string> list() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  // The first few, one per line, for a failure message.
  std::string summary(std::size_t max = 5) const {
    std::lock_guard lock(mutex_);
    std::string s;
    for (std::size_t i = 0; i < errors_.size() && i < max; ++i) s += errors_[i] + "\n";
    if (errors_.size() > max) s += "... and " + std::to_string(errors_.size() - max) + " more\n";
    return s;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> errors_;
};

}  // namespace pgroute::it
