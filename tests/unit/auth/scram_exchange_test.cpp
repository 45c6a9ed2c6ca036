// Full exchanges between ScramClient and ScramServer with random nonces, and
// verifiers produced by a real PostgreSQL 15.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/crypto.hpp"
#include "proxy/auth/scram.hpp"
#include "proxy/auth/scram_message.hpp"

using namespace pgroute::auth;

namespace {

// From PostgreSQL 15 (`SET password_encryption = 'scram-sha-256'; CREATE ROLE x PASSWORD
// 'secret'; SELECT rolpassword FROM pg_authid`), and for role u with the UTF-8 password
// "pässwörd" (already NFC, so SASLprep leaves its bytes alone).
constexpr const char* kPgVerifierSecret =
    "SCRAM-SHA-256$4096:KrNvWpiRQhH1Gw5Bc+xfiw==$rrj+wLJ3VQARGcRRhBOTpnNAIWGvldEsp6AFm9BwM+Q=:"
    "xxqCazUGSrJJPFMhmOJ2d61Sy+t4Mp4i7FBnpGENtWU=";
constexpr const char* kPgVerifierUtf8 =
    "SCRAM-SHA-256$4096:ha5ZYwV9AhMa/dwxEKZpCw==$w3pSusnaGSZqEVgbPMVYkhp5J9wHJFF5lM97J3G2pMo=:"
    "mdPZvwVntXCpufJEvOYGQosBXDqkBgVe+6VUjEr+tuc=";

struct Outcome {
  bool server_accepted = false;
  bool client_verified_server = false;
  ScramFailure failure = ScramFailure::none;
  std::string client_key;  // what the server recovered
};

Outcome run_exchange(ScramClient& client, ScramServer& server) {
  Outcome out;
  const auto server_first = server.handle_client_first(client.client_first());
  REQUIRE_MESSAGE(server_first.has_value(), server.error());
  const auto client_final = client.handle_server_first(*server_first);
  REQUIRE_MESSAGE(client_final.has_value(), client.error());
  const auto server_final = server.handle_client_final(*client_final);
  out.failure = server.failure();
  if (!server_final) return out;
  out.server_accepted = true;
  out.client_key = server.client_key();
  out.client_verified_server = client.verify_server_final(*server_final);
  return out;
}

}  // namespace

TEST_CASE("exchange: random nonces, right password succeeds, wrong password fails") {
  const ScramSecret secret = make_scram_secret("correct horse");

  ScramClient good("correct horse");
  ScramServer server1(secret);
  const Outcome ok = run_exchange(good, server1);
  CHECK(ok.server_accepted);
  CHECK(ok.client_verified_server);
  CHECK(server1.succeeded());

  ScramClient bad("correct horse ");
  ScramServer server2(secret);
  const Outcome rejected = run_exchange(bad, server2);
  CHECK_FALSE(rejected.server_accepted);
  CHECK(rejected.failure == ScramFailure::wrong_password);
  CHECK_FALSE(server2.error().empty());
  CHECK_FALSE(server2.succeeded());
}

TEST_CASE("exchange: random nonces differ between exchanges and are RFC-printable") {
  ScramClient a("pw");
  ScramClient b("pw");
  const std::string first_a = a.client_first();
  const std::string first_b = b.client_first();
  CHECK(first_a.starts_with("n,,n=,r="));
  CHECK(first_a != first_b);
  CHECK(is_scram_nonce(first_a.substr(8)));
  CHECK(first_a.size() == 8 + 24);

  ScramServer s1(make_scram_secret("pw"));
  ScramServer s2(make_scram_secret("pw"));
  const auto f1 = s1.handle_client_first("n,,n=,r=abc");
  const auto f2 = s2.handle_client_first("n,,n=,r=abc");
  REQUIRE(f1.has_value());
  REQUIRE(f2.has_value());
  CHECK(f1->starts_with("r=abc"));
  CHECK(*f1 != *f2);
}

TEST_CASE("exchange: a server with a different secret fails the client's check too") {
  // The server's proof check fails first, so simulate a server that accepts any proof
  // but signs with the wrong ServerKey: the client must notice.
  ScramSecret real = make_scram_secret("pw", "0123456789abcdef", 4096);
  ScramSecret impostor = make_scram_secret("other", "0123456789abcdef", 4096);
  ScramClient client("pw", "clientnonce");
  ScramServer server(real, "servernonce");
  const auto server_first = server.handle_client_first(client.client_first());
  REQUIRE(server_first.has_value());
  const auto client_final = client.handle_server_first(*server_first);
  REQUIRE(client_final.has_value());
  REQUIRE(server.handle_client_final(*client_final).has_value());

  const std::string without_proof = client_final->substr(0, client_final->rfind(','));
  const std::string auth_message = "n=,r=clientnonce," + *server_first + "," + without_proof;
  CHECK_FALSE(client.verify_server_final("v=" + base64_encode(hmac_sha256(impostor.server_key, auth_message))));
  CHECK(client.error().find("signature") != std::string::npos);
}

