// Per-worker query statistics merged at scrape time; bounded label sets; command-tag row counts.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <thread>
#include <vector>

#include "proxy/metrics/query_stats.hpp"

using namespace pgroute::metrics;
using namespace std::chrono_literals;

TEST_CASE("query stats: shards of several workers merge into one series per label set") {
  reset_for_tests();
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([w] {
      for (int i = 0; i < 1000; ++i) record_query(w, "default", "none", "simple", 2ms, 1);
      record_query(w, "analytics", "none", "extended", 20s, 0);  // beyond the last bound: +Inf bucket
    });
  for (auto& t : workers) t.join();
  Published p = publish(10);
  REQUIRE(p.queries.size() == 2);
  const QuerySeries& a = p.queries[0];  // sorted by labels: analytics first
  CHECK(a.alias == "analytics");
  CHECK(a.kind == "extended");
  CHECK(a.latency.count == 4);
  CHECK(a.latency.buckets.back() == 4);
  const QuerySeries& d = p.queries[1];
  CHECK(d.alias == "default");
  CHECK(d.latency.count == 4000);
  CHECK(d.rows == 4000);
  CHECK(d.latency.sum_seconds == doctest::Approx(8.0));
  // 2 ms falls into the 0.0025 bucket (index 2: 0.0005, 0.001, 0.0025).
  CHECK(d.latency.buckets[2] == 4000);
  CHECK(d.latency.buckets[1] == 0);
}

// A worker looks at the label sets it counted last before its map: sets that differ in one label only,
// and more sets in turn than it keeps at hand, are each counted as their own.
TEST_CASE("query stats: label sets differing in one label, more than the recent ones, each counted apart") {
  reset_for_tests();
  const std::vector<std::array<std::string, 3>> labels = {
      {"default", "none", "read"},
      {"default", "none", "write"},
      {"default", "shard(t)", "read"},
      {"analytics", "none", "read"},
      {"default", "none", "readx"},
      {"defaulx", "none", "read"},
      {"default", "rule(x)", "read"},
      {"a", "b", "c"},
      {"a", "bc", ""},
      {"ab", "c", ""},
      {"", "", ""},
      {"default", "none", "transaction_begin"},
  };
  for (int round = 0; round < 7; ++round)
    for (size_t i = 0; i < labels.size(); ++i)
      for (size_t n = 0; n <= i % 3; ++n) record_query(0, labels[i][0], labels[i][1], labels[i][2], 1ms, i);
  Published p = publish(0);
  REQUIRE(p.queries.size() == labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    CAPTURE(i);
    int found = 0;
    for (const QuerySeries& q : p.queries) {
      if (q.alias != labels[i][0] || q.router != labels[i][1] || q.kind != labels[i][2]) continue;
      ++found;
      CHECK(q.latency.count == 7 * (i % 3 + 1));
      CHECK(q.rows == 7 * (i % 3 + 1) * i);
    }
    CHECK(found == 1);
  }
  CHECK(p.dropped == 0);
}

TEST_CASE("query stats: top statements by total time, label limits counted as dropped") {
  reset_for_tests();
  record_statement(0, 0xA, "SELECT $1", 1ms, 1);
  record_statement(1, 0xA, "SELECT $1", 1ms, 1);
  record_statement(0, 0xB, "UPDATE t SET x = $1", 50ms, 3);
  record_statement(0, 0xC, std::string(500, 'x'), 10ms, 0);
  Published p = publish(2);
  REQUIRE(p.statements.size() == 2);
  CHECK(p.statements[0].fingerprint == 0xB);
  CHECK(p.statements[0].rows == 3);
  CHECK(p.statements[1].fingerprint == 0xC);
  CHECK(p.statements[1].query.size() == kMaxStatementText);
  CHECK(publish(10).statements.back().calls == 2);  // 0xA merged over two workers

  reset_for_tests();
  for (size_t i = 0; i < kMaxQuerySeriesPerWorker + 5; ++i)
    record_query(0, "a" + std::to_string(i), "none", "simple", 1ms, 0);
  p = publish(0);
  CHECK(p.queries.size() == kMaxQuerySeriesPerWorker);
  CHECK(p.dropped == 5);
  record_query(-1, "x", "none", "simple", 1ms, 0);  // not a worker: ignored, no crash
  record_query(kMaxWorkers, "x", "none", "simple", 1ms, 0);
  CHECK(publish(0).queries.size() == kMaxQuerySeriesPerWorker);
}

TEST_CASE("query stats: routing errors, cache and bytes") {
  reset_for_tests();
  record_routing_error(0, "shards", "0A000");
  record_routing_error(1, "shards", "0A000");
  record_routing_error(1, "rules", "42501");
  record_cache(0, true);
  record_cache(0, true);
  record_cache(1, false);
  record_client_bytes_in(10);  // not bound yet: ignored
  bind_worker_thread(3);
  record_client_bytes_in(100);
  record_client_bytes_out(7);
  Published p = publish(0);
  using Key = std::pair<std::string, std::string>;
  CHECK(p.routing_errors == std::map<Key, uint64_t>{{{"rules", "42501"}, 1}, {{"shards", "0A000"}, 2}});
  CHECK(p.cache_hits == 2);
  CHECK(p.cache_misses == 1);
  CHECK(p.bytes_in == 100);
  CHECK(p.bytes_out == 7);
  reset_for_tests();
}

TEST_CASE("rows from command tags") {
  CHECK(rows_from_command_tag("SELECT 3") == 3);
  CHECK(rows_from_command_tag("INSERT 0 5") == 5);
  CHECK(rows_from_command_tag("UPDATE 12") == 12);
  CHECK(rows_from_command_tag("DELETE 0") == 0);
  CHECK(rows_from_command_tag("COPY 7") == 7);
  CHECK(rows_from_command_tag("CREATE TABLE") == 0);
  CHECK(rows_from_command_tag("BEGIN") == 0);
  CHECK(rows_from_command_tag("SELECT x") == 0);
}
