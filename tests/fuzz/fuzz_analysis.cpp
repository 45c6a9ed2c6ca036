// Statement analysis and routing as a session runs them (proxy/session/client_routing.cpp): the real analyzer
// (libpg_query, hints, key extraction) and the router chain built from a fixed configuration with a
// model router and shard routers (hash, range, list; int4, bigint, text keys).
//
// Input: the SQL text, optionally followed by a NUL and the rest of a Bind message (parameter formats,
// values, result formats) as the extended protocol sends it.
//   - no NUL: a simple query. Its constants become parameters when the normalized text parses, as the
//     session's analyze_query() does; else the text is analysed as it is.
//   - with NUL: Parse + Bind. The text is analysed and routed with the Bind's parameter values.
// Analysis must be linear in the statement's size: tools/fuzz runs this target with a per-input time
// limit (-timeout) and a large -max_len, so a quadratic walk shows up as a timeout.
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "config/loader.hpp"
#include "fuzz_support.hpp"
#include "proxy/session/literal_normalizer.hpp"
#include "proxy/wire/frontend.hpp"
#include "router/analyzer.hpp"
#include "router/chain_builder.hpp"
#include "router/scatter_rules.hpp"

using namespace pgroute;

namespace {

constexpr const char* kConfig = R"(backends:
  default: {url: "postgresql://h/app"}
  users: {url: "postgresql://h/users"}
  shard_0: {url: "postgresql://h/s0"}
  shard_1: {url: "postgresql://h/s1"}
  shard_2: {url: "postgresql://h/s2"}
routers:
  - type: model
    tables: {"pgbench_branches": users, "auth_*": users, "public.votes": users}
  - type: shard
    table: pgbench_accounts
    key: aid
    key_type: int4
    method: hash
    shards: [shard_0, shard_1, shard_2]
    without_key: all
  - type: shard
    table: events
    key: user_id
    key_type: bigint
    method: range
    ranges: [{to: 1000, alias: shard_0}, {from: 1000, to: 2000, alias: shard_1}, {alias: shard_2}]
  - type: shard
    table: tenants
    key: name
    key_type: text
    method: list
    lists: {shard_0: [alpha, beta], shard_1: [gamma]}
)";

const router::RouterChain& chain() {
  static const std::shared_ptr<const router::RouterChain> built = [] {
    auto loaded = config::load_text(kConfig, "fuzz.yaml", [](std::string_view) { return std::nullopt; });
    if (!loaded.config) {
      for (const auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
      std::abort();
    }
    std::string error;
    auto c = router::build_router_chain(*loaded.config, error);
    if (!c) {
      std::fprintf(stderr, "%s\n", error.c_str());
      std::abort();
    }
    return c;
  }();
  return *built;
}

void route(const router::Analysis& a, std::string_view sql, const wire::BindParams* params) {
  for (bool in_transaction : {false, true}) {
    router::RouteContext ctx;
    ctx.analysis = &a;
    if (params) {
      ctx.params = params->values;
      ctx.param_formats = params->formats;
    }
    ctx.sql = sql;
    ctx.user = "app";
    ctx.database = "app";
    ctx.application_name = "fuzz";
    ctx.in_transaction = in_transaction;
    if (in_transaction) ctx.session_shard_key = "42";  // SET pgroute.shard_key in effect
    auto result = chain().route(ctx);
    if (auto* d = std::get_if<router::RouteDecision>(&result)) {
      FUZZ_CHECK(d->alias.empty() != d->scatter.empty());  // one alias, or a spread over several
      if (!d->scatter.empty()) (void)router::scatter_refusal(a, *d, in_transaction);
    } else {
      const auto& e = std::get<router::RouteError>(result);
      FUZZ_CHECK(e.sqlstate.size() == 5 && !e.message.empty());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = fuzz::bytes(data, size);
  const size_t nul = in.find('\0');
  const std::string_view sql = in.substr(0, nul);
  if (nul == std::string_view::npos) {
    static NormalizedSql normalized;
    if (normalize_literals(sql, normalized)) {
      router::Analysis a = router::analyze(normalized.text);
      if (a.kind != router::StatementKind::Unparsed) {
        static wire::BindParams literals;
        literals.formats.clear();
        literals.values.clear();
        for (const auto& v : normalized.literals) literals.values.emplace_back(v);
        route(a, sql, &literals);
        return 0;
      }
    }
    router::Analysis a = router::analyze(sql);
    route(a, sql, nullptr);
    return 0;
  }
  router::Analysis a = router::analyze(sql);
  static wire::BindParams params;
  if (wire::parse_bind_params(in.substr(nul + 1), params)) route(a, sql, &params);
  return 0;
}
