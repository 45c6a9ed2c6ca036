// Deterministic random-input loop over every decoder and parser. It looks for crashes and
// out-of-bounds reads (run it under -DPGROUTE_ASAN=ON -DPGROUTE_UBSAN=ON) and checks two properties
// on every accepted input: views stay inside the input, and re-encoding what was parsed gives back
// exactly the bytes that were accepted.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/frontend.hpp"
#include "proxy/wire/startup.hpp"
#include "wire_test_util.hpp"

using namespace pgroute::wire;
using namespace pgroute::wire::test;

namespace {

// Valid messages to mutate: random bytes alone rarely get past the first field.
std::vector<std::string> seed_corpus() {
  std::vector<std::string> c;
  auto add = [&c](auto build) {
    std::string s;
    build(s);
    c.push_back(std::move(s));
  };
  add([](std::string& s) { put_query(s, "select 1"); });
  add([](std::string& s) { put_parse(s, "s1", "select $1", 1, be32(23)); });
  add([](std::string& s) {
    put_bind_renamed(s, "", "s1", be16(1) + be16(1) + be16(2) + be32(1) + "7" + be32(0xFFFFFFFFu) + be16(1) + be16(0));
  });
  add([](std::string& s) { put_describe(s, 'S', "s1"); });
  add([](std::string& s) { put_close(s, 'P', ""); });
  add([](std::string& s) { put_execute(s, "", 0); });
  add([](std::string& s) { put_password(s, "secret"); });
  add([](std::string& s) { put_sasl_initial_response(s, "SCRAM-SHA-256", "n,,n=,r=x"); });
  add([](std::string& s) { put_error(s, {.severity = "ERROR", .sqlstate = "42601", .message = "m", .detail = "d"}); });
  add([](std::string& s) { put_parameter_status(s, "a", "b"); });
  add([](std::string& s) { put_backend_key_data(s, 1, 2); });
  add([](std::string& s) { put_ready_for_query(s, 'I'); });
  add([](std::string& s) { MessageWriter(s, 'C').cstring("SELECT 1").finish(); });
  add([](std::string& s) { put_auth(s, kAuthMd5, "salt"); });
  add([](std::string& s) { put_auth_sasl(s, {"SCRAM-SHA-256"}); });
  add([](std::string& s) { put_negotiate_protocol_version(s, 0, {"_pq_.a"}); });
  add([](std::string& s) { put_startup(s, {{"user", "u"}, {"database", "d"}}); });
  add([](std::string& s) { put_cancel_request(s, 5, 6); });
  add([](std::string& s) { s = be32(8) + be32(kSslRequestCode); });
  return c;
}

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

class Checker {
 public:
  void expect(bool ok, const char* what) {
    if (!ok) {
      ++failures_;
      if (first_failure_.empty()) first_failure_ = what;
    }
  }
  void accepted(const char* parser) { ++accepted_[parser]; }
  size_t failures() const { return failures_; }
  const std::string& first_failure() const { return first_failure_; }
  const std::map<std::string, size_t>& accepted_counts() const { return accepted_; }

