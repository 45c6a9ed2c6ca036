#include "proxy/io/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <string_view>

#include "proxy/base/log.hpp"
#include "proxy/io/openssl_errors.hpp"
#include "proxy/io/tls_end_point.hpp"

namespace pgroute {

namespace {

// A private key others may read is a key others may have: PostgreSQL refuses such a file; we warn.
void warn_if_exposed(const config::Tls& tls) {
  struct stat st {};
  if (::stat(tls.key.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    PGR_LOG(warn) << tls.key_at << ": " << tls.key << " is readable by group/others (mode " << std::oct
                  << (st.st_mode & 0777) << std::dec << "); chmod 600 it";
}

// ALPN (PostgreSQL 17's rules): a client that names application protocols must name "postgresql", which
// is then agreed; one that names others only fails the handshake with no_application_protocol, so that
// a TLS client of another protocol (HTTPS) is not answered as if it spoke PostgreSQL. A client that
// names none is accepted, unless it skipped SSLRequest (direct TLS: ClientSession::startup()).
int select_postgresql_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* offered,
                           unsigned int offered_size, void*) {
  static constexpr std::string_view kProtocol = kPostgresqlAlpn;
  // `offered`: names, each after its length byte.
  for (unsigned int at = 0; at < offered_size;) {
    const unsigned int size = offered[at];
    if (at + 1 + size > offered_size) break;
    if (std::string_view(reinterpret_cast<const char*>(offered + at + 1), size) == kProtocol) {
      *out = offered + at + 1;
      *out_size = static_cast<unsigned char>(size);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + size;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::load(const config::Tls& tls, std::string& error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    error = "tls: cannot make a TLS context: " + openssl_errors();
    return nullptr;
  }
  std::shared_ptr<TlsContext> result(new TlsContext(ctx, tls.mode));
  SSL_CTX_set_min_proto_version(ctx, tls.min_version == config::Tls::Version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Renegotiation is a known attack surface and PostgreSQL clients never need it.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // A session ends with its connection: no resumption, by cache or by ticket (a TLS 1.2 client resuming
  // with client certificates asked for would otherwise fail for lack of a session id context).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
  static constexpr unsigned char kSessionContext[] = "pgroute";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  // Not SSL_MODE_RELEASE_BUFFERS: it frees and allocates the record buffers around every SSL_read and
  // SSL_write (a malloc and a free per record, 2% of the CPU at 16 clients). A parked client's are freed
  // by TlsChannel::release_buffers() instead: an active client keeps them, an idle one does not.
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_alpn_select_cb(ctx, select_postgresql_alpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert.c_str()) != 1) {
    error = tls.cert_at + ": cannot load the certificate " + tls.cert + ": " + openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = tls.key_at + ": cannot load the private key " + tls.key + ": " + openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error = tls.key_at + ": the private key " + tls.key + " does not match the certificate " + tls.cert + ": " +
            openssl_errors();
    return nullptr;
  }
  if (!tls.ca.empty()) {
    // Client certificates: asked for, verified against these CAs when shown (a bad one fails the
    // handshake), required only by the users whose auth is cert.
    if (SSL_CTX_load_verify_locations(ctx, tls.ca.c_str(), nullptr) != 1) {
      error = tls.ca_at + ": cannot load the CA certificates " + tls.ca + ": " + openssl_errors();
      return nullptr;
    }
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca.c_str())) SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!tls.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, tls.ciphers.c_str()) != 1) {
    error = tls.ciphers_at + ": no cipher of \"" + tls.ciphers + "\" is usable: " + openssl_errors();
    return nullptr;
  }
  warn_if_exposed(tls);
  if (const X509* cert = SSL_CTX_get0_certificate(ctx)) {
    // Seconds from the epoch to notAfter, as OpenSSL counts them (ASN1_TIME_diff: days and seconds).
    int days = 0, seconds = 0;
    ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
    if (epoch && ASN1_TIME_diff(&days, &seconds, epoch, X509_get0_notAfter(cert)))
      result->expires_at_ = int64_t{days} * 86400 + seconds;
    ASN1_TIME_free(epoch);
    // Empty for certificates without one signature hash: SCRAM-SHA-256-PLUS is then not offered.
    result->end_point_ = pgroute::tls_server_end_point(cert);
  }
  return result;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::shared_ptr<const TlsContext> tls_for(const config::Config& cfg, std::string& error) {
  error.clear();
  if (!cfg.tls || cfg.tls->mode == config::Tls::Mode::disable) return nullptr;
  return TlsContext::load(*cfg.tls, error);
}

}  // namespace pgroute
