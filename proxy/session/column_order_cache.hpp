// Where shard keys stand in their tables' column order, learnt from the shards' catalogs, so that an
// INSERT without a column list can be routed (router/column_order.hpp). Per worker thread: a lookup
// takes no lock. Entries are learnt on first use, forgotten when the configuration is reloaded and
// when a server reports an error that a changed column order would cause; failures are kept briefly.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/column_order.hpp"

namespace pgroute {

class ColumnOrderCache {
 public:
  using Clock = std::chrono::steady_clock;
  // A failure (table missing, shards disagree, a shard refused) is kept this long: a client repeating a
  // failing INSERT does not ask every shard each time. An order learnt more recently than this is not
  // forgotten on a server error either (a stream of INSERTs with a bad key value would relearn per row).
  static constexpr std::chrono::seconds kSettle{1};

  // Entries learnt under an older configuration are dropped (tables or shards may have changed).
  void sync(uint64_t generation);
  // Known or (recent) Failed; nullopt: learn it.
  std::optional<router::KeyPosition> find(std::string_view table, std::string_view column, Clock::time_point now) const;
  void store(std::string_view table, std::string_view column, router::KeyPosition position, Clock::time_point now);
  // Forgets `table` unless one of its entries was learnt less than kSettle ago; true if it forgot.
  bool forget(std::string_view table, Clock::time_point now);
  size_t size() const { return by_table_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Entry {
    std::string column;
    router::KeyPosition position;
    Clock::time_point learnt;
  };
  std::unordered_map<std::string, std::vector<Entry>, Hash, std::equal_to<>> by_table_;
  uint64_t generation_ = 0;
};

// The router's view of the cache for one statement. Records what the cache did not hold (the session
// then learns it and routes again) and which table was looked up (its server errors may mean the
// order changed).
class ColumnOrderLookup final : public router::ColumnOrderSource {
 public:
  ColumnOrderLookup(ColumnOrderCache& cache, uint64_t generation) : cache_(cache), generation_(generation) {}

  router::KeyPosition key_position(std::string_view table, std::string_view column,
                                   std::span<const std::string> shards) const override;

  // Views into the routers of the snapshot that routed the statement: copy before waiting.
  struct Request {
    std::string_view table, column;
    std::span<const std::string> shards;
  };
  const std::optional<Request>& missing() const { return missing_; }
  std::string_view used_table() const { return used_table_; }
  // Called before each routing pass: the table is the one this pass looked up, if any.
  void start_route() { used_table_.clear(); }
  bool learnt() const { return learnt_.has_value(); }
  // What learning found, answered for the rest of this statement (a failure is never cached).
  void set_learnt(router::KeyPosition learnt) {
    learnt_ = std::move(learnt);
    missing_.reset();
  }

 private:
  ColumnOrderCache& cache_;
  uint64_t generation_;
  mutable std::optional<Request> missing_;
  mutable std::string used_table_;  // a copy: the routers that named it may be gone by the next pass
  std::optional<router::KeyPosition> learnt_;
};

}  // namespace pgroute
