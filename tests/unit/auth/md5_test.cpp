#include <doctest/doctest.h>

#include <cctype>
#include <string>

#include "proxy/auth/md5.hpp"

using namespace pgroute::auth;

// Vectors from `printf '%s' ... | md5sum`; "md5b5232..." is what PostgreSQL 15 stored for
// CREATE ROLE m PASSWORD 'secret' with password_encryption = md5.
constexpr const char* kStoredHashOfM = "md5b52328d7451bfeace80c4b8c338106f9";

TEST_CASE("md5: hex digests of known inputs") {
  CHECK(md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5_password_hash("postgres", "pencil") == "md54c21b325d75177d5e9b9789a50ab0c9c");
  CHECK(md5_password_hash("m", "secret") == kStoredHashOfM);
}

TEST_CASE("md5: is_md5_hash accepts only md5 + 32 lowercase hex") {
  CHECK(is_md5_hash(kStoredHashOfM));
  CHECK_FALSE(is_md5_hash("md5B52328D7451BFEACE80C4B8C338106F9"));
  CHECK_FALSE(is_md5_hash("md5b52328d7451bfeace80c4b8c338106f"));    // 31 digits
  CHECK_FALSE(is_md5_hash("md5b52328d7451bfeace80c4b8c338106f90"));  // 33 digits
  CHECK_FALSE(is_md5_hash("md5gggggggggggggggggggggggggggggggg"));
  CHECK_FALSE(is_md5_hash("MD5b52328d7451bfeace80c4b8c338106f9"));
  CHECK_FALSE(is_md5_hash("secret"));
  CHECK_FALSE(is_md5_hash(""));
}

TEST_CASE("md5: client response from plaintext and from the stored hash agree") {
  const char salt[4] = {1, 2, 3, 4};
  // printf 'b52328d7451bfeace80c4b8c338106f9\x01\x02\x03\x04' | md5sum
  const std::string expected = "md5b441c8c79190ee049d2b529b74d69aa7";
  CHECK(md5_client_response("m", "secret", salt) == expected);
  CHECK(md5_client_response("m", kStoredHashOfM, salt) == expected);

  // Salt bytes with the high bit set and a NUL must be used as raw bytes.
  const char odd_salt[4] = {'\xff', '\0', '\x80', '\x7f'};
  CHECK(md5_client_response("m", "secret", odd_salt) == "md5098b87b64c7d7150b655558f5fee9d10");
}

TEST_CASE("md5: verify accepts the right response and rejects the wrong ones") {
  const char salt[4] = {1, 2, 3, 4};
  const std::string good = md5_client_response("m", "secret", salt);

  CHECK(md5_verify(good, "m", "secret", salt));
  CHECK(md5_verify(good, "m", kStoredHashOfM, salt));

  CHECK_FALSE(md5_verify(md5_client_response("m", "Secret", salt), "m", "secret", salt));
  CHECK_FALSE(md5_verify(md5_client_response("n", "secret", salt), "m", "secret", salt));
  const char other_salt[4] = {1, 2, 3, 5};
  CHECK_FALSE(md5_verify(good, "m", "secret", other_salt));
  CHECK_FALSE(md5_verify("", "m", "secret", salt));
  CHECK_FALSE(md5_verify(good.substr(0, 34), "m", "secret", salt));
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK_FALSE(md5_verify(upper, "m", "secret", salt));
  // A client that sends the stored hash itself has not answered the challenge.
  CHECK_FALSE(md5_verify(kStoredHashOfM, "m", "secret", salt));
}

TEST_CASE("md5: a SCRAM verifier cannot check an md5 response") {
  const char salt[4] = {1, 2, 3, 4};
  const char* verifier =
      "SCRAM-SHA-256$4096:KrNvWpiRQhH1Gw5Bc+xfiw==$rrj+wLJ3VQARGcRRhBOTpnNAIWGvldEsp6AFm9BwM+Q=:"
      "xxqCazUGSrJJPFMhmOJ2d61Sy+t4Mp4i7FBnpGENtWU=";
  CHECK_FALSE(md5_verify(md5_client_response("x", verifier, salt), "x", verifier, salt));
}
