// Every malformed or out-of-order SCRAM message ends the exchange with nullopt/false and a
// reason, never a crash.
#include <doctest/doctest.h>

#include <string>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/scram.hpp"

using namespace pgroute::auth;

namespace {

const ScramSecret& test_secret() {
  static const ScramSecret secret = make_scram_secret("pw", "saltsaltsaltsalt", 4096);
  return secret;
}

void expect_client_first_rejected(const std::string& message) {
  CAPTURE(message);
  ScramServer server(test_secret(), "SRV");
  CHECK_FALSE(server.handle_client_first(message).has_value());
  CHECK_FALSE(server.error().empty());
  CHECK(server.failure() == ScramFailure::protocol_violation);
  // A failed exchange stays failed.
  CHECK_FALSE(server.handle_client_first("n,,n=,r=CLI").has_value());
}

void expect_client_final_rejected(const std::string& message) {
  CAPTURE(message);
  ScramServer server(test_secret(), "SRV");
  REQUIRE(server.handle_client_first("n,,n=,r=CLI").has_value());
  CHECK_FALSE(server.handle_client_final(message).has_value());
  CHECK_FALSE(server.error().empty());
  CHECK(server.failure() == ScramFailure::protocol_violation);
  CHECK(server.client_key().empty());
  CHECK_FALSE(server.succeeded());
}

// The error is for logs: it must not leak key material.
void expect_no_secret_in(const std::string& error) {
  CHECK(error.find(base64_encode(test_secret().stored_key)) == std::string::npos);
  CHECK(error.find(base64_encode(test_secret().server_key)) == std::string::npos);
}

const std::string kProof = base64_encode(std::string(32, 'p'));

}  // namespace

TEST_CASE("server: malformed client-first-message") {
  const std::string cases[] = {
      "",
      "n",
      "n;,n=,r=CLI",
      "x,,n=,r=CLI",                       // unknown channel binding flag
      "p=tls-server-end-point,,n=,r=CLI",  // channel binding requested
      "p,,n=,r=CLI",
      "n,a=admin,n=,r=CLI",  // authzid
      "n,zzz,n=,r=CLI",
      "n,n=,r=CLI",         // GS2 header without the second ','
      "n,,",                // no bare message
      "n,,m=ext,n=,r=CLI",  // mandatory extension
      "n,,r=CLI",           // no user name
      "n,,n=",              // no nonce
      "n,,n=,x=CLI",
      "n,,n=,r=",        // empty nonce
      "n,,n=,r=C\x01I",  // non-printable nonce
      "n,,n=,r=C I",
      "n,,n=,,r=CLI",  // empty attribute
      "n,,n=,r=CLI,",  // trailing empty attribute
      "n,,n=,rCLI",
      "n,,n=,1=CLI",
      std::string("n,,n=,r=C\0I", 11),
  };
  for (const std::string& message : cases) expect_client_first_rejected(message);

  ScramServer server(test_secret());
  CHECK_FALSE(server.handle_client_first("p=tls-server-end-point,,n=,r=CLI").has_value());
  CHECK(server.error().find("channel binding") != std::string::npos);
  ScramServer server2(test_secret());
  CHECK_FALSE(server2.handle_client_first("n,a=admin,n=,r=CLI").has_value());
  CHECK(server2.error().find("a=") != std::string::npos);
  ScramServer server3(test_secret());
  CHECK_FALSE(server3.handle_client_first("n,,m=x,n=,r=CLI").has_value());
  CHECK(server3.error().find("m=") != std::string::npos);
}

TEST_CASE("server: any user name in n= is accepted") {
  for (const char* message : {"n,,n=,r=CLI", "n,,n=postgres,r=CLI", "n,,n=a=2Cb,r=CLI"}) {
    ScramServer server(test_secret(), "SRV");
    const auto first = server.handle_client_first(message);
    REQUIRE_MESSAGE(first.has_value(), server.error());
    CHECK(first->starts_with("r=CLISRV,s="));
  }
}

TEST_CASE("server: malformed client-final-message") {
  const std::string cases[] = {
      "",
      "c=biws,r=CLISRV",                       // no proof
      "c=biws,p=" + kProof,                    // no nonce
      "r=CLISRV,p=" + kProof,                  // no channel binding
      "r=CLISRV,c=biws,p=" + kProof,           // wrong order
      "c=biws,r=CLISRV,p=" + kProof + ",x=1",  // proof not last
      "c=!!!!,r=CLISRV,p=" + kProof,           // bad base64 in c=
      "c=biw,r=CLISRV,p=" + kProof,
      "c=eSws,r=CLISRV,p=" + kProof,                  // "y,," but the header was "n,,"
      "c=cD10bHMtdW5pcXVlLCw=,r=CLISRV,p=" + kProof,  // "p=tls-unique,,"
      "c=,r=CLISRV,p=" + kProof,
      "c=biws,r=CLI,p=" + kProof,     // nonce without the server part
      "c=biws,r=CLISRX,p=" + kProof,  // nonce mismatch
      "c=biws,r=CLISRVX,p=" + kProof,
      "c=biws,r=,p=" + kProof,
      "c=biws,r=CLISRV,p=!!!!",                                    // bad base64 proof
      "c=biws,r=CLISRV,p=",                                        // empty proof
      "c=biws,r=CLISRV,p=" + base64_encode(std::string(31, 'p')),  // wrong length
      "c=biws,r=CLISRV,p=" + base64_encode(std::string(33, 'p')),
      "c=biws,,r=CLISRV,p=" + kProof,
      "c=biws,r=CLISRV,p=" + kProof + ",",
  };
  for (const std::string& message : cases) expect_client_final_rejected(message);
}

