"""Reduces the runs of all rounds to one figure set per (mode, clients, target)."""
import statistics

# The pgroute-causal-* targets run only with --replicas (replicas.py).
CAUSAL = ["pgroute-causal-off", "pgroute-causal-tables", "pgroute-causal-strict"]
TARGETS = ["direct", "floor", "floor-uring", "floor-tls", "haproxy", "pgbouncer", "pgroute-routed", "pgroute-plain", "pgroute-baseline", *CAUSAL]
PROXIES = ["floor", "floor-uring", "floor-tls", "haproxy", "pgbouncer", "pgroute-routed", "pgroute-plain", "pgroute-baseline", *CAUSAL]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def summarize(runs, skipped):
    """runs: dicts with target/mode/clients/round and pgbench figures.
    skipped: {(target, mode): reason}. Returns {(mode, clients, target): figures}."""
    cases = {}
    for r in runs:
        cases.setdefault((r["mode"], r["clients"], r["target"]), []).append(r)
    out = {}
    for key, rs in cases.items():
        clean = [r for r in rs if not r["error"]]
        per_10k = [r["cpu_s"] / r["transactions"] * 10000 for r in clean
                   if r.get("cpu_s") is not None and r["transactions"]]
        out[key] = {
            "runs": len(rs), "clean_runs": len(clean),
            "tps": _median([r["tps"] for r in clean]),
            "tps_all": [r["tps"] for r in rs],
            "lat_avg_ms": _median([r["lat_avg_ms"] for r in clean]),
            "p99_ms": _median([r["p99_ms"] for r in clean]),
            "cpu_s_per_10k": _median(per_10k),
            "rss": max((r["rss"] for r in rs if r.get("rss")), default=None),
            "errors": [r["error"] for r in rs if r["error"]],
        }
    for (mode, clients, target), f in out.items():
        direct = out.get((mode, clients, "direct"), {})
        bouncer = out.get((mode, clients, "pgbouncer"), {})
        f["x_direct"] = _ratio(f["tps"], direct.get("tps")) if target != "direct" else None
        other_proxy = target in PROXIES and target != "pgbouncer"
        f["x_pgbouncer"] = _ratio(f["tps"], bouncer.get("tps")) if other_proxy else None
        f["cpu_x_pgbouncer"] = _ratio(f["cpu_s_per_10k"], bouncer.get("cpu_s_per_10k")) if other_proxy else None
        if target != "direct" and f["lat_avg_ms"] is not None and direct.get("lat_avg_ms") is not None:
            f["added_lat_us"] = (f["lat_avg_ms"] - direct["lat_avg_ms"]) * 1000
        else:
            f["added_lat_us"] = None
    for (target, mode), reason in skipped.items():
        for key in [k for k in out if k[0] == mode and k[2] == target]:
            out[key]["skipped"] = reason
    return out


def paired_cost(summary, other):
    """{(mode, clients): (tps routed/other, cpu routed/other)} where pgroute-routed and `other` both ran."""
    out = {}
    for (mode, clients, target), f in summary.items():
        if target != "pgroute-routed":
            continue
        o = summary.get((mode, clients, other))
        if o:
            out[(mode, clients)] = (_ratio(f["tps"], o["tps"]), _ratio(f["cpu_s_per_10k"], o["cpu_s_per_10k"]))
    return out


def routing_cost(summary):
    """{(mode, clients): (tps routed/plain, cpu routed/plain)}: what the router chain costs."""
    return paired_cost(summary, "pgroute-plain")


def baseline_cost(summary):
    """{(mode, clients): (tps routed/baseline, cpu routed/baseline)}: this build against --baseline's."""
    return paired_cost(summary, "pgroute-baseline")


def causal_cost(summary):
    """{(mode, clients): {"tables"|"strict": (tps, CPU per tx, each over off's; latency average minus off's,
    µs)}} where pgroute-causal-off and that target both ran: what causal reads cost over none."""
    out = {}
    for (mode, clients, target), f in summary.items():
        if target not in CAUSAL[1:]:
            continue
        off = summary.get((mode, clients, CAUSAL[0]))
        if not off:
            continue
        lat = (f["lat_avg_ms"] - off["lat_avg_ms"]) * 1000 \
            if f["lat_avg_ms"] is not None and off["lat_avg_ms"] is not None else None
        out.setdefault((mode, clients), {})[target.rsplit("-", 1)[1]] = (
            _ratio(f["tps"], off["tps"]), _ratio(f["cpu_s_per_10k"], off["cpu_s_per_10k"]), lat)
    return out
