#pragma once
// Lag-aware rotation: what the replica checks (proxy/pool/replica_monitor.hpp) last saw of a server, and
// whether a replica with that state may serve a replicas router's reads under its limits. Routers read
// the state on the route path, so it is plain data copied out of atomics.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace pgroute::router {

struct ReplicaState {
  enum class Seen : uint8_t { NotChecked, NotAnswering, NotInRecovery, InRecovery };
  Seen seen = Seen::NotChecked;
  bool lag_known = false;  // the primary has answered at least once: lag_seconds and lag_bytes mean something
  double lag_seconds = 0;  // replay delay: 0 when replay has reached the primary's LSN
  uint64_t lag_bytes = 0;  // the primary's LSN minus the replay LSN (0 when replay is ahead of the sample)
  uint64_t replay_lsn = 0;
};

struct LagLimits {
  std::optional<std::chrono::milliseconds> max_lag;
  std::optional<uint64_t> max_lag_bytes;
};

enum class OutOfRotation : uint8_t { No, NotChecked, NotAnswering, NotInRecovery, LagSeconds, LagBytes };

// Whether a replica in `state` is out of rotation under `limits`, and the first reason why. Lag limits
// only apply once the lag is known (with the primary never answered, answering standbys stay in).
OutOfRotation out_of_rotation(const ReplicaState& state, const LagLimits& limits);

// "replay 3.2s behind (max_lag 1s)", "not answering lag checks", ...; "" for No. Not for the route path's
// common case (it allocates): messages, SHOW REPLICAS, metrics labels.
std::string describe(OutOfRotation why, const ReplicaState& state, const LagLimits& limits);

// One LSN of a primary as the checks saw it.
struct LsnSample {
  uint64_t lsn;
  std::chrono::steady_clock::time_point at;  // when the query that read it was sent: current at or after this
};

// The replay delay in seconds of a standby at replay LSN `replay`, now, given its primary's samples (oldest
// first) and the seconds since its last replayed commit (nullopt: none replayed since it started); nullopt
// without samples. 0 when replay has reached the newest sample. Otherwise the smaller of two upper bounds
// of the oldest unreplayed WAL's age: every unreplayed record was written after the newest sample at or
// below `replay`, and after the last replayed commit (PostgreSQL's suggestion, which alone grows without
// bound on an idle primary). Behind every sample kept and no commit time: at least the oldest sample's age.
std::optional<double> replay_delay(uint64_t replay, const std::deque<LsnSample>& primary,
                                   std::optional<double> since_commit, std::chrono::steady_clock::time_point now);

// The end of the WAL a primary's insert position (pg_current_wal_insert_lsn()) stands for. When the last
// record ended exactly at a WAL page boundary, PostgreSQL reports the position after the next page's
// header (24 bytes; 40 on a segment's first page), which no standby's replay position ever equals: only
// a page header lies between. Taken as the boundary, an idle primary's standby is caught up, not behind
// by the time since its last commit, and a causal read's floor is reachable. Assumes PostgreSQL's
// default 8 KiB WAL pages (XLOG_BLCKSZ).
uint64_t wal_end_of_insert(uint64_t insert_lsn);

// "16/B374D848": an LSN as PostgreSQL prints it; nullopt for text that is not one.
std::string lsn_text(uint64_t lsn);
std::optional<uint64_t> parse_lsn(std::string_view text);

}  // namespace pgroute::router
