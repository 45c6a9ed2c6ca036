// tls: the keys, their values and where a problem is; the files themselves are loaded by the proxy
// (proxy/io/tls_context.cpp, tested through the real binary in tests/integration/test_tls.cpp).
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using Lines = std::vector<std::string>;

TEST_CASE("tls config: the files, mode, minimum version and ciphers, with where each is named") {
  auto cfg = config_of(kBackendLine +
                       "tls:\n  cert: /etc/pgroute/s.crt\n  key: /etc/pgroute/s.key\n  mode: require\n"
                       "  min_version: TLSv1.3\n  ciphers: HIGH\n");
  REQUIRE(cfg->tls.has_value());
  const Tls& tls = *cfg->tls;
  CHECK(tls.cert == "/etc/pgroute/s.crt");
  CHECK(tls.key == "/etc/pgroute/s.key");
  CHECK(tls.mode == Tls::Mode::require);
  CHECK(tls.min_version == Tls::Version::tls1_3);
  CHECK(tls.ciphers == "HIGH");
  CHECK(tls.cert_at == "pgroute.yaml:3:9: tls.cert");
  CHECK(tls.key_at == "pgroute.yaml:4:8: tls.key");
}

TEST_CASE("tls config: allow and TLSv1.2 by default; no tls: key, no TLS") {
  auto cfg = config_of(kBackendLine + "tls: {cert: a.crt, key: a.key}\n");
  REQUIRE(cfg->tls.has_value());
  CHECK(cfg->tls->mode == Tls::Mode::allow);
  CHECK(cfg->tls->min_version == Tls::Version::tls1_2);
  CHECK_FALSE(config_of(kBackendLine)->tls.has_value());
}

TEST_CASE("tls config: problems point at the key") {
  CHECK(problems_of(kBackendLine + "tls: {cert: a.crt, key: a.key, mode: sometimes}\n") ==
        Lines{"pgroute.yaml:2:38: tls.mode: unknown value \"sometimes\" (allowed: disable, allow, require)"});
  CHECK(problems_of(kBackendLine + "tls: {cert: a.crt}\n") ==
        Lines{"pgroute.yaml:2:1: tls: key: is required unless mode is disable"});
  CHECK(problems_of(kBackendLine + "tls: {mode: disable}\n").empty());
  CHECK(problems_of(kBackendLine + "tls: {cert: a.crt, key: a.key, min_version: TLSv1.1}\n").size() == 1);
}

TEST_CASE("tls config: auth cert needs tls.ca, and takes no password") {
  CHECK(problems_of(kBackendLine + "users: [{name: alice, auth: cert}]\n") ==
        Lines{"pgroute.yaml:2:29: users[0].auth: auth cert needs tls.ca (the CA that signs client certificates), "
              "with TLS on"});
  auto cfg =
      config_of(kBackendLine + "users: [{name: alice, auth: cert}]\ntls: {cert: a.crt, key: a.key, ca: ca.crt}\n");
  CHECK(cfg->users.at(0).auth == AuthMethod::Cert);
  CHECK(cfg->users.at(0).password.empty());
  CHECK(cfg->tls->ca == "ca.crt");
  CHECK(problems_of(kBackendLine + "users: [{name: alice, auth: cert}]\ntls: {mode: disable, ca: ca.crt}\n").size() ==
        1);
}

TEST_CASE("tls config: relative file names are taken from the configuration file's directory") {
  LoadResult r = load_text(kBackendLine + "tls: {cert: certs/s.crt, key: /abs/s.key, ca: ca.crt}\n",
                           "/etc/pgroute/pgroute.yaml", fake_env());
  REQUIRE(r.problems.empty());
  CHECK(r.config->tls->cert == "/etc/pgroute/certs/s.crt");
  CHECK(r.config->tls->key == "/abs/s.key");
  CHECK(r.config->tls->ca == "/etc/pgroute/ca.crt");
}
