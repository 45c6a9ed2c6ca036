// A client's message stream after the startup phase, cut into messages by next_frame() (as
// proxy/io/frame_io.cpp's read_frame() does) and each body read by the parser the session uses for its
// type. Checked: views stay inside the body, and what a parser accepted re-encodes to the same bytes.
#include <cstdint>
#include <string>

#include "frame_stream.hpp"
#include "fuzz_support.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/frontend.hpp"

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

void read_body(const Frame& f) {
  const std::string_view b = f.body;
  switch (f.type) {
    case 'Q': {
      std::string_view sql;
      if (parse_query(b, sql)) FUZZ_CHECK(rebuilt([&](std::string& w) { put_query(w, sql); }) == f.bytes());
      break;
    }
    case 'P': {
      ParseMsg p;
      if (parse_parse(b, p)) {
        FUZZ_CHECK(inside(p.name, b) && inside(p.query, b) && inside(p.param_types, b));
        FUZZ_CHECK(p.num_params >= 0 && p.param_types.size() == 4u * static_cast<size_t>(p.num_params));
        FUZZ_CHECK(rebuilt([&](std::string& w) { put_parse(w, p.name, p.query, p.num_params, p.param_types); }) ==
                   f.bytes());
      }
      break;
    }
    case 'B': {
      BindMsg bind;
      if (!parse_bind(b, bind)) break;
      FUZZ_CHECK(inside(bind.portal, b) && inside(bind.statement, b) && inside(bind.after_statement, b));
      FUZZ_CHECK(rebuilt([&](std::string& w) {
                   put_bind_renamed(w, bind.portal, bind.statement, bind.after_statement);
                 }) == f.bytes());
      BindParams params;
      if (parse_bind_params(bind.after_statement, params)) {
        FUZZ_CHECK(params.formats.size() <= 1 || params.formats.size() == params.values.size());
        for (size_t i = 0; i < params.values.size(); ++i) {
          FUZZ_CHECK(!params.values[i] || inside(*params.values[i], bind.after_statement));
          (void)params.format_of(i);
        }
      }
      break;
    }
    case 'D':
    case 'C': {
      TargetMsg t;
      if (parse_describe_or_close(b, t)) {
        FUZZ_CHECK(t.kind == 'S' || t.kind == 'P');
        FUZZ_CHECK(rebuilt([&](std::string& w) {
                     if (f.type == 'D')
                       put_describe(w, t.kind, t.name);
                     else
                       put_close(w, t.kind, t.name);
                   }) == f.bytes());
      }
      break;
    }
    case 'E': {
      ExecuteMsg e;
      if (parse_execute(b, e))
        FUZZ_CHECK(rebuilt([&](std::string& w) { put_execute(w, e.portal, e.max_rows); }) == f.bytes());
      break;
    }
    case 'p': {  // which of these applies depends on the authentication request: try all
      std::string_view password;
      if (parse_password(b, password))
        FUZZ_CHECK(rebuilt([&](std::string& w) { put_password(w, password); }) == f.bytes());
      SaslInitialResponse sasl;
      if (parse_sasl_initial_response(b, sasl)) {
        FUZZ_CHECK(inside(sasl.mechanism, b) && inside(sasl.data, b));
        if (sasl.has_data) {
          FUZZ_CHECK(rebuilt([&](std::string& w) { put_sasl_initial_response(w, sasl.mechanism, sasl.data); }) ==
                     f.bytes());
        }
      }
      break;
    }
    default: break;  // Sync, Flush, Terminate, CopyData...: forwarded without looking inside
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pgroute::fuzz::for_each_frame(pgroute::fuzz::bytes(data, size), kMaxBody, read_body);
  return 0;
}
