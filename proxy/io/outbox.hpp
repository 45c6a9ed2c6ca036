// Bytes on their way to a client socket. Two parts of a session may produce them (the client side
// answers some messages itself, the server pump forwards results); the first one to flush writes
// everything queued, including what the other adds meanwhile, so writes never interleave. On a TLS
// connection what is queued is encrypted as it is written.
#pragma once
#include <string>

#include "proxy/io/asio.hpp"
#include "proxy/io/tls_channel.hpp"
#include "proxy/io/write_now.hpp"
#include "proxy/metrics/query_stats.hpp"

namespace pgroute {

class Outbox {
 public:
  std::string& buffer() { return pending_; }
  // The connection's TLS (null: plaintext); set before anything is flushed. While its handshake runs
  // nothing may be written (hold): what is queued then waits, and goes out encrypted or not at all.
  void use_tls(TlsChannel* tls) { tls_ = tls; }
  void hold(bool on) { held_ = on; }
  // Frees the storage while nothing is queued or being written.
  void release() {
    if (!writing_ && pending_.empty() && cipher_.empty()) {
      std::string().swap(pending_);
      std::string().swap(inflight_);
      std::string().swap(cipher_);
    }
  }
  bool writing() const { return writing_; }
  size_t queued() const { return pending_.size() + cipher_.size(); }

  enum class FlushNow { done, failed, must_wait };
  // Writes what is queued without waiting. must_wait: another flush is writing, or the socket took only
  // part (the rest stays queued for flush()).
  FlushNow flush_now(Socket& sock) {
    if (failed_) return FlushNow::failed;
    if (writing_) return FlushNow::must_wait;
    if (held_) return FlushNow::done;
    std::string& out = wire_bytes();
    if (failed_) return FlushNow::failed;
    if (out.empty()) return FlushNow::done;
    boost::system::error_code ec;
    const size_t n = write_now(sock, out, ec);
    metrics::record_client_bytes_out(n);
    if (ec) {
      failed_ = true;
      return FlushNow::failed;
    }
    if (n == out.size()) {
      out.clear();
      return FlushNow::done;
    }
    out.erase(0, n);
    return FlushNow::must_wait;
  }

  // Returns false if the client is gone.
  awaitable<bool> flush(Socket& sock) {
    if (writing_ || held_) co_return !failed_;
    writing_ = true;
    while (!failed_) {
      std::string& out = wire_bytes();
      if (failed_ || out.empty()) break;
      inflight_.swap(out);
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
  // The bytes for the socket: what is queued, encrypted first on a TLS connection.
  std::string& wire_bytes() {
    if (!tls_) return pending_;
    if (!pending_.empty()) {
      if (!tls_->write(pending_, cipher_)) failed_ = true;
      pending_.clear();
    }
    return cipher_;
  }

  std::string pending_, inflight_;
  std::string cipher_;  // TLS records not written yet
  TlsChannel* tls_ = nullptr;
  bool writing_ = false;
  bool failed_ = false;
  bool held_ = false;
};

}  // namespace pgroute
