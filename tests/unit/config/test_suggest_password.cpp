#include <doctest/doctest.h>

#include <array>
#include <string>

#include "config/password.hpp"
#include "config/suggest.hpp"

using namespace pgroute::config;

TEST_CASE("suggest: edit distance counts adjacent swaps as one edit") {
  CHECK(edit_distance("pool_size", "pool_size") == 0);
  CHECK(edit_distance("pool_szie", "pool_size") == 1);
  CHECK(edit_distance("pol_size", "pool_size") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("abc", "") == 3);
}

TEST_CASE("suggest: closest match within two edits, first on ties") {
  constexpr std::array<std::string_view, 4> keys = {"url", "pool_size", "mode", "node"};
  CHECK(closest_match("pool_szie", keys) == std::optional<std::string_view>("pool_size"));
  CHECK(closest_match("urll", keys) == std::optional<std::string_view>("url"));
  CHECK(closest_match("mote", keys) == std::optional<std::string_view>("mode"));
  CHECK_FALSE(closest_match("hostname", keys).has_value());
  CHECK_FALSE(closest_match("pool_sizes_x", keys).has_value());
}

namespace {
const std::string kKey(43, 'A');
const std::string kVerifier = "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$" + kKey + "=:" + kKey + "=";
}  // namespace

TEST_CASE("password: classification") {
  CHECK(classify_password("secret") == PasswordKind::Plaintext);
  CHECK(classify_password("") == PasswordKind::Plaintext);
  CHECK(classify_password(kVerifier) == PasswordKind::ScramVerifier);
  CHECK(classify_password("SCRAM-SHA-256$garbage") == PasswordKind::ScramVerifier);
  CHECK(classify_password("md5" + std::string(32, 'a')) == PasswordKind::Md5Hash);
  CHECK(classify_password("md5" + std::string(32, 'F')) == PasswordKind::Md5Hash);
  CHECK(classify_password("md5" + std::string(31, 'a')) == PasswordKind::Plaintext);
  CHECK(classify_password("md5" + std::string(31, 'a') + "g") == PasswordKind::Plaintext);
  CHECK(classify_password("md5" + std::string(33, 'a')) == PasswordKind::Plaintext);
}

TEST_CASE("password: SCRAM verifier shape") {
  CHECK(is_well_formed_scram_verifier(kVerifier));
  CHECK_FALSE(is_well_formed_scram_verifier("SCRAM-SHA-256$garbage"));
  CHECK_FALSE(is_well_formed_scram_verifier("SCRAM-SHA-256$0:c2FsdHNhbHQ=$" + kKey + "=:" + kKey + "="));
  CHECK_FALSE(is_well_formed_scram_verifier("SCRAM-SHA-256$4096:c2F*dHNhbHQ=$" + kKey + "=:" + kKey + "="));
  CHECK_FALSE(is_well_formed_scram_verifier("SCRAM-SHA-256$4096:c2FsdHNhbHQ=$" + kKey + ":" + kKey + "="));
  CHECK_FALSE(is_well_formed_scram_verifier("SCRAM-SHA-256$4096:c2FsdHNhbHQ=$" + kKey + "="));
  CHECK_FALSE(is_well_formed_scram_verifier("secret"));
}
