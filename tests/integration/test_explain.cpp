// `pgroute explain` and `pgroute --check` on routers: — the real binary, no PostgreSQL needed.
#include "harness.hpp"

using namespace pgroute::it;

namespace {

const std::string kBackends =
    "backends:\n"                                        // 1
    "  default: {url: \"postgresql://app:pw@h/app\"}\n"  // 2
    "  shard_0: {url: \"postgresql://h0/app\"}\n"        // 3
    "  shard_1: {url: \"postgresql://h1/app\"}\n"        // 4
    "  analytics: {url: \"postgresql://an/app\"}\n";     // 5

RunResult explain(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {pgroute_binary(), "explain"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {.timeout = 10s});
}

}  // namespace

TEST_CASE("pgroute explain: routed (0), refused (1), bad usage or config (2)") {
  TempDir dir("explain");
  const auto file = dir / "pgroute.yaml";
  write_file(file, kBackends +
                       "routers:\n"
                       "  - type: shard\n"
                       "    table: events\n"
                       "    key: user_id\n"
                       "    key_type: bigint\n"
                       "    method: range\n"
                       "    ranges: [{to: 1000, alias: shard_0}, {alias: shard_1}]\n"
                       "  - type: plugin\n"
                       "    path: \"" PGROUTE_EXAMPLE_PLUGIN
                       "\"\n"
                       "    options: {audit_alias: analytics}\n");

  RunResult routed =
      explain({"--config", file.string(), "SELECT * FROM events WHERE user_id = $1", "--param", "1=1500"});
  INFO(routed.describe());
  CHECK(routed.exit_code == 0);
  CHECK(routed.out ==
        "statement: read (SELECT)\n"
        "tables: events\n"
        "keys: events.user_id = $1 ('1500')\n"
        "alias: shard_1 (postgresql://h1/app)\n"
        "router: shard(events)\n"
        "reason: user_id = 1500: in range -> shard_1 (from $1)\n");

  RunResult plugin =
      explain({"--config", file.string(), "INSERT INTO audit_log VALUES (1)", "--application-name", "cron"});
  INFO(plugin.describe());
  CHECK(plugin.exit_code == 0);
  CHECK(plugin.out.find("alias: analytics (postgresql://an/app)\nrouter: plugin(example)\n"
                        "reason: write table audit_log of INSERT (application \"cron\")\n") != std::string::npos);

  RunResult refused = explain({"--config", file.string(), "DELETE FROM events"});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.find("refused: 0A000 pgroute: shard router for \"events\": no shard key user_id") !=
        std::string::npos);

  RunResult usage = explain({"--config", file.string()});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("the SQL statement is required") != std::string::npos);
  RunResult bad_param = explain({"--config", file.string(), "SELECT 1", "--param", "0=1"});
  CHECK(bad_param.exit_code == 2);
}

TEST_CASE("pgroute explain and --check point into the file for router problems") {
  TempDir dir("explain_bad");
  const auto bad = dir / "bad.yaml";
  write_file(bad, kBackends +
                      "routers:\n"                        // 6
                      "  - type: shard\n"                 // 7
                      "    table: events\n"               // 8
                      "    key: user_id\n"                // 9
                      "    key_type: bigint\n"            // 10
                      "    shards: [shard_0, shard_9]\n"  // 11
                      "  - type: rule\n"                  // 12
                      "    match: {sql: \"select (\"}\n"  // 13
                      "    alias: analytics\n");          // 14
  RunResult r = explain({"--config", bad.string(), "SELECT 1"});
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(bad.string() + ":11:23: routers[0].shards[1]: unknown alias \"shard_9\"") != std::string::npos);
  CHECK(r.err.find(bad.string() + ":13:18: routers[1].match.sql: invalid regular expression") != std::string::npos);

  // Overlapping ranges are only found when the routers are built: still placed in the file.
  const auto overlap = dir / "overlap.yaml";
  write_file(overlap, kBackends +
                          "routers:\n"                                                                  // 6
                          "  - {type: shard, table: events, key: id, key_type: int4, method: range,\n"  // 7
                          "     ranges: [{to: 100, alias: shard_0}, {from: 50, alias: shard_1}]}\n");
  const std::string expected =
      overlap.string() + ":7:5: routers[0]: shard router for \"events\": ranges for shard_0 and shard_1 overlap";
  RunResult e = explain({"--config", overlap.string(), "SELECT 1"});
  INFO(e.describe());
  CHECK(e.exit_code == 2);
  CHECK(e.err.find(expected) != std::string::npos);
  RunResult check = run({pgroute_binary(), "--check", overlap.string()}, {.timeout = 10s});
  INFO(check.describe());
  CHECK(check.exit_code == 1);
  CHECK(check.err.find(expected) != std::string::npos);
}
