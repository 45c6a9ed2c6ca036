#include "config/password.hpp"

#include <cctype>
#include <cstddef>

namespace pgroute::config {
namespace {

constexpr std::string_view kScramPrefix = "SCRAM-SHA-256$";
constexpr std::string_view kMd5Prefix = "md5";
constexpr size_t kMd5HexDigits = 32;
// base64 of a 32-byte SHA-256 key: 43 characters and one '=' of padding.
constexpr size_t kBase64KeyLength = 44;

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool is_base64_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/'; }

// Standard base64 with padding: groups of 4, '=' only at the very end.
bool is_base64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  size_t padding = 0;
  while (padding < 2 && s[s.size() - 1 - padding] == '=') ++padding;
  for (size_t i = 0; i < s.size() - padding; ++i)
    if (!is_base64_char(s[i])) return false;
  return true;
}

bool is_positive_decimal(std::string_view s) {
  if (s.empty() || s.size() > 9 || s[0] == '0') return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

PasswordKind classify_password(std::string_view password) {
  if (password.starts_with(kScramPrefix)) return PasswordKind::ScramVerifier;
  if (password.size() == kMd5Prefix.size() + kMd5HexDigits && password.starts_with(kMd5Prefix)) {
    bool all_hex = true;
    for (char c : password.substr(kMd5Prefix.size())) all_hex = all_hex && is_hex(c);
    if (all_hex) return PasswordKind::Md5Hash;
  }
  return PasswordKind::Plaintext;
}

bool is_well_formed_scram_verifier(std::string_view verifier) {
  if (!verifier.starts_with(kScramPrefix)) return false;
  std::string_view rest = verifier.substr(kScramPrefix.size());
  // <iterations>:<salt>$<StoredKey>:<ServerKey>
  size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos) return false;
  std::string_view params = rest.substr(0, dollar), keys = rest.substr(dollar + 1);
  size_t params_colon = params.find(':'), keys_colon = keys.find(':');
  if (params_colon == std::string_view::npos || keys_colon == std::string_view::npos) return false;
  std::string_view stored_key = keys.substr(0, keys_colon), server_key = keys.substr(keys_colon + 1);
  return is_positive_decimal(params.substr(0, params_colon)) && is_base64(params.substr(params_colon + 1)) &&
         stored_key.size() == kBase64KeyLength && is_base64(stored_key) && server_key.size() == kBase64KeyLength &&
         is_base64(server_key);
}

}  // namespace pgroute::config
