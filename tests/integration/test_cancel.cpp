// 5. Query cancellation through the proxy: the right key cancels, a wrong key does nothing.
#include <memory>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

namespace {
using Clock = std::chrono::steady_clock;
}

TEST_CASE("proxy: PQcancel stops a running query; a wrong cancel key cancels nothing") {
  Proxy proxy(default_proxy_config());
  Conn c = proxy.connect();
  CHECK(c.scalar("SELECT 1") == "1");

  std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(c.raw()), PQfreeCancel);
  REQUIRE(cancel);
  std::optional<PgError> error;
  bool finished_normally = false;
  Clock::time_point ended;
  std::thread sleeper([&] {
    try {
      c.exec("SELECT pg_sleep(10)");
      finished_normally = true;
    } catch (const PgError& e) {
      error = e;
    }
    ended = Clock::now();
  });
  std::this_thread::sleep_for(500ms);
  const auto cancelled_at = Clock::now();
  char errbuf[256] = {};
  const int sent = PQcancel(cancel.get(), errbuf, sizeof errbuf);
  sleeper.join();
  INFO("PQcancel: " << errbuf);
  CHECK(sent == 1);
  CHECK_FALSE(finished_normally);
  REQUIRE(error);
  INFO(error->what());
  CHECK(error->sqlstate == "57014");
  CHECK(ended - cancelled_at < 1s);
  CHECK(c.transaction_status() == PQTRANS_IDLE);
  CHECK(c.scalar("SELECT 'usable after cancel'") == "usable after cancel");

  // The same client's pid with a made-up key.
  REQUIRE(PQsendQuery(c.raw(), "SELECT pg_sleep(1.5), 'not cancelled'") == 1);
  std::this_thread::sleep_for(300ms);
  {
    RawClient raw(proxy.port());
    const auto pid = static_cast<std::uint32_t>(PQbackendPID(c.raw()));
    REQUIRE(raw.send(cancel_request(pid, 0x5eed1234u)));
    std::vector<BackendMessage> answer;
    CHECK(raw.wait_closed(3s, &answer));  // closed, silently
    CHECK(answer.empty());
  }
  ResultPtr r = c.next_result();
  REQUIRE(r);
  INFO(PQresultErrorMessage(r.get()));
  REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(r.get(), 0, 1)) == "not cancelled");
  CHECK(c.next_result() == nullptr);
}
