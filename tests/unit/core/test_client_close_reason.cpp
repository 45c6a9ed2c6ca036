// ClientCloseReason: each reason has its own metric label, and the count covers every reason (the
// metric is an array indexed by it).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "proxy/pool/client_close_reason.hpp"

using namespace pgroute;

TEST_CASE("client close reason: every reason has a distinct, non-empty, label-safe name") {
  // unknown is the last reason: the count reaches it.
  CHECK(static_cast<int>(ClientCloseReason::unknown) + 1 == kClientCloseReasonCount);
  std::set<std::string> names;
  for (int i = 0; i < kClientCloseReasonCount; ++i) {
    const std::string name(client_close_reason_name(static_cast<ClientCloseReason>(i)));
    INFO("reason " << i << ": " << name);
    CHECK_FALSE(name.empty());
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
    names.insert(name);
  }
  CHECK(names.size() == static_cast<size_t>(kClientCloseReasonCount));
  CHECK(client_close_reason_name(ClientCloseReason::client_closed) == "client_closed");
  CHECK(client_close_reason_name(ClientCloseReason::unknown) == "unknown");
}