TEST_CASE("exchange: verifiers produced by PostgreSQL 15") {
  SUBCASE("ASCII password") {
    const auto secret = parse_scram_verifier(kPgVerifierSecret);
    REQUIRE(secret.has_value());
    CHECK(secret->iterations == 4096);
    CHECK(secret->salt.size() == 16);
    // Deriving from the password gives back PostgreSQL's keys exactly.
    const ScramSecret derived = make_scram_secret("secret", secret->salt, secret->iterations);
    CHECK(derived.stored_key == secret->stored_key);
    CHECK(derived.server_key == secret->server_key);
    CHECK(format_scram_verifier(*secret) == kPgVerifierSecret);

    ScramClient right("secret");
    ScramServer server1(*secret);
    const Outcome ok = run_exchange(right, server1);
    CHECK(ok.server_accepted);
    CHECK(ok.client_verified_server);

    ScramClient wrong("Secret");
    ScramServer server2(*secret);
    CHECK_FALSE(run_exchange(wrong, server2).server_accepted);
  }
  SUBCASE("non-ASCII password used as raw UTF-8 bytes") {
    const auto secret = parse_scram_verifier(kPgVerifierUtf8);
    REQUIRE(secret.has_value());
    ScramClient client("p\xc3\xa4ssw\xc3\xb6rd");
    ScramServer server(*secret);
    const Outcome ok = run_exchange(client, server);
    CHECK(ok.server_accepted);
    CHECK(ok.client_verified_server);
  }
}

TEST_CASE("exchange: the recovered ClientKey logs in to a server with the same verifier") {
  const auto secret = parse_scram_verifier(kPgVerifierSecret);
  REQUIRE(secret.has_value());

  ScramClient client("secret");
  ScramServer proxy_side(*secret);
  const Outcome first = run_exchange(client, proxy_side);
  REQUIRE(first.server_accepted);
  const std::string salted = scram_salted_password("secret", secret->salt, secret->iterations);
  CHECK(first.client_key == scram_client_key(salted));

  // The proxy now logs in to "PostgreSQL" (same verifier) without the password.
  ScramClient pass_through(ScramClientKeys{first.client_key, secret->server_key});
  ScramServer backend(*secret);
  const Outcome second = run_exchange(pass_through, backend);
  CHECK(second.server_accepted);
  CHECK(second.client_verified_server);

  // Keys from another password do not work.
  ScramClient forged(ScramClientKeys{std::string(32, 'k'), secret->server_key});
  ScramServer backend2(*secret);
  CHECK_FALSE(run_exchange(forged, backend2).server_accepted);
}

TEST_CASE("exchange: a secret that matches no password fails at the proof, not before") {
  // How a caller hides unknown users: run the exchange against a made-up secret.
  ScramSecret fake;
  fake.iterations = 4096;
  fake.salt = "0123456789abcdef";
  ScramClient client("anything");
  ScramServer server(fake);
  const Outcome out = run_exchange(client, server);
  CHECK_FALSE(out.server_accepted);
  CHECK(out.failure == ScramFailure::wrong_password);
}

TEST_CASE("exchange: client GS2 flag 'y' is accepted with the matching c=") {
  const ScramSecret secret = make_scram_secret("pw", "saltsaltsaltsalt", 4096);
  ScramServer server(secret, "SRV");
  const auto server_first = server.handle_client_first("y,,n=,r=CLI");
  REQUIRE(server_first.has_value());
  CHECK(*server_first == "r=CLISRV,s=" + base64_encode("saltsaltsaltsalt") + ",i=4096");

  // Build the client-final by hand: c= must encode "y,,".
  const std::string without_proof = "c=" + base64_encode("y,,") + ",r=CLISRV";
  CHECK(without_proof == "c=eSws,r=CLISRV");
  const std::string auth_message = "n=,r=CLI," + *server_first + "," + without_proof;
  const std::string client_key = scram_client_key(scram_salted_password("pw", secret.salt, 4096));
  const std::string proof = xor_bytes(client_key, hmac_sha256(secret.stored_key, auth_message));
  const auto server_final = server.handle_client_final(without_proof + ",p=" + base64_encode(proof));
  REQUIRE_MESSAGE(server_final.has_value(), server.error());
  CHECK(*server_final == "v=" + base64_encode(hmac_sha256(secret.server_key, auth_message)));
}

TEST_CASE("exchange: optional extensions are ignored but belong to AuthMessage") {
  const ScramSecret secret = make_scram_secret("pw", "saltsaltsaltsalt", 4096);
  ScramServer server(secret, "SRV");
  const auto server_first = server.handle_client_first("n,,n=someone,r=CLI,x=ext1");
  REQUIRE_MESSAGE(server_first.has_value(), server.error());

  const std::string without_proof = "c=biws,r=CLISRV,y=ext2";
  const std::string auth_message = "n=someone,r=CLI,x=ext1," + *server_first + "," + without_proof;
  const std::string client_key = scram_client_key(scram_salted_password("pw", secret.salt, 4096));
  const std::string proof = xor_bytes(client_key, hmac_sha256(secret.stored_key, auth_message));
  CHECK(server.handle_client_final(without_proof + ",p=" + base64_encode(proof)).has_value());
}

TEST_CASE("exchange: the client escapes ',' and '=' in a user name") {
  ScramClient client("pw", "N", "a,b=c");
  CHECK(client.client_first() == "n,,n=a=2Cb=3Dc,r=N");
}
