#include "proxy/admin/table.hpp"

#include <cstdio>
#include <ctime>
#include <map>

#include "proxy/metrics/query_stats.hpp"
#include "proxy/wire/builder.hpp"
#include "router/analyzer.hpp"
#include "router/scatter_rules.hpp"

namespace pgroute::admin {
namespace {

std::string str(uint64_t v) { return std::to_string(v); }
std::string str(int v) { return std::to_string(v); }
std::string millis(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds * 1000);
  return buf;
}
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}
std::string iso_time(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
bool paused(Runtime& rt, const std::string& alias) { return rt.pauses.gate(alias)->paused(); }
uint64_t load(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

}  // namespace

void put_table(std::string& out, const Table& table, std::string_view tag) {
  wire::put_row_description_text(out, table.columns);
  for (const auto& row : table.rows) wire::put_data_row(out, row);
  wire::put_command_complete(out, tag);
}

Table show_pools(Runtime& rt) {
  Table t{{"alias", "user", "host", "port", "database", "pool_size", "active", "idle", "waiting", "paused", "checkouts",
           "waits", "wait_timeouts"},
          {}};
  for (auto& pool : rt.pools()) {
    const ServerEndpoint& ep = pool->endpoint();
    auto s = pool->snapshot();
    PoolCounters& c = pool->counters();
    t.rows.push_back({ep.alias, ep.user, ep.host, str(int(ep.port)), ep.dbname, str(s.max_size), str(s.total - s.idle),
                      str(s.idle), str(s.waiting), paused(rt, ep.alias) ? "yes" : "no", str(load(c.checkouts)),
                      str(load(c.waits)), str(load(c.wait_timeouts))});
  }
  return t;
}

Table show_servers(Runtime& rt) {
  // Connections by state per pool: the pool keeps no per-connection registry outside its own lock.
  // sslmode: as the URL asks; tls_connections: how many of the pool's open connections have TLS (prefer
  // falls back to plaintext); tls and server_auth: how the last connection opened logged in.
  Table t{{"alias", "user", "host", "port", "database", "state", "count", "connects", "connect_failures", "sslmode",
           "tls_connections", "tls", "server_auth"},
          {}};
  for (auto& pool : rt.pools()) {
    const ServerEndpoint& ep = pool->endpoint();
    auto s = pool->snapshot();
    PoolCounters& c = pool->counters();
    const std::string sslmode(config::ssl_mode_name(ep.sslmode));
    const ServerPool::LastLogin login = pool->last_login();
    const std::string tls_count = str(c.tls_connections->load(std::memory_order_relaxed));
    for (auto [state, n] : {std::pair<const char*, int>{"active", s.total - s.idle}, {"idle", s.idle}})
      t.rows.push_back({ep.alias, ep.user, ep.host, str(int(ep.port)), ep.dbname, state, str(n), str(load(c.connects)),
                        str(load(c.connect_failures)), sslmode, tls_count, login.tls, login.auth});
  }
  return t;
}

Table show_clients(const std::vector<ClientInfo>& clients) {
  Table t{{"id", "user", "database", "alias", "application_name", "address", "state", "worker", "tls"}, {}};
  for (const ClientInfo& c : clients)
    t.rows.push_back(
        {str(c.id), c.user, c.database, c.alias, c.application_name, c.address, c.state, str(c.worker), c.tls});
  return t;
}

Table show_replicas(Runtime& rt, const config::Config& cfg) {
  Table t{{"alias", "primary", "replay_lsn", "lag_seconds", "lag_bytes", "in_rotation", "why"}, {}};
  for (const ReplicaRow& r : rt.replicas.rows(cfg)) {
    const bool lag = r.state.lag_known && r.state.seen == router::ReplicaState::Seen::InRecovery;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", r.state.lag_seconds);
    t.rows.push_back({r.alias, r.primary, r.state.replay_lsn ? router::lsn_text(r.state.replay_lsn) : "",
                      lag ? seconds : "", lag ? str(r.state.lag_bytes) : "",
                      r.out == router::OutOfRotation::No ? "yes" : "no", r.why});
  }
  return t;
}

Table show_backends(Runtime& rt, const config::Config& cfg) {
  Table t{{"alias", "url", "host", "port", "database", "pool_size", "paused", "default"}, {}};
  for (const config::Backend& b : cfg.backends)
    t.rows.push_back({b.alias, b.masked_url(), b.host, str(int(b.port)), b.dbname, str(cfg.pool_size_for(b)),
                      paused(rt, b.alias) ? "yes" : "no", b.alias == cfg.default_alias ? "yes" : "no"});
  return t;
}

namespace {
std::string join(const std::vector<std::string>& parts, std::string_view sep = ", ") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

// One line saying what a configured router does (no secrets: plugin options are not shown).
std::string describe_router(const config::RouterSpec& spec) {
  struct Describe {
    std::string operator()(const config::ModelRouterSpec& m) const {
      std::vector<std::string> parts;
      for (auto& [pattern, alias] : m.tables) parts.push_back(pattern + " -> " + alias);
      return join(parts);
    }
    std::string operator()(const config::ShardRouterSpec& s) const {
      std::vector<std::string> shards = s.shards;
      for (auto& r : s.ranges) shards.push_back(r.alias);
      for (auto& l : s.lists) shards.push_back(l.alias);
      return s.table + " by " + s.key + " (" + std::string(config::to_string(s.key_type)) + ", " +
             std::string(config::to_string(s.method)) + ") -> " + join(shards);
    }
    std::string operator()(const config::ReplicasRouterSpec& r) const {
      std::vector<std::string> replicas;
      for (auto& rep : r.replicas) replicas.push_back(rep.alias + "*" + std::to_string(rep.weight));
      return "writes -> " + r.primary + ", reads -> " + join(replicas);
    }
    std::string operator()(const config::RuleRouterSpec& r) const {
      std::vector<std::string> match;
      if (!r.user.empty()) match.push_back("user " + r.user);
      if (!r.database.empty()) match.push_back("database " + r.database);
      if (!r.application_name.empty()) match.push_back("application_name " + r.application_name);
      if (r.kind != config::RuleKindSpec::Any)
        match.push_back(r.kind == config::RuleKindSpec::Read ? "reads" : "writes");
      if (!r.sql.empty()) match.push_back("sql ~ " + r.sql);
      return (match.empty() ? std::string("everything") : join(match, " and ")) + " -> " + r.alias;
    }
    std::string operator()(const config::PluginRouterSpec& p) const { return "plugin " + p.path; }
  };
  return std::visit(Describe{}, spec.settings);
}
}  // namespace

Table show_routes(const config::Config& cfg) {
  // The router chain in order, then what decides when no router has an opinion.
  Table t{{"position", "router", "match", "alias"}, {}};
  int position = 1;
  for (const auto& spec : cfg.routers)
    t.rows.push_back({str(position++), std::string(spec.type_name()), describe_router(spec), ""});
  for (auto& [database, alias] : cfg.databases) t.rows.push_back({str(position++), "database", database, alias});
  t.rows.push_back({str(position), "default", cfg.databases_listed ? "database named like an alias" : "*",
                    cfg.databases_listed ? "(that alias)" : cfg.default_alias});
  if (cfg.databases_listed) t.rows.push_back({str(position + 1), "default", "*", "(unknown database: refused)"});
  return t;
}

Table show_config(const Snapshot& snap) {
  const config::Config& c = *snap.config;
  std::string admins;
  for (auto& u : c.admin.users) admins += (admins.empty() ? "" : ",") + u;
  Table t{{"key", "value"},
          {{"source", c.source},
           {"hash", hex(c.content_hash)},
           {"generation", str(snap.generation)},
           {"loaded_at", iso_time(snap.loaded_at)},
           {"listen", c.listen.host + ":" + str(int(c.listen.port))},
           {"threads", str(c.threads)},
           {"max_client_connections", str(c.max_client_connections)},
           {"max_startup_connections", str(c.startup_limit())},
           {"reserved_admin_connections", str(c.admin_reserve())},
           {"authentication_timeout", str(uint64_t(c.authentication_timeout.count())) + "ms"},
           {"max_message_size", str(uint64_t(c.max_message_size))},
           {"default", c.default_alias},
           {"pool.mode", std::string(config::to_string(c.pool.mode))},
           {"pool.size", str(c.pool.size)},
           {"pool.queue_timeout", str(uint64_t(c.pool.queue_timeout.count())) + "ms"},
           {"pool.connect_timeout", str(uint64_t(c.pool.connect_timeout.count())) + "ms"},
           {"pool.reset_query", c.pool.reset_query},
           {"pool.max_prepared_statements", str(c.pool.max_prepared_statements)},
           {"metrics.listen", c.metrics ? c.metrics->host + ":" + str(int(c.metrics->port)) : "off"},
           {"admin.users", admins},
           {"reload.watch", c.reload.watch ? "true" : "false"}}};
  return t;
}

Table show_stats(Runtime& rt) {
  struct PerAlias {
    uint64_t queries = 0, rows = 0, checkouts = 0, waits = 0, wait_timeouts = 0, connects = 0, connect_failures = 0;
    double seconds = 0;
  };
  std::map<std::string, PerAlias> by_alias;
  for (auto& q : metrics::publish(0).queries) {
    PerAlias& a = by_alias[q.alias];
    a.queries += q.latency.count;
    a.rows += q.rows;
    a.seconds += q.latency.sum_seconds;
  }
  for (auto& pool : rt.pools()) {
    PerAlias& a = by_alias[pool->endpoint().alias];
    PoolCounters& c = pool->counters();
    a.checkouts += load(c.checkouts);
    a.waits += load(c.waits);
    a.wait_timeouts += load(c.wait_timeouts);
    a.connects += load(c.connects);
    a.connect_failures += load(c.connect_failures);
  }
  Table t{{"alias", "queries", "rows", "total_time_ms", "mean_time_ms", "checkouts", "waits", "wait_timeouts",
           "connects", "connect_failures"},
          {}};
  for (auto& [alias, a] : by_alias)
    t.rows.push_back({alias, str(a.queries), str(a.rows), millis(a.seconds),
                      millis(a.queries ? a.seconds / static_cast<double>(a.queries) : 0), str(a.checkouts),
                      str(a.waits), str(a.wait_timeouts), str(a.connects), str(a.connect_failures)});
  return t;
}

Table show_statements() {
  Table t{{"fingerprint", "calls", "total_time_ms", "mean_time_ms", "rows", "query"}, {}};
  for (auto& s : metrics::publish(50).statements)
    t.rows.push_back({hex(s.fingerprint), str(s.calls), millis(s.total_seconds),
                      millis(s.calls ? s.total_seconds / static_cast<double>(s.calls) : 0), str(s.rows), s.query});
  return t;
}

Table explain_route(const Snapshot& snap, std::string_view user, std::string_view sql, const Runtime* rt) {
  Table t{{"alias", "router", "reason"}, {}};
  const config::Config& cfg = *snap.config;
  if (!snap.chain) {
    t.rows.push_back(
        {cfg.default_alias, "none",
         "routing not configured: each client's database decides its alias (default \"" + cfg.default_alias + "\")"});
    return t;
  }
  router::Analysis analysis = router::analyze(sql);
  router::RouteContext ctx;
  ctx.analysis = &analysis;
  ctx.sql = sql;
  ctx.user = user;
  if (rt) {
    ctx.alias_healthy = &rt->alias_health;
    ctx.replica_state = &rt->replica_state;
    if (snap.causal_lookup) ctx.causal_floors = &snap.causal_lookup;  // the floor in force, if any
  }
  auto result = snap.chain->route(ctx);
  if (auto* d = std::get_if<router::RouteDecision>(&result); d && !d->scatter.empty())
    if (auto refusal = router::scatter_refusal(analysis, *d, false)) result = std::move(*refusal);
  if (auto* d = std::get_if<router::RouteDecision>(&result)) {
    std::string alias = d->scatter.empty() ? d->alias : "every shard: " + join(d->scatter);
    std::string reason = d->reason;
    if (d->router == "default") reason += " (a client's own database alias when it names one)";
    t.rows.push_back({alias, d->router, reason});
  } else {
    const auto& e = std::get<router::RouteError>(result);
    t.rows.push_back({"", e.router, "refused (" + e.sqlstate + "): " + e.message});
  }
  return t;
}

}  // namespace pgroute::admin
