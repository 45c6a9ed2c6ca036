// Snapshot: the SCRAM secret of a plaintext password is derived once per password, not per login and
// not again on a reload that leaves the password alone.
#include <doctest/doctest.h>

#include <memory>

#include "proxy/auth/scram.hpp"
#include "proxy/pool/runtime.hpp"

using namespace pgroute;

namespace {
std::shared_ptr<config::Config> users_config() {
  auto cfg = std::make_shared<config::Config>();
  cfg->users = {{"kept", "pw1"}, {"changed", "pw2"}, {"md5user", "pw3", config::AuthMethod::Md5}};
  return cfg;
}
}  // namespace

TEST_CASE("make_snapshot: plaintext passwords of scram users are derived once and kept across reloads") {
  auto first = make_snapshot(users_config(), 1, nullptr);
  REQUIRE(first->scram.count("kept") == 1);
  REQUIRE(first->scram.count("changed") == 1);
  CHECK(first->scram.count("md5user") == 0);  // md5 logins need no SCRAM secret
  const auth::ScramSecret& kept = first->scram.at("kept");
  CHECK(auth::make_scram_secret("pw1", kept.salt, kept.iterations).stored_key == kept.stored_key);

  auto next_cfg = users_config();
  next_cfg->users[1].password = "new";
  auto second = make_snapshot(next_cfg, 2, nullptr, first.get());
  // Same password: the same secret (no PBKDF2, the salt a client sees does not change).
  CHECK(second->scram.at("kept").salt == kept.salt);
  CHECK(second->scram.at("kept").stored_key == kept.stored_key);
  // A new password: derived anew, and it is the new password's.
  const auth::ScramSecret& changed = second->scram.at("changed");
  CHECK(changed.salt != first->scram.at("changed").salt);
  CHECK(auth::make_scram_secret("new", changed.salt, changed.iterations).stored_key == changed.stored_key);

  // Without a previous snapshot every secret is fresh.
  CHECK(make_snapshot(users_config(), 3, nullptr)->scram.at("kept").salt != kept.salt);
}
