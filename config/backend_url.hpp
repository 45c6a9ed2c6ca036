// Backend URLs: postgresql://[user[:password]@]host[:port][/dbname][?sslmode=...&sslrootcert=FILE&...]
// A deliberately small subset of libpq's connection URIs: one host, TCP only, and the TLS parameters
// sslmode, sslrootcert, sslcert, sslkey with libpq's meanings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgroute::config {

// libpq's sslmode, less allow: disable (plaintext), prefer (TLS if the server offers it, unverified),
// require (TLS, unverified unless sslrootcert is given), verify-ca (the chain), verify-full (the chain and
// the host name).
enum class SslMode { disable, prefer, require, verify_ca, verify_full };
std::string_view ssl_mode_name(SslMode mode);

struct BackendAddress {
  std::string host;  // IPv6 literal without its brackets
  uint16_t port = 5432;
  std::string user, password, dbname;  // percent-decoded; empty = not given
  SslMode sslmode = SslMode::disable;
  // As written (percent-decoded): relative paths are the loader's to resolve. sslrootcert "system":
  // OpenSSL's default CA store.
  std::string sslrootcert, sslcert, sslkey;
};

struct UrlParse {
  std::optional<BackendAddress> address;  // set iff error is empty
  std::string error;                      // never contains the password
};

UrlParse parse_backend_url(std::string_view url);

// The url with the password (if any) replaced by "***"; works on malformed urls too.
std::string mask_url_password(std::string_view url);

// "%41b" → "Ab"; nullopt on a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace pgroute::config
