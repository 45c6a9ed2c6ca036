// Backend URLs: postgresql://[user[:password]@]host[:port][/dbname][?sslmode=disable|prefer]
// A deliberately small subset of libpq's connection URIs: one host, TCP only, the only parameter
// pgroute acts on is sslmode.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgroute::config {

struct BackendAddress {
  std::string host;  // IPv6 literal without its brackets
  uint16_t port = 5432;
  std::string user, password, dbname;  // percent-decoded; empty = not given
  std::string sslmode = "disable";
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
