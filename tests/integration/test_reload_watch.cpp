// Issue 4, "Reload ... on file change": pgroute watches its configuration file and reloads the routing
// rules when it changes, without SIGHUP; a broken replacement keeps the old rules, the next good one
// applies.
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <thread>

#include "harness.hpp"
#include "http_get.hpp"

using namespace pgroute::it;

namespace {

// rw_items (one row on each cluster) routed to `alias` by a model router; the file is watched.
ProxyConfig watched_config(const std::string& alias, int metrics_port) {
  ProxyConfig cfg = default_proxy_config();  // default -> first cluster, analytics -> second
  cfg.watch_config = true;
  cfg.metrics_port = metrics_port;
  cfg.extra_yaml =
      "default: default\n"
      "routers:\n"
      "  - type: model\n"
      "    tables: {rw_items: " +
      alias + "}\n";
  return cfg;
}

// How editors save: write a temporary beside the file, then rename it over the file.
void replace_by_rename(const std::filesystem::path& file, const std::string& text) {
  const std::filesystem::path temporary = file.string() + ".tmp";
  write_file(temporary, text);
  std::filesystem::rename(temporary, file);
}

double metric(int metrics_port, const std::string& series) {
  auto scrape = http_get(metrics_port, "/metrics");
  if (!scrape) return -1;
  return sample_value(scrape->body, series).value_or(-1);
}

}  // namespace

TEST_CASE("reload watch: a changed file is reloaded without SIGHUP; a broken one keeps the old rules") {
  for (PgCluster* cl : {&first_cluster(), &second_cluster()})
    cl->superuser(kAppDatabase)
        .exec(
            "DROP TABLE IF EXISTS rw_items; CREATE TABLE rw_items (id int); INSERT INTO rw_items VALUES (1);"
            "GRANT ALL ON rw_items TO app;");
  const std::string first_port = std::to_string(first_cluster().port());
  const std::string second_port = std::to_string(second_cluster().port());
  const int metrics_port = free_port();
  const auto ok_reloads = [&] { return metric(metrics_port, R"(pgroute_config_reloads_total{result="ok"})"); };
  const auto failed_reloads = [&] { return metric(metrics_port, R"(pgroute_config_reloads_total{result="failed"})"); };
  const auto generation = [&] { return metric(metrics_port, "pgroute_config_generation"); };

  Proxy proxy(watched_config("analytics", metrics_port));
  const std::string path = proxy.config_file().string();
  Conn c = proxy.connect();
  const auto rw_items_port = [&] { return c.scalar("SELECT inet_server_port() FROM rw_items"); };
  REQUIRE(rw_items_port() == second_port);
  REQUIRE(eventually([&] { return proxy.log_tail(100).find("reload: watching " + path) != std::string::npos; }));

  // (1) Rewritten in place: the new rule applies without a signal.
  proxy.write_config(watched_config("default", metrics_port));
  REQUIRE(eventually([&] { return rw_items_port() == first_port; }));
  CHECK(proxy.log_tail(100).find("reload: " + path + " changed") != std::string::npos);
  CHECK(ok_reloads() == 1);
  CHECK(generation() == 2);

  // The same content saved again is not a reload.
  proxy.write_config(watched_config("default", metrics_port));
  REQUIRE(eventually([&] { return proxy.log_tail(100).find("content is the one in force") != std::string::npos; }));
  CHECK(ok_reloads() == 1);
  CHECK(generation() == 2);

  // (2) Replaced by rename with a broken file (a router naming an unknown alias): rejected with its
  // position, counted, and the rules of generation 2 stay.
  const std::string broken = watched_config("nowhere", metrics_port).to_yaml(proxy.port());
  replace_by_rename(proxy.config_file(), broken);
  REQUIRE(eventually([&] { return failed_reloads() == 1; }));
  const std::string log = proxy.log_tail(100);
  INFO(log);
  CHECK(log.find(path + ":" + position_of(broken, "nowhere")) != std::string::npos);
  CHECK(log.find("keeping the previous configuration") != std::string::npos);
  CHECK(rw_items_port() == first_port);
  CHECK(generation() == 2);

  // Deleted: nothing to load, nothing counted, the rules stay.
  std::filesystem::remove(proxy.config_file());
  REQUIRE(eventually([&] { return proxy.log_tail(100).find(path + " is gone") != std::string::npos; }));
  CHECK(failed_reloads() == 1);
  CHECK(rw_items_port() == first_port);

  // (3) Fixed by a rename into place: applied.
  replace_by_rename(proxy.config_file(), watched_config("analytics", metrics_port).to_yaml(proxy.port()));
  REQUIRE(eventually([&] { return rw_items_port() == second_port; }));
  CHECK(ok_reloads() == 2);
  CHECK(failed_reloads() == 1);
  CHECK(generation() == 3);

  // The watcher does not hold up a graceful stop.
  proxy.signal(SIGTERM);
  const auto status = proxy.wait_exit(5s);
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("reload watch: reload.watch false leaves a changed file alone until SIGHUP") {
  const int metrics_port = free_port();
  ProxyConfig cfg = default_proxy_config();
  cfg.metrics_port = metrics_port;  // watch_config stays false: `reload: {watch: false}`
  Proxy proxy(cfg);
  cfg.pool_size = 3;
  proxy.write_config(cfg);
  // Nothing to await for an event that must not happen: give the watcher several settle periods.
  std::this_thread::sleep_for(1s);
  CHECK(metric(metrics_port, "pgroute_config_generation") == 1);
  CHECK(proxy.log_tail(100).find("reload: " + proxy.config_file().string() + " changed") == std::string::npos);
  proxy.signal(SIGHUP);
  CHECK(eventually([&] { return metric(metrics_port, "pgroute_config_generation") == 2; }));
}

namespace {

// Whether the process holds an inotify descriptor (what a running config watcher has).
bool has_inotify(pid_t pid) {
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(fd.path(), link_ec).string() == "anon_inode:inotify") return true;
  }
  return false;
}

}  // namespace

// Issue 16, defect 7: the watcher ran (and read events) even with watch: false.
TEST_CASE("reload watch: watch false means no watcher; a reload turns it on and off") {
  const int metrics_port = free_port();
  ProxyConfig cfg = default_proxy_config();
  cfg.metrics_port = metrics_port;  // `reload: {watch: false}`
  Proxy proxy(cfg);
  CHECK_FALSE(has_inotify(proxy.pid()));

  cfg.watch_config = true;
  proxy.write_config(cfg);
  proxy.signal(SIGHUP);
  REQUIRE(eventually([&] { return metric(metrics_port, "pgroute_config_generation") == 2; }));
  CHECK(has_inotify(proxy.pid()));
  cfg.pool_size = 3;
  proxy.write_config(cfg);  // noticed without SIGHUP now
  CHECK(eventually([&] { return metric(metrics_port, "pgroute_config_generation") == 3; }));

  cfg.watch_config = false;
  proxy.write_config(cfg);  // reloaded by the watcher itself, which this turns off
  REQUIRE(eventually([&] { return metric(metrics_port, "pgroute_config_generation") == 4; }));
  CHECK(eventually([&] { return !has_inotify(proxy.pid()); }));
  cfg.pool_size = 4;
  proxy.write_config(cfg);
  std::this_thread::sleep_for(1s);
  CHECK(metric(metrics_port, "pgroute_config_generation") == 4);
}
