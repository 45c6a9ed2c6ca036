#include "proxy/process/proxy_collector.hpp"

#include <cstdio>
#include <deque>
#include <limits>
#include <map>

#include "proxy/metrics/process_stats.hpp"
#include "proxy/metrics/query_stats.hpp"

namespace pgroute::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Appends families to one list; each helper adds one sample. A deque, so references to earlier
// families stay valid while later ones are added.
class Families {
 public:
  MetricFamily& family(std::string name, std::string help, MetricType type) {
    out_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return out_.back();
  }
  static void add(MetricFamily& f, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    f.metric.push_back(std::move(m));
  }
  static void add_histogram(MetricFamily& f, Labels labels, const LatencyHistogram& h) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = h.sum_seconds;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      double bound = i < kLatencyBounds.size() ? kLatencyBounds[i] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back({cumulative, bound});
    }
    f.metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> take() {
    return {std::make_move_iterator(out_.begin()), std::make_move_iterator(out_.end())};
  }

 private:
  std::deque<MetricFamily> out_;
};

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct AliasPools {
  double active = 0, idle = 0, waiting = 0, max_size = 0, tls = 0;
  uint64_t checkouts = 0, waits = 0, wait_timeouts = 0, connects = 0, connect_failures = 0;
  uint64_t closes[kCloseReasonCount] = {};
  LatencyHistogram wait_time;
};

}  // namespace

