#pragma once
// Pieces shared by both ends of a SCRAM exchange: splitting a message into its
// "x=value" attributes (RFC 5802 section 7), nonces, and the key derivations.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgroute::auth {

struct ScramAttribute {
  char name = 0;           // a single ASCII letter
  std::string_view value;  // view into the message; may be empty (PostgreSQL sends "n=")
};

// Splits "a=1,b=2" into attributes. nullopt when a part is not "<letter>=...", including
// empty parts (",,") and an empty message: such a message cannot be valid SCRAM.
std::optional<std::vector<ScramAttribute>> split_scram_attributes(std::string_view message);

// RFC 5802 "printable": 0x21..0x7E except ','. Empty is not a nonce.
bool is_scram_nonce(std::string_view nonce);

// 18 random bytes, base64: 24 printable characters with no ','.
std::string random_scram_nonce();

// saslname escaping of a user name for "n=": ',' -> "=2C", '=' -> "=3D".
std::string escape_scram_username(std::string_view user);

// The keys RFC 5802 section 3 derives from SaltedPassword.
std::string scram_client_key(std::string_view salted_password);
std::string scram_server_key(std::string_view salted_password);

// Hi(Normalize(password), salt, i). Normalize would be SASLprep (RFC 4013). For pure
// ASCII passwords without control characters SASLprep is the identity, and where it
// fails (control characters, invalid UTF-8) PostgreSQL itself falls back to the raw
// bytes; so we always use the raw bytes. This differs from PostgreSQL only for
// non-ASCII passwords that SASLprep would change (non-NFKC text, non-ASCII spaces,
// soft hyphens, ...): such a user must be configured with the normalized password.
std::string scram_salted_password(std::string_view password, std::string_view salt, int iterations);

}  // namespace pgroute::auth
