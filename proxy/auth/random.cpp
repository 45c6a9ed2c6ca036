#include "proxy/auth/random.hpp"

#include <openssl/rand.h>

#include <climits>
#include <stdexcept>

namespace pgroute::auth {

void random_bytes(void* dst, size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  // RAND_bytes takes an int; split huge requests instead of truncating them.
  while (n > 0) {
    const int chunk = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    if (RAND_bytes(out, chunk) != 1) {
      throw std::runtime_error("RAND_bytes failed: no secure random bytes available");
    }
    out += chunk;
    n -= static_cast<size_t>(chunk);
  }
}

}  // namespace pgroute::auth
