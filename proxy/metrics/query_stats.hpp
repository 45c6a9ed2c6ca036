// Per-query statistics without a lock on the query path.
//
// Each worker thread owns a shard: it finds its cell for (alias, router, kind) in a map only it touches
// and bumps relaxed atomics. A new cell (a label set seen for the first time on that worker) is appended
// under the shard's mutex, which the scraper also takes to walk the cells — so the mutex is taken once per
// new label set and once per scrape, never per query. publish() merges the shards at scrape time.
// prometheus-cpp's Histogram::Observe takes a mutex per observation; this is why we keep our own buckets.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pgroute::metrics {

inline constexpr int kMaxWorkers = 1024;  // config caps threads at 1024
// Upper bounds in seconds; one more bucket (+Inf) follows.
inline constexpr std::array<double, 14> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
// Label cardinality stays bounded: beyond these, observations are counted as dropped.
inline constexpr size_t kMaxQuerySeriesPerWorker = 512;
inline constexpr size_t kMaxStatementsPerWorker = 5000;
inline constexpr size_t kMaxRoutingErrorReasons = 64;
inline constexpr size_t kMaxStatementText = 200;

// --- called by sessions on their worker thread (`worker` = Worker::index) --------------------------
// One finished Query or Sync unit: its alias, the router that chose it ("none" until routing is wired),
// the statement kind (select/insert/.../other) and how long the server took; rows from CommandComplete.
void record_query(int worker, std::string_view alias, std::string_view router, std::string_view kind,
                  std::chrono::nanoseconds latency, uint64_t rows);
// Per-statement statistics by normalized-query fingerprint (pg_stat_statements style).
void record_statement(int worker, uint64_t fingerprint, std::string_view normalized_query,
                      std::chrono::nanoseconds latency, uint64_t rows);
// A statement the router chain refused: which router, and the SQLSTATE the client got.
void record_routing_error(int worker, std::string_view router, std::string_view sqlstate);
void record_cache(int worker, bool hit);
// Bytes between clients and the proxy. Uses the shard bound to the calling thread (no-op elsewhere).
void bind_worker_thread(int worker);
void record_client_bytes_in(uint64_t n);
void record_client_bytes_out(uint64_t n);

// Rows a CommandComplete tag reports ("SELECT 3", "INSERT 0 5", "UPDATE 2" ...); 0 for other tags.
uint64_t rows_from_command_tag(std::string_view tag);

// --- read at scrape time ------------------------------------------------------------------------
struct LatencyHistogram {
  std::array<uint64_t, kLatencyBounds.size() + 1> buckets{};  // per bucket, not cumulative; last = +Inf
  uint64_t count = 0;
  double sum_seconds = 0;
};
struct QuerySeries {
  std::string alias, router, kind;
  uint64_t rows = 0;
  LatencyHistogram latency;
};
struct StatementSeries {
  uint64_t fingerprint = 0;
  std::string query;
  uint64_t calls = 0, rows = 0;
  double total_seconds = 0;
};
struct Published {
  std::vector<QuerySeries> queries;                                        // merged across workers, sorted by labels
  std::vector<StatementSeries> statements;                                 // top N by total time
  std::map<std::pair<std::string, std::string>, uint64_t> routing_errors;  // (router, sqlstate) -> count
  uint64_t cache_hits = 0, cache_misses = 0, bytes_in = 0, bytes_out = 0, dropped = 0;
};
Published publish(size_t top_statements);

// Forgets everything (unit tests).
void reset_for_tests();

}  // namespace pgroute::metrics
