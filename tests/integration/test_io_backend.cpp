// The event backend: pgroute runs on io_uring, and becomes pgroute-epoll (same PID, same arguments)
// where io_uring is refused or the operator sets PGROUTE_IO_URING=off.
#include "harness.hpp"

using namespace pgroute::it;

TEST_CASE("proxy: PGROUTE_IO_URING=off runs the epoll build in the same process, serving as usual") {
  // The port accepts before the start-up line is in the log: wait for the line.
  auto logged = [](const Proxy& p, const char* text) {
    return eventually([&] { return p.log_tail().find(text) != std::string::npos; });
  };
  Proxy uring(default_proxy_config());
  CHECK(logged(uring, "worker thread(s) on io_uring"));

  Proxy epoll(default_proxy_config(), {{"PGROUTE_IO_URING", "off"}});
  CHECK(logged(epoll, "worker thread(s) on epoll"));
  const std::string log = epoll.log_tail();
  INFO(log);
  CHECK(log.find("PGROUTE_IO_URING=off: running ") != std::string::npos);
  CHECK(log.find("pgroute-epoll instead") != std::string::npos);
  Conn c = epoll.connect();
  CHECK(c.scalar("SELECT 41 + 1") == "42");
  CHECK(c.exec_params("SELECT $1::int * 2", {"21"}).at(0, 0) == "42");
  c.prepare("twice", "SELECT $1::text || $1::text", 1);
  CHECK(c.exec_prepared("twice", {"ab"}).at(0, 0) == "abab");
  // SIGTERM reaches the exec'd process (same PID): a clean exit.
  const int status = epoll.stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
