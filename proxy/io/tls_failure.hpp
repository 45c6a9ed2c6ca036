// Why a TLS handshake with a client failed, in a few kinds an operator can act on; the label of
// pgroute_tls_handshake_failures_total{reason}.
#pragma once
#include <cstdint>
#include <string_view>

namespace pgroute {

enum class TlsFailure : uint8_t {
  version,              // no TLS version both accept (tls.min_version, an old client)
  cipher,               // no cipher both accept (tls.ciphers)
  certificate_refused,  // the client does not trust our certificate (it sent an alert about it)
  client_certificate,   // the client's certificate did not verify against tls.ca
  not_tls,              // what came was not a TLS handshake (plaintext, HTTP, garbage)
  alpn,                 // the client asked for application protocols and "postgresql" was not one
  other,
};
inline constexpr int kTlsFailureCount = 7;

constexpr std::string_view tls_failure_name(TlsFailure f) {
  switch (f) {
    case TlsFailure::version: return "version";
    case TlsFailure::cipher: return "cipher";
    case TlsFailure::certificate_refused: return "certificate_refused";
    case TlsFailure::client_certificate: return "client_certificate";
    case TlsFailure::not_tls: return "not_tls";
    case TlsFailure::alpn: return "alpn";
    case TlsFailure::other: return "other";
  }
  return "other";
}

}  // namespace pgroute
