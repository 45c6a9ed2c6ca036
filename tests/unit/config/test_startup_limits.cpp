// Limits of the time before login: authentication_timeout, max_startup_connections and the
// connections reserved for admin users.
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using std::chrono::milliseconds;

namespace {
using Lines = std::vector<std::string>;
const std::string kAdminLines = "users: [{name: ops, password: x}]\nadmin: {users: [ops]}\n";
}  // namespace

TEST_CASE("config: startup limits have PostgreSQL-like defaults") {
  auto c = config_of(kBackendLine);
  CHECK(c->authentication_timeout == milliseconds(60000));
  CHECK(c->max_startup_connections == 0);
  CHECK(c->startup_limit() == 2500);  // max_client_connections / 4
  CHECK(config_of(kBackendLine + "max_client_connections: 20\n")->startup_limit() == 64);
  CHECK(c->reserved_admin_connections == 3);
  CHECK(c->admin_reserve() == 0);  // no admin users: nobody to keep slots for
  CHECK(config_of(kBackendLine + kAdminLines)->admin_reserve() == 3);
  // The default shrinks to leave one slot for everyone else.
  CHECK(config_of(kBackendLine + kAdminLines + "max_client_connections: 2\n")->admin_reserve() == 1);
}

TEST_CASE("config: startup limits as written") {
  auto c = config_of(kBackendLine + kAdminLines +
                     "authentication_timeout: 1500ms\nmax_startup_connections: 10\nreserved_admin_connections: 0\n");
  CHECK(c->authentication_timeout == milliseconds(1500));
  CHECK(c->startup_limit() == 10);
  CHECK(c->admin_reserve() == 0);
  CHECK(config_of(kBackendLine + "authentication_timeout: 2m\n")->authentication_timeout == milliseconds(120000));
}

TEST_CASE("problems: startup limits") {
  CHECK(problems_of(kBackendLine + "authentication_timeout: 10ms\n") ==
        Lines{"pgroute.yaml:2:25: authentication_timeout: must be at least 100ms, got \"10ms\""});
  CHECK(problems_of(kBackendLine + "authentication_timeout: soon\n").size() == 1);
  CHECK(problems_of(kBackendLine + "max_startup_connections: -1\n") ==
        Lines{"pgroute.yaml:2:26: max_startup_connections: must not be negative, got -1"});
  CHECK(problems_of(kBackendLine + "max_client_connections: 5\nreserved_admin_connections: 5\n") ==
        Lines{"pgroute.yaml:3:29: reserved_admin_connections: must be less than max_client_connections (5), got 5"});
}
