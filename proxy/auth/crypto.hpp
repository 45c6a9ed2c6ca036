#pragma once
// Thin wrappers over libcrypto for the primitives SCRAM-SHA-256 and md5 auth need.
// Inputs and outputs are raw bytes held in std::string.
//
// These throw std::runtime_error only when libcrypto itself fails (out of memory, or an
// algorithm disabled by the provider configuration, e.g. MD5 under a FIPS-only setup).
// That is a broken installation, not a bad input, so it is not reported as a value.

#include <string>
#include <string_view>

namespace pgroute::auth {

inline constexpr size_t kSha256Size = 32;

std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
// PBKDF2-HMAC-SHA-256 with a 32-byte output: SCRAM's Hi() (RFC 5802 section 2.2).
std::string pbkdf2_sha256(std::string_view password, std::string_view salt, int iterations);
// 16 raw bytes.
std::string md5_raw(std::string_view data);

// Equal-length inputs are compared without data-dependent timing. Lengths are not
// secret here (they are fixed by the protocol), so a length mismatch returns early.
bool constant_time_equal(std::string_view a, std::string_view b);

// a XOR b; both must have the same size (callers check).
std::string xor_bytes(std::string_view a, std::string_view b);

}  // namespace pgroute::auth
