// Inputs tests/fuzz/fuzz_config found, through the same entry point (load_text).
#include <doctest/doctest.h>

#include "config_test_support.hpp"

using namespace pgroute::config;
using namespace pgroute::config::test;
using Lines = std::vector<std::string>;

// yaml-cpp 0.7 reads an empty document before a top-level ',' again and again without consuming it;
// YAML::LoadAll looped until it ran out of memory (--check died with std::bad_alloc after ~12 s, a
// reload took the proxy down).
TEST_CASE("fuzz findings: a ',' outside a flow collection is a problem, not an endless document list") {
  const std::string kStuck =
      "pgroute.yaml:1:1: invalid YAML: cannot read past this point (a ',' outside [...] or {...}?)";
  CHECK(problems_of(",") == Lines{kStuck});
  CHECK(problems_of(",/") == Lines{kStuck});
  CHECK(problems_of(std::string(",\0", 2)) == Lines{kStuck});
  CHECK(problems_of("!,") ==
        Lines{"pgroute.yaml:1:2: invalid YAML: cannot read past this point (a ',' outside [...] or {...}?)"});
  // A stray comma line after a valid first document, as a typo would leave it.
  CHECK(problems_of("backends: {default: {url: \"postgresql://h\"}}\n---\n,\n") ==
        Lines{"pgroute.yaml:3:1: invalid YAML: cannot read past this point (a ',' outside [...] or {...}?)"});
  CHECK(problems_of("- a\n,\n") ==
        Lines{"pgroute.yaml:2:1: invalid YAML: cannot read past this point (a ',' outside [...] or {...}?)"});
}
