// The TLS server side of client connections, made from `tls:` (config/config.hpp): the certificate and
// key loaded, versions and ciphers set. One per configuration generation: a reload with a broken file
// is rejected (the old context stays), and sessions keep the context they began with.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace pgroute {

// The ALPN name of the PostgreSQL protocol: agreed when a client offers it, required of a client that
// begins with its TLS handshake instead of an SSLRequest (sslnegotiation=direct).
inline constexpr const char* kPostgresqlAlpn = "postgresql";

class TlsContext {
 public:
  // Null with `error` ("FILE:LINE:COL: tls.key: why") when a file does not load or the key does not
  // match the certificate.
  static std::shared_ptr<const TlsContext> load(const config::Tls& tls, std::string& error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  config::Tls::Mode mode() const { return mode_; }
  // When the certificate clients are shown stops being valid (Unix time), for the expiry gauge.
  int64_t certificate_expires_at() const { return expires_at_; }
  // SCRAM channel binding "tls-server-end-point" (RFC 5929): the hash of the certificate clients are
  // shown, with its signature's hash (SHA-256 for MD5 and SHA-1). Empty if it cannot be made.
  const std::string& tls_server_end_point() const { return end_point_; }

 private:
  TlsContext(SSL_CTX* ctx, config::Tls::Mode mode) : ctx_(ctx), mode_(mode) {}
  SSL_CTX* ctx_;
  config::Tls::Mode mode_;
  int64_t expires_at_ = 0;
  std::string end_point_;
};

// The context a configuration asks for: null when it has no `tls:` or its mode is disable (no
// error), or when loading fails (then `error` says why, pointing into the file).
std::shared_ptr<const TlsContext> tls_for(const config::Config& cfg, std::string& error);

}  // namespace pgroute
