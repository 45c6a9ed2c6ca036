#include "proxy/auth/scram_client.hpp"

#include <charconv>

#include "proxy/auth/base64.hpp"
#include "proxy/auth/crypto.hpp"
#include "proxy/auth/scram_message.hpp"

namespace pgroute::auth {
namespace {

constexpr std::string_view kGs2Header = "n,,";
constexpr std::string_view kGs2HeaderBound = "p=tls-server-end-point,,";

std::string nonce_or_random(std::string nonce) { return nonce.empty() ? random_scram_nonce() : std::move(nonce); }

}  // namespace

ScramClient::ScramClient(std::string password, std::string client_nonce)
    : ScramClient(std::move(password), std::move(client_nonce), std::string()) {}

ScramClient::ScramClient(std::string password, std::string client_nonce, std::string username)
    : password_(std::move(password)), client_nonce_(nonce_or_random(std::move(client_nonce))) {
  client_first_bare_ = "n=" + escape_scram_username(username) + ",r=" + client_nonce_;
}

ScramClient::ScramClient(ScramClientKeys keys, std::string client_nonce)
    : keys_(std::move(keys)), have_keys_(true), client_nonce_(nonce_or_random(std::move(client_nonce))) {
  client_first_bare_ = "n=,r=" + client_nonce_;
}

std::nullopt_t ScramClient::fail(std::string message) {
  state_ = State::failed;
  error_ = std::move(message);
  return std::nullopt;
}

std::string ScramClient::client_first() {
  if (state_ == State::initial) state_ = State::expect_server_first;
  return std::string(cbind_data_.empty() ? kGs2Header : kGs2HeaderBound) + client_first_bare_;
}

std::optional<std::string> ScramClient::handle_server_first(std::string_view server_first) {
  if (state_ != State::expect_server_first) {
    return fail("unexpected SCRAM server-first-message at this point of the exchange");
  }
  const auto attrs = split_scram_attributes(server_first);
  if (!attrs) return fail("malformed SCRAM server-first-message: bad attribute syntax");
  if ((*attrs)[0].name == 'm') return fail("unsupported mandatory SCRAM extension (m=) from server");
  if (attrs->size() < 3 || (*attrs)[0].name != 'r' || (*attrs)[1].name != 's' || (*attrs)[2].name != 'i') {
    return fail("SCRAM server-first-message lacks r=, s= or i=");
  }

  const std::string_view nonce = (*attrs)[0].value;
  // The server must extend our nonce, or the exchange is not fresh.
  if (!is_scram_nonce(nonce) || nonce.size() <= client_nonce_.size() || !nonce.starts_with(client_nonce_)) {
    return fail("SCRAM server nonce does not extend the client nonce");
  }
  const auto salt = base64_decode((*attrs)[1].value);
  if (!salt || salt->empty()) return fail("invalid SCRAM salt from server");

  const std::string_view iter_text = (*attrs)[2].value;
  int iterations = 0;
  const auto [end, ec] = std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), iterations);
  if (iter_text.empty() || ec != std::errc{} || end != iter_text.data() + iter_text.size() || iterations < 1 ||
      iterations > kScramMaxIterations) {
    return fail("invalid SCRAM iteration count from server (allowed: 1.." + std::to_string(kScramMaxIterations) + ")");
  }

  if (!have_keys_) {
    const std::string salted = scram_salted_password(password_, *salt, iterations);
    keys_.client_key = scram_client_key(salted);
    keys_.server_key = scram_server_key(salted);
  }

  const std::string binding =
      cbind_data_.empty() ? std::string(kGs2Header) : std::string(kGs2HeaderBound) + cbind_data_;
  const std::string without_proof = "c=" + base64_encode(binding) + ",r=" + std::string(nonce);
  const std::string auth_message = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  const std::string stored_key = sha256(keys_.client_key);
  const std::string proof = xor_bytes(keys_.client_key, hmac_sha256(stored_key, auth_message));
  expected_server_signature_ = hmac_sha256(keys_.server_key, auth_message);

  state_ = State::expect_server_final;
  return without_proof + ",p=" + base64_encode(proof);
}

bool ScramClient::verify_server_final(std::string_view server_final) {
  const std::optional<std::string> problem = check_server_final(server_final);
  if (problem) {
    fail(*problem);
    return false;
  }
  state_ = State::done;
  error_.clear();
  return true;
}

std::optional<std::string> ScramClient::check_server_final(std::string_view server_final) const {
  if (state_ != State::expect_server_final) {
    return "unexpected SCRAM server-final-message at this point of the exchange";
  }
  const auto attrs = split_scram_attributes(server_final);
  if (!attrs) return "malformed SCRAM server-final-message: bad attribute syntax";
  const ScramAttribute& first = (*attrs)[0];
  if (first.name == 'e') return "SCRAM server reported an error: " + std::string(first.value);
  if (first.name != 'v') return "SCRAM server-final-message lacks the verifier (v=)";
  const auto signature = base64_decode(first.value);
  if (!signature) return "invalid base64 in SCRAM server signature (v=)";
  if (!constant_time_equal(*signature, expected_server_signature_)) {
    return "SCRAM server signature does not match: the server does not know the password";
  }
  return std::nullopt;
}

}  // namespace pgroute::auth
