// PluginRouter with the example plugin built by this project (router/plugins/example_router.c).

#include <doctest/doctest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "config/loader.hpp"
#include "route_fixture.hpp"
#include "router/chain_builder.hpp"
#include "router/plugin_router.hpp"

using namespace pgroute;
using namespace pgroute::router;
using pgroute::router::test::Statement;

namespace {

const std::string kPlugin = PGROUTE_EXAMPLE_PLUGIN;
const std::vector<std::string> kAliases = {"default", "analytics", "vip"};

std::unique_ptr<PluginRouter> example(
    const std::string& options =
        R"({"audit_alias":"analytics","vip_key":"tenant_id","vip_value":"42","vip_alias":"vip"})") {
  std::string error;
  auto router = PluginRouter::load(kPlugin, options, kAliases, error);
  REQUIRE_MESSAGE(router, error);
  return router;
}

RouteDecision decision(const Opinion& o) {
  if (auto* e = std::get_if<RouteError>(&o)) FAIL("unexpected error: " << e->message);
  REQUIRE_MESSAGE(std::holds_alternative<RouteDecision>(o), "expected a decision, got no opinion");
  return std::get<RouteDecision>(o);
}

RouteError refusal(const Opinion& o) {
  REQUIRE_MESSAGE(std::holds_alternative<RouteError>(o), "expected a refusal");
  return std::get<RouteError>(o);
}

}  // namespace

TEST_CASE("plugin: routes by table name with the statement's kind, command and session") {
  auto router = example();
  CHECK(router->name() == "plugin(example)");
  Statement read("SELECT * FROM audit_log JOIN users USING (id)");
  read.application_name = "billing";
  auto d = decision(router->db_for_read(read.context()));
  CHECK(d.alias == "analytics");
  CHECK(d.router == "plugin(example)");
  CHECK(d.reason == "read table audit_log of SELECT (application \"billing\")");
  CHECK_FALSE(d.statement_level);

  Statement write("INSERT INTO audit_events (a) VALUES (1)");
  write.in_transaction = true;
  d = decision(router->db_for_write(write.context()));
  CHECK(d.alias == "analytics");
  CHECK(d.reason == "write table audit_events of INSERT (application \"web\", in a transaction)");

  Statement other("SELECT * FROM orders");
  CHECK(std::holds_alternative<std::monostate>(router->db_for_read(other.context())));
}

TEST_CASE("plugin: shard key values reach the plugin, literal or bound") {
  auto router = example();
  Statement literal("SELECT * FROM orders WHERE tenant_id = 42");
  auto d = decision(router->db_for_read(literal.context()));
  CHECK(d.alias == "vip");
  CHECK(d.reason == "tenant_id = 42 is a VIP (literal, user app)");

  Statement bound("UPDATE orders SET paid = true WHERE tenant_id = $1");
  CHECK(std::holds_alternative<std::monostate>(router->db_for_write(bound.context())));  // not bound yet
  bound.params = {std::string_view("42")};
  bound.user = "billing";
  d = decision(router->db_for_write(bound.context()));
  CHECK(d.alias == "vip");
  CHECK(d.reason == "tenant_id = 42 is a VIP (bound, user billing)");
  bound.params = {std::string_view("41")};
  CHECK(std::holds_alternative<std::monostate>(router->db_for_write(bound.context())));
  bound.params = {std::nullopt};
  CHECK(std::holds_alternative<std::monostate>(router->db_for_write(bound.context())));

  Statement in_list("SELECT * FROM orders WHERE tenant_id IN (7, 42)");
  CHECK(decision(router->db_for_read(in_list.context())).alias == "vip");
}

TEST_CASE("plugin: refusals carry the plugin's SQLSTATE, message and hint") {
  auto router = example();
  Statement s("DELETE FROM forbidden WHERE id = 1");
  auto e = refusal(router->db_for_write(s.context()));
  CHECK(e.sqlstate == "42501");
  CHECK(e.message == "pgroute: plugin(example): table is off limits");
  CHECK(e.hint == "Ask the data owners for access.");
  CHECK(e.router == "plugin(example)");

  auto custom = example(R"({"audit_alias":"analytics","forbidden":"secrets"})");
  Statement secrets("SELECT * FROM public.secrets");
  CHECK(refusal(custom->db_for_read(secrets.context())).sqlstate == "42501");
  Statement fine("SELECT * FROM forbidden");
  CHECK(std::holds_alternative<std::monostate>(custom->db_for_read(fine.context())));
}

