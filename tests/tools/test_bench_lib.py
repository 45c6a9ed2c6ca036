"""Pure parts of tools/bench: reading `perf script` output (--profile), pairing builds (--baseline),
benchmark modes (-S, TPC-B-like, -N), the HAProxy target's configuration, the --replicas targets'
configuration, report rows, and how a --pgo build is asked for and named."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))

from bench_lib.profile import _short, _stacks, summarize_stacks  # noqa: E402
from bench_lib.pgbench import MODES, mode_args, mode_label, parse_mode, writes  # noqa: E402
from bench_lib.poolers import FloorRelay, Pgroute, haproxy_config  # noqa: E402
from bench_lib.tls import TLS_TARGETS  # noqa: E402
from bench_lib.replicas import CAUSAL_TARGETS, CausalPgroute  # noqa: E402
from bench_lib.report import causal_table, case_table, issue17_rows, routing_table  # noqa: E402
from bench_lib.run import Bench, parse_args  # noqa: E402
from bench_lib.summary import baseline_cost, causal_cost, routing_cost, summarize  # noqa: E402

# Three samples as `perf script -F ip,sym,dso` prints them with call graphs: frames, then a blank line.
PERF_SCRIPT = """
\tffffffff81708ca1 tcp_sendmsg ([kernel.kallsyms])
\t           39a0 io_uring_enter (/usr/lib/x86_64-linux-gnu/liburing.so.2.3)
\t          4a88c boost::asio::detail::scheduler::run (/usr/bin/pgroute)

\t          48ad6 pgroute::ClientSession::route_query (/usr/bin/pgroute)
\t          48a00 pgroute::ClientSession::handle_message (/usr/bin/pgroute)
\t          4a88c boost::asio::detail::scheduler::run (/usr/bin/pgroute)

