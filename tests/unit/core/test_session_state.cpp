// SessionState: each state has its own name (SHOW CLIENTS shows it), and the count covers every state.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "proxy/session/session_state.hpp"

using namespace pgroute;

TEST_CASE("session state: every state has a distinct, non-empty name") {
  CHECK(static_cast<int>(SessionState::closed) + 1 == kSessionStateCount);
  std::set<std::string> names;
  for (int i = 0; i < kSessionStateCount; ++i) {
    const std::string name(session_state_name(static_cast<SessionState>(i)));
    INFO("state " << i << ": " << name);
    CHECK_FALSE(name.empty());
    CHECK(name != "unknown");
    names.insert(name);
  }
  CHECK(names.size() == static_cast<size_t>(kSessionStateCount));
}
