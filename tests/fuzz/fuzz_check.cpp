// `pgroute --check FILE` without a process: the input is written to a file and goes through what
// proxy/process/main.cpp's check() runs, config::load_file() and then the router chain when the file has
// `routers:` (pgroute::chain_for, which lives in the Asio core and only forwards to
// build_router_chain). The process environment is the fuzzer's, as it is for --check.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "config/loader.hpp"
#include "fuzz_support.hpp"
#include "router/chain_builder.hpp"

using namespace pgroute;

namespace {

const std::string& config_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/pgroute-fuzz-check-" + std::to_string(getpid()) + ".yaml";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = config_path();
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    FUZZ_CHECK(f != nullptr);
    FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(std::fclose(f) == 0);
  }
  auto result = config::load_file(path);
  std::remove(path.c_str());  // libFuzzer ends with _Exit: no destructor would remove it
  FUZZ_CHECK(!result.config != result.problems.empty());
  for (const auto& p : result.problems) FUZZ_CHECK(p.file == path && !p.to_string().empty());
  if (!result.config || result.config->routers.empty()) return 0;
  std::string error;
  auto chain = router::build_router_chain(*result.config, error);
  FUZZ_CHECK(!chain != error.empty());
  return 0;
}
