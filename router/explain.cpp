#include "router/explain.hpp"

#include <algorithm>

#include "router/analyzer.hpp"
#include "router/result_order.hpp"
#include "router/scatter_rules.hpp"

namespace pgroute::router {
namespace {

std::string table_list(const Analysis& a) {
  std::string out;
  for (const auto& t : a.tables) {
    out += (out.empty() ? "" : ", ") + display_name(t);
    if (t.written) out += " (written)";
  }
  return out.empty() ? "(none)" : out;
}

std::string key_text(const KeyValue& kv, const RouteContext& ctx) {
  // A value of an INSERT without a column list is known by its place in the row.
  std::string name = kv.position > 0 ? "(column " + std::to_string(kv.position) + ")" : kv.column;
  std::string column = kv.table.empty() ? name : kv.table + "." + name;
  if (kv.literal) return column + " = " + *kv.literal;
  if (kv.param == 0) return column + " = NULL";
  if (kv.param < 0) return column + " = (expression)";
  std::string out = column + " = $" + std::to_string(kv.param);
  BoundParam p = bound_param(ctx, kv.param);
  switch (p.state) {
    case BoundParam::State::Unbound: return out + " (not bound)";
    case BoundParam::State::Null: return out + " (NULL)";
    case BoundParam::State::Text:
    case BoundParam::State::Binary: return out + " ('" + std::string(p.bytes) + "')";
  }
  return out;
}

// "a = 1 AND b = 2 | a = 3": rows are alternatives, values within a row hold together.
std::string key_list(const Analysis& a, const RouteContext& ctx) {
  std::string out;
  for (const auto& row : a.key_rows) {
    if (row.empty()) continue;
    std::string conj;
    for (const auto& kv : row) conj += (conj.empty() ? "" : " AND ") + key_text(kv, ctx);
    out += (out.empty() ? "" : " | ") + conj;
  }
  return out.empty() ? "(none)" : out;
}

std::string alias_line(const config::Config& cfg, const std::string& alias) {
  const config::Backend* backend = cfg.backend(alias);
  return backend ? alias + " (" + backend->masked_url() + ")" : alias;
}

}  // namespace

Explanation explain(const config::Config& cfg, const RouterChain& chain, std::string_view sql,
                    const std::vector<std::pair<int, std::string>>& params, const ExplainSession& session) {
  const std::string text(sql);
  const Analysis analysis = analyze(text);
  int highest = 0;
  for (const auto& [n, value] : params) highest = std::max(highest, n);
  std::vector<std::optional<std::string_view>> bound(static_cast<size_t>(highest));
  for (const auto& [n, value] : params)
    if (n >= 1) bound[static_cast<size_t>(n) - 1] = value;

  RouteContext ctx;
  ctx.analysis = &analysis;
  ctx.params = bound;
  ctx.sql = text;
  ctx.user = session.user;
  ctx.database = session.database;
  ctx.application_name = session.application_name;
  ctx.in_transaction = session.in_transaction;
  if (session.shard_key) ctx.session_shard_key = *session.shard_key;
  ctx.column_order = session.column_order;

  Explanation out;
  std::string& t = out.text;
  t += "statement: " + std::string(kind_name(analysis.kind));
  if (!analysis.command.empty()) t += " (" + analysis.command + ")";
  if (analysis.kind == StatementKind::Unparsed) t += ": " + analysis.error;
  t += "\ntables: " + table_list(analysis) + "\n";
  t += "keys: " + key_list(analysis, ctx) + "\n";
  if (analysis.hint_alias) t += "routing hint: alias=" + *analysis.hint_alias + "\n";
  if (analysis.hint_shard_key) t += "routing hint: shard_key=" + *analysis.hint_shard_key + "\n";
  if (session.shard_key) t += "session: pgroute.shard_key=" + *session.shard_key + "\n";

  RouteResult result = chain.route(ctx);
  if (auto* d = std::get_if<RouteDecision>(&result); d && !d->scatter.empty())
    if (auto refusal = scatter_refusal(analysis, *d, ctx.in_transaction)) result = std::move(*refusal);
  if (auto* d = std::get_if<RouteDecision>(&result)) {
    out.routed = true;
    if (d->scatter.empty()) {
      t += "alias: " + alias_line(cfg, d->alias) + "\n";
    } else {
      t += "aliases: ";
      for (size_t i = 0; i < d->scatter.size(); ++i) t += (i ? ", " : "") + d->scatter[i];
      bool redo = analysis.result_order && (!analysis.result_order->keys.empty() || analysis.result_order->limit);
      t += redo ? " (run on each, rows merged; ORDER BY and LIMIT redone on the merged rows)\n"
                : " (run on each, rows merged)\n";
    }
    t += "router: " + d->router + "\n";
    t += "reason: " + d->reason + "\n";
  } else {
    const auto& e = std::get<RouteError>(result);
    t += "refused: " + e.sqlstate + " " + e.message + "\n";
    if (!e.hint.empty()) t += "hint: " + e.hint + "\n";
    t += "router: " + e.router + "\n";
  }
  return out;
}

std::string explain_route(const config::Config& cfg, const RouterChain& chain, std::string_view sql,
                          const std::vector<std::pair<int, std::string>>& params) {
  return explain(cfg, chain, sql, params).text;
}

}  // namespace pgroute::router
