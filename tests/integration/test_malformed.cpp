// 9. Hostile and broken clients get errors and are disconnected; healthy clients never notice.
#include <atomic>
#include <thread>

#include "harness.hpp"

using namespace pgroute::it;

namespace {

// The ErrorResponse a closing connection sent last (fields empty if none).
std::map<char, std::string> last_error(const std::vector<BackendMessage>& seen) {
  for (auto it = seen.rbegin(); it != seen.rend(); ++it)
    if (it->type == 'E') return error_fields(it->body);
  return {};
}

std::string with_length(char type, std::uint32_t length) {
  std::string m(1, type);
  put_u32(m, length);
  return m;
}

}  // namespace

TEST_CASE("proxy: malformed input is refused without disturbing other clients") {
  Proxy proxy(default_proxy_config());

  // A healthy client keeps querying the whole time.
  Conn healthy = proxy.connect();
  std::atomic<bool> stop{false};
  std::atomic<int> queries{0};
  ThreadErrors errors;
  std::thread worker([&] {
    for (int i = 0; !stop; ++i) {
      try {
        const std::string v = std::to_string(i);
        if (healthy.exec_params("SELECT $1::int + 1", {v}).at(0, 0) != std::to_string(i + 1) ||
            healthy.scalar("SELECT " + v) != v)
          errors.add("wrong answer at " + v);
        queries += 2;
      } catch (const std::exception& e) {
        errors.add(e.what());
        if (errors.list().size() > 20) return;
      }
    }
  });

  {
    INFO("Q with length 0xFFFFFFF0 after a complete startup");
    RawClient raw(proxy.port());
    raw.startup_trust(kProxyTrustUser, "app");
    raw.send(with_length('Q', 0xFFFFFFF0u));
    std::vector<BackendMessage> seen;
    CHECK(raw.wait_closed(5s, &seen));
    auto err = last_error(seen);
    CHECK(err['C'] == "08P01");
    CHECK(err['V'] == "FATAL");
  }
  {
    INFO("Q with length 3 (less than the length field itself)");
    RawClient raw(proxy.port());
    raw.startup_trust(kProxyTrustUser, "app");
    raw.send(with_length('Q', 3));
    std::vector<BackendMessage> seen;
    CHECK(raw.wait_closed(5s, &seen));
    CHECK(last_error(seen)['C'] == "08P01");
  }
  {
    INFO("protocol 2.0 startup");
    RawClient raw(proxy.port());
    raw.send(startup_message({{"user", kProxyTrustUser}, {"database", "app"}}, kProtocol2));
    std::vector<BackendMessage> seen;
    CHECK(raw.wait_closed(5s, &seen));
    CHECK(last_error(seen)['C'] == "0A000");
  }
  {
    INFO("protocol 4.0 startup");
    RawClient raw(proxy.port());
    raw.send(startup_message({{"user", kProxyTrustUser}, {"database", "app"}}, 4u << 16));
    std::vector<BackendMessage> seen;
    CHECK(raw.wait_closed(5s, &seen));
    CHECK(last_error(seen)['C'] == "0A000");
  }
  {
    INFO("garbage instead of a startup packet");
    RawClient raw(proxy.port());
    raw.send("GET / HTTP/1.1\r\nHost: pgroute\r\n\r\n");
    std::vector<BackendMessage> seen;
    CHECK(raw.wait_closed(5s, &seen));
    CHECK(last_error(seen)['C'] == "08P01");  // not a protocol version: a length no packet has
  }
  {
    INFO("a startup packet claiming 2 GB");
    RawClient raw(proxy.port());
    std::string m;
    put_u32(m, 0x7FFFFFF0u);
    put_u32(m, kProtocol3);
    raw.send(m);
    auto bytes = raw.read_until_closed(5s);
    REQUIRE(bytes);
    if (!bytes->empty()) CHECK((*bytes)[0] == 'E');
  }

  std::this_thread::sleep_for(300ms);
  stop = true;
  worker.join();
  INFO(errors.summary());
  CHECK(errors.list().empty());
  CHECK(queries.load() > 0);
  CHECK(proxy.running());
  CHECK(proxy.connect().scalar("SELECT 'alive'") == "alive");
}
