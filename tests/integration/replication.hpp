// Streaming replication for tests: a primary and standbys made with pg_basebackup -R (PgCluster's
// StandbyOf), an apply delay set on a standby, promotion. One primary with two standbys is shared by the
// cases of a test file (started on first use, from the main thread); a case that stops a standby or
// delays it must leave it running and undelayed, and one that promotes makes a standby of its own.
#pragma once

#include <chrono>
#include <string>

#include "pg_cluster.hpp"

namespace pgroute::it {

struct ReplicationSet {
  PgCluster primary;
  PgCluster standby1, standby2;  // declared after the primary: stopped before it
  ReplicationSet();
};

// The shared set of the calling binary (a primary with wal_level replica and two hot standbys).
ReplicationSet& replication_set();

// recovery_min_apply_delay on a standby (ALTER SYSTEM + pg_reload_conf()); 0 turns it off. Returns once
// the standby's session reports the new value.
void set_apply_delay(PgCluster& standby, std::chrono::milliseconds delay);

// Turns a standby's apply delay off when a case ends, even a failed one: the set is shared.
struct UndelayOnExit {
  PgCluster& standby;
  ~UndelayOnExit() {
    try {
      set_apply_delay(standby, std::chrono::milliseconds(0));
    } catch (...) {}
  }
};

// pg_promote() on a standby; returns once it is out of recovery.
void promote(PgCluster& standby);

// Waits (bounded) until the standby has replayed everything the primary had written when this was called.
void wait_replayed(const PgCluster& primary, const PgCluster& standby, std::chrono::milliseconds within);

}  // namespace pgroute::it
