#include <doctest/doctest.h>

#include <string>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/scram.hpp"

using namespace pgroute::auth;

namespace {
const std::string kKey = base64_encode(std::string(32, 'k'));
const std::string kShortKey = base64_encode(std::string(31, 'k'));
const std::string kSalt = base64_encode("saltsalt");

std::string verifier(const std::string& iterations, const std::string& salt, const std::string& stored,
                     const std::string& server) {
  return "SCRAM-SHA-256$" + iterations + ":" + salt + "$" + stored + ":" + server;
}
}  // namespace

TEST_CASE("verifier: format and parse round-trip") {
  const ScramSecret secret = make_scram_secret("pw", "saltsalt", 7);
  const std::string text = format_scram_verifier(secret);
  CHECK(text.starts_with("SCRAM-SHA-256$7:" + kSalt + "$"));
  const auto parsed = parse_scram_verifier(text);
  REQUIRE(parsed.has_value());
  CHECK(parsed->iterations == 7);
  CHECK(parsed->salt == "saltsalt");
  CHECK(parsed->stored_key == secret.stored_key);
  CHECK(parsed->server_key == secret.server_key);
  CHECK(is_scram_verifier(text));
}

TEST_CASE("verifier: malformed strings are rejected") {
  CHECK(is_scram_verifier(verifier("4096", kSalt, kKey, kKey)));  // the baseline is valid
  const std::string invalid[] = {
      "",
      "md5b52328d7451bfeace80c4b8c338106f9",
      "secret",
      "SCRAM-SHA-1$4096:" + kSalt + "$" + kKey + ":" + kKey,
      "scram-sha-256$4096:" + kSalt + "$" + kKey + ":" + kKey,
      verifier("0", kSalt, kKey, kKey),
      verifier("-1", kSalt, kKey, kKey),
      verifier("+4096", kSalt, kKey, kKey),
      verifier(" 4096", kSalt, kKey, kKey),
      verifier("4096x", kSalt, kKey, kKey),
      verifier("", kSalt, kKey, kKey),
      verifier("99999999999", kSalt, kKey, kKey),  // beyond int
      verifier("4096", "", kKey, kKey),
      verifier("4096", "!!!!", kKey, kKey),
      verifier("4096", kSalt, kShortKey, kKey),
      verifier("4096", kSalt, kKey, kShortKey),
      verifier("4096", kSalt, kKey, kKey + ":" + kKey),
      verifier("4096", kSalt, kKey, ""),
      "SCRAM-SHA-256$4096:" + kSalt + "$" + kKey,  // no ServerKey
      "SCRAM-SHA-256$4096$" + kKey + ":" + kKey,   // no salt
      "SCRAM-SHA-256$4096:" + kSalt,               // no keys
  };
  for (const std::string& s : invalid) {
    CAPTURE(s);
    CHECK_FALSE(parse_scram_verifier(s).has_value());
    CHECK_FALSE(is_scram_verifier(s));
  }
}

TEST_CASE("make_scram_secret: default salt and iterations, a fresh salt each time") {
  const ScramSecret a = make_scram_secret("pw");
  const ScramSecret b = make_scram_secret("pw");
  CHECK(a.iterations == 4096);
  CHECK(a.salt.size() == 16);
  CHECK(a.stored_key.size() == 32);
  CHECK(a.server_key.size() == 32);
  CHECK(a.salt != b.salt);
  CHECK(a.stored_key != b.stored_key);
  // Same password and salt give the same secret.
  const ScramSecret again = make_scram_secret("pw", a.salt, a.iterations);
  CHECK(again.stored_key == a.stored_key);
  CHECK(again.server_key == a.server_key);
  CHECK(make_scram_secret("pW", a.salt, a.iterations).stored_key != a.stored_key);
}

TEST_CASE("mock_scram_secret: stable per user, different between users, matches no password") {
  const std::string key = "per-process random key";
  const ScramSecret a1 = mock_scram_secret("alice", key);
  const ScramSecret a2 = mock_scram_secret("alice", key);
  const ScramSecret b = mock_scram_secret("bob", key);
  CHECK(a1.salt == a2.salt);
  CHECK(a1.salt.size() == 16);
  CHECK(a1.iterations == 4096);
  CHECK(a1.salt != b.salt);
  CHECK(mock_scram_secret("alice", "another key").salt != a1.salt);

  for (const char* password : {"", "alice", "per-process random key"}) {
    ScramClient client(password);
    ScramServer server(a1);
    const auto server_first = server.handle_client_first(client.client_first());
    REQUIRE(server_first.has_value());
    CHECK(server_first->find(",s=" + base64_encode(a1.salt) + ",i=4096") != std::string::npos);
    const auto client_final = client.handle_server_first(*server_first);
    REQUIRE(client_final.has_value());
    CHECK_FALSE(server.handle_client_final(*client_final).has_value());
    CHECK(server.failure() == ScramFailure::wrong_password);
  }
}
