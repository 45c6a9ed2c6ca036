#pragma once
// PostgreSQL's md5 password scheme (AuthenticationMD5Password).
//   stored hash:   "md5" + hex(md5(password || username))
//   wire response: "md5" + hex(md5(hex(md5(password || username)) || salt4))

#include <string>
#include <string_view>

namespace pgroute::auth {

// 32 lowercase hex digits.
std::string md5_hex(std::string_view data);

// "md5<32 hex>", exactly what PostgreSQL stores in pg_authid.rolpassword.
std::string md5_password_hash(std::string_view user, std::string_view password);

// "md5" followed by 32 lowercase hex digits.
bool is_md5_hash(std::string_view secret);

// What a client sends for AuthenticationMD5Password. `secret` is either the plaintext
// password or an "md5..." stored hash; like PostgreSQL, a secret that looks like an md5
// hash is taken to be one (the hash is all the protocol needs). A SCRAM verifier cannot
// answer an md5 challenge; callers must not pass one here.
std::string md5_client_response(std::string_view user, std::string_view secret, const char salt[4]);

// Checks a client's response against the configured secret (plaintext or md5 hash) in
// constant time. Returns false for a SCRAM verifier secret: md5 cannot be checked against it.
bool md5_verify(std::string_view response, std::string_view user, std::string_view secret, const char salt[4]);

}  // namespace pgroute::auth
