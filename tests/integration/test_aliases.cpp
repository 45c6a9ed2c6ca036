// 13. Database names map to backend aliases on different servers.
#include "harness.hpp"

using namespace pgroute::it;

TEST_CASE("proxy: database names reach the cluster of their alias") {
  Proxy proxy(default_proxy_config());
  Conn app = proxy.connect(kProxyUser, kProxyPassword, "app");
  Conn analytics = proxy.connect(kProxyUser, kProxyPassword, "analytics");
  CHECK(app.scalar("SELECT inet_server_port()") == std::to_string(first_cluster().port()));
  CHECK(analytics.scalar("SELECT inet_server_port()") == std::to_string(second_cluster().port()));
  CHECK(analytics.scalar("SHOW port") == std::to_string(second_cluster().port()));
  // Interleaved use of both keeps each on its own cluster.
  for (int i = 0; i < 5; ++i) {
    CHECK(app.scalar("SHOW port") == std::to_string(first_cluster().port()));
    CHECK(analytics.exec_params("SELECT inet_server_port() + $1::int", {"0"}).at(0, 0) ==
          std::to_string(second_cluster().port()));
  }
}
