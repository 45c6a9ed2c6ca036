"""One pgbench run against a port, with proxy CPU/RSS sampled around it and the
per-transaction log reduced to average and p99 latency.

A benchmark mode names the script and the protocol: `simple`, `extended`, `prepared` run the
select-only script (`-S`, one SELECT per transaction); `tpcb-simple`, `tpcb-extended`, `tpcb-prepared`
run pgbench's default TPC-B-like script (BEGIN, three UPDATEs, a SELECT, an INSERT, END: writes);
`update-simple`, `update-extended`, `update-prepared` its simple-update script (`-N`: BEGIN, one UPDATE,
a SELECT, an INSERT, END: one written table less contended than TPC-B's branches).
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile

from .poolers import DATABASE, PASSWORD, USER

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"

PROTOCOLS = ("simple", "extended", "prepared")
# script -> (builtin name for `pgbench -b`, how the report names it)
SCRIPTS = {"select": ("select-only", "-S"), "tpcb": ("tpcb-like", "TPC-B-like"),
           "update": ("simple-update", "-N")}
MODES = [*PROTOCOLS, *(f"{script}-{p}" for script in ("tpcb", "update") for p in PROTOCOLS)]
# What pgbench itself does before a run unless -n (it runs with -n here, through proxies): the TPC-B
# and simple-update scripts append to pgbench_history and updates the small tables, so each such run starts from this.
TPCB_RESET_SQL = "TRUNCATE pgbench_history; VACUUM pgbench_branches, pgbench_tellers"


def parse_mode(mode):
    """'simple' -> ('select', 'simple'); 'tpcb-extended' -> ('tpcb', 'extended'); 'update-simple' ->
    ('update', 'simple'). ValueError if unknown."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
    script, _, protocol = mode.rpartition("-")
    return script or "select", protocol


def mode_args(mode):
    """The pgbench arguments that choose the script and protocol of a mode."""
    script, protocol = parse_mode(mode)
    return ["-b", SCRIPTS[script][0], "-M", protocol]


def mode_label(mode):
    """'tpcb-simple' -> 'TPC-B-like -M simple', 'simple' -> '-S -M simple', 'update-simple' -> '-N -M simple'
    (report headings)."""
    script, protocol = parse_mode(mode)
    return f"{SCRIPTS[script][1]} -M {protocol}"


def writes(mode):
    return parse_mode(mode)[0] != "select"


def client_env(port, sslmode="disable"):
    """libpq's environment for pgbench/psql as the benchmark user; sslmode "require" for --tls's poolers."""
    env = dict(os.environ)
    env.update(PGHOST="127.0.0.1", PGPORT=str(port), PGUSER=USER, PGPASSWORD=PASSWORD,
               PGDATABASE=DATABASE, PGSSLMODE=sslmode)
    env.pop("PGSERVICE", None)
    return env


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def read_latencies_us(prefix):
    """Latencies (µs) from pgbench --log files `prefix.PID[.THREAD]`; failed/skipped rows dropped."""
    out = []
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    out.append(int(parts[2]))
    out.sort()
    return out


def _field(pattern, text, cast=float):
    m = re.search(pattern, text, re.MULTILINE)
    return cast(m.group(1)) if m else None


def run_pgbench(port, mode, clients, duration, proxy_stat=None, jobs=2, extra_args=(), log_parent=None,
                sslmode="disable"):
    """Returns a dict: tps, lat_avg_ms, p99_ms, transactions, failed, error (None when clean),
    cpu_s and rss (when proxy_stat is given)."""
    jobs = max(1, min(jobs, clients))
    log_dir = tempfile.mkdtemp(prefix="pgbench-log-", dir=log_parent)
    prefix = os.path.join(log_dir, "tx")
    cmd = [PGBENCH, "-n", *mode_args(mode), "-c", str(clients), "-j", str(jobs), "-T", str(duration),
           "--log", f"--log-prefix={prefix}", *extra_args]
    try:
        cpu_before = proxy_stat.cpu_seconds() if proxy_stat else None
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=client_env(port, sslmode),
                               timeout=duration + 180, start_new_session=True)
            stdout, stderr, rc = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            stderr, rc = "pgbench timed out", -1
        result = {"mode": mode, "clients": clients, "duration": duration}
        if proxy_stat:
            result["cpu_s"] = proxy_stat.cpu_seconds() - cpu_before
            result["rss"] = proxy_stat.rss_bytes()
        latencies = read_latencies_us(prefix)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    result["transactions"] = _field(r"^number of transactions actually processed: (\d+)", stdout, int) or 0
    result["failed"] = _field(r"^number of failed transactions: (\d+)", stdout, int) or 0
    result["tps"] = _field(r"^tps = ([\d.]+)", stdout)
    result["lat_avg_ms"] = (sum(latencies) / len(latencies) / 1000.0) if latencies else \
        _field(r"^latency average = ([\d.]+) ms", stdout)
    p99 = percentile(latencies, 99)
    result["p99_ms"] = p99 / 1000.0 if p99 is not None else None
    aborted = [l for l in stderr.splitlines() if "aborted" in l or "error" in l.lower() or "fatal" in l.lower()]
    if rc == 0 and not result["transactions"]:
        result["error"] = f"no transaction completed in {duration} s (clients still connecting? raise --duration)"
    elif rc != 0 or result["failed"] or result["tps"] is None:
        first = aborted[0] if aborted else (stderr.strip().splitlines() or [f"exit status {rc}"])[0]
        first = re.sub(r"^(pgbench: error: )+", "", first.strip())
        result["error"] = f"pgbench exit {rc}: {first[:300]}"
    else:
        result["error"] = None
    return result
