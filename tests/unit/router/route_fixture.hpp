#pragma once
// Test helper: one analysed statement plus the session and Bind values a router sees.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>
#include <variant>

#include "router/analyzer.hpp"
#include "router/router.hpp"
#include "router/router_chain.hpp"

namespace pgroute::router::test {

struct Statement {
  std::string sql;
  Analysis analysis;
  std::vector<std::optional<std::string_view>> params;
  std::vector<int16_t> formats;
  std::string user = "app", database = "appdb", application_name = "web";
  std::optional<std::string_view> session_shard_key;
  bool in_transaction = false;

  explicit Statement(std::string text) : sql(std::move(text)), analysis(analyze(sql)) {}

  RouteContext context() const {
    RouteContext ctx;
    ctx.analysis = &analysis;
    ctx.params = params;
    ctx.param_formats = formats;
    ctx.sql = sql;
    ctx.user = user;
    ctx.database = database;
    ctx.application_name = application_name;
    ctx.in_transaction = in_transaction;
    ctx.session_shard_key = session_shard_key;
    return ctx;
  }
};

// The chain's answer, failing the test when it is the other kind.
inline RouteDecision decision(const RouteResult& r) {
  if (auto* e = std::get_if<RouteError>(&r)) FAIL("unexpected error: " << e->message);
  return std::get<RouteDecision>(r);
}

inline RouteError refusal(const RouteResult& r) {
  if (auto* d = std::get_if<RouteDecision>(&r)) FAIL("unexpected decision: " << d->alias << " by " << d->router);
  return std::get<RouteError>(r);
}

}  // namespace pgroute::router::test
