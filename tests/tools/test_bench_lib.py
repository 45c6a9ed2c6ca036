"""Pure parts of tools/bench: reading `perf script` output (--profile) and pairing builds (--baseline)."""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))

from bench_lib.profile import _short, _stacks, summarize_stacks  # noqa: E402
from bench_lib.summary import baseline_cost, routing_cost  # noqa: E402

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


if __name__ == "__main__":
    unittest.main()
