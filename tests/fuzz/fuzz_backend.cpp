// A server's message stream (login and query results), cut into messages by next_frame() and each body
// read by the parser the proxy uses for its type (proxy/pool/server_connection.cpp, scatter_merge.cpp).
// Checked: views stay inside the body, accepted messages re-encode to the same bytes, and an error
// the proxy forwards with an "alias ...: " prefix keeps every field.
#include <cstdint>
#include <string>

#include "frame_stream.hpp"
#include "fuzz_support.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"

using namespace pgroute::wire;
using pgroute::fuzz::inside;

namespace {

constexpr uint32_t kMaxBody = 64u << 20;  // config: max_message_size's default

template <typename Build>
std::string rebuilt(Build build) {
  std::string w;
  build(w);
  return w;
}

void check_error(std::string_view b) {
  ErrorFields e;
  if (!parse_error_fields(b, e)) return;
  for (auto v : {e.severity, e.sqlstate, e.message, e.detail, e.hint}) FUZZ_CHECK(inside(v, b));
  std::string prefixed;
  constexpr std::string_view kPrefix = "alias \"shard_0\": ";
  FUZZ_CHECK(put_error_with_prefix(prefixed, b, kPrefix));
  Frame f;
  size_t need = 0;
  FUZZ_CHECK(next_frame(prefixed, kMaxBody, f, need) == Decode::Ready && need == prefixed.size());
  ErrorFields again;
  FUZZ_CHECK(parse_error_fields(f.body, again));
  FUZZ_CHECK(again.severity == e.severity && again.sqlstate == e.sqlstate && again.detail == e.detail &&
             again.hint == e.hint);
  if (!e.message.empty()) FUZZ_CHECK(again.message == std::string(kPrefix) + std::string(e.message));
}

void read_body(const Frame& f) {
  const std::string_view b = f.body;
  switch (f.type) {
    case 'E':
    case 'N': check_error(b); break;
    case 'S': {
      std::string_view name, value;
      if (parse_parameter_status(b, name, value)) {
        FUZZ_CHECK(rebuilt([&](std::string& w) { put_parameter_status(w, name, value); }) == f.bytes());
      }
      break;
    }
    case 'K': {
      int32_t pid = 0, secret = 0;
      if (parse_backend_key_data(b, pid, secret)) {
        FUZZ_CHECK(rebuilt([&](std::string& w) { put_backend_key_data(w, pid, secret); }) == f.bytes());
      }
      break;
    }
    case 'Z': {
      char status = 0;
      if (parse_ready_for_query(b, status)) {
        FUZZ_CHECK(status == 'I' || status == 'T' || status == 'E');
        FUZZ_CHECK(rebuilt([&](std::string& w) { put_ready_for_query(w, status); }) == f.bytes());
      }
      break;
    }
    case 'C': {
      std::string_view tag;
      if (parse_command_tag(b, tag)) {
        FUZZ_CHECK(rebuilt([&](std::string& w) { put_command_complete(w, tag); }) == f.bytes());
      }
      break;
    }
    case 'R': {
      AuthRequest req;
      if (!parse_auth_request(b, req)) break;
      FUZZ_CHECK(inside(req.data, b));
      FUZZ_CHECK(rebuilt([&](std::string& w) { put_auth(w, req.code, req.data); }) == f.bytes());
      if (req.code == kAuthSasl) {
        for (auto m : sasl_mechanisms(req.data)) FUZZ_CHECK(inside(m, req.data) && !m.empty());
      }
      break;
    }
    case 'v': {
      NegotiateProtocolVersionMsg v;
      if (parse_negotiate_protocol_version(b, v)) {
        for (auto o : v.unsupported_options) FUZZ_CHECK(inside(o, b));
      }
      break;
    }
    default: break;  // rows, descriptions, copy data: forwarded without looking inside
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pgroute::fuzz::for_each_frame(pgroute::fuzz::bytes(data, size), kMaxBody, read_body);
  return 0;
}
