// Everything pgroute exports, built at scrape time from the runtime's own state (pool snapshots and
// counters, per-worker query statistics, /proc): nothing is updated on the query path for Prometheus.
#pragma once
#include <chrono>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "proxy/pool/runtime.hpp"

namespace pgroute::metrics {

inline constexpr size_t kTopStatements = 20;

class ProxyCollector : public prometheus::Collectable {
 public:
  explicit ProxyCollector(Runtime& rt) : rt_(rt) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Runtime& rt_;
};

}  // namespace pgroute::metrics
