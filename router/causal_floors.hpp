#pragma once
// Causal reads by table (replicas router, causal_reads: tables): for each table a transaction wrote and
// committed on the primary through pgroute, the primary's WAL position at or after that commit. A read of
// such a table may go only to a replica whose replay has reached it. Shared by every session and worker
// (one per primary, kept across reloads); floors every replica has replayed are dropped, so it holds only
// the tables written in the last moments.

#include <atomic>
#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "router/statement.hpp"

namespace pgroute::router {

class CausalFloors {
 public:
  // The floor of writes whose tables are not known (DO, CALL, a function): it applies to every read.
  static constexpr std::string_view kAnyTable = "*";

  // The name a table's floor is kept under: its name without the schema (tables of the same name in two
  // schemas share one floor: a read may go to the primary needlessly, never to a stale replica).
  static std::string_view key(const TableRef& table) { return table.name; }

  // After a commit whose WAL position is `lsn`: the floors of `tables` (keys) are at least `lsn`.
  void raise(const std::vector<std::string>& tables, uint64_t lsn);
  // The highest floor of the statement's tables (and of kAnyTable); 0 when none has one.
  uint64_t floor_for(const std::vector<TableRef>& tables) const;
  // Drops the floors at or below `replayed` (what every replica has replayed).
  void forget_replayed(uint64_t replayed);
  // No floor at all: the common case, answered without the lock.
  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }
  size_t size() const { return count_.load(std::memory_order_relaxed); }

  // For metrics: reads of tables with a floor by where they went, and commit probes answered.
  // (counted by the session once a read's route stands: reads_waited went to a replica after waiting).
  std::atomic<uint64_t> reads_replica{0}, reads_waited{0}, reads_primary{0}, probes{0};

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, uint64_t, std::less<>> floors_;
  std::atomic<size_t> count_{0};
  std::atomic<uint64_t> lowest_{UINT64_MAX};  // the smallest floor held: nothing to drop below it
};

}  // namespace pgroute::router
