#include "proxy/auth/scram_message.hpp"

#include "proxy/auth/base64.hpp"
#include "proxy/auth/crypto.hpp"
#include "proxy/auth/random.hpp"

namespace pgroute::auth {

std::optional<std::vector<ScramAttribute>> split_scram_attributes(std::string_view message) {
  std::vector<ScramAttribute> out;
  size_t start = 0;
  while (true) {
    const size_t comma = message.find(',', start);
    const std::string_view part =
        message.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (part.size() < 2 || part[1] != '=') return std::nullopt;
    const char name = part[0];
    if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z'))) return std::nullopt;
    out.push_back({name, part.substr(2)});
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool is_scram_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (const char c : nonce) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return true;
}

std::string random_scram_nonce() {
  char raw[18];
  random_bytes(raw, sizeof raw);
  return base64_encode(std::string_view(raw, sizeof raw));
}

std::string escape_scram_username(std::string_view user) {
  std::string out;
  out.reserve(user.size());
  for (const char c : user) {
    if (c == ',') {
      out.append("=2C");
    } else if (c == '=') {
      out.append("=3D");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string scram_client_key(std::string_view salted_password) { return hmac_sha256(salted_password, "Client Key"); }

std::string scram_server_key(std::string_view salted_password) { return hmac_sha256(salted_password, "Server Key"); }

std::string scram_salted_password(std::string_view password, std::string_view salt, int iterations) {
  return pbkdf2_sha256(password, salt, iterations);
}

}  // namespace pgroute::auth
