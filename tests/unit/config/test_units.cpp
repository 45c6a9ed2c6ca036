#include <doctest/doctest.h>

#include "config/units.hpp"

using namespace pgroute::config;
using std::chrono::milliseconds;

TEST_CASE("units: integers") {
  CHECK(parse_integer("0") == 0);
  CHECK(parse_integer("42") == 42);
  CHECK(parse_integer("-3") == -3);
  CHECK(parse_integer("9223372036854775807") == INT64_MAX);
  CHECK_FALSE(parse_integer("9223372036854775808").has_value());
  CHECK_FALSE(parse_integer("99999999999999999999999").has_value());
  CHECK_FALSE(parse_integer("").has_value());
  CHECK_FALSE(parse_integer("-").has_value());
  CHECK_FALSE(parse_integer("+5").has_value());
  CHECK_FALSE(parse_integer("1e3").has_value());
  CHECK_FALSE(parse_integer("12 ").has_value());
  CHECK_FALSE(parse_integer("0x10").has_value());
}

TEST_CASE("units: durations") {
  CHECK(parse_duration("500ms") == milliseconds(500));
  CHECK(parse_duration("5s") == milliseconds(5000));
  CHECK(parse_duration("2m") == milliseconds(120'000));
  CHECK(parse_duration("1h") == milliseconds(3'600'000));
  CHECK(parse_duration("30") == milliseconds(30'000));  // plain integer = seconds
  CHECK(parse_duration("0") == milliseconds(0));        // the caller decides whether 0 is allowed
  CHECK(parse_duration("5 s") == milliseconds(5000));
  for (const char* bad :
       {"", "s", "5x", "5sec", "-5s", "5.5s", "5 ", " 5s", "5S", "1d", "99999999999999999999h", "9999999999999999h"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("units: byte sizes are powers of 1024") {
  CHECK(parse_byte_size("64MB") == 64u << 20);
  CHECK(parse_byte_size("64MiB") == 64u << 20);
  CHECK(parse_byte_size("512kB") == 512u << 10);
  CHECK(parse_byte_size("512KB") == 512u << 10);
  CHECK(parse_byte_size("512KiB") == 512u << 10);
  CHECK(parse_byte_size("1GB") == 1ull << 30);
  CHECK(parse_byte_size("2GiB") == 2ull << 30);
  CHECK(parse_byte_size("100B") == 100u);
  CHECK(parse_byte_size("1048576") == 1048576u);
  CHECK(parse_byte_size("8 MB") == 8u << 20);
  for (const char* bad :
       {"", "MB", "64mb", "64Mb", "-1MB", "1TB", "1.5GB", "64 ", "99999999999999999999GB", "18014398509481984GB"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_byte_size(bad).has_value());
  }
}
