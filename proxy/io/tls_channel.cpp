#include "proxy/io/tls_channel.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proxy/io/asio.hpp"
#include "proxy/io/tls_end_point.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <stdexcept>
#include <utility>

namespace pgroute {

TlsChannel::TlsChannel(std::shared_ptr<const TlsContext> context) : context_(context) {
  init(context->native());
  SSL_set_accept_state(ssl_);
}

TlsChannel::TlsChannel(std::shared_ptr<const BackendTlsContext> context, const std::string& host) : context_(context) {
  init(context->native());
  SSL_set_connect_state(ssl_);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  const bool is_address = !ec;
  // libpq sends SNI for host names (sslsni=1), never for addresses (RFC 6066 forbids it).
  if (!is_address) SSL_set_tlsext_host_name(ssl_, host.c_str());
  if (context->verifies_host()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    // libpq accepts a match in the subject alternative names, else the common name: OpenSSL's checks
    // do both (X509_CHECK_FLAG_NEVER_CHECK_SUBJECT unset) and match wildcards in the leftmost label.
    const int ok = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                              : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (ok != 1) throw std::runtime_error("TLS: cannot set the host name to verify: " + host);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
}

// The channel's BIO: OpenSSL reads the fed ciphertext where it lies and appends its records to the
// string the current call writes into. Nothing is buffered in the BIO itself.
struct ChannelBio {
  static TlsChannel& channel(BIO* bio) { return *static_cast<TlsChannel*>(BIO_get_data(bio)); }

  static int read(BIO* bio, char* to, size_t len, size_t* n) {
    BIO_clear_retry_flags(bio);
    std::string_view& in = channel(bio).in_;
    if (in.empty()) {  // no data yet, not the end of the stream: the driver reads the socket again
      BIO_set_retry_read(bio);
      *n = 0;
      return 0;
    }
    *n = std::min(len, in.size());
    std::memcpy(to, in.data(), *n);
    in.remove_prefix(*n);
    return 1;
  }

  static int write(BIO* bio, const char* from, size_t len, size_t* n) {
    BIO_clear_retry_flags(bio);
    *n = 0;
    try {
      channel(bio).sink_->append(from, len);
    } catch (const std::bad_alloc&) {
      return 0;  // nothing may be thrown through OpenSSL: the SSL call fails instead
    }
    *n = len;
    return 1;
  }

  static long ctrl(BIO* bio, int cmd, long, void*) {
    switch (cmd) {
      case BIO_CTRL_FLUSH: return 1;  // written already, as far as OpenSSL is concerned
      case BIO_CTRL_PENDING: return static_cast<long>(channel(bio).in_.size());
      case BIO_CTRL_WPENDING: return 0;
      default: return 0;  // not supported (kTLS, datagrams, ...)
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static const BIO_METHOD* method() {
    // Made once and never freed: shared by every channel of every thread, and only read.
    static BIO_METHOD* const made = [] {
      BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pgroute TLS channel");
      if (!m || BIO_meth_set_read_ex(m, read) != 1 || BIO_meth_set_write_ex(m, write) != 1 ||
          BIO_meth_set_ctrl(m, ctrl) != 1 || BIO_meth_set_create(m, create) != 1)
        throw std::runtime_error("TLS: cannot make the channel's BIO method");
      return m;
    }();
    return made;
  }
};

void TlsChannel::init(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  // Read-ahead: SSL_read takes all the ciphertext fed in one BIO read, not a record header and then its
  // body. read() asks until nothing is left, so nothing read ahead is forgotten.
  if (ssl_) SSL_set_read_ahead(ssl_, 1);
  BIO* bio = BIO_new(ChannelBio::method());
  if (!ssl_ || !bio) {
    BIO_free(bio);
    SSL_free(ssl_);
    throw std::runtime_error("TLS: out of memory for a connection");
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways: ssl_ owns its one reference
}

TlsChannel::~TlsChannel() { SSL_free(ssl_); }

void TlsChannel::feed(std::string_view cipher) {
  if (cipher.empty()) return;
  keep_unread();
  unread_.append(cipher);
  in_ = unread_;
}

void TlsChannel::keep_unread() {
  if (in_.empty()) {
    unread_.clear();
  } else if (std::less_equal<const char*>()(unread_.data(), in_.data()) &&
             std::less<const char*>()(in_.data(), unread_.data() + unread_.size())) {  // read from unread_
    unread_.erase(0, static_cast<size_t>(in_.data() - unread_.data()));
  } else {
    unread_.assign(in_);
  }
  in_ = unread_;
}

void TlsChannel::write_into(std::string& out) {
  if (!unsent_.empty()) {
    out.append(unsent_);
    unsent_.clear();
  }
  sink_ = &out;
}

void TlsChannel::release_buffers() {
  std::string().swap(raw_);
  if (unread_.empty()) std::string().swap(unread_);
  // Refused (harmlessly) while a record is partly read or written; OpenSSL releases with CVE-2024-4741
  // did not refuse, and CMakeLists.txt does not build against them.
  SSL_free_buffers(ssl_);
}

namespace {

// SSL_get_error() reads the thread's error queue, so it must be empty before each SSL call. Clearing it
// unconditionally walks all of its slots (3% of a TLS proxy's user time at 16 clients, per record): it is
// nearly always empty already, and looking costs one thread-local read.
void start_clean() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

TlsFailure failure_of(unsigned long e) {
  if (ERR_GET_LIB(e) != ERR_LIB_SSL) return TlsFailure::other;
  switch (ERR_GET_REASON(e)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: return TlsFailure::version;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE: return TlsFailure::cipher;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR: return TlsFailure::certificate_refused;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: return TlsFailure::client_certificate;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_MESSAGE: return TlsFailure::not_tls;
    case SSL_R_NO_APPLICATION_PROTOCOL: return TlsFailure::alpn;
    default: return TlsFailure::other;
  }
}

}  // namespace

TlsChannel::Status TlsChannel::fail(int ssl_result, std::string_view what) {
  const int code = SSL_get_error(ssl_, ssl_result);
  std::string reasons;
  bool first = true;
  while (unsigned long e = ERR_get_error()) {
    if (std::exchange(first, false)) failure_ = failure_of(e);
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    reasons += (reasons.empty() ? "" : "; ") + std::string(buf);
  }
  if (code == SSL_ERROR_ZERO_RETURN) return Status::closed;
  error_ = std::string(what) + ": " + (reasons.empty() ? "SSL error " + std::to_string(code) : reasons);
  return Status::failed;
}

TlsChannel::Status TlsChannel::handshake(std::string& out) {
  start_clean();
  write_into(out);  // what to answer, or the alert that tells the client why it failed
  const int r = SSL_do_handshake(ssl_);
  sink_ = &unsent_;
  keep_unread();
  if (r == 1) return Status::ok;
  const int code = SSL_get_error(ssl_, r);
  if (code == SSL_ERROR_WANT_READ) return Status::want_more;
  return fail(r, "TLS handshake failed");
}

TlsChannel::Status TlsChannel::read(std::string_view cipher, ReadBuffer& in) {
  if (in_.empty())
    in_ = cipher;  // the usual case: nothing left over, read where the socket's bytes landed
  else
    feed(cipher);
  return read(in);
}

TlsChannel::Status TlsChannel::read(ReadBuffer& in) {
  const Status status = read_records(in);
  keep_unread();
  return status;
}

TlsChannel::Status TlsChannel::read_records(ReadBuffer& in) {
  for (;;) {
    start_clean();
    auto [space, len] = in.prepare(16384);
    const int n = SSL_read(ssl_, space, static_cast<int>(std::min<size_t>(len, 1 << 30)));
    if (n > 0) {
      in.commit(static_cast<size_t>(n));
      // Nothing decrypted left, none read ahead and none fed: the next SSL_read could only say WANT_READ.
      if (SSL_has_pending(ssl_) == 0 && in_.empty()) return Status::ok;
      continue;
    }
    const int code = SSL_get_error(ssl_, n);
    if (code == SSL_ERROR_WANT_READ) return Status::ok;  // all whole records are read
    const Status status = fail(n, "TLS");
    if (status == Status::closed) peer_closed_ = true;
    return status;
  }
}

bool TlsChannel::write(std::string_view plain, std::string& out) {
  write_into(out);  // the records go straight onto `out`
  bool ok = true;
  while (!plain.empty()) {
    start_clean();
    const int n = SSL_write(ssl_, plain.data(), static_cast<int>(std::min<size_t>(plain.size(), 1 << 30)));
    if (n <= 0) {
      fail(n, "TLS write");
      ok = false;
      break;
    }
    plain.remove_prefix(static_cast<size_t>(n));
  }
  sink_ = &unsent_;
  return ok;
}

std::string TlsChannel::verified_peer_name() const {
  const X509* peer = SSL_get0_peer_certificate(ssl_);
  if (!peer || SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  // Exactly one CN, as UTF-8, without NUL: anything else names nobody.
  const X509_NAME* subject = X509_get_subject_name(peer);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, at) >= 0) return {};
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  if (n <= 0) return {};
  std::string name(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return name.find('\0') == std::string::npos ? name : std::string();
}

std::string TlsChannel::verify_error() const {
  const long result = SSL_get_verify_result(ssl_);
  return result == X509_V_OK ? std::string() : X509_verify_cert_error_string(result);
}

std::string TlsChannel::peer_end_point() const { return tls_server_end_point(SSL_get0_peer_certificate(ssl_)); }

void TlsChannel::close_notify(std::string& out) {
  start_clean();
  write_into(out);
  SSL_shutdown(ssl_);  // it only writes the alert here; the peer's answer is not awaited
  sink_ = &unsent_;
}

std::string_view TlsChannel::version() const { return SSL_get_version(ssl_); }

std::string_view TlsChannel::application_protocol() const {
  const unsigned char* name = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl_, &name, &size);
  return name ? std::string_view(reinterpret_cast<const char*>(name), size) : std::string_view();
}

std::string_view TlsChannel::cipher() const {
  const char* name = SSL_get_cipher_name(ssl_);
  return name ? name : "";
}

}  // namespace pgroute
