// 6. Authentication: every client-side method, the errors, and every server-side login method.
#include "harness.hpp"

using namespace pgroute::it;

namespace {

// The authentication request the proxy answers a startup with ('R' code: 0 ok, 3 cleartext,
// 5 md5, 10 SASL), or -1 if it answered something else.
int auth_request_for(int port, const std::string& user) {
  RawClient raw(port);
  raw.send(startup_message({{"user", user}, {"database", "app"}}));
  auto m = raw.read_message();
  if (!m || m->type != 'R') return -1;
  return static_cast<int>(get_u32(m->body));
}

}  // namespace

TEST_CASE("proxy: client authentication methods and their errors") {
  Proxy proxy(default_proxy_config());

  CHECK(proxy.connect(kProxyUser, kProxyPassword).scalar("SELECT current_user") == kAppUser);
  CHECK(proxy.connect(kProxyMd5User, kProxyMd5Password).scalar("SELECT 'md5 ok'") == "md5 ok");
  CHECK(proxy.connect(kProxyClearUser, kProxyClearPassword).scalar("SELECT 'clear ok'") == "clear ok");
  CHECK(proxy.connect(kProxyTrustUser, std::nullopt).scalar("SELECT 'trust ok'") == "trust ok");

  // Each user is asked for the method its config names.
  CHECK(auth_request_for(proxy.port(), kProxyUser) == 10);
  CHECK(auth_request_for(proxy.port(), kProxyMd5User) == 5);
  CHECK(auth_request_for(proxy.port(), kProxyClearUser) == 3);
  CHECK(auth_request_for(proxy.port(), kProxyTrustUser) == 0);

  for (const char* user : {kProxyUser, kProxyMd5User, kProxyClearUser}) {
    PgError e = expect_pg_error([&] { proxy.connect(user, "wrong password"); });
    INFO(user << ": " << e.what());
    CHECK(e.sqlstate == "28P01");
  }
  PgError unknown = expect_pg_error([&] { proxy.connect("nobody_here", "x"); });
  INFO(unknown.what());
  CHECK(unknown.sqlstate == "28P01");

  PgError db = expect_pg_error([&] { proxy.connect(kProxyUser, kProxyPassword, "no_such_db"); });
  INFO(db.what());
  CHECK(db.sqlstate == "3D000");
  CHECK(db.message.find("no_such_db") != std::string::npos);
  // Without the password, an unknown database looks like a known one: names cannot be probed.
  PgError probe = expect_pg_error([&] { proxy.connect(kProxyUser, "wrong password", "no_such_db"); });
  INFO(probe.what());
  CHECK(probe.sqlstate == "28P01");
  CHECK(probe.message.find("no_such_db") == std::string::npos);

  CHECK(proxy.connect().scalar("SELECT 'still serving'") == "still serving");
}

TEST_CASE("proxy: logs in to servers with trust, cleartext, md5 and SCRAM, or as the client") {
  PgCluster& server = first_cluster();
  ProxyConfig cfg = default_proxy_config();
  cfg.backends.push_back({"as_trust", server.url(kTrustUser, std::nullopt), std::nullopt});
  cfg.backends.push_back({"as_clear", server.url(kClearUser, kClearPassword), std::nullopt});
  cfg.backends.push_back({"as_md5", server.url(kMd5User, kMd5Password), std::nullopt});
  cfg.backends.push_back({"as_scram", server.url(kAppUser, kAppPassword), std::nullopt});
  // No user in the URL: the server login is the client's, with its configured password.
  cfg.backends.push_back(
      {"as_client", "postgresql://127.0.0.1:" + std::to_string(server.port()) + "/app", std::nullopt});
  for (const char* alias : {"as_trust", "as_clear", "as_md5", "as_scram", "as_client"})
    cfg.databases.emplace_back(std::string("via_") + (alias + 3), alias);
  cfg.users.push_back({kClearUser, kClearPassword, std::nullopt});
  cfg.users.push_back({kMd5User, kMd5Password, "md5"});
  Proxy proxy(cfg);

  const std::pair<const char*, const char*> cases[] = {
      {"via_trust", kTrustUser}, {"via_clear", kClearUser}, {"via_md5", kMd5User}, {"via_scram", kAppUser}};
  for (const auto& [db, server_user] : cases) {
    INFO("database " << db);
    CHECK(proxy.connect(kProxyUser, kProxyPassword, db).scalar("SELECT current_user") == server_user);
  }
  CHECK(proxy.connect(kClearUser, kClearPassword, "via_client").scalar("SELECT current_user") == kClearUser);
  CHECK(proxy.connect(kMd5User, kMd5Password, "via_client").scalar("SELECT current_user") == kMd5User);
}

TEST_CASE("auth: an unknown database is refused with 3D000 and a hint naming each database name once") {
  ProxyConfig cfg = default_proxy_config();
  cfg.databases = {{"app", "default"}, {"default", "default"}};  // a name that is also an alias
  Proxy proxy(cfg);
  RawClient raw(proxy.port());  // libpq does not show a login error's hint
  REQUIRE(raw.send(startup_message({{"user", kProxyTrustUser}, {"database", "no_such_db"}})));
  std::vector<BackendMessage> seen;
  CHECK(raw.wait_closed(5s, &seen));
  REQUIRE(!seen.empty());
  REQUIRE(seen.back().type == 'E');
  auto fields = error_fields(seen.back().body);
  CHECK(fields['C'] == "3D000");
  INFO(fields['H']);
  CHECK(fields['H'] == "pgroute accepts these database names: app, default, analytics");
}
