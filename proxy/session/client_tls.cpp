// TLS between the client and pgroute (`tls:`): the handshake after an SSLRequest, and the client reads
// of the login and the admin console, which go through TLS once it is on. The hot path's reads are in
// client_session.cpp (read_client), its writes in the outbox (io/outbox.hpp).
#include "proxy/base/log.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

awaitable<bool> ClientSession::start_tls(bool direct) {
  tls_ = std::make_unique<TlsChannel>(snap_->tls);
  u().out.hold(true);  // a FATAL queued meanwhile (a shutdown) must not go out in the clear
  if (direct) {        // the start of its ClientHello, read as if it were a startup packet
    tls_->feed(u().in.view());
    u().in.consume(u().in.size());
  }
  std::string& raw = tls_->raw();
  for (;;) {
    std::string out;
    const TlsChannel::Status st = tls_->handshake(out);
    if (!out.empty()) {
      std::string error;
      if (!co_await write_all(socket_, out, error)) {
        note_end(ClientCloseReason::client_lost, "writing the TLS handshake failed: " + error);
        co_return false;
      }
    }
    if (st == TlsChannel::Status::ok) break;
    if (st != TlsChannel::Status::want_more) {
      rt().tls_handshake_failures[static_cast<int>(tls_->failure())].fetch_add(1, std::memory_order_relaxed);
      note_end(ClientCloseReason::tls_failed, std::string(tls_failure_name(tls_->failure())) + ": " + tls_->error());
      co_return false;  // the alert (if any) went out with `out`; nothing more can be said in the clear
    }
    raw.resize(TlsChannel::kReadSize);
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(raw.data(), raw.size()), use_nothrow);
    if (ec || n == 0) {
      note_end(ClientCloseReason::client_lost, ec && ec != asio::error::eof
                                                   ? "reading the TLS handshake failed: " + ec.message()
                                                   : std::string("end of input during the TLS handshake"));
      co_return false;
    }
    metrics::record_client_bytes_in(n);
    tls_->feed({raw.data(), n});
  }
  u().out.use_tls(tls_.get());
  u().out.hold(false);
  tls_counted_ = true;
  rt().clients_tls.fetch_add(1, std::memory_order_relaxed);
  PGR_LOG(debug) << describe() << ": TLS " << tls_->version() << " " << tls_->cipher();
  // The client may have sent its startup packet right behind its last handshake message.
  if (tls_->read(u().in) == TlsChannel::Status::failed) {
    note_end(ClientCloseReason::tls_failed, tls_->error());
    co_return false;
  }
  co_return true;
}

awaitable<bool> ClientSession::start_direct_tls() {
  if (!snap_->tls) {
    // Nothing can be said: the client reads whatever comes as TLS records. PostgreSQL closes too.
    note_end(ClientCloseReason::protocol_violation,
             "a TLS handshake without SSLRequest (sslnegotiation=direct), but TLS is not configured (no tls:, "
             "or tls.mode: disable)");
    co_return false;
  }
  // Awaited in a statement of its own (GCC 12: see read_client_startup()).
  const bool handshaken = co_await start_tls(true);
  if (!handshaken) co_return false;
  if (tls_->application_protocol() == kPostgresqlAlpn) co_return true;
  // Without ALPN a direct handshake could be a client of another protocol (HTTPS) sent here: PostgreSQL
  // 17 refuses it so, and so do we. The connection is TLS now: the error can be read.
  note_end(ClientCloseReason::protocol_violation,
           "a TLS handshake without SSLRequest (sslnegotiation=direct) that did not agree on ALPN \"postgresql\"");
  co_await send_fatal(wire::sqlstate::protocol_violation,
                      "pgroute: a direct TLS connection (without SSLRequest) must negotiate the ALPN protocol "
                      "\"postgresql\"",
                      "use sslnegotiation=direct of libpq 17 or later, or connect with SSLRequest "
                      "(sslnegotiation=postgres, the default)");
  co_return false;
}

awaitable<bool> ClientSession::read_client_more(size_t want, std::string& error) {
  for (;;) {
    const size_t before = u().in.size();
    // Where the bytes go: straight into the read buffer, or first into the TLS channel's.
    char* space = nullptr;
    size_t len = 0;
    if (tls_) {
      tls_->raw().resize(TlsChannel::kReadSize);
      space = tls_->raw().data();
      len = tls_->raw().size();
    } else {
      std::tie(space, len) = u().in.prepare(want);
    }
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(space, len), use_nothrow);
    if (ec || n == 0) {
      error = ec && ec != asio::error::eof ? ec.message() : std::string(kEndOfStream);
      co_return false;
    }
    metrics::record_client_bytes_in(n);
    if (!tls_) {
      u().in.commit(n);
      co_return true;
    }
    switch (tls_->read({tls_->raw().data(), n}, u().in)) {
      case TlsChannel::Status::ok:
      case TlsChannel::Status::want_more: break;
      case TlsChannel::Status::closed: error = std::string(kEndOfStream); co_return false;
      case TlsChannel::Status::failed:
        note_end(ClientCloseReason::tls_failed, tls_->error());
        error = tls_->error();
        co_return false;
    }
    if (u().in.size() > before) co_return true;  // else only part of a record came: read on
  }
}

awaitable<ReadStatus> ClientSession::read_client_startup(uint32_t max_len, wire::StartupPacket& pkt, size_t& consumed,
                                                         std::string& error) {
  for (;;) {
    switch (wire::decode_startup(u().in.view(), max_len, pkt, consumed, &error)) {
      case wire::Decode::Ready: co_return ReadStatus::ok;
      case wire::Decode::Invalid: co_return ReadStatus::invalid;
      case wire::Decode::NeedMore: break;
    }
    // Computed apart and awaited in a statement of its own: GCC 12 built `if (!co_await f(a ? b : c))`
    // here into a coroutine whose frame lost `this` after the resumption.
    const size_t want = consumed > u().in.size() ? consumed - u().in.size() : 512;
    const bool more = co_await read_client_more(want, error);
    if (!more) co_return ReadStatus::closed;
  }
}

awaitable<ReadStatus> ClientSession::read_client_frame(uint32_t max_body, wire::Frame& f, std::string& error) {
  for (;;) {
    size_t need = 0;
    switch (wire::next_frame(u().in.view(), max_body, f, need, &error)) {
      case wire::Decode::Ready: co_return ReadStatus::ok;
      case wire::Decode::Invalid: co_return ReadStatus::invalid;
      case wire::Decode::NeedMore: break;
    }
    const size_t want = need > u().in.size() ? need - u().in.size() : 4096;
    const bool more = co_await read_client_more(want, error);
    if (!more) co_return ReadStatus::closed;
  }
}

}  // namespace pgroute
