#pragma once
// Test helper: one analysed statement plus the session and Bind values a router sees.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/analyzer.hpp"
#include "router/router.hpp"

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

}  // namespace pgroute::router::test