\t          51000 malloc (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t          48a00 pgroute::ClientSession::handle_message (/usr/bin/pgroute)
\t          4a88c boost::asio::detail::scheduler::run (/usr/bin/pgroute)
"""


class ProfileParsing(unittest.TestCase):
    def test_samples_are_split_at_blank_lines_leaf_first(self):
        stacks = _stacks(PERF_SCRIPT)
        self.assertEqual(len(stacks), 3)
        self.assertEqual(stacks[0][0], ("tcp_sendmsg", "[kernel.kallsyms]"))
        self.assertEqual(stacks[2][0][0], "malloc")

    def test_user_share_and_inclusive_rows(self):
        user, rows = summarize_stacks(_stacks(PERF_SCRIPT))
        self.assertAlmostEqual(user, 2 / 3)  # the innermost frame decides: the first sample is the kernel's
        by_name = {name: (u, a) for name, u, a in rows}
        self.assertEqual(by_name["pgroute::ClientSession::handle_message"], (2 / 3, 2 / 3))
        self.assertEqual(by_name["pgroute::ClientSession::route_query"], (1 / 3, 1 / 3))
        self.assertNotIn("boost::asio::detail::scheduler::run", by_name)  # in every sample: says nothing

    def test_nothing_sampled(self):
        self.assertEqual(summarize_stacks([]), (0.0, []))

    def test_template_arguments_dropped_nested(self):
        self.assertEqual(_short("a::f<b<c>, d>::operator()<std::tuple<e> >"), "a::f::operator()")


class Pairing(unittest.TestCase):
    def fig(self, tps, cpu):
        return {"tps": tps, "cpu_s_per_10k": cpu}

    def test_routed_over_baseline_and_plain(self):
        summary = {("simple", 16, "pgroute-routed"): self.fig(110.0, 0.9),
                   ("simple", 16, "pgroute-baseline"): self.fig(100.0, 1.0),
                   ("simple", 16, "pgroute-plain"): self.fig(100.0, 0.9),
                   ("simple", 64, "pgroute-routed"): self.fig(50.0, 1.0)}  # no baseline at 64: no row
        base = baseline_cost(summary)
        self.assertEqual(list(base), [("simple", 16)])
        self.assertAlmostEqual(base[("simple", 16)][0], 1.1)
        self.assertAlmostEqual(base[("simple", 16)][1], 0.9)
        self.assertAlmostEqual(routing_cost(summary)[("simple", 16)][1], 1.0)



class Modes(unittest.TestCase):
    def test_select_only_modes_keep_their_names(self):
        self.assertEqual(parse_mode("extended"), ("select", "extended"))
        self.assertEqual(mode_args("simple"), ["-b", "select-only", "-M", "simple"])  # = pgbench -S
        self.assertEqual(mode_label("prepared"), "-S -M prepared")
        self.assertFalse(writes("simple"))

    def test_tpcb_modes_run_the_default_script(self):
        self.assertEqual(parse_mode("tpcb-extended"), ("tpcb", "extended"))
        self.assertEqual(mode_args("tpcb-simple"), ["-b", "tpcb-like", "-M", "simple"])
        self.assertEqual(mode_label("tpcb-extended"), "TPC-B-like -M extended")
        self.assertTrue(writes("tpcb-prepared"))

    def test_simple_update_modes_run_pgbench_N(self):
        self.assertEqual(parse_mode("update-prepared"), ("update", "prepared"))
        self.assertEqual(mode_args("update-simple"), ["-b", "simple-update", "-M", "simple"])  # = pgbench -N
        self.assertEqual(mode_label("update-extended"), "-N -M extended")
        self.assertTrue(writes("update-simple"))
        self.assertIn("update-simple", MODES)

    def test_unknown_modes_are_refused(self):
        for bad in ("tpcb", "select-simple", "tpcb-", "-simple", "tpcb-simple-x", "Simple", "simple-update",
                    "update"):
            with self.assertRaises(ValueError, msg=bad):
                parse_mode(bad)

    def test_command_line(self):
        a = parse_args(["--modes", "tpcb-simple,tpcb-extended", "--clients", "16,64", "--only", "haproxy,pgbouncer"])
        self.assertEqual(a.modes, ["tpcb-simple", "tpcb-extended"])
        self.assertEqual(a.clients, [16, 64])
        self.assertEqual(a.targets, ["haproxy", "pgbouncer"])
        self.assertIn("haproxy", parse_args([]).targets)
        with open(os.devnull, "w") as null:
            stderr, sys.stderr = sys.stderr, null
            try:
                with self.assertRaises(SystemExit):
                    parse_args(["--modes", "simple,tpcb-bogus"])
            finally:
                sys.stderr = stderr


def quiet_parse_error(test, argv):
    with open(os.devnull, "w") as null:
        stderr, sys.stderr = sys.stderr, null
        try:
            with test.assertRaises(SystemExit, msg=argv):
                parse_args(argv)
        finally:
            sys.stderr = stderr


class ReplicasOption(unittest.TestCase):
    def test_default_run_has_no_causal_targets(self):
        self.assertFalse(set(parse_args([]).targets) & set(CAUSAL_TARGETS))
        self.assertFalse(parse_args([]).replicas)

    def test_replicas_adds_the_three_targets(self):
        a = parse_args(["--replicas"])
        self.assertEqual([t for t in a.targets if t in CAUSAL_TARGETS], list(CAUSAL_TARGETS))
        only = parse_args(["--replicas", "--only", "pgroute-causal-off,pgroute-causal-tables"]).targets
        self.assertEqual(only, ["pgroute-causal-off", "pgroute-causal-tables"])

    def test_causal_targets_need_replicas_and_replicas_a_causal_target(self):
        quiet_parse_error(self, ["--only", "pgroute-causal-off"])
        quiet_parse_error(self, ["--replicas", "--only", "pgbouncer"])


class PgoBuild(unittest.TestCase):
    def test_pgo_builds_so_it_cannot_skip_the_build(self):
        self.assertTrue(parse_args(["--pgo"]).pgo)
        self.assertFalse(parse_args([]).pgo)
        quiet_parse_error(self, ["--pgo", "--skip-build"])

    def test_the_report_names_the_build_its_cmake_cache_describes(self):
        with tempfile.TemporaryDirectory() as d:
            bench = Bench(parse_args([]), d)
            bench.binary = os.path.join(d, "pgroute")
            self.assertEqual(bench.build_kind(), "Release build")  # no cache: built elsewhere
            for pgo, kind in (("USE", "profile-guided Release build, tools/pgo"), ("OFF", "Release build"),
                              ("GENERATE", "Release build with profile counters (PGROUTE_PGO=GENERATE): slower "
                                           "than a user's")):
                with open(os.path.join(d, "CMakeCache.txt"), "w") as f:
                    f.write(f"CMAKE_BUILD_TYPE:STRING=Release\nPGROUTE_PGO:STRING={pgo}\n")
                self.assertEqual(bench.build_kind(), kind, pgo)


class FloorTlsTarget(unittest.TestCase):
    def test_only_with_tls_and_then_a_tls_target(self):
        self.assertNotIn("floor-tls", parse_args([]).targets)
        self.assertIn("floor-tls", parse_args(["--tls"]).targets)
        self.assertEqual(parse_args(["--tls", "--only", "floor-tls,pgbouncer"]).targets, ["floor-tls", "pgbouncer"])
        quiet_parse_error(self, ["--only", "floor-tls"])
        self.assertIn("floor-tls", TLS_TARGETS)

    def test_relay_gets_the_certificate(self):
        class Certs:
            cert, key = "/c/server.crt", "/c/server.key"

        with tempfile.TemporaryDirectory() as work:
            relay = FloorRelay(work, 5433, "floor-tls", tls=Certs())
            self.assertTrue(relay.source.endswith("floor_relay_tls.cpp"))
            self.assertIn("-lssl", relay.libs)
            self.assertEqual(relay.command()[2:], ["5433", "/c/server.crt", "/c/server.key"])
            plain = FloorRelay(work, 5433, "floor")
            self.assertEqual(plain.command()[2:], ["5433"])


class CausalPgrouteConfig(unittest.TestCase):
    def config(self, causal):
        with tempfile.TemporaryDirectory() as work:
            p = CausalPgroute(work, "/bin/false", 5433, 5434, 20, 300, 0, causal, "pgroute-causal-" + causal)
            plain = Pgroute(work, "/bin/false", 5433, 20, 300, 0, False, "pgroute-plain")
            return p.config_text(), plain.config_text()

    def test_primary_and_replica_with_logins_and_one_replicas_router(self):
        text, _ = self.config("tables")
        lines = [line.strip() for line in text.splitlines()]
        for want in ("default: primary", 'url: "postgresql://bench:benchpw@127.0.0.1:5433/bench"',
                     'url: "postgresql://bench:benchpw@127.0.0.1:5434/bench"', "- type: replicas",
                     "primary: primary", "replicas: [replica]", "causal_reads: tables", "lag_check_interval: 20ms"):
            self.assertIn(want, lines)
        self.assertEqual(text.count("type:"), 1)

    def test_same_pool_settings_as_the_other_pgroute_targets(self):
        text, plain = self.config("strict")
        self.assertIn("causal_reads: strict", text)
        pool = plain[plain.index("\nusers:\n"):]
        self.assertIn(pool, text)
        self.assertIn("mode: transaction", pool)


class CausalReport(unittest.TestCase):
    def test_ratios_over_off_and_issue20_verdicts(self):
        runs = [run_of("pgroute-causal-off", "simple", 16, 1000.0, 1.0),
                run_of("pgroute-causal-tables", "simple", 16, 990.0, 1.04),
                run_of("pgroute-causal-strict", "simple", 16, 500.0, 1.5),
                run_of("pgroute-causal-off", "update-simple", 16, 800.0, 1.0),
                run_of("pgroute-causal-tables", "update-simple", 16, 700.0, 1.2),
                run_of("pgroute-causal-off", "simple", 64, 1000.0, 1.0),
                run_of("pgroute-causal-tables", "simple", 64, 1000.0, 1.1)]
        runs[2]["lat_avg_ms"] = 2.5
        summary = summarize(runs, {})
        cost = causal_cost(summary)
        self.assertAlmostEqual(cost[("simple", 16)]["tables"][1], 1.04)
        self.assertAlmostEqual(cost[("simple", 16)]["strict"][0], 0.5)
        self.assertAlmostEqual(cost[("simple", 16)]["strict"][2], 1500.0)   # µs over off's 1.0 ms
        self.assertNotIn("strict", cost[("update-simple", 16)])
        table = causal_table(summary)
        self.assertIn("| simple | 16 | 100.0 / 104.0 / 150.0 | 1.040 | 1.500 |", table)
        self.assertIn("| +1500 |", table)
        self.assertIn("| update-simple | 16 | 100.0 / 120.0 / – | 1.200 | – |", table)
        self.assertIn("simple, 16 clients: causal_reads tables ≤ 1.05× off | 104.0 vs 100.0 µs (1.040×) | met",
                      table)
        self.assertIn("simple, 64 clients: causal_reads tables ≤ 1.05× off | 110.0 vs 100.0 µs (1.100×) | "
                      "**not met**", table)
        self.assertNotIn("update-simple, 16 clients: causal_reads", table)  # the target is read-only
        self.assertIsNone(causal_table(summarize(runs[:1], {})))


class HAProxyConfig(unittest.TestCase):
    def test_one_thread_tcp_hop_to_postgres(self):
        text = haproxy_config(16001, 5433, 1200)
        lines = [line.strip() for line in text.splitlines()]
        for want in ("nbthread 1", "maxconn 1200", "mode tcp", "bind 127.0.0.1:16001",
                     "server postgres 127.0.0.1:5433"):
            self.assertIn(want, lines)
        self.assertNotIn("mode http", text)

    def test_haproxy_accepts_it(self):
        # haproxy is in tools/setup's list: the real binary checks the generated file.
        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
            f.write(haproxy_config(16001, 5433, 1200))
            f.flush()
            p = subprocess.run(["haproxy", "-c", "-f", f.name], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("WARNING", p.stdout + p.stderr)


def run_of(target, mode, clients, tps, cpu_s, transactions=10000, error=None):
    return {"target": target, "mode": mode, "clients": clients, "round": 1, "tps": tps, "lat_avg_ms": 1.0,
            "p99_ms": 2.0, "transactions": transactions, "failed": 0, "error": error, "cpu_s": cpu_s,
            "rss": 2**20}


class Report(unittest.TestCase):
    def setUp(self):
        runs = [run_of("direct", "tpcb-simple", 16, 1000.0, None),
                run_of("haproxy", "tpcb-simple", 16, 900.0, 0.5),
                run_of("pgbouncer", "tpcb-simple", 16, 800.0, 1.0),
                run_of("pgroute-routed", "tpcb-simple", 16, 880.0, 0.8),
                run_of("pgroute-plain", "tpcb-simple", 16, 900.0, 0.75),
                run_of("pgbouncer", "tpcb-extended", 64, 700.0, 1.0),
                run_of("pgroute-routed", "tpcb-extended", 64, 600.0, 1.5)]
        self.summary = summarize(runs, {})

    def test_haproxy_is_compared_with_pgbouncer_and_direct(self):
        f = self.summary[("tpcb-simple", 16, "haproxy")]
        self.assertAlmostEqual(f["x_pgbouncer"], 900 / 800)
        self.assertAlmostEqual(f["cpu_x_pgbouncer"], 0.5)
        self.assertAlmostEqual(f["x_direct"], 0.9)
        self.assertIsNone(self.summary[("tpcb-simple", 16, "pgbouncer")]["cpu_x_pgbouncer"])

    def test_case_rows_name_the_mode_and_the_unpooled_hop(self):
        table = case_table(self.summary, {("pgbouncer", "tpcb-prepared"): "cannot"},
                           ["tpcb-simple", "tpcb-prepared"], [16], ["direct", "haproxy", "pgbouncer"])
        rows = {tuple(c.strip() for c in line.split("|")[1:4]): line for line in table.splitlines()[2:]}
        haproxy = rows[("tpcb-simple", "16", "haproxy")]
        self.assertIn("no pooling: 16 server connections", haproxy)
        self.assertIn("| 50.0 | 0.50 |", haproxy)  # µs per transaction, then CPU/tx × PgBouncer
        self.assertIn("| n/a |", rows[("tpcb-prepared", "16", "pgbouncer")])
        self.assertIn("cannot", rows[("tpcb-prepared", "16", "pgbouncer")])
        header = table.splitlines()[0].count("|")
        self.assertTrue(all(line.count("|") == header for line in table.splitlines()))

    def test_routing_on_vs_off_per_script(self):
        self.assertIn("| tpcb-simple | 16 | 0.98 | 1.07 |", routing_table(self.summary))

    def test_issue17_tpcb_targets(self):
        rows = {name: (value, ok) for name, value, ok in
                issue17_rows(self.summary, [], [16, 64], "pgroute-routed")}
        self.assertEqual(rows["CPU/tx, tpcb-simple, pgroute-routed, 16 clients ≤ 0.9× PgBouncer"],
                         ("80.0 vs 100.0 µs (0.80×)", True))
        self.assertEqual(rows["tps, tpcb-simple, pgroute-routed, 16 clients ≥ PgBouncer"], ("1.10×", True))
        self.assertEqual(rows["routing on/off, tpcb-simple, 16 clients: CPU/tx ≤ 1.1×"], ("1.07×", True))
        self.assertFalse(rows["CPU/tx, tpcb-extended, pgroute-routed, 64 clients ≤ 0.9× PgBouncer"][1])
        self.assertFalse(rows["tps, tpcb-extended, pgroute-routed, 64 clients ≥ PgBouncer"][1])
        # Issue #17 sets the TPC-B-like targets at 16 and 64 clients only.
        self.assertFalse(any("4 clients" in name for name, _v, _ok in
                             issue17_rows(self.summary, [], [4], "pgroute-routed")))


if __name__ == "__main__":
    unittest.main()