TEST_CASE("plugin: an alias the backends do not have is an error, not a route") {
  auto router = example(R"({"audit_alias":"nowhere"})");
  Statement s("SELECT * FROM audit_log");
  auto e = refusal(router->db_for_read(s.context()));
  CHECK(e.sqlstate == "XX000");
  CHECK(e.message == "pgroute: plugin(example): routed to unknown alias \"nowhere\"");
}

TEST_CASE("plugin: allow_relation is the plugin's") {
  auto router = example();
  CHECK(router->allow_relation({"", "audit_a"}, "x", {"", "audit_b"}, "y") == std::optional<bool>(true));
  CHECK_FALSE(router->allow_relation({"", "audit_a"}, "x", {"", "users"}, "y").has_value());
}

TEST_CASE("plugin: two loads keep separate state (a reload while the old chain lives)") {
  auto first = example(R"({"audit_alias":"analytics"})");
  auto second = example(R"({"audit_alias":"default"})");
  Statement s("SELECT * FROM audit_log");
  CHECK(decision(first->db_for_read(s.context())).alias == "analytics");
  CHECK(decision(second->db_for_read(s.context())).alias == "default");
  first.reset();
  CHECK(decision(second->db_for_read(s.context())).alias == "default");
}

TEST_CASE("plugin: load failures name the path and the reason") {
  std::string error;
  CHECK_FALSE(PluginRouter::load(kPlugin, "{}", kAliases, error));
  CHECK(error == "plugin \"" + kPlugin + "\": init failed: options need \"audit_alias\" (got {})");

  auto fake = std::filesystem::temp_directory_path() / ("pgroute_fake_" + std::to_string(::getpid()) + ".so");
  std::ofstream(fake) << "not an ELF file\n";
  CHECK_FALSE(PluginRouter::load(fake.string(), "{}", kAliases, error));
  std::filesystem::remove(fake);
  CAPTURE(error);
  CHECK(error.starts_with("plugin \"" + fake.string() + "\": cannot load: "));
  CHECK(error.find(fake.string() + ":", 10) != std::string::npos);  // dlerror() names the file too

  CHECK_FALSE(PluginRouter::load("/nonexistent/x.so", "{}", kAliases, error));
  CHECK(error.starts_with("plugin \"/nonexistent/x.so\": cannot load: "));
}

TEST_CASE("plugin: through pgroute.yaml and the chain builder") {
  const std::string text =
      "backends: {default: {url: \"postgresql://h\"}, analytics: {url: \"postgresql://h\"}}\n"
      "routers:\n"
      "  - type: plugin\n"
      "    path: \"" +
      kPlugin +
      "\"\n"
      "    options: {audit_alias: analytics}\n";
  auto loaded = config::load_text(text, "pgroute.yaml");
  REQUIRE(loaded.config);
  std::string error;
  auto chain = build_router_chain(*loaded.config, error);
  REQUIRE_MESSAGE(chain, error);
  Statement audit("SELECT count(*) FROM audit_log");
  auto result = chain->route(audit.context());
  REQUIRE(std::holds_alternative<RouteDecision>(result));
  CHECK(std::get<RouteDecision>(result).alias == "analytics");
  Statement forbidden("SELECT * FROM forbidden");
  result = chain->route(forbidden.context());
  REQUIRE(std::holds_alternative<RouteError>(result));
  CHECK(std::get<RouteError>(result).message == "pgroute: plugin(example): table is off limits");

  auto broken = config::load_text(text.substr(0, text.find("    options")), "pgroute.yaml");
  REQUIRE(broken.config);
  CHECK(build_router_chain(*broken.config, error) == nullptr);
  CHECK(error ==
        "pgroute.yaml:3:5: routers[0]: plugin \"" + kPlugin + "\": init failed: options need \"audit_alias\" (got {})");
}
