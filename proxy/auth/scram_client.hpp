#pragma once
// The client side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677): the proxy logging
// in to a PostgreSQL server. Pure message-in / message-out.

#include <optional>
#include <string>
#include <string_view>

namespace pgroute::auth {

// Upper bound on the server's iteration count: each one costs an HMAC, and a hostile or
// misconfigured server must not make a login burn minutes of CPU.
inline constexpr int kScramMaxIterations = 10'000'000;

// What lets a client answer without the password: the ClientKey (recovered by
// ScramServer::client_key() from a client that logged in to the proxy) and the ServerKey
// (from the verifier). Only valid against a server whose verifier has the same salt and
// iteration count as the one these keys came from.
struct ScramClientKeys {
  std::string client_key, server_key;  // raw bytes, 32 each
};

class ScramClient {
 public:
  // client_nonce: empty -> 18 random bytes, base64. A given nonce must be printable
  // ASCII without ','. The password is used as raw bytes (see scram_salted_password).
  explicit ScramClient(std::string password, std::string client_nonce = {});
  // With a user name for "n=" (PostgreSQL ignores it and sends "n="; RFC test vectors use one).
  ScramClient(std::string password, std::string client_nonce, std::string username);
  explicit ScramClient(ScramClientKeys keys, std::string client_nonce = {});

  // Channel binding "tls-server-end-point" (RFC 5929) with this data (the hash of the server's
  // certificate): the exchange then proves both ends see the same TLS session. Call before client_first().
  void bind_channel(std::string tls_server_end_point) { cbind_data_ = std::move(tls_server_end_point); }
  // "n,,n=,r=<nonce>", or "p=tls-server-end-point,,n=,r=<nonce>" with channel binding.
  std::string client_first();
  // server-first-message -> client-final-message "c=biws,r=...,p=...".
  std::optional<std::string> handle_server_first(std::string_view server_first);
  // Checks the server signature in server-final "v=..."; a server error "e=..." is
  // reported through error().
  bool verify_server_final(std::string_view server_final);

  const std::string& error() const { return error_; }

 private:
  enum class State { initial, expect_server_first, expect_server_final, done, failed };

  std::nullopt_t fail(std::string message);
  // nullopt when the server-final-message is good, else why not.
  std::optional<std::string> check_server_final(std::string_view server_final) const;

  std::string password_;
  ScramClientKeys keys_;  // set up front, or derived from the password in handle_server_first
  bool have_keys_ = false;
  std::string client_nonce_;
  std::string cbind_data_;  // empty: no channel binding (GS2 header "n,,")
  std::string client_first_bare_;
  std::string expected_server_signature_;
  State state_ = State::initial;
  std::string error_;
};

}  // namespace pgroute::auth