std::vector<MetricFamily> ProxyCollector::Collect() const {
  constexpr auto relaxed = std::memory_order_relaxed;
  Families fs;
  auto snap = rt_.snapshot();
  const config::Config& cfg = *snap->config;

  // Pools, summed per alias (one pool per alias and server user): label values come from the config.
  std::map<std::string, AliasPools> by_alias;
  for (const auto& b : cfg.backends) by_alias[b.alias];
  for (auto& pool : rt_.pools()) {
    AliasPools& a = by_alias[pool->endpoint().alias];
    auto s = pool->snapshot();
    a.active += s.total - s.idle;
    a.idle += s.idle;
    a.waiting += s.waiting;
    a.max_size += s.max_size;
    PoolCounters& c = pool->counters();
    a.tls += c.tls_connections->load(relaxed);
    a.checkouts += c.checkouts.load(relaxed);
    a.waits += c.waits.load(relaxed);
    a.wait_timeouts += c.wait_timeouts.load(relaxed);
    a.connects += c.connects.load(relaxed);
    a.connect_failures += c.connect_failures.load(relaxed);
    for (int i = 0; i < kCloseReasonCount; ++i) a.closes[i] += c.closes[i].load(relaxed);
    c.wait_time.add_to(a.wait_time);
  }

  // Clients: in transaction pooling a client holding a server connection is active, one queued for a
  // connection is waiting, the rest are idle between transactions.
  double clients = rt_.clients.load(relaxed), active = 0, waiting = 0;
  for (auto& [alias, a] : by_alias) active += a.active, waiting += a.waiting;
  auto& cl = fs.family("pgroute_clients", "Client connections by state.", MetricType::Gauge);
  Families::add(cl, {{"state", "active"}}, std::min(active, clients));
  Families::add(cl, {{"state", "waiting"}}, std::min(waiting, clients));
  Families::add(cl, {{"state", "idle"}}, std::max(0.0, clients - active - waiting));
  Families::add(fs.family("pgroute_clients_parked",
                          "Idle clients parked: no read buffer or coroutine frames held (a part of the idle ones).",
                          MetricType::Gauge),
                {}, rt_.clients_parked.load(relaxed));
  Families::add(fs.family("pgroute_clients_keeping_server",
                          "Clients under transaction pooling that keep their server connection for state a statement "
                          "left in its session (LISTEN, a session advisory lock, a temporary table, a cursor WITH "
                          "HOLD, a statement made by SQL PREPARE, SET ROLE, LOAD), until that state is gone or they "
                          "disconnect.",
                          MetricType::Gauge),
                {}, rt_.clients_keeping_server.load(relaxed));
  Families::add(
      fs.family("pgroute_client_connections_tls", "Client connections with TLS established.", MetricType::Gauge), {},
      rt_.clients_tls.load(relaxed));
  if (snap->tls)
    Families::add(
        fs.family("pgroute_tls_certificate_expiry_timestamp_seconds",
                  "When the certificate clients are shown (tls.cert) expires, as a Unix time.", MetricType::Gauge),
        {}, static_cast<double>(snap->tls->certificate_expires_at()));
  Families::add(fs.family("pgroute_clients_max", "max_client_connections.", MetricType::Gauge), {},
                cfg.max_client_connections);
  Families::add(fs.family("pgroute_clients_logging_in",
                          "Connections accepted and not logged in yet (not in pgroute_clients; "
                          "max_startup_connections applies).",
                          MetricType::Gauge),
                {}, rt_.clients_starting.load(relaxed));
  auto& ccl = fs.family("pgroute_client_closes_total", "Client sessions ended, by reason.", MetricType::Counter);
  for (int i = 0; i < kClientCloseReasonCount; ++i)
    Families::add(ccl, {{"reason", std::string(client_close_reason_name(static_cast<ClientCloseReason>(i)))}},
                  static_cast<double>(rt_.client_closes[i].load(relaxed)));

  auto& tf = fs.family("pgroute_tls_handshake_failures_total",
                       "Client TLS handshakes that failed, by reason (version, cipher, certificate_refused, "
                       "client_certificate, not_tls, other).",
                       MetricType::Counter);
  for (int i = 0; i < kTlsFailureCount; ++i)
    Families::add(tf, {{"reason", std::string(tls_failure_name(static_cast<TlsFailure>(i)))}},
                  static_cast<double>(rt_.tls_handshake_failures[i].load(relaxed)));

  auto& sc = fs.family("pgroute_server_connections", "Server connections by alias and state.", MetricType::Gauge);
  auto& ps = fs.family("pgroute_pool_size", "Pool size limit by alias (summed over server users).", MetricType::Gauge);
  auto& pw = fs.family("pgroute_pool_waiting_clients", "Clients queued for a server connection.", MetricType::Gauge);
  auto& pc = fs.family("pgroute_pool_checkouts_total", "Server connection checkouts.", MetricType::Counter);
  auto& pwt = fs.family("pgroute_pool_waits_total", "Checkouts that had to queue.", MetricType::Counter);
  auto& pto =
      fs.family("pgroute_pool_wait_timeouts_total", "Checkouts that gave up after queue_timeout.", MetricType::Counter);
  auto& co = fs.family("pgroute_server_connects_total", "Server connections opened.", MetricType::Counter);
  auto& cf = fs.family("pgroute_server_connect_failures_total", "Server connections that failed to open.",
                       MetricType::Counter);
  auto& cc = fs.family("pgroute_server_closes_total", "Server connections closed, by reason.", MetricType::Counter);
  auto& pwh = fs.family("pgroute_pool_wait_seconds", "Time checkouts spent queued for a server connection.",
                        MetricType::Histogram);
  auto& up = fs.family("pgroute_backend_up",
                       "0 while the alias's backend is down (its last connect failed; clients fail fast), else 1.",
                       MetricType::Gauge);
  auto& st = fs.family("pgroute_server_connections_tls",
                       "Server connections with TLS (the backend URL's sslmode), by alias.", MetricType::Gauge);
  auto& pa =
      fs.family("pgroute_alias_paused", "1 while the alias is paused from the admin console.", MetricType::Gauge);
  for (auto& [alias, a] : by_alias) {
    Families::add(sc, {{"alias", alias}, {"state", "active"}}, a.active);
    Families::add(sc, {{"alias", alias}, {"state", "idle"}}, a.idle);
    Families::add(st, {{"alias", alias}}, a.tls);
    Families::add(ps, {{"alias", alias}}, a.max_size);
    Families::add(pw, {{"alias", alias}}, a.waiting);
    Families::add(pc, {{"alias", alias}}, static_cast<double>(a.checkouts));
    Families::add(pwt, {{"alias", alias}}, static_cast<double>(a.waits));
    Families::add(pto, {{"alias", alias}}, static_cast<double>(a.wait_timeouts));
    Families::add(co, {{"alias", alias}}, static_cast<double>(a.connects));
    Families::add(cf, {{"alias", alias}}, static_cast<double>(a.connect_failures));
    for (int i = 0; i < kCloseReasonCount; ++i)
      Families::add(cc, {{"alias", alias}, {"reason", std::string(close_reason_name(static_cast<CloseReason>(i)))}},
                    static_cast<double>(a.closes[i]));
    Families::add(pa, {{"alias", alias}}, rt_.pauses.gate(alias)->paused() ? 1 : 0);
    Families::add_histogram(pwh, {{"alias", alias}}, a.wait_time);
    Families::add(up, {{"alias", alias}}, rt_.alias_healthy(alias) ? 1 : 0);
  }

  // Lag-aware rotation: per replica alias (one listed by several routers is out when any router leaves it out).
  auto& lag_s = fs.family("pgroute_replica_lag_seconds",
                          "Replay delay of a replica checked for lag (0 when replay has reached the primary's LSN).",
                          MetricType::Gauge);
  auto& lag_b = fs.family("pgroute_replica_lag_bytes",
                          "WAL bytes between the primary's LSN and a replica's replay LSN.", MetricType::Gauge);
  auto& rot = fs.family("pgroute_replica_in_rotation",
                        "1 while a replica takes reads (its lag checks answer, it is in recovery, within the limits).",
                        MetricType::Gauge);
  std::map<std::string, const ReplicaRow*> replicas;
  const std::vector<ReplicaRow> replica_rows = rt_.replicas.rows(cfg);
  for (const ReplicaRow& r : replica_rows) {
    auto [it, fresh] = replicas.emplace(r.alias, &r);
    if (!fresh && r.out != router::OutOfRotation::No) it->second = &r;
  }
  for (auto& [alias, r] : replicas) {
    if (r->state.lag_known && r->state.seen == router::ReplicaState::Seen::InRecovery) {
      Families::add(lag_s, {{"alias", alias}}, r->state.lag_seconds);
      Families::add(lag_b, {{"alias", alias}}, static_cast<double>(r->state.lag_bytes));
    }
    Families::add(rot, {{"alias", alias}}, r->out == router::OutOfRotation::No ? 1 : 0);
  }

  // Causal reads (replicas routers with causal_reads: tables), per primary.
  if (!snap->causal_floors.empty()) {
    auto& cr = fs.family("pgroute_causal_reads_total",
                         "Reads of tables with a causal floor (written and committed through pgroute, not yet "
                         "replayed by every replica), by where they went.",
                         MetricType::Counter);
    auto& cp = fs.family("pgroute_commit_lsn_probes_total",
                         "Commits whose WAL position was read right behind them (causal reads).", MetricType::Counter);
    auto& cf = fs.family("pgroute_causal_floors", "Tables with a causal floor now.", MetricType::Gauge);
    auto& pc = fs.family("pgroute_primary_checks_total",
                         "Checks of a causal primary's WAL position: every lag_check_interval, and those strict reads "
                         "asked for (reads waiting together share one).",
                         MetricType::Counter);
    LatencyHistogram waited;
    rt_.causal_wait_time.add_to(waited);
    Families::add_histogram(
        fs.family("pgroute_causal_wait_seconds", "How long reads waited for a replica to replay their causal floor.",
                  MetricType::Histogram),
        {}, waited);
    for (const auto& [primary, floors] : snap->causal_floors) {
      const std::string router = "replicas(" + primary + ")";
      Families::add(cr, {{"router", router}, {"outcome", "replica"}},
                    static_cast<double>(floors->reads_replica.load(relaxed)));
      Families::add(cr, {{"router", router}, {"outcome", "waited_then_replica"}},
                    static_cast<double>(floors->reads_waited.load(relaxed)));
      Families::add(cr, {{"router", router}, {"outcome", "primary_fallback"}},
                    static_cast<double>(floors->reads_primary.load(relaxed)));
      Families::add(cp, {{"alias", primary}}, static_cast<double>(floors->probes.load(relaxed)));
      Families::add(cf, {{"alias", primary}}, static_cast<double>(floors->size()));
      Families::add(pc, {{"alias", primary}}, static_cast<double>(rt_.replicas.checks_started(primary)));
    }
  }

  // Configuration.
  auto& rl = fs.family("pgroute_config_reloads_total", "Configuration reloads by result.", MetricType::Counter);
  Families::add(rl, {{"result", "ok"}}, static_cast<double>(rt_.reloads_ok.load(relaxed)));
  Families::add(rl, {{"result", "failed"}}, static_cast<double>(rt_.reloads_failed.load(relaxed)));
  Families::add(
      fs.family("pgroute_config_info", "The loaded configuration (hash of the file text).", MetricType::Gauge),
      {{"hash", hex(cfg.content_hash)}}, 1);
  Families::add(fs.family("pgroute_config_generation", "Configurations loaded since start.", MetricType::Gauge), {},
                static_cast<double>(snap->generation));
  Families::add(fs.family("pgroute_config_loaded_timestamp_seconds", "When the loaded configuration was applied.",
                          MetricType::Gauge),
                {}, std::chrono::duration<double>(snap->loaded_at.time_since_epoch()).count());
  Families::add(fs.family("pgroute_shutting_down", "1 while the proxy drains after SIGTERM.", MetricType::Gauge), {},
                rt_.shutting_down.load() ? 1 : 0);

  // Queries (per-worker aggregation, merged now).
  Published q = publish(kTopStatements);
  auto& qt = fs.family("pgroute_queries_total", "Query and Sync units by alias, router and statement kind.",
                       MetricType::Counter);
  auto& qr = fs.family("pgroute_query_rows_total", "Rows reported by CommandComplete, by alias.", MetricType::Counter);
  auto& qd = fs.family("pgroute_query_duration_seconds", "Query/Sync unit latency at the proxy, by alias.",
                       MetricType::Histogram);
  std::map<std::string, std::pair<LatencyHistogram, uint64_t>> latency_by_alias;
  for (const QuerySeries& s : q.queries) {
    Families::add(qt, {{"alias", s.alias}, {"router", s.router}, {"kind", s.kind}},
                  static_cast<double>(s.latency.count));
    auto& [h, rows] = latency_by_alias[s.alias];
    for (size_t i = 0; i < h.buckets.size(); ++i) h.buckets[i] += s.latency.buckets[i];
    h.count += s.latency.count;
    h.sum_seconds += s.latency.sum_seconds;
    rows += s.rows;
  }
  for (auto& [alias, hr] : latency_by_alias) {
    Families::add_histogram(qd, {{"alias", alias}}, hr.first);
    Families::add(qr, {{"alias", alias}}, static_cast<double>(hr.second));
  }
  auto& re = fs.family("pgroute_routing_errors_total", "Statements the router chain refused, by router and SQLSTATE.",
                       MetricType::Counter);
  for (auto& [key, n] : q.routing_errors)
    Families::add(re, {{"router", key.first}, {"sqlstate", key.second}}, static_cast<double>(n));
  auto& pcache = fs.family("pgroute_parse_cache_total", "Statement analysis cache lookups.", MetricType::Counter);
  Families::add(pcache, {{"result", "hit"}}, static_cast<double>(q.cache_hits));
  Families::add(pcache, {{"result", "miss"}}, static_cast<double>(q.cache_misses));
  Families::add(fs.family("pgroute_client_bytes_received_total", "Bytes read from clients.", MetricType::Counter), {},
                static_cast<double>(q.bytes_in));
  Families::add(fs.family("pgroute_client_bytes_sent_total", "Bytes written to clients.", MetricType::Counter), {},
                static_cast<double>(q.bytes_out));
  Families::add(fs.family("pgroute_metrics_dropped_total",
                          "Observations not recorded because a label limit was reached.", MetricType::Counter),
                {}, static_cast<double>(q.dropped));

  // Top statements by total time (pg_stat_statements style); the label set is bounded by kTopStatements.
  auto& stc =
      fs.family("pgroute_statement_calls_total", "Calls of the top statements by total time.", MetricType::Counter);
  auto& sts = fs.family("pgroute_statement_seconds_total", "Total time of the top statements.", MetricType::Counter);
  auto& str = fs.family("pgroute_statement_rows_total", "Rows of the top statements.", MetricType::Counter);
  for (const StatementSeries& s : q.statements) {
    Labels l{{"fingerprint", hex(s.fingerprint)}, {"query", s.query}};
    Families::add(stc, l, static_cast<double>(s.calls));
    Families::add(sts, l, s.total_seconds);
    Families::add(str, l, static_cast<double>(s.rows));
  }

  // The conventional process_* families (what dashboards for any Prometheus client expect).
  if (auto p = read_process_stats()) {
    Families::add(fs.family("process_cpu_seconds_total", "User and system CPU time.", MetricType::Counter), {},
                  p->cpu_seconds);
    Families::add(fs.family("process_resident_memory_bytes", "Resident memory.", MetricType::Gauge), {},
                  p->resident_bytes);
    Families::add(fs.family("process_virtual_memory_bytes", "Virtual memory.", MetricType::Gauge), {},
                  p->virtual_bytes);
    Families::add(fs.family("process_open_fds", "Open file descriptors.", MetricType::Gauge), {}, p->open_fds);
    Families::add(fs.family("process_max_fds", "File descriptor limit.", MetricType::Gauge), {}, p->max_fds);
    Families::add(fs.family("process_start_time_seconds", "Start time since the Unix epoch.", MetricType::Gauge), {},
                  p->start_time_seconds);
  }
  return fs.take();
}

}  // namespace pgroute::metrics
