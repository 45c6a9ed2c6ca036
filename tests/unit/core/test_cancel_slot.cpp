// CancelSlot: a forwarded cancel always ends (even when its coroutine dies), and giving back a
// connection forgets it as the target without wiping the target of a connection attached since.
#include <doctest/doctest.h>

#include <stdexcept>

#include "proxy/pool/cancel_registry.hpp"

using namespace pgroute;

TEST_CASE("cancel slot: a forward ends when its guard goes, also by an exception") {
  auto slot = std::make_shared<CancelSlot>();
  slot->set({"127.0.0.1", 5432, 11, 12});
  try {
    CancelForward forward(slot);
    CHECK(forward.targets().size() == 1);
    CHECK(slot->forwarding());
    throw std::runtime_error("connect failed");
  } catch (const std::runtime_error&) {}
  CHECK_FALSE(slot->forwarding());
  slot->clear();
  {
    CancelForward nothing(slot);  // nothing running: nothing forwarded, nothing to end
    CHECK(nothing.targets().empty());
    CHECK_FALSE(slot->forwarding());
  }
  CHECK_FALSE(slot->forwarding());
}

TEST_CASE("cancel slot: detaching a connection forgets it, but not a connection attached since") {
  auto slot = std::make_shared<CancelSlot>();
  slot->set({"127.0.0.1", 5432, 11, 12});
  CHECK_FALSE(slot->detach("127.0.0.1", 5432, 11));  // nothing on its way
  CHECK(slot->get().empty());

  slot->set({"127.0.0.1", 5432, 11, 12});
  {
    CancelForward forward(slot);
    CHECK(slot->detach("127.0.0.1", 5432, 11));  // a cancel is on its way: the connection must wait
    CHECK(slot->get().empty());
    // Meanwhile the client attached another connection: the first one's release keeps it.
    slot->set({"127.0.0.1", 5432, 21, 22});
    CHECK(slot->detach("127.0.0.1", 5432, 11));
    REQUIRE(slot->get().size() == 1);
    CHECK(slot->get()[0].pid == 21);
  }
  CHECK_FALSE(slot->detach("127.0.0.1", 5432, 11));
  REQUIRE(slot->get().size() == 1);
  CHECK(slot->get()[0].pid == 21);
  CHECK_FALSE(slot->detach("127.0.0.1", 5433, 21));  // same pid on another server: not this one
  CHECK(slot->get().size() == 1);
}
