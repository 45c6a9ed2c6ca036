"""A profile-guided pgroute build (tools/pgo, tools/bench --pgo).

GCC builds pgroute with counters (PGROUTE_PGO=GENERATE), the counting binary serves a short pgbench
training run on a temporary PostgreSQL cluster (the benchmark's databases and routing chain: routed with
client TLS, and plain without), and the same build directory is then built again with the counts
(PGROUTE_PGO=USE): hot code laid out together, rarely run code apart. The training covers what a
transaction pooler does most (simple, extended and prepared protocol, reads and TPC-B-like writes);
code it never ran keeps the ordinary optimization.
"""
import os
import shutil
import subprocess
import tempfile

from . import databases, setup, tls
from .pgbench import run_pgbench
from .poolers import Pgroute
from .postgres import Cluster
from .procs import BenchError, Cleanup, chown_to_pg, free_port, log

# (mode, clients): pgbench modes as tools/bench names them.
TRAINING = [("simple", 8), ("extended", 8), ("prepared", 8),
            ("tpcb-simple", 4), ("tpcb-extended", 4), ("tpcb-prepared", 4)]
TRAINING_SECONDS = 3


def _train(binary, work):
    """Runs the training workload through `binary`; its counts are written when it exits."""
    cleanup = Cleanup()
    try:
        certs = tls.Certificates(work).make()
        cluster = Cluster(work, free_port(), 100, cleanup)
        cluster.start()
        databases.create(cluster, 1)
        for routed, certificates in ((True, certs), (False, None)):
            name = "pgo-routed" if routed else "pgo-plain"
            proxy = Pgroute(work, binary, cluster.port, 8, 100, 0, routed, name, tls=certificates)
            proxy.start(cleanup)
            sslmode = "require" if certificates else "disable"
            for mode, clients in TRAINING:
                r = run_pgbench(proxy.port, mode, clients, TRAINING_SECONDS, sslmode=sslmode, log_parent=work)
                if r["error"]:
                    raise BenchError(f"PGO training, {name} {mode}: {r['error']}")
                log(f"PGO training: {name} {mode} c={clients}: {r['transactions']} transactions")
            # A clean exit writes the counts (SIGTERM: pgroute drains and returns from main).
            proxy.proc.terminate()
            try:
                code = proxy.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise BenchError(f"PGO training: {name} did not exit within 60 s of SIGTERM") from None
            if code != 0:
                raise BenchError(f"PGO training: {name} exited with {code}:\n{proxy.log_tail()}")
    finally:
        cleanup.run()


def build_pgo(repo, build_dir, jobs):
    """Profile-guided Release build of pgroute into build_dir (its profile in build_dir/pgo-profile)."""
    build_dir = os.path.abspath(build_dir)
    profile = os.path.join(build_dir, "pgo-profile")
    shutil.rmtree(profile, ignore_errors=True)  # counts of another build would not match this one
    binary = setup.build_release(repo, build_dir, jobs, "GENERATE", profile)  # with counters
    work = tempfile.mkdtemp(prefix="pgroute-pgo-")
    chown_to_pg(work)
    try:
        _train(binary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not any(name.endswith(".gcda") for name in os.listdir(profile) if os.path.isfile(os.path.join(profile, name))):
        raise BenchError(f"PGO training wrote no profile into {profile}")
    return setup.build_release(repo, build_dir, jobs, "USE", profile)  # from the counts
