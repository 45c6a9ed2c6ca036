// The stream loop of the frontend and backend targets: cuts the input into frames as the proxy does,
// checks what next_frame promises, and hands each frame to the target's body parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "proxy/wire/frame.hpp"

namespace pgroute::fuzz {

template <class ReadBody>
void for_each_frame(std::string_view in, uint32_t max_body, ReadBody read_body) {
  using namespace pgroute::wire;
  while (!in.empty()) {
    Frame f;
    size_t need = 0;
    std::string error;
    switch (next_frame(in, max_body, f, need, &error)) {
      case Decode::Invalid: FUZZ_CHECK(need == 0 && !error.empty()); return;
      case Decode::NeedMore: FUZZ_CHECK(need > in.size()); return;
      case Decode::Ready: break;
    }
    FUZZ_CHECK(need == f.wire_size() && need <= in.size() && f.bytes().data() == in.data());
    read_body(f);
    in.remove_prefix(need);
  }
}

}  // namespace pgroute::fuzz
