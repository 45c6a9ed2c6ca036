// TLS on one connection, between its socket and the code that speaks the protocol over it: the owner
// reads the socket as always and feeds what came (ciphertext) in; what TLS decrypts goes to the owner's
// read buffer, and what the owner writes is encrypted into bytes for the socket. No socket here: the
// driver keeps doing the I/O, and this stays testable with bytes alone. Either end: pgroute as the server
// of a client's connection, or as the client of a backend's.
//
// OpenSSL reads and writes through a BIO of ours (tls_channel.cpp) rather than a pair of memory BIOs:
// it reads the fed bytes where they lie and writes records straight onto the caller's string, where
// memory BIOs copied both ways through buffers of their own (7% of a TLS session's user time).
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "proxy/io/backend_tls_context.hpp"
#include "proxy/io/read_buffer.hpp"
#include "proxy/io/tls_context.hpp"
#include "proxy/io/tls_failure.hpp"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace pgroute {

class TlsChannel {
 public:
  // What one read of the socket takes: a TLS record holds at most 16 KiB of data plus its header and
  // the cipher's overhead.
  static constexpr size_t kReadSize = 16 * 1024 + 512;

  // pgroute as the server: a client's connection.
  explicit TlsChannel(std::shared_ptr<const TlsContext> context);
  // pgroute as the client of a backend at `host` (the URL's): sends it as SNI when it is a name, and
  // checks the certificate names it when the context verifies the host.
  TlsChannel(std::shared_ptr<const BackendTlsContext> context, const std::string& host);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  enum class Status { ok, want_more, closed, failed };
  // Ciphertext from the peer (copied).
  void feed(std::string_view cipher);
  // Goes on with the handshake: ok once it is done, want_more until then; the bytes it answers with are
  // appended to `out` either way (send them, then read more if want_more).
  Status handshake(std::string& out);
  // Appends what the fed ciphertext decrypts to (whole records only); closed: the peer ended TLS
  // (close_notify); failed: see error().
  Status read(ReadBuffer& in);
  // feed(cipher) and read(in), without copying `cipher` when nothing fed earlier is left: it is read where
  // it lies during the call, and what the call leaves unread is copied.
  Status read(std::string_view cipher, ReadBuffer& in);
  // Encrypts `plain`, appending the records to `out`. False on failure (see error()).
  bool write(std::string_view plain, std::string& out);
  const std::string& error() const { return error_; }
  // After a failed handshake: what kind of failure (from OpenSSL's first reason).
  TlsFailure failure() const { return failure_; }
  // The peer sent close_notify: it sends nothing more.
  bool peer_closed() const { return peer_closed_; }
  // For SHOW CLIENTS and logs, once the handshake is done: "TLSv1.3", "TLS_AES_256_GCM_SHA384".
  std::string_view version() const;
  std::string_view cipher() const;
  // The application protocol agreed by ALPN once the handshake is done ("postgresql"), "" without one.
  std::string_view application_protocol() const;
  // The common name of the client's certificate when it showed one that verified against tls.ca;
  // "" otherwise.
  std::string verified_peer_name() const;
  // After a failed handshake: why the peer's certificate was not accepted ("unable to get local issuer
  // certificate", "hostname mismatch"), or "" when that was not the failure.
  std::string verify_error() const;
  // tls-server-end-point of the peer's certificate (tls_end_point.hpp); "" if it has none or the hash is
  // undefined for it.
  std::string peer_end_point() const;
  // Appends the close_notify alert (the orderly end of TLS) to `out`.
  void close_notify(std::string& out);

  // The buffer reads from the socket land in before they are fed (kept here: only TLS sessions need it).
  std::string& raw() { return raw_; }
  // An idle connection's memory: the raw buffer and OpenSSL's record buffers (allocated again by the
  // next read or write).
  void release_buffers();

 private:
  // Makes the SSL object on `ctx` with the channel's BIO.
  void init(SSL_CTX* ctx);
  // Before handshake() or read() returns: the fed bytes left unread move out of the caller's buffer.
  void keep_unread();
  // Where OpenSSL's writes go during one call: `out`, after what earlier calls wrote with nowhere to go.
  void write_into(std::string& out);
  Status read_records(ReadBuffer& in);
  Status fail(int ssl_result, std::string_view what);

  friend struct ChannelBio;              // the BIO's callbacks: read `in_`, append to `sink_`
  std::shared_ptr<const void> context_;  // keeps the SSL_CTX alive while this connection uses it
  SSL* ssl_ = nullptr;
  std::string_view in_;           // fed ciphertext not read yet: in the caller's buffer, or in `unread_`
  std::string unread_;            // what a call left of the fed bytes (a record's first part, read-ahead's rest)
  std::string unsent_;            // written while no output was asked for (a reply to a key update during a read)
  std::string* sink_ = &unsent_;  // where OpenSSL's writes go now
  std::string raw_;
  std::string error_;
  bool peer_closed_ = false;
  TlsFailure failure_ = TlsFailure::other;
};

}  // namespace pgroute
