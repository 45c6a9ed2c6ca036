#include "proxy/auth/scram_secret.hpp"

#include <charconv>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/crypto.hpp"
#include "proxy/auth/random.hpp"
#include "proxy/auth/scram_message.hpp"

namespace pgroute::auth {
namespace {

constexpr std::string_view kVerifierPrefix = "SCRAM-SHA-256$";

// Splits "left<sep>right" at the first sep.
bool split_once(std::string_view s, char sep, std::string_view& left, std::string_view& right) {
  const size_t pos = s.find(sep);
  if (pos == std::string_view::npos) return false;
  left = s.substr(0, pos);
  right = s.substr(pos + 1);
  return true;
}

}  // namespace

std::optional<ScramSecret> parse_scram_verifier(std::string_view s) {
  if (!s.starts_with(kVerifierPrefix)) return std::nullopt;
  s.remove_prefix(kVerifierPrefix.size());

  std::string_view params, keys, iter_text, salt_text, stored_text, server_text;
  if (!split_once(s, '$', params, keys)) return std::nullopt;
  if (!split_once(params, ':', iter_text, salt_text)) return std::nullopt;
  if (!split_once(keys, ':', stored_text, server_text)) return std::nullopt;

  ScramSecret secret;
  // from_chars accepts neither '+' nor leading spaces; it does accept '-', caught by >= 1.
  const auto [end, ec] = std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), secret.iterations);
  if (iter_text.empty() || ec != std::errc{} || end != iter_text.data() + iter_text.size() || secret.iterations < 1) {
    return std::nullopt;
  }

  auto salt = base64_decode(salt_text);
  auto stored = base64_decode(stored_text);
  auto server = base64_decode(server_text);
  if (!salt || salt->empty() || !stored || stored->size() != kSha256Size || !server || server->size() != kSha256Size) {
    return std::nullopt;
  }
  secret.salt = std::move(*salt);
  secret.stored_key = std::move(*stored);
  secret.server_key = std::move(*server);
  return secret;
}

bool is_scram_verifier(std::string_view s) { return parse_scram_verifier(s).has_value(); }

ScramSecret make_scram_secret(std::string_view password, std::string_view salt, int iterations) {
  const std::string salted = scram_salted_password(password, salt, iterations);
  ScramSecret secret;
  secret.iterations = iterations;
  secret.salt = std::string(salt);
  secret.stored_key = sha256(scram_client_key(salted));
  secret.server_key = scram_server_key(salted);
  return secret;
}

ScramSecret make_scram_secret(std::string_view password) {
  char salt[kScramDefaultSaltLength];
  random_bytes(salt, sizeof salt);
  return make_scram_secret(password, std::string_view(salt, sizeof salt), kScramDefaultIterations);
}

ScramSecret mock_scram_secret(std::string_view user, std::string_view mock_key) {
  ScramSecret secret;
  secret.iterations = kScramDefaultIterations;
  secret.salt = hmac_sha256(mock_key, user).substr(0, kScramDefaultSaltLength);
  // Empty keys: sha256(ClientKey) is 32 bytes and never equals an empty StoredKey.
  return secret;
}

std::string format_scram_verifier(const ScramSecret& s) {
  std::string out(kVerifierPrefix);
  out.append(std::to_string(s.iterations));
  out.push_back(':');
  out.append(base64_encode(s.salt));
  out.push_back('$');
  out.append(base64_encode(s.stored_key));
  out.push_back(':');
  out.append(base64_encode(s.server_key));
  return out;
}

}  // namespace pgroute::auth
