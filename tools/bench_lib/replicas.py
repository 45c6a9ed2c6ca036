"""--replicas: a streaming standby of the bench's PostgreSQL and pgroute's `replicas` router over both,
with `causal_reads` off, tables and strict (issue 20), as three targets alternated like the others.

The standby is made with `pg_basebackup -R` (as `postgres`) after `pgbench -i`, on its own free port and
temporary directory, started and stopped like the primary, and waited for until it has replayed the
primary's WAL position. The lag checks log in with the backend URLs' user and password (PostgreSQL
trusts loopback here, so the password is only there because pgroute requires one for the checks).
"""
import os
import time

from .poolers import DATABASE, PASSWORD, USER, Pgroute
from .postgres import PG_BIN, Cluster
from .procs import BenchError, chown_to_pg, free_port, log, run

# target -> causal_reads
CAUSAL_TARGETS = {"pgroute-causal-off": "off", "pgroute-causal-tables": "tables", "pgroute-causal-strict": "strict"}
# What the primary needs to feed a standby (wal_level replica is PostgreSQL 15's default: said anyway).
PRIMARY_SETTINGS = {"wal_level": "replica", "max_wal_senders": 4}
# Low, so that a read behind a write or a strict read waits little for a lag check (docs/routing.md).
LAG_CHECK_INTERVAL = "20ms"
# Excluded from the replica-read check: the lag checks' own connection.
LAG_CHECK_APP = "pgroute lag check"


class Standby(Cluster):
    """A hot standby of `primary` streaming from it, in `base_dir` (its data, socket and log)."""

    def __init__(self, base_dir, primary, cleanup):
        os.makedirs(base_dir, exist_ok=True)
        os.chmod(base_dir, 0o755)
        chown_to_pg(base_dir)
        super().__init__(base_dir, free_port(), primary.max_connections, cleanup)
        self.primary = primary

    def start(self):
        p = self.primary
        run([f"{PG_BIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(p.port), "-U", "postgres", "-D", self.data,
             "-R", "-X", "stream", "-c", "fast", "--no-sync"], as_pg=True)
        # The copy carries the primary's postgresql.auto.conf (port, socket directory): later lines win.
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(f"port = {self.port}\nunix_socket_directories = '{self.socket_dir}'\nhot_standby = on\n")
        log_file = os.path.join(self.socket_dir, "postgres.log")
        run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", log_file, "-w", "-t", "60", "start"], as_pg=True)
        self._cleanup.add("stop the standby", self.stop)
        log(f"PostgreSQL 15 standby on 127.0.0.1:{self.port}, streaming from {p.port}")

    def wait_replayed(self, timeout=120.0):
        """Until the standby has replayed the primary's current WAL position (pgbench -i's data)."""
        lsn = self.primary.psql("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.psql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") == "t":
                log(f"standby replayed the primary up to {lsn}")
                return lsn
            time.sleep(0.2)
        raise BenchError(f"the standby did not replay {lsn} within {timeout:.0f} s:\n"
                         + self.psql("SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()"))

    def now(self):
        return self.psql("SELECT now()")

    def reads_since(self, since):
        """Server connections of the standby that ran a pgbench read since `since` (its clock)."""
        return int(self.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            f"AND datname = '{DATABASE}' AND application_name <> '{LAG_CHECK_APP}' "
            f"AND query LIKE '%pgbench_accounts%' AND query_start >= '{since}'::timestamptz"))


def replicas_router_yaml(causal_reads):
    return f"""routers:
  - type: replicas
    primary: primary
    replicas: [replica]
    causal_reads: {causal_reads}
    lag_check_interval: {LAG_CHECK_INTERVAL}
"""


class CausalPgroute(Pgroute):
    """pgroute with the bench's pool settings over `primary` (the bench's PostgreSQL) and `replica` (the
    standby), routed by one `replicas` router with the given `causal_reads`."""

    def __init__(self, work_dir, binary, pg_port, replica_port, pool_size, max_clients, threads, causal_reads,
                 name):
        super().__init__(work_dir, binary, pg_port, pool_size, max_clients, threads, True, name)
        self.replica_port, self.causal_reads = replica_port, causal_reads

    def description(self):
        return f"replicas router, causal_reads {self.causal_reads}"

    def backends_yaml(self):
        url = lambda port: f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"  # noqa: E731
        return f"""default: primary
backends:
  primary:
    url: "{url(self.pg_port)}"
  replica:
    url: "{url(self.replica_port)}"
"""

    def routers_yaml(self):
        return replicas_router_yaml(self.causal_reads)
