// 3. pgbench through the proxy in transaction mode, in all three query modes, and direct to
// the server for comparison (the tps are printed for the lead to quote).
#include <regex>

#include "harness.hpp"

using namespace pgroute::it;

namespace {

constexpr const char* kBenchDb = "it_bench";

RunResult pgbench(int port, const std::string& password, const std::vector<std::string>& args) {
  std::vector<std::string> argv{pg_bin("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "app"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(kBenchDb);
  return run(argv, {.timeout = 90s, .env = {{"PGPASSWORD", password}}});
}

double tps_of(const RunResult& r) {
  static const std::regex tps(R"(tps = ([0-9.]+) \(without initial connection time\))");
  std::smatch m;
  return std::regex_search(r.out, m, tps) ? std::stod(m[1]) : 0.0;
}

}  // namespace

TEST_CASE("proxy: pgbench -i, then select-only in simple, extended and prepared mode") {
  {
    Conn su = first_cluster().superuser();
    if (su.scalar(std::string("SELECT count(*) FROM pg_database WHERE datname = '") + kBenchDb + "'") == "0")
      su.exec(std::string("CREATE DATABASE ") + kBenchDb + " OWNER app");
  }
  ProxyConfig cfg = default_proxy_config();
  cfg.backends.push_back({"bench", first_cluster().url(kAppUser, kAppPassword, kBenchDb), 4});
  cfg.databases.emplace_back(kBenchDb, "bench");
  Proxy proxy(cfg);

  {
    RunResult init = pgbench(proxy.port(), kProxyPassword, {"-i", "-s", "1"});
    INFO("pgbench -i through the proxy: " << init.describe());
    REQUIRE(init.exit_code == 0);
  }
  CHECK(
      Conn(first_cluster().params(kAppUser, kAppPassword, kBenchDb)).scalar("SELECT count(*) FROM pgbench_accounts") ==
      "100000");

  for (const std::string mode : {"simple", "extended", "prepared"}) {
    RunResult r = pgbench(proxy.port(), kProxyPassword, {"-S", "-T", "5", "-c", "16", "-j", "2", "-M", mode});
    INFO("pgbench -M " << mode << " through the proxy: " << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("number of failed transactions: 0 ") != std::string::npos);
    CHECK(r.err.find("error") == std::string::npos);
    const double tps = tps_of(r);
    CHECK(tps > 0);
    MESSAGE("pgbench -S -c 16 -j 2 -T 5 -M " << mode << " through pgroute: tps = " << tps);
  }

  RunResult direct =
      pgbench(first_cluster().port(), kAppPassword, {"-S", "-T", "5", "-c", "16", "-j", "2", "-M", "simple"});
  INFO("pgbench direct: " << direct.describe());
  CHECK(direct.exit_code == 0);
  MESSAGE("pgbench -S -c 16 -j 2 -T 5 -M simple direct to PostgreSQL: tps = " << tps_of(direct));
}
