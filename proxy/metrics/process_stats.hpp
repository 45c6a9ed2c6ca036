// What the kernel says about this process (/proc/self), for the conventional process_* metrics.
#pragma once
#include <optional>

namespace pgroute::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  double resident_bytes = 0, virtual_bytes = 0;
  double open_fds = 0, max_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

// nullopt when /proc is unreadable (then no process metrics are exported rather than wrong ones).
std::optional<ProcessStats> read_process_stats();

}  // namespace pgroute::metrics
