// Prometheus metrics: a live scrape after traffic passes promtool, a real Prometheus server scrapes
// pgroute and answers a query, and the endpoint keeps answering while the proxy drains.
#include <csignal>
#include <regex>
#include <thread>

#include "harness.hpp"
#include "http_get.hpp"

using namespace pgroute::it;

namespace {

ProxyConfig metrics_config(int metrics_port) {
    ProxyConfig c = default_proxy_config();
    c.metrics_port = metrics_port;
    return c;
}

std::string scrape(int port) {
    auto r = http_get(port, "/metrics");
    REQUIRE(r.has_value());
    REQUIRE(r->status == 200);
    return r->body;
}

void traffic(Proxy& proxy) {
    Conn c = proxy.connect();
    for (int i = 0; i < 5; ++i) CHECK(c.scalar("SELECT " + std::to_string(i)) == std::to_string(i));
    CHECK(c.exec_params("SELECT generate_series(1, $1::int)", {"3"}).size() == 3);
    Conn analytics = proxy.connect(kProxyUser, kProxyPassword, "analytics");
    CHECK(analytics.scalar("SELECT 1") == "1");
}

}  // namespace

TEST_CASE("metrics: a scrape after traffic holds the pgroute families and passes promtool") {
    const int metrics_port = free_port();
    Proxy proxy(metrics_config(metrics_port));
    traffic(proxy);
    const std::string body = scrape(metrics_port);
    INFO(body.substr(0, 4000));
    // 5 simple queries and one extended unit on `default` (the startup's internal query is not counted).
    CHECK(sample_value(body, R"(pgroute_queries_total{alias="default",router="none",kind="simple"})") == 5);
    CHECK(sample_value(body, R"(pgroute_queries_total{alias="default",router="none",kind="extended"})") == 1);
    CHECK(sample_value(body, R"(pgroute_query_duration_seconds_count{alias="default"})") == 6);
    CHECK(sample_value(body, R"(pgroute_query_rows_total{alias="default"})") == 8);
    CHECK(sample_value(body, R"(pgroute_queries_total{alias="analytics",router="none",kind="simple"})") == 1);
    CHECK(sample_value(body, R"(pgroute_server_connections{alias="default",state="idle"})") >= 1);
    CHECK(sample_value(body, R"(pgroute_pool_checkouts_total{alias="default"})") >= 6);
    CHECK(sample_value(body, R"(pgroute_server_closes_total{alias="default",reason="connect_failed"})") == 0);
    CHECK(sample_value(body, R"(pgroute_config_reloads_total{result="ok"})") == 0);
    CHECK(sample_value(body, "pgroute_client_bytes_received_total") > 0);
    CHECK(sample_value(body, "pgroute_client_bytes_sent_total") > 0);
    CHECK(sample_value(body, "process_resident_memory_bytes") > 0);
    CHECK(sample_value(body, "process_open_fds") > 0);
    CHECK(sample_value(body, "process_start_time_seconds") > 1.7e9);
    CHECK(std::regex_search(body, std::regex(R"(pgroute_config_info\{hash="[0-9a-f]{16}"\} 1)")));

    TempDir dir("promtool");
    RunResult check = run({"promtool", "check", "metrics"}, {.timeout = 20s, .stdin_data = body});
    INFO(check.describe());
    CHECK(check.exit_code == 0);
}
