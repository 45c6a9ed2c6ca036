"""Markdown report and PNG chart of a benchmark run."""
import os

from .pgbench import MODES, mode_label, parse_mode, writes
from .summary import CAUSAL, PROXIES, TARGETS, baseline_cost, causal_cost, routing_cost
from .tls import TLS_TARGETS


def _f(value, fmt="{:.0f}", none="–"):
    return none if value is None else fmt.format(value)


def _mib(b):
    return None if b is None else b / 2**20


def _target_note(target, clients, tls):
    notes = []
    # HAProxy forwards bytes only: each client is a PostgreSQL connection of its own, as with direct.
    if target in ("haproxy", "floor", "floor-uring", "floor-tls"):
        notes.append(f"no pooling: {clients} server connections")
    if tls:
        notes.append("client TLS" if target in TLS_TARGETS else "plaintext")
    return "; ".join(notes)


def case_table(summary, skipped, modes, clients_list, targets, tls=False):
    lines = ["| mode | clients | target | tps (median) | lat avg ms | lat p99 ms | added lat µs | "
             "× PgBouncer | × direct | proxy CPU s/10k tx | proxy µs/tx | CPU/tx × PgBouncer | proxy RSS MiB | "
             "runs ok | notes |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for mode in modes:
        for clients in clients_list:
            for target in targets:
                f = summary.get((mode, clients, target))
                if f is None:
                    reason = skipped.get((target, mode)) or skipped.get((target, None)) or "not run"
                    lines.append(f"| {mode} | {clients} | {target} | n/a |  |  |  |  |  |  |  |  |  |  | {reason} |")
                    continue
                cpu = f["cpu_s_per_10k"]
                note = "; ".join(n for n in [_target_note(target, clients, tls), *sorted(set(f["errors"]))] if n)[:200]
                lines.append(
                    f"| {mode} | {clients} | {target} | {_f(f['tps'])} | {_f(f['lat_avg_ms'], '{:.3f}')} | "
                    f"{_f(f['p99_ms'], '{:.3f}')} | {_f(f['added_lat_us'], '{:+.0f}')} | "
                    f"{_f(f['x_pgbouncer'], '{:.2f}')} | {_f(f['x_direct'], '{:.2f}')} | "
                    f"{_f(cpu, '{:.3f}')} | {_f(None if cpu is None else cpu * 100, '{:.1f}')} | "
                    f"{_f(f.get('cpu_x_pgbouncer'), '{:.2f}')} | {_f(_mib(f['rss']), '{:.1f}')} | "
                    f"{f['clean_runs']}/{f['runs']} | {note} |")
    return "\n".join(lines)


def _mode_order(item):
    (mode, clients), _ = item
    return (MODES.index(mode), clients)


def _paired_table(cost, other):
    lines = [f"| mode | clients | tps routed / {other} | CPU per tx routed / {other} |", "|---|---:|---:|---:|"]
    for (mode, clients), (tps, cpu) in sorted(cost.items(), key=_mode_order):
        lines.append(f"| {mode} | {clients} | {_f(tps, '{:.2f}')} | {_f(cpu, '{:.2f}')} |")
    return "\n".join(lines)


def routing_table(summary):
    cost = routing_cost(summary)
    if not cost:
        return "Routing on vs off: not measured (pgroute-routed or pgroute-plain did not run)."
    return _paired_table(cost, "plain")


def baseline_table(summary):
    """This build against --baseline's, both with the routed configuration, from the same rounds."""
    cost = baseline_cost(summary)
    if not cost:
        return None
    return ("pgroute-routed is this tree's build, pgroute-baseline the --baseline binary; both run the routed "
            "configuration, alternated within each round. Below 1 in the CPU column: this build costs less.\n\n"
            + _paired_table(cost, "baseline"))


# Issue 20: causal_reads tables on a read-only workload costs at most this much CPU per transaction over off.
CAUSAL_TABLES_MAX_CPU = 1.05


def causal_table(summary):
    """--replicas: pgroute's CPU per transaction, tps and latency with causal_reads off, tables and strict
    side by side, the ratios over off, and issue 20's target on the read-only (-S) modes."""
    cost = causal_cost(summary)
    if not cost:
        return None
    lines = ["| mode | clients | proxy µs/tx off / tables / strict | CPU/tx tables/off | CPU/tx strict/off | "
             "tps off / tables / strict | tps tables/off | tps strict/off | lat avg ms off / tables / strict | "
             "lat strict − off µs | lat tables − off µs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    verdicts = []
    for (mode, clients), by in sorted(cost.items(), key=_mode_order):
        figs = [summary.get((mode, clients, t)) or {} for t in CAUSAL]
        cpu = [None if f.get("cpu_s_per_10k") is None else f["cpu_s_per_10k"] * 100 for f in figs]
        t_tps, t_cpu, t_lat = by.get("tables", (None, None, None))
        s_tps, s_cpu, s_lat = by.get("strict", (None, None, None))
        lines.append(f"| {mode} | {clients} | {' / '.join(_f(c, '{:.1f}') for c in cpu)} | {_f(t_cpu, '{:.3f}')} | "
                     f"{_f(s_cpu, '{:.3f}')} | {' / '.join(_f(f.get('tps')) for f in figs)} | "
                     f"{_f(t_tps, '{:.3f}')} | {_f(s_tps, '{:.3f}')} | "
                     f"{' / '.join(_f(f.get('lat_avg_ms'), '{:.3f}') for f in figs)} | {_f(s_lat, '{:+.0f}')} | "
                     f"{_f(t_lat, '{:+.0f}')} |")
        if parse_mode(mode)[0] == "select" and t_cpu is not None:
            verdicts.append(f"| #20 | CPU/tx, {mode}, {clients} clients: causal_reads tables ≤ "
                            f"{CAUSAL_TABLES_MAX_CPU}× off | {cpu[1]:.1f} vs {cpu[0]:.1f} µs ({t_cpu:.3f}×) | "
                            f"{_check(t_cpu <= CAUSAL_TABLES_MAX_CPU)} |")
    if verdicts:
        lines += ["", "| issue | target | this run | verdict |", "|---|---|---|---|", *verdicts]
    return "\n".join(lines)


def replicas_section(summary, replica_reads):
    lines = ["One streaming standby of the PostgreSQL cluster (`pg_basebackup -R`, hot standby, replayed past "
             "`pgbench -i` before the rounds). `pgroute-causal-off`, `-tables` and `-strict` are pgroute with "
             "backends `primary` and `replica` and one `replicas` router (`causal_reads` off, tables, strict; "
             "`lag_check_interval: 20ms`; `causal_wait` default), the pool settings of the other pgroute "
             "targets. Reads (`-S`, autocommit) may go to the standby; the writing scripts' transactions go to "
             "the primary, and with `tables` or `strict` each commit that wrote is followed by the commit LSN "
             "probe. Proxy CPU includes the lag checks (every 20 ms on two servers).", ""]
    if replica_reads:
        lines += ["Reads on the standby, checked before the rounds (standby server connections that ran a "
                  "pgbench read during a 2 s, 4-client `-S` run through each target): "
                  + ", ".join(f"`{t}` {n}" for t, n in replica_reads.items()) + ".", ""]
    table = causal_table(summary)
    return "\n".join(lines + [table or "Not measured: pgroute-causal-off and another pgroute-causal-* target "
                                        "did not both run."])


def _check(ok):
    return "–" if ok is None else ("met" if ok else "**not met**")


def _get(summary, mode, clients, target, key):
    f = summary.get((mode, clients, target))
    return None if f is None else f.get(key)


# Issue #17 sets its TPC-B-like targets at these client counts.
TPCB_TARGET_CLIENTS = (16, 64)


def issue17_rows(summary, idle, clients_list, pgr):
    """(target, this run, ok) rows for issue #17's targets: -S simple at every client count run, the
    TPC-B-like script at 16 and 64 clients (simple and extended), idle clients at 1 KiB."""
    rows = []

    def vs_pgbouncer(mode, c):
        cpu, tps = _get(summary, mode, c, pgr, "cpu_x_pgbouncer"), _get(summary, mode, c, pgr, "x_pgbouncer")
        r_cpu, b_cpu = (_get(summary, mode, c, t, "cpu_s_per_10k") for t in (pgr, "pgbouncer"))
        if cpu is not None:
            rows.append((f"CPU/tx, {mode}, {pgr}, {c} clients ≤ 0.9× PgBouncer",
                         f"{r_cpu * 100:.1f} vs {b_cpu * 100:.1f} µs ({cpu:.2f}×)", cpu <= 0.9))
        if tps is not None:
            rows.append((f"tps, {mode}, {pgr}, {c} clients ≥ PgBouncer", f"{tps:.2f}×", tps >= 1.0))

    for c in clients_list:
        vs_pgbouncer("simple", c)
    mine, theirs = (_get(summary, "simple", 1, t, "added_lat_us") for t in (pgr, "pgbouncer"))
    if mine is not None and theirs is not None:
        rows.append((f"added latency, 1 client, simple, {pgr} ≤ PgBouncer's",
                     f"{mine:+.0f} vs {theirs:+.0f} µs", mine <= theirs))
    routing = routing_cost(summary)
    for mode in ("tpcb-simple", "tpcb-extended"):
        for c in [c for c in clients_list if c in TPCB_TARGET_CLIENTS]:
            vs_pgbouncer(mode, c)
            _tps, cpu = routing.get((mode, c), (None, None))
            if cpu is not None:
                rows.append((f"routing on/off, {mode}, {c} clients: CPU/tx ≤ 1.1×", f"{cpu:.2f}×", cpu <= 1.1))
    for res in idle:
        if res["target"].startswith("pgroute") and res["connections"] >= 10000:
            ok = res["connected"] == res["connections"] == res["answered"] and res["rss_per_conn"] <= 1024
            rows.append((f"idle: {res['connections']} held, ≤ 1 KiB RSS each ({res['target']})",
                         f"{res['rss_per_conn']:.0f} B/conn, {res['answered']}/{res['connections']} answered", ok))
    return rows


def tls_targets_table(summary, clients_list, pgr):
    """Issue 19's target for a --tls run: CPU per transaction with client TLS ≤ PgBouncer's with TLS,
    for every mode and client count run. The targets of #6 and #17 are plaintext figures: not judged here."""
    rows = []
    modes = sorted({m for (m, _c, _t) in summary}, key=MODES.index)
    for mode in modes:
        for c in clients_list:
            r_cpu, b_cpu = (_get(summary, mode, c, t, "cpu_s_per_10k") for t in (pgr, "pgbouncer"))
            if r_cpu is not None and b_cpu:
                rows.append((f"CPU/tx with client TLS, {mode}, {pgr}, {c} clients ≤ PgBouncer's with TLS",
                             f"{r_cpu * 100:.1f} vs {b_cpu * 100:.1f} µs ({r_cpu / b_cpu:.2f}×)", r_cpu <= b_cpu))
    if not rows:
        return "Issue #19's target needs PgBouncer and pgroute in the run."
    lines = ["The targets of issues #6 and #17 are judged on runs without `--tls`.", "",
             "| issue | target | this run | verdict |", "|---|---|---|---|"]
    lines += [f"| #19 | {name} | {value} | {_check(ok)} |" for name, value, ok in rows]
    return "\n".join(lines)


def targets_table(summary, many, idle, clients_list, tls=False):
    """The targets of issues #6 and #17 (#19 with --tls), judged on this run's medians (not asserted by any test)."""
    rows = []
    # The targets are about routing on; until pgroute-routed runs, judge pgroute-plain (labelled so).
    ran = {t for (_m, _c, t) in summary}
    pgr = "pgroute-routed" if "pgroute-routed" in ran else "pgroute-plain"
    if tls:
        return tls_targets_table(summary, clients_list, pgr)

    def get(mode, clients, target, key):
        return _get(summary, mode, clients, target, key)

    for c in clients_list:
        r_cpu, b_cpu = get("simple", c, pgr, "cpu_s_per_10k"), get("simple", c, "pgbouncer", "cpu_s_per_10k")
        if r_cpu is not None and b_cpu:
            rows.append((f"CPU/tx, simple, {pgr}, {c} clients ≤ PgBouncer (aim 0.8×)",
                         f"{r_cpu * 100:.1f} vs {b_cpu * 100:.1f} µs ({r_cpu / b_cpu:.2f}×)", r_cpu <= b_cpu))
        x = get("simple", c, pgr, "x_pgbouncer")
        if x is not None:
            need = 1.1 if c >= 64 else 1.0
            rows.append((f"tps, simple, {pgr}, {c} clients ≥ {need}× PgBouncer", f"{x:.2f}×", x >= need))
        x = get("prepared", c, pgr, "x_direct")
        if x is not None:
            rows.append((f"tps, prepared, {pgr}, {c} clients ≥ 0.6× direct", f"{x:.2f}×", x >= 0.6))
        added = get("simple", c, pgr, "added_lat_us")
        if c == 1 and added is not None:
            rows.append((f"added latency, 1 client, simple, {pgr} ≤ 25 µs", f"{added:+.0f} µs", added <= 25))
    for (mode, c), (tps, cpu) in sorted(routing_cost(summary).items(), key=_mode_order):
        if mode == "simple" and tps is not None and cpu is not None:
            rows.append((f"routing on/off, simple, {c} clients: tps ≥ 0.9×, CPU/tx ≤ 1.1×",
                         f"{tps:.2f}× tps, {cpu:.2f}× CPU", tps >= 0.9 and cpu <= 1.1))
    for res in idle:
        if res["target"].startswith("pgroute"):
            ok = res["connected"] == res["connections"] == res["answered"] and res["rss_per_conn"] <= 2048
            rows.append((f"idle: {res['connections']} held, ≤ 2 KiB RSS each ({res['target']})",
                         f"{res['rss_per_conn']:.0f} B/conn, {res['answered']}/{res['connections']} answered", ok))
    for m in many:
        if m["target"].startswith("pgroute"):
            ref = get("simple", 64, m["target"], "tps")
            ok = None if ref is None or m["tps"] is None else (not m["error"] and m["tps"] >= 0.9 * ref)
            rows.append((f"{m['clients']} clients on {m['pool_size']} server connections ({m['target']}): "
                         "no errors, tps within 10% of 64 clients",
                         f"{_f(m['tps'])} tps vs {_f(ref)}; {m['error'] or 'no errors'}", ok))
    rows = [("#6", *row) for row in rows] + [("#17", *row) for row in issue17_rows(summary, idle, clients_list, pgr)]
    if not rows:
        return "No target of issues #6 and #17 applies to the cases run (they need pgroute, PgBouncer, direct)."
    lines = ["| issue | target | this run | verdict |", "|---|---|---|---|"]
    lines += [f"| {issue} | {name} | {value} | {_check(ok)} |" for issue, name, value, ok in rows]
    return "\n".join(lines)


def many_table(many, summary):
    lines = ["| target | clients | server conns | tps | × its 64-client tps | lat avg ms | lat p99 ms | "
             "proxy CPU s/10k tx | proxy RSS MiB | result |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in many:
        ref = (summary.get(("simple", 64, m["target"])) or {}).get("tps")
        cpu = m["cpu_s"] / m["transactions"] * 10000 if m.get("cpu_s") is not None and m["transactions"] else None
        lines.append(f"| {m['target']} | {m['clients']} | {m['pool_size']} | {_f(m['tps'])} | "
                     f"{_f(m['tps'] / ref if ref and m['tps'] else None, '{:.2f}')} | "
                     f"{_f(m['lat_avg_ms'], '{:.3f}')} | {_f(m['p99_ms'], '{:.3f}')} | {_f(cpu, '{:.3f}')} | "
                     f"{_f(_mib(m.get('rss')), '{:.1f}')} | {m['error'] or 'no errors'} |")
    return "\n".join(lines)


def idle_table(idle):
    lines = ["| target | connections | connected | answered SELECT 1 | connect time s | RSS before MiB | "
             "RSS held MiB | RSS per connection | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in idle:
        lines.append(f"| {r['target']} | {r['connections']} | {r['connected']} | {r['answered']} | "
                     f"{r['connect_s']:.1f} | {_mib(r['rss_before']):.1f} | {_mib(r['rss_held']):.1f} | "
                     f"{r['rss_per_conn']:.0f} B | {'; '.join(r['errors']) or 'none'} |")
    return "\n".join(lines)


COLORS = {"direct": "tab:gray", "pgbouncer": "tab:blue", "pgroute-routed": "tab:red", "pgroute-plain": "tab:orange",
          "pgroute-baseline": "tab:purple", "pgroute-causal-off": "tab:green", "pgroute-causal-tables": "tab:olive",
          "pgroute-causal-strict": "tab:brown"}


def chart(path, summary, modes, clients_list, targets, tls=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(modes), figsize=(5 * len(modes), 8), squeeze=False)
    for col, mode in enumerate(modes):
        for row, (key, label, who) in enumerate([("tps", "tps (median)", targets),
                                                 ("cpu_us", "proxy CPU µs per transaction", PROXIES)]):
            ax = axes[row][col]
            for target in [t for t in targets if t in who]:
                xs, ys = [], []
                for c in clients_list:
                    f = summary.get((mode, c, target))
                    if not f:
                        continue
                    v = f["tps"] if key == "tps" else (None if f["cpu_s_per_10k"] is None else f["cpu_s_per_10k"] * 100)
                    if v is not None:
                        xs.append(c)
                        ys.append(v)
                if xs:
                    ax.plot(xs, ys, marker="o", label=target, color=COLORS.get(target))
            ax.set_xscale("log", base=2)
            ax.set_xticks(clients_list)
            ax.set_xticklabels([str(c) for c in clients_list])
            ax.set_xlabel("pgbench clients")
            ax.set_ylabel(label)
            ax.set_title(f"pgbench {mode_label(mode)}" + (", client TLS on the poolers" if tls else ""))
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


TPCB_NOTE = ("The TPC-B-like and simple-update (`-N`) scripts write: before each of their runs (outside the "
             "timed run and the CPU sample) pgbench_history is truncated and pgbench_branches and "
             "pgbench_tellers are vacuumed, directly on PostgreSQL — what pgbench does itself without -n — so "
             "rounds and targets start alike; pgbench_accounts keeps its dead tuples to autovacuum.")
HAPROXY_NOTE = ("`haproxy` is HAProxy in TCP mode with one thread (`nbthread 1`): it forwards bytes and "
                "does not pool, so each client is a PostgreSQL connection of its own (64 clients: 64 server "
                "connections, as with direct, where the poolers use their 20); PostgreSQL authenticates. "
                "It is the reference for what a user-space hop costs.")

FLOOR_NOTE = ("`floor`, `floor-uring` and `floor-tls` are relays of ours that only move bytes (tools/bench_lib/floor_relay.cpp "
              "on level-triggered epoll, floor_relay_uring.cpp on io_uring, floor_relay_tls.cpp on epoll with "
              "OpenSSL terminating client TLS, read-ahead on), one thread, one server connection "
              "per client, no parsing: one receive and one send per message and direction, the fewest system "
              "calls a user-space hop can make. Their CPU per transaction is the floor under every proxy.")


def tls_section(tls, targets):
    """--tls: what was encrypted, and what each pooler showed of it."""
    plaintext = [t for t in targets if t not in TLS_TARGETS]
    lines = ["**This run used client TLS**: " + tls["certificate"] + "; PgBouncer with `client_tls_sslmode = "
             "require`, pgroute with `tls: {mode: require}` (both with their default versions and ciphers), "
             "pgbench and psql with `sslmode=require`. The pgbench figures of "
             + ", ".join(f"`{t}`" for t in targets if t in TLS_TARGETS) + " are TLS figures"
             + (("; " + ", ".join(f"`{t}`" for t in plaintext) + " ran plaintext (PostgreSQL has `ssl = off`), "
                 "so added latency and × direct include what TLS costs") if plaintext else "")
             + ". The many-clients and idle-connection tests connect with TLS too (idle RSS includes each "
             "connection's TLS state).", "",
             "| target | negotiated (psql `\\conninfo`) | during a 16-client pgbench run | plaintext login |",
             "|---|---|---|---|"]
    for target, check in tls["checks"].items():
        lines.append(f"| {target} | {check['negotiated']} | {check['clients']} | refused: {check['plaintext']} |")
    return "\n".join(lines)


def write_report(out_dir, meta, summary, skipped, many, idle, modes, clients_list):
    targets = [t for t in TARGETS if t in meta["targets"]]
    tls = meta.get("tls")
    routed_ran = any(t == "pgroute-routed" for (_m, _c, t) in summary)
    unverified = ("> pgroute-routed ran but its routing was **not verified** (see \"Routing chain\" above): "
                  "its figures may be those of a proxy that does not consult the chain.\n"
                  if routed_ran and not meta.get("routing_ok") else "")
    md = [f"# pgroute benchmark {meta['timestamp']}" + (" (client TLS)" if tls else ""), "",
          "Machine: " + meta["machine"], "",
          "Versions: " + meta["versions"], "",
          "Settings: " + meta["settings"], "",
          "Routing chain (pgroute-routed): " + meta["routing"], "",
          *(["## Client TLS", "", tls_section(tls, [t for t in targets if any(k[2] == t for k in summary)]), ""]
            if tls else []),
          "> Caveat: " + meta["caveat"], "",
          "![chart](bench.png)", "",
          "## pgbench", "",
          "Modes: " + "; ".join(f"`{m}` = pgbench {mode_label(m)}" for m in modes) + ". "
          "Medians over rounds of runs without errors. Added latency = latency average minus direct's. "
          "Proxy CPU = utime+stime of the proxy process (all threads) across the run, from /proc/PID/stat."
          + (" " + TPCB_NOTE if any(writes(m) for m in modes) else "")
          + (" " + HAPROXY_NOTE if "haproxy" in targets else "")
          + (" " + FLOOR_NOTE if any(t in targets for t in ("floor", "floor-uring", "floor-tls")) else ""), "",
          case_table(summary, skipped, modes, clients_list, targets, bool(tls)), "",
          "## Routing on vs off", "", unverified, routing_table(summary), ""]
    if meta.get("replica_reads") is not None:
        md += ["## Causal reads (--replicas)", "", replicas_section(summary, meta["replica_reads"]), ""]
    baseline = baseline_table(summary)
    if baseline:
        md += ["## This build vs the baseline", "", baseline, ""]
    md += ["## Many clients", "", many_table(many, summary) if many else "not run", "",
           "## Idle connections", "", *(["Client TLS: each connection made its TLS handshake (no certificate "
                                          "check, as sslmode=require).", ""] if tls and idle else []),
           idle_table(idle) if idle else "not run", "",
           "## Targets", "", unverified, targets_table(summary, many, idle, clients_list, bool(tls)), ""]
    md_path = os.path.join(out_dir, "results.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md))
    try:
        chart(os.path.join(out_dir, "bench.png"), summary, modes, clients_list, targets, bool(tls))
    except ImportError as e:   # python3-matplotlib missing: the Markdown report still stands
        with open(md_path, "a") as f:
            f.write(f"\n(no chart: {e}; install python3-matplotlib)\n")
    return md_path
