// Certificates for the TLS tests, made with the `openssl` command into a temp dir: a CA, server
// certificates signed by it, a second, unrelated CA (what a client must not trust), and client
// certificates for certificate logins.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace pgroute::it {

// A PEM certificate and its PEM private key (the key file has mode 0600).
struct CertFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// Subject alternative names in openssl's syntax: "DNS:localhost", "IP:127.0.0.1".
using AltNames = std::vector<std::string>;

// A self-signed CA certificate named `name` (files NAME.crt, NAME.key in `dir`).
CertFiles make_ca(const std::filesystem::path& dir, const std::string& name);
// A server certificate for `common_name` and `alt_names`, signed by `ca`.
CertFiles issue_server_cert(const std::filesystem::path& dir, const std::string& name, const CertFiles& ca,
                            const std::string& common_name, const AltNames& alt_names);
// A client certificate whose CN is `user` (what certificate authentication compares), signed by `ca`.
CertFiles issue_client_cert(const std::filesystem::path& dir, const std::string& name, const CertFiles& ca,
                            const std::string& user);

// The set the TLS tests use, made once per test binary run (RSA keys take a while).
struct TestCertificates {
  CertFiles ca;          // "pgroute test CA"
  CertFiles server;      // CN/SAN localhost, SAN IP 127.0.0.1, signed by `ca`
  CertFiles wrong_host;  // CN/SAN wrong.example, signed by `ca`
  CertFiles other_ca;    // an unrelated CA: trusting only it must fail verification
  std::filesystem::path dir;
};
const TestCertificates& test_certificates();

}  // namespace pgroute::it
