// SCRAM channel binding "tls-server-end-point" (RFC 5929): the hash of the server's certificate, with
// the hash of its signature (SHA-256 for MD5 and SHA-1). Both ends compute it: pgroute for its own
// certificate (clients' SCRAM-SHA-256-PLUS) and for a backend's (its own login to the server).
#pragma once
#include <string>

typedef struct x509_st X509;

namespace pgroute {

// Empty when the certificate's signature has no single hash (Ed25519, RSA-PSS): then the binding is
// undefined and SCRAM-SHA-256-PLUS is not used.
std::string tls_server_end_point(const X509* certificate);

}  // namespace pgroute
