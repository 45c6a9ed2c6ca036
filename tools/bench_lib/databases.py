"""Databases and tables of the benchmark, and the check that the routed pgroute really routes.

One cluster holds every alias's database: `bench` (pgbench tables; alias `default`),
`bench_users` (alias `users`, model router) and `bench_shard_0/1` (shard router). The routers'
tables also exist in `bench`, so a row that was not routed is found there.
"""
import subprocess

from .pgbench import PGBENCH, client_env
from .poolers import DATABASE, MODEL_ALIAS, ROUTED_DATABASES, SHARD_KEY, SHARD_TABLE, USER
from .procs import BenchError, log

USERS_TABLE = "bench_users_accounts"   # matches the model router's pattern
PSQL = "/usr/lib/postgresql/15/bin/psql"


def create(cluster, scale):
    cluster.psql(f"CREATE ROLE {USER} LOGIN")
    for db in [DATABASE, *ROUTED_DATABASES.values()]:
        cluster.psql(f"CREATE DATABASE {db} OWNER {USER}")
    for db in [DATABASE, *ROUTED_DATABASES.values()]:
        cluster.psql(f"CREATE TABLE {SHARD_TABLE} ({SHARD_KEY} bigint NOT NULL, note text);"
                     f"CREATE TABLE {USERS_TABLE} (id int PRIMARY KEY, name text);", db=db, user=USER)
    # PostgreSQL's own hash placement, to check the shard router against.
    cluster.psql(f"CREATE TABLE hash_probe ({SHARD_KEY} bigint) PARTITION BY HASH ({SHARD_KEY})",
                 db=ROUTED_DATABASES["shard_0"], user=USER)
    log(f"pgbench -i -s {scale}")
    p = subprocess.run([PGBENCH, "-i", "-s", str(scale), "-q"], capture_output=True, text=True,
                       env=client_env(cluster.port))
    if p.returncode != 0:
        raise BenchError(f"pgbench -i failed:\n{p.stderr}")
    cluster.psql("VACUUM ANALYZE", db=DATABASE, user=USER)


def _through_proxy(port, sql, sslmode):
    p = subprocess.run([PSQL, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True,
                       text=True, env=client_env(port, sslmode), timeout=30)
    return p.returncode, (p.stderr or p.stdout).strip()


def verify_routing(cluster, proxy_port, keys=range(1, 9), sslmode="disable"):
    """Writes through the routed proxy and looks where rows landed. Returns (ok, description)."""
    problems = []
    for k in keys:
        rc, out = _through_proxy(proxy_port, f"INSERT INTO {SHARD_TABLE} ({SHARD_KEY}, note) VALUES ({k}, 'bench')",
                                 sslmode)
        if rc != 0:
            problems.append(f"INSERT key {k}: {out}")
    rc, out = _through_proxy(proxy_port, f"INSERT INTO {USERS_TABLE} (id, name) VALUES (1, 'bench')", sslmode)
    if rc != 0:
        problems.append(f"INSERT into {USERS_TABLE}: {out}")
    if problems:
        return False, "writes through the proxy failed: " + "; ".join(problems[:3])

    def rows(db, sql):
        return [line for line in cluster.psql(sql, db=db, user=USER).splitlines() if line]

    shard0 = ROUTED_DATABASES["shard_0"]
    misplaced = []
    for k in keys:
        in_0 = cluster.psql(f"SELECT satisfies_hash_partition('hash_probe'::regclass, 2, 0, {k}::bigint)",
                            db=shard0, user=USER) == "t"
        expected = "shard_0" if in_0 else "shard_1"
        for alias, db in [("default", DATABASE), ("shard_0", shard0), ("shard_1", ROUTED_DATABASES["shard_1"])]:
            found = len(rows(db, f"SELECT 1 FROM {SHARD_TABLE} WHERE {SHARD_KEY} = {k}"))
            want = 1 if alias == expected else 0
            if found != want:
                misplaced.append(f"key {k}: {found} row(s) on {alias}, expected {want} (it belongs on {expected})")
    users_db = ROUTED_DATABASES[MODEL_ALIAS]
    if len(rows(users_db, f"SELECT 1 FROM {USERS_TABLE}")) != 1 or rows(DATABASE, f"SELECT 1 FROM {USERS_TABLE}"):
        misplaced.append(f"{USERS_TABLE} row not (only) on alias {MODEL_ALIAS}")
    if misplaced:
        return False, "rows misplaced — the chain is not consulted by this build? " + "; ".join(misplaced[:3])
    return True, (f"verified: {len(list(keys))} {SHARD_TABLE} rows on the shard PostgreSQL's hash partitioning "
                  f"picks, {USERS_TABLE} on `{MODEL_ALIAS}`")


def scrub(cluster):
    """Removes verification rows so every run reads the same data."""
    for db in [DATABASE, *ROUTED_DATABASES.values()]:
        cluster.psql(f"TRUNCATE {SHARD_TABLE}, {USERS_TABLE}", db=db, user=USER)
