// The proxy checking a client's SCRAM-SHA-256 login: the client's 'p' messages after
// AuthenticationSASL (SASLInitialResponse, then SASLResponse), cut by next_frame() and fed to
// ScramServer as proxy/session/client_startup.cpp does. Two servers see each input: one holding the verifier
// of a known user (password "pencil", so a seed with the right proof reaches success) and one with the
// mock secret for an unknown user. Checked: a failure always says why, and success yields a ClientKey.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "proxy/auth/scram_secret.hpp"
#include "proxy/auth/scram_server.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/frontend.hpp"

using namespace pgroute;

namespace {

constexpr uint32_t kMaxBody = 64u << 20;
// Fixed so that tests/fuzz/record_corpus.py can write an exchange that succeeds.
constexpr std::string_view kServerNonceSuffix = "pgroute-fuzz-server-nonce";

const auth::ScramSecret& known_user() {
  static const auth::ScramSecret secret = auth::make_scram_secret("pencil", "pgroute-fuzz-salt", 4096);
  return secret;
}

// The next whole message, or false.
bool next(std::string_view& in, wire::Frame& f) {
  size_t need = 0;
  if (wire::next_frame(in, kMaxBody, f, need) != wire::Decode::Ready) return false;
  in.remove_prefix(need);
  return true;
}

void exchange(std::string_view in, const auth::ScramSecret& secret) {
  auth::ScramServer server(secret, std::string(kServerNonceSuffix));
  wire::Frame f;
  if (!next(in, f) || f.type != 'p') return;
  wire::SaslInitialResponse initial;
  if (!wire::parse_sasl_initial_response(f.body, initial) || initial.mechanism != "SCRAM-SHA-256") return;
  auto first = server.handle_client_first(initial.data);
  if (!first) {
    FUZZ_CHECK(server.failure() != auth::ScramFailure::none && !server.error().empty() && !server.succeeded());
    return;
  }
  FUZZ_CHECK(first->starts_with("r=") && first->find(kServerNonceSuffix) != std::string::npos);
  if (!next(in, f) || f.type != 'p') return;
  auto final_msg = server.handle_client_final(f.body);
  if (!final_msg) {
    FUZZ_CHECK(server.failure() != auth::ScramFailure::none && !server.error().empty() && !server.succeeded());
    FUZZ_CHECK(server.client_key().empty());
    return;
  }
  FUZZ_CHECK(server.succeeded() && final_msg->starts_with("v=") && server.client_key().size() == 32);
  // The exchange is over: anything more is a protocol violation, never a second success.
  FUZZ_CHECK(!server.handle_client_final(f.body));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::bytes(data, size);
  exchange(in, known_user());
  static const std::string mock_key(32, '\x5a');
  exchange(in, auth::mock_scram_secret("nobody", mock_key));
  return 0;
}
