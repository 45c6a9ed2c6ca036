#pragma once
// Cryptographically secure random bytes (nonces, salts, cancel keys).

#include <cstddef>

namespace pgroute::auth {

// Fills dst with n bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the
// generator fails: there is no safe fallback for a nonce or a salt.
void random_bytes(void* dst, size_t n);

}  // namespace pgroute::auth
