"""tools/bench: the whole benchmark in one run (see docs/benchmarks.md)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import databases, replicas, report, setup, tls
from .idle import run_idle_test
from .pgbench import MODES, TPCB_RESET_SQL, mode_label, parse_mode, run_pgbench, writes
from .pgo import build_pgo
from .profile import perf_binary, profile_markdown, run_profiles
from .poolers import DATABASE, FLOOR_SOURCES, USER, FloorRelay, HAProxy, PgBouncer, Pgroute
from .postgres import Cluster
from .procs import BenchError, Cleanup, chown_to_pg, free_port, log, raise_nofile
from .summary import TARGETS, summarize

QUICK = {"rounds": 1, "duration": 5, "clients": "16,64", "modes": "simple,prepared",
         "idle_connections": 2000, "many_clients": 1000}
FULL = {"rounds": 3, "duration": 15, "clients": "4,16,64,256", "modes": "simple,extended,prepared",
        "idle_connections": 10000, "many_clients": 1000}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tools/bench", description=(
        "pgbench (-S, or the TPC-B-like script) against direct PostgreSQL, HAProxy, PgBouncer and pgroute "
        "(routing on and off), "
        "plus idle-connection and many-clients tests; writes results/bench-<timestamp>/."))
    p.add_argument("--quick", action="store_true", help="smoke test: 1 round of 5 s runs, fewer cases")
    p.add_argument("--duration", type=int, help="seconds per pgbench run (15; quick 5)")
    p.add_argument("--rounds", type=int, help="rounds over all cases (3; quick 1)")
    p.add_argument("--clients", help="client counts (4,16,64,256; quick 16,64)")
    p.add_argument("--modes", help=f"of {','.join(MODES)}: simple/extended/prepared run pgbench -S with that -M, "
                                   "tpcb-* pgbench's default TPC-B-like script (writes), update-* its "
                                   "simple-update script (-N, writes) "
                                   "(default simple,extended,prepared; quick simple,prepared)")
    p.add_argument("--only", help=f"targets to run, of {','.join(TARGETS)} (default: all)")
    p.add_argument("--scale", type=int, default=10, help="pgbench -i scale (10)")
    p.add_argument("--pool-size", type=int, default=20, help="server connections per pool (20)")
    p.add_argument("--pgroute-threads", type=int, default=0, help="pgroute `threads:` (0 = half the cores)")
    p.add_argument("--jobs", type=int, default=2, help="pgbench -j (2)")
    p.add_argument("--idle-connections", type=int, help="idle-connection test size (10000; quick 2000; 0 = skip)")
    p.add_argument("--many-clients", type=int, help="many-clients test size (1000; 0 = skip)")
    p.add_argument("--skip-build", action="store_true", help="use build-bench/pgroute as it is")
    p.add_argument("--pgo", action="store_true",
                   help="build pgroute profile-guided (tools/pgo: counters, a pgbench training run, a second build) "
                        "instead of the plain Release build")
    p.add_argument("--skip-install", action="store_true", help="do not run tools/setup / apt-get")
    p.add_argument("--out", help="results folder (default results/bench-<timestamp>)")
    p.add_argument("--baseline", metavar="BINARY",
                   help="another pgroute binary (e.g. a build of the previous commit) run with the routed "
                        "configuration as target pgroute-baseline, alternated with the others: before/after "
                        "figures for a change from one run")
    p.add_argument("--tls", action="store_true",
                   help="client TLS on the poolers: PgBouncer (client_tls_sslmode=require) and pgroute (tls: mode "
                        "require) with one certificate made for the run, pgbench with sslmode=require through them; "
                        "direct and haproxy stay plaintext (PostgreSQL has ssl off); the many-clients and idle tests "
                        "connect with TLS too")
    p.add_argument("--replicas", action="store_true",
                   help="also make a streaming standby (pg_basebackup -R) and run pgroute with a replicas router "
                        "over primary and standby, causal_reads off/tables/strict: targets "
                        + ", ".join(replicas.CAUSAL_TARGETS) + " (issue 20)")
    p.add_argument("--profile", type=int, default=0, metavar="CLIENTS",
                   help="after the rounds, profile PgBouncer and pgroute-routed with perf during one pgbench -S "
                        "simple run at CLIENTS clients: profile.md in the results folder (0 = off)")
    a = p.parse_args(argv)
    base = QUICK if a.quick else FULL
    for key, value in base.items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    a.clients = [int(c) for c in str(a.clients).split(",") if c]
    a.modes = [m for m in str(a.modes).split(",") if m]
    for m in a.modes:
        try:
            parse_mode(m)
        except ValueError as e:
            p.error(str(e))
    a.targets = TARGETS if not a.only else [t for t in a.only.split(",") if t]
    for t in a.targets:
        if t not in TARGETS:
            p.error(f"unknown target {t!r} (known: {', '.join(TARGETS)})")
    if a.baseline:
        a.baseline = os.path.abspath(a.baseline)
        if not (os.path.isfile(a.baseline) and os.access(a.baseline, os.X_OK)):
            p.error(f"--baseline: {a.baseline} is not an executable file")
        if "pgroute-baseline" not in a.targets:
            p.error("--baseline: --only leaves out pgroute-baseline")
    elif a.only and "pgroute-baseline" in a.targets:
        p.error("target pgroute-baseline needs --baseline BINARY")
    a.targets = [t for t in a.targets if t != "pgroute-baseline" or a.baseline]
    if a.only and "floor-tls" in a.targets and not a.tls:
        p.error("target floor-tls needs --tls")
    a.targets = [t for t in a.targets if t != "floor-tls" or a.tls]
    causal = [t for t in a.targets if t in replicas.CAUSAL_TARGETS]
    if a.only and causal and not a.replicas:
        p.error(f"targets {', '.join(causal)} need --replicas")
    a.targets = [t for t in a.targets if t not in replicas.CAUSAL_TARGETS or a.replicas]
    if a.replicas and not [t for t in a.targets if t in replicas.CAUSAL_TARGETS]:
        p.error("--replicas: --only leaves out every pgroute-causal-* target")
    if a.pgo and a.skip_build:
        p.error("--pgo builds pgroute: leave out --skip-build (a profile-guided build-bench/pgroute is run as it is "
                "with --skip-build alone)")
    if a.profile < 0:
        p.error("--profile takes a client count (0 = off)")
    return a


class Bench:
    def __init__(self, args, repo):
        self.a, self.repo = args, repo
        self.cleanup = Cleanup()
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.out = args.out or os.path.join(repo, "results", f"bench-{self.stamp}")
        self.ports, self.procs = {}, {}   # target -> port; target -> Pooler
        self.skipped = {}                  # (target, mode or None) -> reason
        self.runs, self.many, self.idle, self.profiles = [], [], [], []
        self.routing, self.routing_ok = "not run", False
        self.tls = None            # tls.Certificates with --tls
        self.tls_checks = {}       # target -> what the TLS checks saw (--tls)
        self.standby = None        # replicas.Standby with --replicas
        self.replica_reads = {}    # target -> standby connections that served its reads in a check (--replicas)

    # ---- setup -------------------------------------------------------------------------------
    def start(self):
        a = self.a
        if not a.skip_install:
            setup.install_packages(self.repo, ["linux-perf"] if a.profile else [])
        if a.profile:
            perf_binary()  # fail now, not after the rounds
        build_dir = os.path.join(self.repo, "build-bench")
        if a.skip_build:
            self.binary = os.path.join(build_dir, "pgroute")
            if not os.access(self.binary, os.X_OK):
                raise BenchError(f"--skip-build: {self.binary} does not exist; run without --skip-build once")
        elif a.pgo:
            self.binary = build_pgo(self.repo, build_dir, max(1, min(2, os.cpu_count() or 1)))
        else:
            self.binary = setup.build_release(self.repo, build_dir, max(1, min(2, os.cpu_count() or 1)))
        nofile = raise_nofile(max(65536, a.idle_connections + a.many_clients + 4096))
        log(f"RLIMIT_NOFILE {nofile}")
        if nofile < a.idle_connections + 500:
            fit = max(0, nofile - 500)
            log(f"open-file limit {nofile} is too low for {a.idle_connections} idle connections: testing {fit} "
                "(raise `ulimit -Hn` for more)")
            a.idle_connections = fit
        self.work = tempfile.mkdtemp(prefix="pgroute-bench-")
        os.chmod(self.work, 0o755)
        chown_to_pg(self.work)   # initdb creates the data directory in it as `postgres`
        self.cleanup.add_dir(self.work)
        max_conn = max(a.clients) + 6 * a.pool_size + 50
        if a.tls:
            self.tls = tls.Certificates(self.work).make()
        self.cluster = Cluster(self.work, free_port(), max_conn, self.cleanup,
                               replicas.PRIMARY_SETTINGS if a.replicas else None)
        self.cluster.start()
        databases.create(self.cluster, a.scale)
        if a.replicas:
            self.standby = replicas.Standby(os.path.join(self.work, "replica"), self.cluster, self.cleanup)
            self.standby.start()
            self.standby.wait_replayed()
        self.ports["direct"] = self.cluster.port
        max_clients = max(a.many_clients, max(a.clients)) + 200
        for target in FLOOR_SOURCES:
            if target in a.targets:
                relay = FloorRelay(self.work, self.cluster.port, target, tls=self.tls if target == "floor-tls" else None)
                relay.start(self.cleanup)
                self._add(target, relay)
        if "haproxy" in a.targets:
            h = HAProxy(self.work, self.cluster.port, max_clients)
            h.start(self.cleanup)
            self._add("haproxy", h)
        if "pgbouncer" in a.targets:
            b = PgBouncer(self.work, self.cluster.port, a.pool_size, max_clients, tls=self.tls)
            b.start(self.cleanup)
            self._add("pgbouncer", b)
        for target, routed, binary in (("pgroute-routed", True, self.binary), ("pgroute-plain", False, self.binary),
                                       ("pgroute-baseline", True, a.baseline)):
            if target not in a.targets:
                continue
            proxy = Pgroute(self.work, binary, self.cluster.port, a.pool_size, max_clients,
                            a.pgroute_threads, routed, target, tls=self.tls)
            problem = proxy.check()
            if problem:
                # Until `routers:` is parsed (issue #4), pgroute rejects it as an unknown key.
                first = problem.splitlines()[0].split(" (known keys")[0].replace(proxy.config_file, "pgroute.yaml")
                self.skipped[(target, None)] = "config rejected by pgroute --check: " + first[-200:]
                log(f"{target}: n/a — pgroute --check rejects the config:\n{problem}")
                if target == "pgroute-routed":
                    self.routing = "n/a — " + self.skipped[(target, None)]
                continue
            proxy.start(self.cleanup)
            self._add(target, proxy)
            if target == "pgroute-routed":
                self.routing_ok, self.routing = databases.verify_routing(self.cluster, proxy.port,
                                                                         sslmode=self.sslmode(target))
                log(f"routing chain: {self.routing}")
                databases.scrub(self.cluster)
        for target, causal_reads in replicas.CAUSAL_TARGETS.items():
            if target not in a.targets:
                continue
            proxy = replicas.CausalPgroute(self.work, self.binary, self.cluster.port, self.standby.port, a.pool_size,
                                           max_clients, a.pgroute_threads, causal_reads, target)
            problem = proxy.check()
            if problem:
                self.skipped[(target, None)] = "config rejected by pgroute --check: " + problem.splitlines()[0][-200:]
                log(f"{target}: n/a — pgroute --check rejects the config:\n{problem}")
                continue
            proxy.start(self.cleanup)
            self._add(target, proxy)
        self.targets = [t for t in a.targets if t in self.ports]

    def check_replica_reads(self):
        """--replicas: a short pgbench -S through each causal target must reach the standby (with causal
        reads off at least: else the router is not routing reads and the figures say nothing)."""
        for target in [t for t in self.targets if t in replicas.CAUSAL_TARGETS]:
            since = self.standby.now()
            r = run_pgbench(self.ports[target], "simple", 4, 2, jobs=self.a.jobs, log_parent=self.work)
            if r["error"]:
                raise BenchError(f"{target}: pgbench -S: {r['error']}")
            n = self.standby.reads_since(since)
            self.replica_reads[target] = n
            log(f"{target}: {n} standby connection(s) served pgbench -S reads in a 2 s check")
            if n == 0 and replicas.CAUSAL_TARGETS[target] == "off":
                raise BenchError(f"{target}: no pgbench read reached the standby: the replicas router does not "
                                 f"route reads there\n{self.procs[target].log_tail()}")

    def _add(self, target, proxy):
        self.ports[target], self.procs[target] = proxy.port, proxy

    def sslmode(self, target):
        """libpq's sslmode for pgbench/psql against a target: require on the poolers in a --tls run."""
        return "require" if self.tls and target in tls.TLS_TARGETS else "disable"

    def check_tls(self):
        """--tls: each pooler refuses a plaintext login, psql negotiates TLS, and while pgbench runs every
        one of its connections shows TLS in the pooler's SHOW CLIENTS. A pooler that lets plaintext in or
        shows a pgbench connection without TLS stops the run: its figures would not be TLS figures."""
        if not self.tls:
            return
        clients = 16
        for target in [t for t in self.targets if t in tls.TLS_TARGETS]:
            proxy, port = self.procs[target], self.ports[target]
            check = {"plaintext": tls.plaintext_refusal(port), "negotiated": tls.conninfo(port)}
            load = {}
            t = threading.Thread(target=lambda: load.update(run=run_pgbench(
                port, "simple", clients, 3, jobs=self.a.jobs, log_parent=self.work, sslmode="require")))
            t.start()
            try:
                time.sleep(1.5)
                console = getattr(proxy, "console_db", None)   # floor-tls has none
                if console:
                    seen = tls.show_clients(port, console)
                else:
                    seen, check["clients"] = None, "no console to ask: the relay closes any connection that does not open with SSLRequest"
            except (BenchError, subprocess.SubprocessError) as e:
                seen, check["clients"] = None, f"not checked: {e}"
            finally:
                t.join()
            if seen is not None:
                ok, check["clients"] = tls.summarize_clients(seen, clients)
                if not ok:
                    raise BenchError(f"{target}: pgbench did not run over TLS: {check['clients']}")
            if load["run"]["error"]:
                raise BenchError(f"{target}: pgbench with sslmode=require: {load['run']['error']}")
            self.tls_checks[target] = check
            log(f"{target} TLS: negotiated {check['negotiated']}; {check['clients']}; plaintext login refused "
                f"({check['plaintext']})")

    def probe_pgbouncer_prepared(self):
        """PgBouncer before 1.21 cannot run -M prepared in transaction mode: try it, mark n/a."""
        if "pgbouncer" not in self.ports:
            return
        for mode in [m for m in self.a.modes if parse_mode(m)[1] == "prepared"]:
            self.reset_writes(mode)
            r = run_pgbench(self.ports["pgbouncer"], mode, 2 * self.a.pool_size, 3, jobs=self.a.jobs,
                            log_parent=self.work, sslmode=self.sslmode("pgbouncer"))
            if r["error"]:
                reason = f"{PgBouncer.version()} cannot (transaction mode): {r['error'][:120]}"
                self.skipped[("pgbouncer", mode)] = reason
                log(f"pgbouncer {mode_label(mode)}: n/a — {reason}")

    def reset_writes(self, mode):
        """Before a run of a writing script: pgbench's own pre-run cleanup (it runs with -n here), on
        PostgreSQL directly, so that no run inherits the previous one's history rows and dead tuples."""
        if writes(mode):
            self.cluster.psql("SET lock_timeout = '30s'; " + TPCB_RESET_SQL, db=DATABASE, user=USER)

    # ---- runs --------------------------------------------------------------------------------
    def one(self, target, mode, clients, duration):
        proxy = self.procs.get(target)
        if proxy is not None and proxy.proc.poll() is not None:
            raise BenchError(f"{target} exited ({proxy.proc.returncode}):\n{proxy.log_tail()}")
        self.reset_writes(mode)
        return run_pgbench(self.ports[target], mode, clients, duration,
                           proxy.stat() if proxy else None, jobs=self.a.jobs, log_parent=self.work,
                           sslmode=self.sslmode(target))

    def rounds(self):
        a = self.a
        log("warm-up")
        for t in self.targets:
            self.one(t, "simple", 16, 2)
        total = a.rounds * len(a.modes) * len(a.clients) * len(self.targets)
        done = 0
        for rnd in range(1, a.rounds + 1):
            # Targets alternate innermost, and who goes first rotates per round: drift hits all alike.
            shift = (rnd - 1) % len(self.targets)
            order = self.targets[shift:] + self.targets[:shift]
            for mode in a.modes:
                for clients in a.clients:
                    for target in order:
                        if (target, mode) in self.skipped:
                            continue
                        done += 1
                        r = self.one(target, mode, clients, a.duration)
                        r.update(target=target, round=rnd)
                        self.runs.append(r)
                        cpu = (f", CPU {r['cpu_s'] / r['transactions'] * 1e6:.1f} µs/tx"
                               if r.get("cpu_s") is not None and r["transactions"] else "")
                        log(f"[{done}/{total}] round {rnd} {mode:13} c={clients:<4} {target:16} "
                            f"tps {r['tps'] or 0:9.0f}{cpu}{'  ERROR ' + r['error'] if r['error'] else ''}")

    def many_clients(self):
        a = self.a
        if a.many_clients <= 0:
            return
        targets = [t for t in ("pgbouncer", "pgroute-routed", "pgroute-plain") if t in self.procs]
        for target in targets:
            r = self.one(target, "simple", a.many_clients, a.duration)
            r.update(target=target, pool_size=a.pool_size)
            self.many.append(r)
            log(f"many clients: {target} c={a.many_clients} tps {r['tps'] or 0:.0f} {r['error'] or 'no errors'}")

    def idle_connections(self):
        a = self.a
        if a.idle_connections <= 0:
            return
        # Fresh proxies, so that RSS is not what the benchmark runs left behind; with --tls, TLS clients.
        fresh = []
        if "pgbouncer" in self.procs:
            fresh.append(PgBouncer(self.work, self.cluster.port, a.pool_size, a.idle_connections + 200,
                                   name="pgbouncer-idle", tls=self.tls))
        for target in ("pgroute-routed", "pgroute-plain"):
            if target in self.procs:
                p = self.procs[target]
                fresh.append(Pgroute(self.work, self.binary, self.cluster.port, a.pool_size,
                                     a.idle_connections + 200, a.pgroute_threads, p.routed, target + "-idle",
                                     tls=self.tls))
                break   # one pgroute is enough: routed if it runs, else plain
        for proxy in fresh:
            proxy.start(self.cleanup)
            res = run_idle_test(proxy.port, a.idle_connections, proxy.stat(), tls=self.tls is not None)
            res["target"] = proxy.name
            self.idle.append(res)
            log(f"idle: {proxy.name}: {res['rss_per_conn']:.0f} B RSS per connection, "
                f"{res['answered']}/{res['connections']} answered SELECT 1")
            proxy.proc.terminate()
            try:
                proxy.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proxy.proc.kill()

    # ---- output ------------------------------------------------------------------------------
    def build_kind(self):
        """How build-bench/pgroute was built, from its CMake cache (--skip-build runs what is there)."""
        kinds = {"USE": "profile-guided Release build, tools/pgo",
                 "GENERATE": "Release build with profile counters (PGROUTE_PGO=GENERATE): slower than a user's"}
        try:
            with open(os.path.join(os.path.dirname(self.binary), "CMakeCache.txt")) as f:
                pgo = next((line.strip().split("=", 1)[1] for line in f if line.startswith("PGROUTE_PGO:")), "OFF")
        except OSError:
            pgo = "OFF"
        return kinds.get(pgo, "Release build")

    def write(self):
        a = self.a
        os.makedirs(self.out, exist_ok=True)
        summary = summarize(self.runs, self.skipped)
        versions = [PgBouncer.version(), *([HAProxy.version()] if "haproxy" in self.procs else []),
                    "PostgreSQL " + self.cluster.psql("SHOW server_version"),
                    f"pgroute {setup.git_revision(self.repo)} ({self.build_kind()})"]
        if a.baseline:
            versions.append(f"pgroute-baseline {a.baseline}")
        meta = {
            "timestamp": self.stamp, "machine": setup.describe_machine(), "versions": ", ".join(versions),
            "settings": (f"{a.rounds} round(s) × {a.duration} s per run; clients {a.clients}; modes {a.modes}; "
                         f"pgbench -j {a.jobs}, scale {a.scale}; pool size {a.pool_size} (both poolers, "
                         f"transaction mode, md5 client auth); pgroute threads {a.pgroute_threads or 'automatic (half the cores)'}; "
                         + ("HAProxy TCP mode, nbthread 1, no pooling (one server connection per client); "
                            if "haproxy" in self.targets else "")
                         + ("floor relays (tools/bench_lib/floor_relay*.cpp, g++ -O2) one thread, no pooling; "
                            if any(t in self.targets for t in FLOOR_SOURCES) else "")
                         + (f"client TLS on the poolers ({self.tls.describe()}; pgbench sslmode=require), "
                            "direct and HAProxy plaintext; " if self.tls else "")
                         + (f"--replicas: one streaming standby (pg_basebackup -R, hot standby) of the "
                            f"PostgreSQL cluster, pgroute-causal-* route over both with a replicas router "
                            f"(lag_check_interval {replicas.LAG_CHECK_INTERVAL}, causal_wait default); "
                            if self.standby else "") +
                         "pgbench, proxies and PostgreSQL share this machine"),
            "routing": self.routing, "routing_ok": self.routing_ok, "targets": a.targets,
            "tls": {"certificate": self.tls.describe(), "checks": self.tls_checks} if self.tls else None,
            "replica_reads": self.replica_reads if self.standby else None,
            "caveat": ("2 shared cores; other work (compilers) may run at the same time: treat single runs "
                       "as noisy and compare ratios within one run" + (" — --quick smoke run" if a.quick else "")),
        }
        md = report.write_report(self.out, meta, summary, {k: v for k, v in self.skipped.items()},
                                 self.many, self.idle, a.modes, a.clients)
        if self.profiles:
            with open(os.path.join(self.out, "profile.md"), "w") as f:
                f.write(profile_markdown(self.profiles))
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump({"meta": meta, "runs": self.runs, "many": self.many, "idle": self.idle,
                       "profiles": self.profiles,
                       "skipped": {f"{t}/{m or '*'}": r for (t, m), r in self.skipped.items()}}, f, indent=1)
        self.save_logs()
        return md

    def save_logs(self):
        logs = os.path.join(self.out, "logs")
        os.makedirs(logs, exist_ok=True)
        for root, _dirs, files in os.walk(self.work):
            for name in files:
                if name.endswith(".log"):
                    src = os.path.join(root, name)
                    dst = os.path.join(logs, os.path.relpath(src, self.work).replace(os.sep, "_"))
                    with open(src, "rb") as f:
                        f.seek(max(0, os.path.getsize(src) - 200_000))
                        data = f.read()
                    with open(dst, "wb") as f:
                        f.write(data)


def main(argv, repo):
    args = parse_args(argv)
    bench = Bench(args, repo)
    bench.cleanup.install_signal_handlers()
    try:
        bench.start()
        bench.check_tls()
        bench.check_replica_reads()
        bench.probe_pgbouncer_prepared()
        bench.rounds()
        if args.profile > 0:
            bench.profiles = run_profiles(bench, args.profile)
        bench.many_clients()
        bench.idle_connections()
        md = bench.write()
        print(open(md).read())
        log(f"results in {bench.out}")
        return 0
    except BenchError as e:
        print(f"tools/bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tools/bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if bench.runs and not os.path.exists(os.path.join(bench.out, "results.md")):
            try:
                bench.write()
                log(f"partial results in {bench.out}")
            except Exception as e:  # noqa: BLE001 — best effort on the way out
                print(f"tools/bench: could not write partial results: {e}", file=sys.stderr)
        bench.cleanup.run()
