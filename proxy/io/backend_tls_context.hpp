// The TLS client side of pgroute's connections to one backend, made from its URL's sslmode,
// sslrootcert, sslcert and sslkey (libpq's meanings). One per configuration generation and backend:
// a reload loads the files again (new connections use them), and a file that does not load rejects the
// reload, naming the URL in the file.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace pgroute {

class BackendTlsContext {
 public:
  // Null with `error` ("FILE:LINE:COL: backends.main.url: sslrootcert ...: why") when a file does not
  // load or the key does not match the certificate. Only for sslmode other than disable.
  static std::shared_ptr<const BackendTlsContext> load(const config::Backend& backend, std::string& error);
  ~BackendTlsContext();
  BackendTlsContext(const BackendTlsContext&) = delete;
  BackendTlsContext& operator=(const BackendTlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  config::SslMode mode() const { return mode_; }
  // prefer: a server that answers 'N' to the SSLRequest is used in plaintext.
  bool plaintext_allowed() const { return mode_ == config::SslMode::prefer; }
  // verify-full: the certificate must name the host of the URL.
  bool verifies_host() const { return mode_ == config::SslMode::verify_full; }

 private:
  BackendTlsContext(SSL_CTX* ctx, config::SslMode mode) : ctx_(ctx), mode_(mode) {}
  SSL_CTX* ctx_;
  config::SslMode mode_;
};

// Alias → context, for the backends whose sslmode is not disable.
using BackendTlsContexts = std::map<std::string, std::shared_ptr<const BackendTlsContext>, std::less<>>;
// Every backend's context; on the first that fails, `error` says why and the map is incomplete.
BackendTlsContexts backend_tls_for(const config::Config& cfg, std::string& error);

}  // namespace pgroute
