#pragma once
// The server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677): the proxy checking
// a client. Pure message-in / message-out; the caller wraps the messages in
// AuthenticationSASLContinue / AuthenticationSASLFinal and SASLResponse.

#include <optional>
#include <string>
#include <string_view>

#include "proxy/auth/scram_secret.hpp"

namespace pgroute::auth {

// Why an exchange failed, so the caller can pick the SQLSTATE:
// protocol_violation -> 08P01, wrong_password -> 28P01.
enum class ScramFailure { none, protocol_violation, wrong_password };

class ScramServer {
 public:
  // server_nonce_suffix: appended to the client's nonce; empty -> 18 random bytes, base64.
  // A given suffix must be printable ASCII without ',' (tests use the RFC's fixed one).
  // A secret that was never derived from a password (e.g. default-constructed, or made
  // up for an unknown user) runs the exchange normally and fails at the proof, so a
  // caller can hide whether a user exists.
  explicit ScramServer(ScramSecret secret, std::string server_nonce_suffix = {});

  // SCRAM-SHA-256-PLUS is offered (a TLS connection): `tls_server_end_point` is the hash of the
  // certificate this server showed (RFC 5929), which a client binding the channel must have seen.
  void offer_channel_binding(std::string tls_server_end_point) { cbind_data_ = std::move(tls_server_end_point); }
  bool offers_channel_binding() const { return !cbind_data_.empty(); }

  // client-first-message -> server-first-message; `plus`: the client chose SCRAM-SHA-256-PLUS.
  std::optional<std::string> handle_client_first(std::string_view client_first, bool plus = false);
  // client-final-message -> server-final-message "v=..."; nullopt if the proof is wrong.
  std::optional<std::string> handle_client_final(std::string_view client_final);

  // Why the last call returned nullopt (for logs; never contains secrets).
  const std::string& error() const { return error_; }
  ScramFailure failure() const { return failure_; }
  bool succeeded() const { return state_ == State::done; }

  // After success: the ClientKey the client proved it knows (RFC 5802: ClientProof XOR
  // ClientSignature). With the ServerKey it lets the proxy log in to a PostgreSQL server
  // that holds the same verifier, without knowing the password (see ScramClient).
  // Empty before success.
  const std::string& client_key() const { return client_key_; }

 private:
  enum class State { expect_client_first, expect_client_final, done, failed };

  std::nullopt_t fail(ScramFailure kind, std::string message);

  ScramSecret secret_;
  std::string cbind_data_;  // offered channel binding data; empty: not offered
  bool bound_ = false;      // the client binds the channel (GS2 "p=tls-server-end-point")
  std::string server_nonce_suffix_;
  State state_ = State::expect_client_first;
  std::string gs2_header_;         // e.g. "n,," — what c= must encode
  std::string client_first_bare_;  // part of AuthMessage
  std::string server_first_;       // part of AuthMessage
  std::string nonce_;              // client nonce + our suffix
  std::string client_key_;
  std::string error_;
  ScramFailure failure_ = ScramFailure::none;
};

}  // namespace pgroute::auth
