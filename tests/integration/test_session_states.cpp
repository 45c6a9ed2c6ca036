// SHOW CLIENTS shows each session's state: starting, authenticating, idle, parked, attached.
#include "harness.hpp"

using namespace pgroute::it;

namespace {

constexpr const char* kOps = "ops";
constexpr const char* kOpsPassword = "opspass";

// SHOW CLIENTS: id|user|database|alias|application_name|address|state|worker|tls
constexpr size_t kAppName = 4, kState = 6;

std::vector<std::string> states_of(Conn& console, const std::string& application_name) {
  std::vector<std::string> out;
  Rows rows = console.exec("SHOW CLIENTS");
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows.at(i, kAppName) == application_name) out.push_back(rows.at(i, kState));
  return out;
}

std::string state_of(Conn& console, const std::string& application_name) {
  auto states = states_of(console, application_name);
  return states.size() == 1 ? states[0] : "(" + std::to_string(states.size()) + " sessions)";
}

}  // namespace

TEST_CASE("session states: SHOW CLIENTS shows starting, authenticating, idle, attached and parked") {
  ProxyConfig cfg = default_proxy_config();
  cfg.users.push_back({kOps, kOpsPassword, std::nullopt});
  cfg.admin_users = {kOps};
  Proxy proxy(cfg);
  Conn console = proxy.connect(kOps, kOpsPassword, "pgroute");

  RawClient silent(proxy.port());  // connected, no startup packet yet
  RawClient in_login(proxy.port());
  REQUIRE(in_login.send(startup_message({{"user", kProxyUser}, {"database", "app"}})));
  auto request = in_login.read_message();  // asked for its password, which never comes
  REQUIRE(request);
  REQUIRE(request->type == 'R');

  Conn idle = proxy.connect(kProxyUser, kProxyPassword, "app", {{"application_name", "it-idle"}});
  CHECK(idle.scalar("SELECT 1") == "1");
  Conn in_tx = proxy.connect(kProxyUser, kProxyPassword, "app", {{"application_name", "it-tx"}});
  in_tx.exec("BEGIN");
  CHECK(in_tx.scalar("SELECT 2") == "2");

  CHECK(state_of(console, "it-tx") == "attached");
  CHECK(state_of(console, "it-idle") == "idle");
  // The raw connections and the console have no application_name.
  std::vector<std::string> unnamed = states_of(console, "");
  std::sort(unnamed.begin(), unnamed.end());
  std::string listed;
  for (const auto& s : unnamed) listed += s + " ";
  INFO("unnamed sessions: " << listed);
  CHECK(unnamed == std::vector<std::string>{"admin", "authenticating", "starting"});

  // Idle across two sweeps of its worker (2 s each): parked, and back as soon as it sends.
  CHECK(eventually([&] { return state_of(console, "it-idle") == "parked"; }, 10s));
  CHECK(state_of(console, "it-tx") == "attached");  // a transaction is never parked
  CHECK(idle.scalar("SELECT 3") == "3");
  in_tx.exec("COMMIT");
  CHECK(eventually([&] { return state_of(console, "it-tx") == "idle" || state_of(console, "it-tx") == "parked"; }));
}
