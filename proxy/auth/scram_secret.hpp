#pragma once
// What a server keeps to check SCRAM-SHA-256 logins, and PostgreSQL's text form of it:
//   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>

#include <optional>
#include <string>
#include <string_view>

namespace pgroute::auth {

inline constexpr int kScramDefaultIterations = 4096;   // PostgreSQL's default
inline constexpr size_t kScramDefaultSaltLength = 16;  // PostgreSQL's default

struct ScramSecret {
  int iterations = 0;
  std::string salt, stored_key, server_key;  // raw bytes
};

// True when parse_scram_verifier would succeed.
bool is_scram_verifier(std::string_view s);

// nullopt unless: the prefix is "SCRAM-SHA-256$", iterations is a decimal in
// 1..INT_MAX, the salt is non-empty valid base64, and both keys decode to 32 bytes.
std::optional<ScramSecret> parse_scram_verifier(std::string_view s);

// Derives the secret from a password (raw bytes; see scram_salted_password for SASLprep).
// iterations must be >= 1 (libcrypto refuses 0, which surfaces as std::runtime_error).
ScramSecret make_scram_secret(std::string_view password, std::string_view salt, int iterations);

// The same with a fresh random 16-byte salt and 4096 iterations: what the proxy builds
// once per config load for a user configured with a plaintext password. One PBKDF2 run
// (about a millisecond), so do it at load time, not per login.
ScramSecret make_scram_secret(std::string_view password);

std::string format_scram_verifier(const ScramSecret& s);

// A secret for a user that does not exist, so that SCRAM fails only at the proof and a
// client cannot tell unknown users from wrong passwords. The salt is derived from the user
// name and mock_key (random bytes made once per process): a random salt per attempt would
// itself reveal that the user is unknown. No password matches it. Costs one SHA-256.
ScramSecret mock_scram_secret(std::string_view user, std::string_view mock_key);

}  // namespace pgroute::auth
