"""A throwaway PostgreSQL 15 cluster: initdb in a temp dir, run as `postgres`, stopped on cleanup."""
import os

from .procs import BenchError, ProcStat, chown_to_pg, log, run

PG_BIN = "/usr/lib/postgresql/15/bin"


class Cluster:
    def __init__(self, base_dir, port, max_connections, cleanup, extra_settings=None):
        self.data = os.path.join(base_dir, "pgdata")
        self.socket_dir = base_dir
        self.port = port
        self.max_connections = max_connections
        self.extra_settings = extra_settings or {}   # e.g. what a streaming standby needs (--replicas)
        self._cleanup = cleanup

    def start(self):
        run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
             "--auth-host=trust", "-E", "UTF8", "--locale=C", "--no-sync"], as_pg=True)
        settings = {
            "port": self.port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": self.max_connections,
            "shared_buffers": "'256MB'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
            **self.extra_settings,
        }
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")
        log_file = os.path.join(self.socket_dir, "postgres.log")
        run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", log_file, "-w", "-t", "60", "start"],
            as_pg=True)
        self._cleanup.add("stop PostgreSQL", self.stop)
        log(f"PostgreSQL 15 on 127.0.0.1:{self.port} (max_connections {self.max_connections})")

    def stop(self):
        run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop"],
            as_pg=True, check=False)

    def postmaster(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return ProcStat(int(f.readline()))

    def psql(self, sql, db="postgres", user="postgres"):
        """Runs SQL over the Unix socket; returns unaligned, tuples-only output."""
        p = run([f"{PG_BIN}/psql", "-h", self.socket_dir, "-p", str(self.port), "-U", user, "-d", db,
                 "-qAtX", "-v", "ON_ERROR_STOP=1"], as_pg=True, input=sql, check=False)
        if p.returncode != 0:
            raise BenchError(f"psql on {db} failed: {p.stderr.strip()}\nSQL: {sql.strip()[:300]}")
        return p.stdout.strip()

    def make_dir_for_pg(self, path):
        os.makedirs(path, exist_ok=True)
        chown_to_pg(path)
        return path
