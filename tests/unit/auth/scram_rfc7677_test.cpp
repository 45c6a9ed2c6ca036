// RFC 7677 section 3: the SCRAM-SHA-256 example exchange, driven through both ends.
#include <doctest/doctest.h>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/scram.hpp"

using namespace pgroute::auth;

namespace {

constexpr const char* kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerNonceSuffix = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char* kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr const char* kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char* kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramSecret rfc_secret() { return make_scram_secret("pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096); }

}  // namespace

TEST_CASE("RFC 7677: ScramClient produces the exact messages of the example") {
  ScramClient client("pencil", kClientNonce, "user");
  CHECK(client.client_first() == kClientFirst);
  const auto client_final = client.handle_server_first(kServerFirst);
  REQUIRE_MESSAGE(client_final.has_value(), client.error());
  CHECK(*client_final == kClientFinal);
  CHECK(client.verify_server_final(kServerFinal));
  CHECK(client.error().empty());
}

TEST_CASE("RFC 7677: ScramServer produces the exact messages of the example") {
  ScramServer server(rfc_secret(), kServerNonceSuffix);
  const auto server_first = server.handle_client_first(kClientFirst);
  REQUIRE_MESSAGE(server_first.has_value(), server.error());
  CHECK(*server_first == kServerFirst);
  const auto server_final = server.handle_client_final(kClientFinal);
  REQUIRE_MESSAGE(server_final.has_value(), server.error());
  CHECK(*server_final == kServerFinal);
  CHECK(server.succeeded());
  CHECK(server.failure() == ScramFailure::none);
}

TEST_CASE("RFC 7677: client and server with the fixed nonces talk to each other") {
  ScramClient client("pencil", kClientNonce, "user");
  ScramServer server(rfc_secret(), kServerNonceSuffix);
  const auto server_first = server.handle_client_first(client.client_first());
  REQUIRE(server_first.has_value());
  const auto client_final = client.handle_server_first(*server_first);
  REQUIRE(client_final.has_value());
  const auto server_final = server.handle_client_final(*client_final);
  REQUIRE(server_final.has_value());
  CHECK(*server_final == kServerFinal);
  CHECK(client.verify_server_final(*server_final));
}

TEST_CASE("RFC 7677: a tampered proof or server signature is rejected") {
  SUBCASE("server rejects the example's final message with one proof bit flipped") {
    ScramServer server(rfc_secret(), kServerNonceSuffix);
    REQUIRE(server.handle_client_first(kClientFirst).has_value());
    std::string tampered = kClientFinal;
    tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'V' ? 'W' : 'V';
    CHECK_FALSE(server.handle_client_final(tampered).has_value());
    CHECK(server.failure() == ScramFailure::wrong_password);
    CHECK_FALSE(server.error().empty());
    CHECK(server.client_key().empty());
  }
  SUBCASE("client rejects a server signature that is not the expected one") {
    ScramClient client("pencil", kClientNonce, "user");
    client.client_first();
    REQUIRE(client.handle_server_first(kServerFirst).has_value());
    CHECK_FALSE(client.verify_server_final("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    CHECK_FALSE(client.error().empty());
  }
}