TEST_CASE("server: a well-formed but wrong proof is a wrong password, without secrets in the error") {
  ScramServer server(test_secret(), "SRV");
  REQUIRE(server.handle_client_first("n,,n=,r=CLI").has_value());
  CHECK_FALSE(server.handle_client_final("c=biws,r=CLISRV,p=" + kProof).has_value());
  CHECK(server.failure() == ScramFailure::wrong_password);
  CHECK_FALSE(server.error().empty());
  expect_no_secret_in(server.error());
}

TEST_CASE("server: messages out of order") {
  SUBCASE("final before first") {
    ScramServer server(test_secret(), "SRV");
    CHECK_FALSE(server.handle_client_final("c=biws,r=CLISRV,p=" + kProof).has_value());
    CHECK_FALSE(server.error().empty());
  }
  SUBCASE("first twice") {
    ScramServer server(test_secret(), "SRV");
    REQUIRE(server.handle_client_first("n,,n=,r=CLI").has_value());
    CHECK_FALSE(server.handle_client_first("n,,n=,r=CLI").has_value());
    CHECK(server.failure() == ScramFailure::protocol_violation);
  }
  SUBCASE("final after a wrong proof") {
    ScramServer server(test_secret(), "SRV");
    REQUIRE(server.handle_client_first("n,,n=,r=CLI").has_value());
    REQUIRE_FALSE(server.handle_client_final("c=biws,r=CLISRV,p=" + kProof).has_value());
    CHECK_FALSE(server.handle_client_final("c=biws,r=CLISRV,p=" + kProof).has_value());
  }
}

namespace {

// A client that has sent "n,,n=,r=CLI".
ScramClient started_client() {
  ScramClient client("pw", "CLI");
  client.client_first();
  return client;
}

const std::string kSaltB64 = base64_encode("saltsaltsaltsalt");

}  // namespace

TEST_CASE("client: malformed server-first-message") {
  const std::string cases[] = {
      "",
      "r=CLISRV,s=" + kSaltB64,                    // no iterations
      "r=CLISRV,i=4096",                           // no salt
      "s=" + kSaltB64 + ",i=4096",                 // no nonce
      "s=" + kSaltB64 + ",r=CLISRV,i=4096",        // wrong order
      "m=ext,r=CLISRV,s=" + kSaltB64 + ",i=4096",  // mandatory extension
      "r=XYZSRV,s=" + kSaltB64 + ",i=4096",        // does not start with our nonce
      "r=CLI,s=" + kSaltB64 + ",i=4096",           // server added nothing
      "r=CL,s=" + kSaltB64 + ",i=4096",
      "r=CLI SRV,s=" + kSaltB64 + ",i=4096",
      "r=CLISRV,s=!!!!,i=4096",  // bad salt
      "r=CLISRV,s=,i=4096",      // empty salt
      "r=CLISRV,s=" + kSaltB64 + ",i=0",
      "r=CLISRV,s=" + kSaltB64 + ",i=-1",
      "r=CLISRV,s=" + kSaltB64 + ",i=+4096",
      "r=CLISRV,s=" + kSaltB64 + ",i=4096x",
      "r=CLISRV,s=" + kSaltB64 + ",i=",
      "r=CLISRV,s=" + kSaltB64 + ",i=10000001",  // above the cap
      "r=CLISRV,s=" + kSaltB64 + ",i=99999999999",
      "r=CLISRV,s=" + kSaltB64 + ",i=4096,",
      "r=CLISRV,,s=" + kSaltB64 + ",i=4096",
  };
  for (const std::string& message : cases) {
    CAPTURE(message);
    ScramClient client = started_client();
    CHECK_FALSE(client.handle_server_first(message).has_value());
    CHECK_FALSE(client.error().empty());
    CHECK(client.error().find("pw") == std::string::npos);
    CHECK_FALSE(client.verify_server_final("v=" + kProof));
  }
}

TEST_CASE("client: server-first extensions after i= are ignored") {
  ScramClient client = started_client();
  CHECK(client.handle_server_first("r=CLISRV,s=" + kSaltB64 + ",i=1,x=ext").has_value());
}

TEST_CASE("client: server-final-message errors") {
  SUBCASE("e= is reported") {
    ScramClient client = started_client();
    REQUIRE(client.handle_server_first("r=CLISRV,s=" + kSaltB64 + ",i=1").has_value());
    CHECK_FALSE(client.verify_server_final("e=invalid-proof"));
    CHECK(client.error().find("invalid-proof") != std::string::npos);
  }
  for (const std::string& message : {std::string(""), std::string("v=!!!!"), std::string("v="), std::string("x=1"),
                                     "v=" + kProof, std::string("v"), std::string("r=CLISRV")}) {
    CAPTURE(message);
    ScramClient client = started_client();
    REQUIRE(client.handle_server_first("r=CLISRV,s=" + kSaltB64 + ",i=1").has_value());
    CHECK_FALSE(client.verify_server_final(message));
    CHECK_FALSE(client.error().empty());
  }
}

TEST_CASE("client: messages out of order") {
  SUBCASE("server-first before client-first") {
    ScramClient client("pw", "CLI");
    CHECK_FALSE(client.handle_server_first("r=CLISRV,s=" + kSaltB64 + ",i=1").has_value());
    CHECK_FALSE(client.error().empty());
  }
  SUBCASE("server-final before server-first") {
    ScramClient client = started_client();
    CHECK_FALSE(client.verify_server_final("v=" + kProof));
    CHECK_FALSE(client.error().empty());
  }
  SUBCASE("server-first twice") {
    ScramClient client = started_client();
    REQUIRE(client.handle_server_first("r=CLISRV,s=" + kSaltB64 + ",i=1").has_value());
    CHECK_FALSE(client.handle_server_first("r=CLISRV,s=" + kSaltB64 + ",i=1").has_value());
  }
}
