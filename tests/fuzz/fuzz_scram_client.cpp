// The proxy logging in to a server with SCRAM-SHA-256: the server's Authentication ('R') messages
// (SASL, SASLContinue, SASLFinal, Ok), cut by next_frame() and handled as
// proxy/pool/server_connection.cpp's login() does. Checked: a refused message always says why, and the
// server's signature is accepted only after a server-first-message was.
//
// The server chooses the PBKDF2 iteration count (accepted up to kScramMaxIterations, 10 million: a
// few seconds of CPU by design; PostgreSQL's 4096 already cost about a millisecond). A count above 64
// therefore runs the same exchange with keys given up front (ScramClientKeys, no derivation), so that
// one input never costs more than the parsing; the success seed uses 16 iterations.
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.hpp"
#include "proxy/auth/scram_client.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"

using namespace pgroute;

namespace {

constexpr uint32_t kMaxBody = 64u << 20;
// Fixed so that tests/fuzz/record_corpus.py can write an exchange that succeeds.
constexpr std::string_view kPassword = "pencil";
constexpr std::string_view kClientNonce = "pgroute-fuzz-client-nonce";

// The i= attribute of a server-first-message, if it is a number.
long iterations_in(std::string_view server_first) {
  size_t at = server_first.find(",i=");
  if (at == std::string_view::npos) return 0;
  long n = 0;
  std::string_view digits = server_first.substr(at + 3);
  std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::bytes(data, size);
  std::unique_ptr<auth::ScramClient> scram;
  bool first_accepted = false;
  for (;;) {
    wire::Frame f;
    size_t need = 0;
    if (wire::next_frame(in, kMaxBody, f, need) != wire::Decode::Ready) return 0;
    in.remove_prefix(need);
    if (f.type != 'R') continue;  // ParameterStatus, BackendKeyData...: not part of the exchange
    wire::AuthRequest req;
    if (!wire::parse_auth_request(f.body, req)) return 0;
    switch (req.code) {
      case wire::kAuthSasl: {
        bool has_scram = false;
        for (auto m : wire::sasl_mechanisms(req.data)) has_scram |= (m == "SCRAM-SHA-256");
        if (!has_scram) return 0;
        scram = std::make_unique<auth::ScramClient>(std::string(kPassword), std::string(kClientNonce));
        FUZZ_CHECK(scram->client_first() == "n,,n=,r=" + std::string(kClientNonce));
        first_accepted = false;
        break;
      }
      case wire::kAuthSaslContinue: {
        if (!scram) return 0;
        if (iterations_in(req.data) > 64) {
          // Same exchange, without the derivation (see above).
          scram = std::make_unique<auth::ScramClient>(auth::ScramClientKeys{std::string(32, 'c'), std::string(32, 's')},
                                                      std::string(kClientNonce));
          scram->client_first();
        }
        auto reply = scram->handle_server_first(req.data);
        if (!reply) {
          FUZZ_CHECK(!scram->error().empty());
          return 0;
        }
        FUZZ_CHECK(reply->starts_with("c=biws,r=" + std::string(kClientNonce)) &&
                   reply->find(",p=") != std::string::npos);
        first_accepted = true;
        break;
      }
      case wire::kAuthSaslFinal: {
        if (!scram) return 0;
        if (!scram->verify_server_final(req.data)) {
          FUZZ_CHECK(!scram->error().empty());
          return 0;
        }
        FUZZ_CHECK(first_accepted);
        FUZZ_CHECK(!scram->verify_server_final(req.data));  // only once
        break;
      }
      default: return 0;  // Ok ends the exchange; other methods are not SCRAM
    }
  }
}