 private:
  size_t failures_ = 0;
  std::string first_failure_;
  std::map<std::string, size_t> accepted_;
};

// Rebuilds a body with a builder, for the re-encoding property.
template <typename Build>
std::string rebuilt_body(Build build) {
  std::string wire;
  build(wire);
  return wire.substr(kFrameHeaderSize);
}

void run_body_parsers(std::string_view b, Checker& c) {
  ParseMsg parse;
  if (parse_parse(b, parse)) {
    c.accepted("parse");
    c.expect(inside(parse.query, b) && inside(parse.param_types, b), "parse: view outside input");
    c.expect(rebuilt_body([&](std::string& w) {
               put_parse(w, parse.name, parse.query, parse.num_params, parse.param_types);
             }) == b,
             "parse: re-encoding differs");
  }
  BindMsg bind;  // after_statement stays empty unless parse_bind succeeds
  if (parse_bind(b, bind)) {
    c.accepted("bind");
    c.expect(inside(bind.after_statement, b), "bind: view outside input");
    c.expect(rebuilt_body(
                 [&](std::string& w) { put_bind_renamed(w, bind.portal, bind.statement, bind.after_statement); }) == b,
             "bind: re-encoding differs");
  }
  // As the proxy uses it: on the tail of a Bind; and on the raw input, for inputs that are not Binds.
  for (std::string_view tail : {bind.after_statement, b}) {
    BindParams params;
    if (parse_bind_params(tail, params)) {
      c.accepted("bind_params");
      for (const auto& v : params.values) c.expect(!v || inside(*v, tail), "bind_params: value outside input");
      c.expect(params.formats.size() <= 1 || params.formats.size() == params.values.size(),
               "bind_params: format count");
    }
  }
  TargetMsg target;
  if (parse_describe_or_close(b, target)) {
    c.accepted("describe_or_close");
    c.expect(target.kind == 'S' || target.kind == 'P', "describe: kind");
    c.expect(rebuilt_body([&](std::string& w) { put_describe(w, target.kind, target.name); }) == b,
             "describe: re-encoding differs");
  }
  std::string_view sv1, sv2;
  if (parse_query(b, sv1)) {
    c.accepted("query");
    c.expect(rebuilt_body([&](std::string& w) { put_query(w, sv1); }) == b, "query: re-encoding differs");
  }
  ExecuteMsg exec;
  if (parse_execute(b, exec)) {
    c.accepted("execute");
    c.expect(rebuilt_body([&](std::string& w) { put_execute(w, exec.portal, exec.max_rows); }) == b,
             "execute: re-encoding differs");
  }
  if (parse_password(b, sv1)) c.accepted("password");
  SaslInitialResponse sasl;
  if (parse_sasl_initial_response(b, sasl)) {
    c.accepted("sasl_initial");
    c.expect(inside(sasl.data, b), "sasl_initial: view outside input");
    if (sasl.has_data) {
      c.expect(rebuilt_body([&](std::string& w) { put_sasl_initial_response(w, sasl.mechanism, sasl.data); }) == b,
               "sasl_initial: re-encoding differs");
    }
  }
  ErrorFields err;
  if (parse_error_fields(b, err)) {
    c.accepted("error_fields");
    c.expect(inside(err.message, b) && inside(err.severity, b) && inside(err.hint, b), "error: view outside input");
  }
  if (parse_parameter_status(b, sv1, sv2)) {
    c.accepted("parameter_status");
    c.expect(rebuilt_body([&](std::string& w) { put_parameter_status(w, sv1, sv2); }) == b,
             "parameter_status: re-encoding differs");
  }
  int32_t pid = 0, secret = 0;
  if (parse_backend_key_data(b, pid, secret)) {
    c.accepted("backend_key_data");
    c.expect(rebuilt_body([&](std::string& w) { put_backend_key_data(w, pid, secret); }) == b,
             "backend_key_data: re-encoding differs");
  }
  char status = 0;
  if (parse_ready_for_query(b, status)) c.accepted("ready_for_query");
  if (parse_command_tag(b, sv1)) c.accepted("command_tag");
  AuthRequest auth;
  if (parse_auth_request(b, auth)) {
    c.accepted("auth_request");
    c.expect(rebuilt_body([&](std::string& w) { put_auth(w, auth.code, auth.data); }) == b,
             "auth: re-encoding differs");
    for (std::string_view m : sasl_mechanisms(auth.data)) {
      c.accepted("sasl_mechanisms");
      c.expect(!m.empty() && inside(m, b), "sasl_mechanisms: bad name");
    }
  }
  NegotiateProtocolVersionMsg npv;
  if (parse_negotiate_protocol_version(b, npv)) c.accepted("negotiate_protocol_version");
}

void run_decoders(std::string_view in, Checker& c) {
  for (uint32_t max_body : {64u, 1u << 20}) {
    Frame f;
    size_t consumed = 0;
    switch (next_frame(in, max_body, f, consumed)) {
      case Decode::Ready:
        c.accepted("next_frame");
        c.expect(consumed == f.wire_size() && consumed <= in.size() && f.body.data() == in.data() + 5,
                 "next_frame: Ready with a wrong size or view");
        c.expect(f.body.size() <= max_body, "next_frame: body over the limit");
        run_body_parsers(f.body, c);
        break;
      case Decode::NeedMore:
        c.expect(consumed > in.size() && consumed <= 5 + size_t{max_body}, "next_frame: NeedMore size");
        break;
      case Decode::Invalid: c.expect(consumed == 0, "next_frame: Invalid consumed"); break;
    }
  }
  StartupPacket p;
  size_t consumed = 0;
  switch (decode_startup(in, 10000, p, consumed)) {
    case Decode::Ready: {
      c.accepted("decode_startup");
      c.expect(consumed >= 8 && consumed <= in.size(), "decode_startup: Ready size");
      std::string again;
      if (p.kind == StartupKind::Startup && p.protocol == kProtocol30) put_startup(again, p.params);
      if (p.kind == StartupKind::Cancel) put_cancel_request(again, p.cancel_pid, p.cancel_secret);
      if (!again.empty()) c.expect(again == in.substr(0, consumed), "decode_startup: re-encoding differs");
      break;
    }
    case Decode::NeedMore: c.expect(consumed > in.size() && consumed <= 10000, "decode_startup: NeedMore size"); break;
    case Decode::Invalid: c.expect(consumed == 0, "decode_startup: Invalid consumed"); break;
  }
}

}  // namespace

