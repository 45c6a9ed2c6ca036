// A latency histogram of relaxed atomics, for the few places shared by threads where a Prometheus
// histogram's mutex would be taken per observation (pool waits). Same bounds as the query latency.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>

#include "proxy/metrics/query_stats.hpp"

namespace pgroute::metrics {

struct AtomicHistogram {
  std::array<std::atomic<uint64_t>, kLatencyBounds.size() + 1> buckets{};
  std::atomic<uint64_t> count{0}, sum_ns{0};

  void observe(std::chrono::nanoseconds d) {
    double seconds = std::chrono::duration<double>(d).count();
    size_t i = 0;
    while (i < kLatencyBounds.size() && seconds > kLatencyBounds[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);
    sum_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, d.count())), std::memory_order_relaxed);
  }
  void add_to(LatencyHistogram& h) const {
    for (size_t i = 0; i < buckets.size(); ++i) h.buckets[i] += buckets[i].load(std::memory_order_relaxed);
    h.count += count.load(std::memory_order_relaxed);
    h.sum_seconds += static_cast<double>(sum_ns.load(std::memory_order_relaxed)) / 1e9;
  }
};

}  // namespace pgroute::metrics
