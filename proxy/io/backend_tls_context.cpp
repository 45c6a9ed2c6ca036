#include "proxy/io/backend_tls_context.hpp"

#include <openssl/err.h>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/ssl.h>
#include <sys/stat.h>

#include "proxy/base/log.hpp"
#include "proxy/io/openssl_errors.hpp"

namespace pgroute {

namespace {
// OpenSSL's reasons for a missing file are three lines of library codes; the system's word is clearer.
std::string unreadable(const std::string& file) {
  std::FILE* f = std::fopen(file.c_str(), "r");
  if (!f) return std::strerror(errno);
  std::fclose(f);
  return {};
}
}  // namespace

std::shared_ptr<const BackendTlsContext> BackendTlsContext::load(const config::Backend& b, std::string& error) {
  using config::SslMode;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    error = b.url_at + ": cannot make a TLS context: " + openssl_errors();
    return nullptr;
  }
  std::shared_ptr<BackendTlsContext> result(new BackendTlsContext(ctx, b.sslmode));
  // libpq's floor (ssl_min_protocol_version's default); PostgreSQL servers have spoken 1.2 since 9.x.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  // Each connection negotiates afresh: nothing to resume across a pool's connections that would be worth
  // keeping session state (and tickets the server sends) for.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Not SSL_MODE_RELEASE_BUFFERS (a malloc and a free per record): a pool holds few connections, each
  // in use often, and keeps their buffers.
  const std::string where = b.url_at + ": ";
  if (b.sslrootcert == "system") {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      error = where + "cannot load the system's CA certificates: " + openssl_errors();
      return nullptr;
    }
  } else if (!b.sslrootcert.empty()) {
    if (std::string why = unreadable(b.sslrootcert); !why.empty()) {
      error = where + "cannot load sslrootcert " + b.sslrootcert + ": " + why;
      return nullptr;
    }
    if (SSL_CTX_load_verify_locations(ctx, b.sslrootcert.c_str(), nullptr) != 1) {
      error = where + "cannot load sslrootcert " + b.sslrootcert + ": " + openssl_errors();
      return nullptr;
    }
  }
  // libpq: require with a root certificate checks the chain as verify-ca does.
  const bool verify = b.sslmode == SslMode::verify_ca || b.sslmode == SslMode::verify_full ||
                      (b.sslmode == SslMode::require && !b.sslrootcert.empty());
  SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!b.sslcert.empty()) {
    for (const auto& [what, file] :
         {std::pair<const char*, const std::string*>{"sslcert", &b.sslcert}, {"sslkey", &b.sslkey}})
      if (std::string why = unreadable(*file); !why.empty()) {
        error = where + "cannot load " + what + " " + *file + ": " + why;
        return nullptr;
      }
    if (SSL_CTX_use_certificate_chain_file(ctx, b.sslcert.c_str()) != 1) {
      error = where + "cannot load sslcert " + b.sslcert + ": " + openssl_errors();
      return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, b.sslkey.c_str(), SSL_FILETYPE_PEM) != 1) {
      error = where + "cannot load sslkey " + b.sslkey + ": " + openssl_errors();
      return nullptr;
    }
    // libpq refuses such a key outright; a proxy that refused would leave the alias down, so it warns.
    struct stat st {};
    if (::stat(b.sslkey.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
      PGR_LOG(warn) << b.url_at << ": sslkey " << b.sslkey << " is readable by group/others (mode " << std::oct
                    << (st.st_mode & 0777) << std::dec << "); chmod 600 it";
    if (SSL_CTX_check_private_key(ctx) != 1) {
      error = where + "sslkey " + b.sslkey + " does not match sslcert " + b.sslcert + ": " + openssl_errors();
      return nullptr;
    }
  }
  return result;
}

BackendTlsContext::~BackendTlsContext() { SSL_CTX_free(ctx_); }

BackendTlsContexts backend_tls_for(const config::Config& cfg, std::string& error) {
  error.clear();
  BackendTlsContexts out;
  for (const config::Backend& b : cfg.backends) {
    if (b.sslmode == config::SslMode::disable) continue;
    auto ctx = BackendTlsContext::load(b, error);
    if (!ctx) return out;
    out.emplace(b.alias, std::move(ctx));
  }
  return out;
}

}  // namespace pgroute