TEST_CASE("random and mutated inputs through every decoder and parser") {
  const std::vector<std::string> corpus = seed_corpus();
  std::mt19937 rng(20240607);  // mt19937's sequence is fixed by the standard: same inputs everywhere
  Checker checker;

  for (int iteration = 0; iteration < 100000; ++iteration) {
    std::string input;
    const auto mode = rng() % 4;
    if (mode == 0) {
      input.resize(rng() % 48);
      for (char& ch : input) ch = static_cast<char>(rng());
    } else {
      input = corpus[rng() % corpus.size()];
      if (mode == 3 && input.size() > 5) input.erase(0, 5);  // a bare body, for the parsers directly
      const auto mutations = 1 + rng() % 3;
      for (unsigned m = 0; m < mutations && !input.empty(); ++m) {
        const size_t at = rng() % input.size();
        switch (rng() % 4) {
          case 0: input[at] = static_cast<char>(rng()); break;           // random byte
          case 1: input[at] = "\0\xFF\x7F\x80"[rng() % 4]; break;        // boundary byte
          case 2: input.resize(at); break;                               // truncate
          case 3: input.insert(at, 1, static_cast<char>(rng())); break;  // grow
        }
      }
      if (mode == 2) input.resize(rng() % (input.size() + 1));
    }

    const HeapBytes bytes(input);
    run_decoders(bytes.view(), checker);
    run_body_parsers(bytes.view(), checker);
    if (bytes.view().size() >= 5) run_body_parsers(bytes.view().substr(5), checker);
  }

  INFO("first failure: " << checker.first_failure());
  CHECK(checker.failures() == 0);
  // The loop must actually reach past the first field of every parser, or it proves little.
  for (const char* name :
       {"next_frame", "decode_startup", "parse", "bind", "bind_params", "describe_or_close", "query", "execute",
        "password", "sasl_initial", "error_fields", "parameter_status", "backend_key_data", "ready_for_query",
        "command_tag", "auth_request", "sasl_mechanisms", "negotiate_protocol_version"}) {
    INFO("parser " << std::string(name));
    const auto it = checker.accepted_counts().find(name);
    CHECK((it != checker.accepted_counts().end() && it->second > 10));
  }
}
