// Bytes on their way to a client socket. Two coroutines of a session may produce them (the client loop
// answers some messages itself, the server pump forwards results); the first one to flush writes
// everything queued, including what the other adds meanwhile, so writes never interleave.
#pragma once
#include <string>

#include "proxy/io/asio.hpp"
#include "proxy/io/write_now.hpp"
#include "proxy/metrics/query_stats.hpp"

namespace pgroute {

class Outbox {
 public:
  std::string& buffer() { return pending_; }
  // Frees the storage while nothing is queued or being written.
  void release() {
    if (!writing_ && pending_.empty()) {
      std::string().swap(pending_);
      std::string().swap(inflight_);
    }
  }
  bool writing() const { return writing_; }
  size_t queued() const { return pending_.size(); }

  enum class FlushNow { done, failed, must_wait };
  // Writes what is queued without waiting. must_wait: another flush is writing, or the socket took only
  // part (the rest stays queued for flush()).
  FlushNow flush_now(Socket& sock) {
    if (failed_) return FlushNow::failed;
    if (writing_) return FlushNow::must_wait;
    if (pending_.empty()) return FlushNow::done;
    boost::system::error_code ec;
    const size_t n = write_now(sock, pending_, ec);
    metrics::record_client_bytes_out(n);
    if (ec) {
      failed_ = true;
      return FlushNow::failed;
    }
    if (n == pending_.size()) {
      pending_.clear();
      return FlushNow::done;
    }
    pending_.erase(0, n);
    return FlushNow::must_wait;
  }

  // Returns false if the client is gone.
  awaitable<bool> flush(Socket& sock) {
    if (writing_) co_return !failed_;
    writing_ = true;
    while (!pending_.empty() && !failed_) {
      inflight_.swap(pending_);
      boost::system::error_code ec;
      size_t n = write_now(sock, inflight_, ec);
      if (!ec && n < inflight_.size()) {
        auto [async_ec, rest] =
            co_await asio::async_write(sock, asio::buffer(inflight_.data() + n, inflight_.size() - n), use_nothrow);
        ec = async_ec;
        n += rest;
      }
      metrics::record_client_bytes_out(n);
      inflight_.clear();
      if (ec) failed_ = true;
    }
    writing_ = false;
    co_return !failed_;
  }

 private:
  std::string pending_, inflight_;
  bool writing_ = false;
  bool failed_ = false;
};

}  // namespace pgroute
