// YAML configuration loading and validation (config/loader.cpp's load_text, as a reload reads the
// file), then the router chain the configuration asks for. Checked: a load gives a configuration or
// problems, never both; every problem names the file and says something; a chain that cannot be built
// says why.
#include <cstdint>
#include <string>

#include "config/loader.hpp"
#include "fuzz_support.hpp"
#include "router/chain_builder.hpp"

using namespace pgroute;

namespace {

// ${VAR} expansion sees a fixed environment, not the fuzzer's.
std::optional<std::string> fixed_env(std::string_view name) {
  if (name == "PGROUTE_PASSWORD") return "secret";
  if (name == "PGROUTE_PORT") return "6432";
  if (name == "EMPTY") return "";
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = config::load_text(fuzz::bytes(data, size), "fuzz.yaml", fixed_env);
  FUZZ_CHECK(!result.config != result.problems.empty());
  for (const auto& p : result.problems) {
    FUZZ_CHECK(p.file == "fuzz.yaml" && !p.message.empty() && p.line >= 0 && p.column >= 0);
    (void)p.to_string();
  }
  if (!result.config || result.config->routers.empty()) return 0;
  std::string error;
  auto chain = router::build_router_chain(*result.config, error);
  FUZZ_CHECK(!chain != error.empty());
  return 0;
}
