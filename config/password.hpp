// What a configured user password is: the secret itself, or one of the two hashed forms PostgreSQL
// stores (pg_authid.rolpassword), which decide the auth methods the proxy can offer for that user.
#pragma once

#include <string_view>

namespace pgroute::config {

enum class PasswordKind {
  Plaintext,      // anything that is not one of the two forms below
  ScramVerifier,  // "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
  Md5Hash,        // "md5" + 32 hex digits (md5 of password + user name)
};

PasswordKind classify_password(std::string_view password);

// Classification only looks at the prefix; this checks the whole verifier: a positive iteration
// count, a base64 salt, and base64 StoredKey/ServerKey of 32 bytes each.
bool is_well_formed_scram_verifier(std::string_view verifier);

}  // namespace pgroute::config
