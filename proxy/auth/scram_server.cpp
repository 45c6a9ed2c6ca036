#include "proxy/auth/scram_server.hpp"

#include "proxy/auth/base64.hpp"
#include "proxy/auth/crypto.hpp"
#include "proxy/auth/scram_message.hpp"

namespace pgroute::auth {

ScramServer::ScramServer(ScramSecret secret, std::string server_nonce_suffix)
    : secret_(std::move(secret)),
      server_nonce_suffix_(server_nonce_suffix.empty() ? random_scram_nonce() : std::move(server_nonce_suffix)) {}

std::nullopt_t ScramServer::fail(ScramFailure kind, std::string message) {
  state_ = State::failed;
  failure_ = kind;
  error_ = std::move(message);
  return std::nullopt;
}

std::optional<std::string> ScramServer::handle_client_first(std::string_view client_first, bool plus) {
  constexpr auto violation = ScramFailure::protocol_violation;
  if (state_ != State::expect_client_first) {
    return fail(violation, "unexpected client-first-message at this point of the SCRAM exchange");
  }

  // GS2 header: cbind-flag "," [authzid] ",". "y" says the client could bind but thinks we cannot:
  // fine unless SCRAM-SHA-256-PLUS was offered, where it means someone took the offer away (RFC 5802).
  if (client_first.empty()) return fail(violation, "empty SCRAM client-first-message");
  const char flag = client_first[0];
  size_t flag_end = 1;
  if (flag == 'p') {
    if (!offers_channel_binding())
      return fail(violation, "client requested SCRAM channel binding (p=), but SCRAM-SHA-256-PLUS was not offered");
    constexpr std::string_view kEndPoint = "p=tls-server-end-point";
    if (!client_first.starts_with(kEndPoint))
      return fail(violation, "unsupported SCRAM channel binding type (only tls-server-end-point is offered)");
    if (!plus) return fail(violation, "SCRAM channel binding (p=) needs the mechanism SCRAM-SHA-256-PLUS");
    flag_end = kEndPoint.size();
    bound_ = true;
  } else if (flag == 'n' || flag == 'y') {
    if (plus) return fail(violation, "SCRAM-SHA-256-PLUS was chosen without channel binding (p=)");
    if (flag == 'y' && offers_channel_binding())
      return fail(violation, "SCRAM channel binding was offered but the client says the server cannot bind (y)");
  } else {
    return fail(violation, "malformed SCRAM GS2 header: bad channel binding flag");
  }
  if (client_first.size() <= flag_end || client_first[flag_end] != ',') {
    return fail(violation, "malformed SCRAM GS2 header: expected ',' after channel binding flag");
  }
  const size_t authzid_end = client_first.find(',', flag_end + 1);
  if (authzid_end == std::string_view::npos) {
    return fail(violation, "malformed SCRAM GS2 header: missing ',' after authorization identity");
  }
  const std::string_view authzid = client_first.substr(flag_end + 1, authzid_end - flag_end - 1);
  if (authzid.starts_with("a=")) {
    return fail(violation, "SCRAM authorization identity (a=) is not supported");
  }
  if (!authzid.empty()) return fail(violation, "malformed SCRAM GS2 header: bad authorization identity");

  const std::string_view bare = client_first.substr(authzid_end + 1);
  const auto attrs = split_scram_attributes(bare);
  if (!attrs) return fail(violation, "malformed SCRAM client-first-message: bad attribute syntax");
  if ((*attrs)[0].name == 'm') {
    return fail(violation, "unsupported mandatory SCRAM extension (m=) in client-first-message");
  }
  // The startup packet's user is authoritative: PostgreSQL clients send "n=", accept any.
  if ((*attrs)[0].name != 'n') return fail(violation, "SCRAM client-first-message lacks the user name (n=)");
  if (attrs->size() < 2 || (*attrs)[1].name != 'r') {
    return fail(violation, "SCRAM client-first-message lacks the nonce (r=)");
  }
  const std::string_view client_nonce = (*attrs)[1].value;
  if (!is_scram_nonce(client_nonce)) return fail(violation, "invalid SCRAM client nonce");
  // Further attributes are optional extensions, which RFC 5802 says to ignore.

  gs2_header_ = std::string(client_first.substr(0, authzid_end + 1));
  client_first_bare_ = std::string(bare);
  nonce_ = std::string(client_nonce) + server_nonce_suffix_;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(secret_.salt) + ",i=" + std::to_string(secret_.iterations);
  state_ = State::expect_client_final;
  return server_first_;
}

std::optional<std::string> ScramServer::handle_client_final(std::string_view client_final) {
  constexpr auto violation = ScramFailure::protocol_violation;
  if (state_ != State::expect_client_final) {
    return fail(violation, "unexpected client-final-message at this point of the SCRAM exchange");
  }

  const auto attrs = split_scram_attributes(client_final);
  if (!attrs) return fail(violation, "malformed SCRAM client-final-message: bad attribute syntax");
  if (attrs->size() < 3) return fail(violation, "SCRAM client-final-message lacks required attributes");
  const ScramAttribute& binding = (*attrs)[0];
  const ScramAttribute& nonce = (*attrs)[1];
  const ScramAttribute& proof = attrs->back();
  if (binding.name != 'c') return fail(violation, "SCRAM client-final-message lacks channel binding (c=)");
  if (nonce.name != 'r') return fail(violation, "SCRAM client-final-message lacks the nonce (r=)");
  if (proof.name != 'p') return fail(violation, "SCRAM client-final-message lacks the proof (p=) at its end");

  const auto binding_data = base64_decode(binding.value);
  if (!binding_data) return fail(violation, "invalid base64 in SCRAM channel binding (c=)");
  // c= is the GS2 header, followed by the channel binding data when the client binds the channel.
  if (!binding_data->starts_with(gs2_header_) ||
      std::string_view(*binding_data).substr(gs2_header_.size()) != (bound_ ? cbind_data_ : std::string())) {
    return fail(violation, bound_ ? "SCRAM channel binding (c=) does not match this TLS connection"
                                  : "SCRAM channel binding (c=) does not match the GS2 header");
  }
  if (nonce.value != nonce_) return fail(violation, "SCRAM nonce in client-final-message does not match");
  const auto proof_bytes = base64_decode(proof.value);
  if (!proof_bytes) return fail(violation, "invalid base64 in SCRAM proof (p=)");
  if (proof_bytes->size() != kSha256Size) return fail(violation, "SCRAM proof (p=) has the wrong length");

  // Everything before ",p=": the proof is always the last attribute and base64 has no ','.
  const std::string_view without_proof = client_final.substr(0, client_final.rfind(','));
  const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);

  const std::string client_signature = hmac_sha256(secret_.stored_key, auth_message);
  std::string client_key = xor_bytes(*proof_bytes, client_signature);
  if (!constant_time_equal(sha256(client_key), secret_.stored_key)) {
    return fail(ScramFailure::wrong_password, "SCRAM proof does not match: wrong password");
  }

  client_key_ = std::move(client_key);
  state_ = State::done;
  error_.clear();
  return "v=" + base64_encode(hmac_sha256(secret_.server_key, auth_message));
}

}  // namespace pgroute::auth
