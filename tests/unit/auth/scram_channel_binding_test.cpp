// SCRAM-SHA-256-PLUS with tls-server-end-point (RFC 5929): the exchange succeeds only when both ends
// saw the same certificate hash, and a client cannot be talked out of binding once it was offered.
#include <doctest/doctest.h>

#include <string>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/scram.hpp"

using namespace pgroute::auth;

namespace {
const std::string kEndPoint(32, '\x5a');  // stands for SHA-256 of the server's certificate
}  // namespace

TEST_CASE("scram channel binding: a client bound to the server's certificate hash logs in") {
  ScramServer server(make_scram_secret("secret", "salt-salt-salt", 4096));
  server.offer_channel_binding(kEndPoint);
  ScramClient client("secret");
  client.bind_channel(kEndPoint);
  const std::string first = client.client_first();
  CHECK(first.starts_with("p=tls-server-end-point,,n="));
  auto server_first = server.handle_client_first(first, /*plus=*/true);
  REQUIRE_MESSAGE(server_first, server.error());
  auto client_final = client.handle_server_first(*server_first);
  REQUIRE(client_final);
  CHECK(client_final->starts_with("c=" + base64_encode("p=tls-server-end-point,," + kEndPoint)));
  auto server_final = server.handle_client_final(*client_final);
  REQUIRE_MESSAGE(server_final, server.error());
  CHECK(client.verify_server_final(*server_final));
}

TEST_CASE("scram channel binding: another certificate's hash (a man in the middle) fails") {
  ScramServer server(make_scram_secret("secret", "salt-salt-salt", 4096));
  server.offer_channel_binding(kEndPoint);
  ScramClient client("secret");
  client.bind_channel(std::string(32, '\x11'));  // what the client saw: the middle's certificate
  auto server_first = server.handle_client_first(client.client_first(), true);
  REQUIRE(server_first);
  auto client_final = client.handle_server_first(*server_first);
  REQUIRE(client_final);
  CHECK_FALSE(server.handle_client_final(*client_final));
  CHECK(server.error() == "SCRAM channel binding (c=) does not match this TLS connection");
}

TEST_CASE("scram channel binding: the flags and mechanisms that must not pass") {
  const auto secret = make_scram_secret("secret", "salt-salt-salt", 4096);
  {  // offered, but the client says the server cannot bind: a downgrade
    ScramServer server(secret);
    server.offer_channel_binding(kEndPoint);
    CHECK_FALSE(server.handle_client_first("y,,n=,r=abcdefghijklmnop"));
    CHECK(server.error().find("(y)") != std::string::npos);
  }
  {  // PLUS chosen without binding
    ScramServer server(secret);
    server.offer_channel_binding(kEndPoint);
    CHECK_FALSE(server.handle_client_first("n,,n=,r=abcdefghijklmnop", true));
  }
  {  // binding without PLUS, and a binding type we do not offer
    ScramServer server(secret);
    server.offer_channel_binding(kEndPoint);
    CHECK_FALSE(server.handle_client_first("p=tls-server-end-point,,n=,r=abcdefghijklmnop", false));
    ScramServer other(secret);
    other.offer_channel_binding(kEndPoint);
    CHECK_FALSE(other.handle_client_first("p=tls-unique,,n=,r=abcdefghijklmnop", true));
  }
  {  // not offered (plaintext): "y" and "n" pass, "p" does not
    ScramServer y(secret), n(secret), p(secret);
    CHECK(y.handle_client_first("y,,n=,r=abcdefghijklmnop"));
    CHECK(n.handle_client_first("n,,n=,r=abcdefghijklmnop"));
    CHECK_FALSE(p.handle_client_first("p=tls-server-end-point,,n=,r=abcdefghijklmnop", true));
  }
  {  // offered, and a client without binding support ("n") still logs in with plain SCRAM-SHA-256
    ScramServer server(secret);
    server.offer_channel_binding(kEndPoint);
    ScramClient client("secret");
    auto server_first = server.handle_client_first(client.client_first());
    REQUIRE(server_first);
    auto final_msg = server.handle_client_final(*client.handle_server_first(*server_first));
    CHECK(final_msg.has_value());
  }
}
