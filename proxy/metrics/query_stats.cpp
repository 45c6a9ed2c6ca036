#include "proxy/metrics/query_stats.hpp"

#include "proxy/metrics/atomic_histogram.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace pgroute::metrics {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;

struct QueryCell {
  std::string alias, router, kind;  // fixed at creation
  std::atomic<uint64_t> rows{0};
  AtomicHistogram latency;
};

struct StatementCell {
  uint64_t fingerprint;
  std::string query;
  std::atomic<uint64_t> calls{0}, rows{0}, total_ns{0};
};

struct ErrorCell {
  std::string router, sqlstate;
  std::atomic<uint64_t> count{0};
};

// One worker's statistics. The *_index maps belong to the worker thread alone; the deques hold the cells
// (stable addresses) and are appended to / walked only under mu.
// The label sets a worker counted last, looked at before query_index: a worker sees few of them, and
// building and hashing the map's key cost more than the rest of counting a query.
struct RecentQueryCells {
  static constexpr size_t kSize = 8;
  std::array<QueryCell*, kSize> cells{};
  size_t next = 0;  // the slot a miss fills (round robin)

  QueryCell* find(std::string_view alias, std::string_view router, std::string_view kind) const {
    for (QueryCell* c : cells)
      if (c && c->kind == kind && c->alias == alias && c->router == router) return c;
    return nullptr;
  }
  void remember(QueryCell* c) {
    cells[next] = c;
    next = (next + 1) % kSize;
  }
};

struct Shard {
  RecentQueryCells recent_queries;
  std::unordered_map<std::string, QueryCell*> query_index;
  std::unordered_map<uint64_t, StatementCell*> statement_index;
  std::unordered_map<std::string, ErrorCell*> error_index;
  std::string key;  // the worker's scratch for query_index lookups (no allocation per query)
  std::mutex mu;
  std::deque<QueryCell> queries;
  std::deque<StatementCell> statements;
  std::deque<ErrorCell> errors;
  std::atomic<uint64_t> cache_hits{0}, cache_misses{0}, bytes_in{0}, bytes_out{0}, dropped{0};
};

std::array<std::atomic<Shard*>, kMaxWorkers>& shards() {
  static std::array<std::atomic<Shard*>, kMaxWorkers> all{};
  return all;
}
std::mutex g_create_mu;  // only when a worker records its first statistic
thread_local Shard* t_bound = nullptr;

Shard* shard(int worker) {
  if (worker < 0 || worker >= kMaxWorkers) return nullptr;
  auto& slot = shards()[static_cast<size_t>(worker)];
  Shard* s = slot.load(std::memory_order_acquire);
  if (s) return s;
  std::lock_guard lock(g_create_mu);
  s = slot.load(std::memory_order_acquire);
  if (!s) {
    s = new Shard();  // lives for the process: scrapers may read it at any time
    slot.store(s, std::memory_order_release);
  }
  return s;
}

void query_key(std::string& k, std::string_view alias, std::string_view router, std::string_view kind) {
  k.clear();
  k.append(alias).push_back('\0');
  k.append(router).push_back('\0');
  k.append(kind);
}

std::string query_key(std::string_view alias, std::string_view router, std::string_view kind) {
  std::string k;
  query_key(k, alias, router, kind);
  return k;
}

}  // namespace

namespace {
// The shard's cell for these labels, made on first sight; null over kMaxQuerySeriesPerWorker.
QueryCell* query_cell(Shard& s, std::string_view alias, std::string_view router, std::string_view kind) {
  if (QueryCell* recent = s.recent_queries.find(alias, router, kind)) return recent;
  query_key(s.key, alias, router, kind);
  QueryCell* cell = nullptr;
  if (auto it = s.query_index.find(s.key); it != s.query_index.end()) {
    cell = it->second;
  } else {
    if (s.query_index.size() >= kMaxQuerySeriesPerWorker) return nullptr;
    std::lock_guard lock(s.mu);
    cell = &s.queries.emplace_back();
    cell->alias = alias;
    cell->router = router;
    cell->kind = kind;
    s.query_index.emplace(s.key, cell);
  }
  s.recent_queries.remember(cell);
  return cell;
}
}  // namespace

void record_query(int worker, std::string_view alias, std::string_view router, std::string_view kind,
                  std::chrono::nanoseconds latency, uint64_t rows) {
  Shard* s = shard(worker);
  if (!s) return;
  QueryCell* cell = query_cell(*s, alias, router, kind);
  if (!cell) {
    s->dropped.fetch_add(1, relaxed);
    return;
  }
  cell->latency.observe(latency);
  cell->rows.fetch_add(rows, relaxed);
}

