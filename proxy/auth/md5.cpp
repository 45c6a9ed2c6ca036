#include "proxy/auth/md5.hpp"

#include "proxy/auth/crypto.hpp"
#include "proxy/auth/scram_secret.hpp"

namespace pgroute::auth {
namespace {

constexpr std::string_view kPrefix = "md5";
constexpr size_t kHexLength = 32;

std::string to_hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0x0F]);
  }
  return out;
}

// hex(md5(password || user)) without the "md5" prefix: the value both sides share.
std::string inner_hash(std::string_view user, std::string_view secret) {
  if (is_md5_hash(secret)) return std::string(secret.substr(kPrefix.size()));
  std::string input(secret);
  input.append(user);
  return md5_hex(input);
}

}  // namespace

std::string md5_hex(std::string_view data) { return to_hex(md5_raw(data)); }

std::string md5_password_hash(std::string_view user, std::string_view password) {
  std::string input(password);
  input.append(user);
  return std::string(kPrefix) + md5_hex(input);
}

bool is_md5_hash(std::string_view secret) {
  if (secret.size() != kPrefix.size() + kHexLength || !secret.starts_with(kPrefix)) return false;
  for (const char c : secret.substr(kPrefix.size())) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) return false;
  }
  return true;
}

std::string md5_client_response(std::string_view user, std::string_view secret, const char salt[4]) {
  std::string input = inner_hash(user, secret);
  input.append(salt, 4);
  return std::string(kPrefix) + md5_hex(input);
}

bool md5_verify(std::string_view response, std::string_view user, std::string_view secret, const char salt[4]) {
  if (is_scram_verifier(secret)) return false;
  return constant_time_equal(response, md5_client_response(user, secret, salt));
}

}  // namespace pgroute::auth
