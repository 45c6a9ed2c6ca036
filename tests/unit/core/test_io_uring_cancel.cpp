// Cancelling one socket's operation must not complete another socket's (Asio 1.26 on io_uring reused
// stale user_data for its cancel entries: proxy/io_uring_asio_hooks.hpp). Real sockets, no server.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <optional>

#include "proxy/io/asio.hpp"

using namespace pgroute;

namespace {
using local = asio::local::stream_protocol;
}  // namespace

TEST_CASE("io: cancelling a read on one socket leaves another socket's pending read alone") {
  asio::io_context ctx;
  local::socket a(ctx), a_peer(ctx), b(ctx), b_peer(ctx);
  asio::local::connect_pair(a, a_peer);
  asio::local::connect_pair(b, b_peer);

  // Fill every submission slot of the ring with reads of socket a (Asio's ring has 16384 entries), so
  // an entry that does not set its own user_data would carry a's.
  char byte = 0;
  int reads = 0;
  for (int i = 0; i < 17000; ++i) {
    asio::write(a_peer, asio::buffer("x", 1));
    a.async_read_some(asio::buffer(&byte, 1), [&](boost::system::error_code ec, size_t n) {
      if (!ec && n == 1) ++reads;
    });
    ctx.run();
    ctx.restart();
  }
  REQUIRE(reads == 17000);

  // Now a waits for data that does not come, b likewise; b's read is cancelled.
  std::optional<boost::system::error_code> a_result, b_result;
  size_t a_bytes = 99;
  a.async_read_some(asio::buffer(&byte, 1), [&](boost::system::error_code ec, size_t n) {
    a_result = ec;
    a_bytes = n;
  });
  b.async_read_some(asio::buffer(&byte, 1), [&](boost::system::error_code ec, size_t) { b_result = ec; });
  ctx.poll();
  ctx.restart();
  b.cancel();
  for (int i = 0; i < 50 && !b_result; ++i) {
    ctx.run_for(std::chrono::milliseconds(10));
    ctx.restart();
  }
  REQUIRE(b_result.has_value());
  CHECK(*b_result == asio::error::operation_aborted);
  // a's read must still be pending: it was neither cancelled nor answered (a 0-byte "end of file").
  ctx.run_for(std::chrono::milliseconds(100));
  ctx.restart();
  CHECK_MESSAGE(!a_result.has_value(),
                "a's read completed: " << (a_result ? a_result->message() : "") << ", " << a_bytes << " bytes");
  // And it still works: data for a completes it.
  asio::write(a_peer, asio::buffer("y", 1));
  for (int i = 0; i < 50 && !a_result; ++i) {
    ctx.run_for(std::chrono::milliseconds(10));
    ctx.restart();
  }
  REQUIRE(a_result.has_value());
  CHECK_FALSE(*a_result);
  CHECK(a_bytes == 1);
  CHECK(byte == 'y');
}