void record_statement(int worker, uint64_t fingerprint, std::string_view normalized_query,
                      std::chrono::nanoseconds latency, uint64_t rows) {
  Shard* s = shard(worker);
  if (!s) return;
  auto it = s->statement_index.find(fingerprint);
  StatementCell* cell = nullptr;
  if (it != s->statement_index.end()) {
    cell = it->second;
  } else {
    if (s->statement_index.size() >= kMaxStatementsPerWorker) {
      s->dropped.fetch_add(1, relaxed);
      return;
    }
    std::lock_guard lock(s->mu);
    cell = &s->statements.emplace_back();
    cell->fingerprint = fingerprint;
    cell->query = normalized_query.substr(0, kMaxStatementText);
    s->statement_index.emplace(fingerprint, cell);
  }
  cell->calls.fetch_add(1, relaxed);
  cell->rows.fetch_add(rows, relaxed);
  cell->total_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, latency.count())), relaxed);
}

void record_routing_error(int worker, std::string_view router, std::string_view sqlstate) {
  Shard* s = shard(worker);
  if (!s) return;
  std::string key = query_key(router, sqlstate, {});
  auto it = s->error_index.find(key);
  ErrorCell* cell = nullptr;
  if (it != s->error_index.end()) {
    cell = it->second;
  } else {
    if (s->error_index.size() >= kMaxRoutingErrorReasons) {
      s->dropped.fetch_add(1, relaxed);
      return;
    }
    std::lock_guard lock(s->mu);
    cell = &s->errors.emplace_back();
    cell->router = router;
    cell->sqlstate = sqlstate;
    s->error_index.emplace(std::move(key), cell);
  }
  cell->count.fetch_add(1, relaxed);
}

void record_cache(int worker, bool hit) {
  if (Shard* s = shard(worker)) (hit ? s->cache_hits : s->cache_misses).fetch_add(1, relaxed);
}

void bind_worker_thread(int worker) { t_bound = shard(worker); }
void record_client_bytes_in(uint64_t n) {
  if (t_bound) t_bound->bytes_in.fetch_add(n, relaxed);
}
void record_client_bytes_out(uint64_t n) {
  if (t_bound) t_bound->bytes_out.fetch_add(n, relaxed);
}

uint64_t rows_from_command_tag(std::string_view tag) {
  auto space = tag.find(' ');
  if (space == std::string_view::npos) return 0;
  std::string_view verb = tag.substr(0, space);
  if (verb != "SELECT" && verb != "INSERT" && verb != "UPDATE" && verb != "DELETE" && verb != "FETCH" &&
      verb != "MOVE" && verb != "COPY" && verb != "MERGE")
    return 0;
  std::string_view count = tag.substr(tag.rfind(' ') + 1);
  uint64_t n = 0;
  for (char c : count) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

Published publish(size_t top_statements) {
  Published out;
  std::map<std::string, QuerySeries> queries;
  std::unordered_map<uint64_t, StatementSeries> statements;
  for (auto& slot : shards()) {
    Shard* s = slot.load(std::memory_order_acquire);
    if (!s) continue;
    out.cache_hits += s->cache_hits.load(relaxed);
    out.cache_misses += s->cache_misses.load(relaxed);
    out.bytes_in += s->bytes_in.load(relaxed);
    out.bytes_out += s->bytes_out.load(relaxed);
    out.dropped += s->dropped.load(relaxed);
    std::lock_guard lock(s->mu);
    for (const QueryCell& c : s->queries) {
      QuerySeries& q = queries[query_key(c.alias, c.router, c.kind)];
      q.alias = c.alias;
      q.router = c.router;
      q.kind = c.kind;
      q.rows += c.rows.load(relaxed);
      c.latency.add_to(q.latency);
    }
    for (const StatementCell& c : s->statements) {
      StatementSeries& st = statements[c.fingerprint];
      st.fingerprint = c.fingerprint;
      if (st.query.empty()) st.query = c.query;
      st.calls += c.calls.load(relaxed);
      st.rows += c.rows.load(relaxed);
      st.total_seconds += static_cast<double>(c.total_ns.load(relaxed)) / 1e9;
    }
    for (const ErrorCell& c : s->errors) out.routing_errors[{c.router, c.sqlstate}] += c.count.load(relaxed);
  }
  for (auto& [k, q] : queries) out.queries.push_back(std::move(q));
  for (auto& [k, st] : statements) out.statements.push_back(std::move(st));
  std::sort(out.statements.begin(), out.statements.end(), [](const StatementSeries& a, const StatementSeries& b) {
    return a.total_seconds != b.total_seconds ? a.total_seconds > b.total_seconds : a.fingerprint < b.fingerprint;
  });
  if (out.statements.size() > top_statements) out.statements.resize(top_statements);
  return out;
}

void reset_for_tests() {
  std::lock_guard lock(g_create_mu);
  for (auto& slot : shards()) delete slot.exchange(nullptr);
  t_bound = nullptr;
}

}  // namespace pgroute::metrics
