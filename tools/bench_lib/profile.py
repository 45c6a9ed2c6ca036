"""--profile: where a proxy's CPU goes during one pgbench -S case, from `perf record` call graphs.

For each profiled proxy: the share of its samples in user space (the rest is the kernel: loopback TCP,
sleeping and waking), and the functions whose stacks hold the most user-space samples (inclusive).
Figures are shares of the proxy's own samples; compare proxies by their CPU per transaction in the main
table, and use this to see what a change should aim at.
"""
import collections
import os
import re
import shutil
import subprocess
import threading

from .pgbench import run_pgbench
from .procs import BenchError, log

FRAME = re.compile(r"\s*[0-9a-f]+\s+(.*)\s+\((.*)\)$")
TOP = 40


def perf_binary():
    perf = shutil.which("perf")
    if not perf:
        raise BenchError("--profile needs perf (Debian package linux-perf)")
    return perf


def _stacks(script_text):
    """perf script -F ip,sym,dso output -> list of stacks, leaf first, as (symbol, dso)."""
    stacks, cur = [], []
    for line in script_text.splitlines():
        if not line.strip():
            if cur:
                stacks.append(cur)
                cur = []
            continue
        m = FRAME.match(line)
        if m:
            cur.append((m.group(1), m.group(2)))
    if cur:
        stacks.append(cur)
    return stacks


def _short(symbol):
    # Template arguments make Asio's names unreadable and split one function into many rows.
    while True:
        shorter = re.sub(r"<[^<>]*>", "", symbol)
        if shorter == symbol:
            return symbol[:120]
        symbol = shorter


def summarize_stacks(stacks):
    """(user share, [(symbol, user-leaf inclusive share, inclusive share)]) of the samples."""
    n = len(stacks)
    if n == 0:
        return 0.0, []
    user = 0
    incl, user_incl = collections.Counter(), collections.Counter()
    for s in stacks:
        names = {_short(sym) for sym, _dso in s}
        incl.update(names)
        if "kernel" not in s[0][1]:  # the innermost frame decides
            user += 1
            user_incl.update(names)
    # Frames every sample has (thread start, the event loop) say nothing: keep those below 95%.
    rows = [(name, count / n, incl[name] / n) for name, count in user_incl.most_common()
            if incl[name] / n < 0.95][:TOP]
    return user / n, rows


def profile_case(proxy, port, clients, duration, jobs, work, sslmode="disable"):
    """Runs pgbench at `clients` against `port` while perf samples `proxy` with call graphs (with them,
    `perf script` ends every sample with a blank line, which _stacks relies on); returns the summary."""
    perf = perf_binary()
    data = os.path.join(work, f"perf-{proxy.name}.data")
    seconds = max(2, duration - 2)
    cmd = [perf, "record", "-F", "999", "--call-graph", "dwarf,16384", "-o", data, "-p", str(proxy.proc.pid),
           "--", "sleep", str(seconds)]
    result = {}

    def load():
        try:
            result["run"] = run_pgbench(port, "simple", clients, duration, proxy.stat(), jobs=jobs,
                                        log_parent=work, sslmode=sslmode)
        except Exception as e:  # noqa: BLE001 — reported with the profile, not lost in the thread
            result["failure"] = f"pgbench: {e}"

    t = threading.Thread(target=load)
    t.start()
    try:
        rec = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        t.join()
    try:
        if "failure" in result:
            raise BenchError(result["failure"])
        if rec.returncode != 0:
            raise BenchError(f"perf record failed: {(rec.stderr or rec.stdout).strip()[-500:]}")
        script = subprocess.run([perf, "script", "-i", data, "-F", "ip,sym,dso"], capture_output=True,
                                text=True, timeout=600)
        if script.returncode != 0:
            raise BenchError(f"perf script failed: {script.stderr.strip()[-500:]}")
    finally:
        if os.path.exists(data):
            os.unlink(data)
    user_share, rows = summarize_stacks(_stacks(script.stdout))
    return {"target": proxy.name, "clients": clients, "user_share": user_share, "rows": rows,
            "tps": result["run"]["tps"], "error": result["run"]["error"]}


def profile_markdown(profiles):
    md = ["# Where the proxies' CPU goes", "",
          "`perf record -F 999 --call-graph dwarf` on each proxy process during one `pgbench -S -M simple` run "
          "(perf shares the cores: tps is lower than in the main table). User space: samples whose innermost "
          "frame is not the kernel's.", ""]
    for p in profiles:
        if p["user_share"] is None:
            md += [f"## {p['target']}, {p['clients']} clients: {p['error']}", ""]
            continue
        md.append(f"## {p['target']}, {p['clients']} clients: {p['user_share']:.1%} of samples in user space "
                  f"(tps {p['tps'] or 0:.0f} while sampled{', ' + p['error'] if p['error'] else ''})")
        md.append("")
        if p["rows"]:
            md += ["| function (template arguments dropped) | user-space samples under it | all samples under it |",
                   "|---|---:|---:|"]
            md += [f"| `{name}` | {u:.1%} | {a:.1%} |" for name, u, a in p["rows"]]
            md.append("")
    return "\n".join(md)


def run_profiles(bench, clients):
    """Profiles PgBouncer and pgroute-routed at `clients`. A failure (perf not permitted, say) is
    reported in profile.md; the rest of the benchmark goes on."""
    a, out = bench.a, []
    for target in ("pgbouncer", "pgroute-routed"):
        proxy = bench.procs.get(target)
        if proxy is None:
            continue
        log(f"profile: {target} at {clients} clients")
        try:
            out.append(profile_case(proxy, bench.ports[target], clients, max(a.duration, 6), a.jobs, bench.work,
                                    bench.sslmode(target)))
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            log(f"profile: {target}: {e}")
            out.append({"target": target, "clients": clients, "user_share": None, "rows": [], "tps": None,
                        "error": f"not profiled: {e}"})
    return out
