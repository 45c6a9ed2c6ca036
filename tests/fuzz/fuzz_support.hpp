// Shared by the libFuzzer targets in this directory (built with PGROUTE_FUZZ=ON, run by tools/fuzz).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace pgroute::fuzz {

inline std::string_view bytes(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// Whether a view a parser returned lies inside the bytes it was given.
inline bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// A broken property is a finding like a crash: abort() makes libFuzzer save the input.
[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", what, file, line);
  std::abort();
}

}  // namespace pgroute::fuzz

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) ::pgroute::fuzz::property_failed(#cond, __FILE__, __LINE__); \
  } while (0)
