// What the proxy relies on from socket I/O, whichever event backend Asio runs on: writes larger than a
// socket takes at once arrive whole and in order, a closed socket's queued write never reaches the file
// that gets its fd number next, and cancelling one socket's read leaves another's alone (Asio 1.26 on
// io_uring broke the last one: docs/architecture.md, "Event loop"). Real sockets, no server.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "proxy/io/asio.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/io/outbox.hpp"
#include "proxy/io/write_now.hpp"

using namespace pgroute;

namespace {
using namespace std::chrono_literals;

struct TcpPair {
  asio::io_context& ctx;
  Socket writer{ctx}, reader{ctx};
  explicit TcpPair(asio::io_context& c) : ctx(c) {
    tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
    // A small send buffer, so a large write cannot go out at once. (Not a small receive buffer too:
    // Linux's zero-window probing then stalls such a pair for seconds, with or without pgroute.)
    writer.set_option(asio::socket_base::send_buffer_size(4096));
  }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// Reads until `want` bytes came, a little at a time, so the writer finds the socket full.
awaitable<std::string> read_slowly(Socket& sock, size_t want) {
  std::string got;
  char chunk[1500];
  asio::steady_timer pause(sock.get_executor());
  while (got.size() < want) {
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(chunk), use_nothrow);
    if (ec || n == 0) break;
    got.append(chunk, n);
    pause.expires_after(50us);
    co_await pause.async_wait(use_nothrow);
  }
  co_return got;
}

using LocalSocket = asio::local::stream_protocol::socket;
}  // namespace

TEST_CASE("io: a write larger than the socket buffer arrives whole") {
  asio::io_context ctx;
  TcpPair pair(ctx);
  const std::string data = pattern(2u << 20);
  std::optional<bool> written;
  std::string error;
  asio::co_spawn(
      ctx, [&]() -> awaitable<void> { written = co_await write_all(pair.writer, data, error); }, asio::detached);
  std::string got;
  asio::co_spawn(
      ctx, [&]() -> awaitable<void> { got = co_await read_slowly(pair.reader, data.size()); }, asio::detached);
  ctx.run_for(30s);
  REQUIRE(written.has_value());
  CHECK(*written);
  CHECK(error.empty());
  CHECK(got.size() == data.size());
  CHECK(got == data);
}

TEST_CASE("io: a client outbox flush larger than the socket buffer arrives whole, with what was queued meanwhile") {
  asio::io_context ctx;
  TcpPair pair(ctx);
  const std::string first = pattern(1u << 20), second = pattern(300000);
  Outbox out;
  out.buffer() = first;
  std::optional<bool> flushed, second_flush;
  asio::co_spawn(
      ctx, [&]() -> awaitable<void> { flushed = co_await out.flush(pair.writer); }, asio::detached);
  // While the first flush waits for room, more is queued and flushed: the flush in progress sends it.
  asio::post(ctx, [&] {
    out.buffer() += second;
    asio::co_spawn(
        ctx, [&]() -> awaitable<void> { second_flush = co_await out.flush(pair.writer); }, asio::detached);
  });
  std::string got;
  const size_t total = first.size() + second.size();
  asio::co_spawn(
      ctx, [&]() -> awaitable<void> { got = co_await read_slowly(pair.reader, total); }, asio::detached);
  ctx.run_for(30s);
  REQUIRE(flushed.has_value());
  CHECK(*flushed);
  REQUIRE(second_flush.has_value());
  CHECK(*second_flush);
  CHECK(got.size() == first.size() + second.size());
  CHECK(got == first + second);
  CHECK(out.queued() == 0);
}

TEST_CASE("io: write_now takes what the socket takes at once and never waits for the rest") {
  asio::io_context ctx;
  TcpPair pair(ctx);
  boost::system::error_code ec;
  // A small message goes out whole.
  CHECK(write_now(pair.writer, "hello", ec) == 5);
  CHECK_FALSE(ec);
  // Far more than the send buffer and the peer's receive buffer hold, with nobody reading: part of it
  // goes, and the call returns at once instead of blocking the worker.
  const std::string big = pattern(16u << 20);
  const auto started = std::chrono::steady_clock::now();
  size_t sent = 0;
  for (int i = 0; i < 64 && !ec; ++i) {
    size_t n = write_now(pair.writer, std::string_view(big).substr(sent), ec);
    if (n == 0) break;
    sent += n;
  }
  CHECK_FALSE(ec);
  CHECK(sent > 0);
  CHECK(sent < big.size());
  CHECK(write_now(pair.writer, std::string_view(big).substr(sent), ec) == 0);  // full: nothing, no error
  CHECK_FALSE(ec);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  // The peer gets the bytes in order.
  std::string got(5 + sent, '\0');
  asio::read(pair.reader, asio::buffer(got.data(), got.size()));
  CHECK(got.substr(0, 5) == "hello");
  CHECK(got.substr(5) == big.substr(0, sent));
  // A closed peer is an error, not a full buffer.
  pair.reader.close();
  for (int i = 0; i < 100 && !ec; ++i) write_now(pair.writer, big, ec);
  CHECK(ec);
}

TEST_CASE("io: a write to a peer that has gone reports failure instead of hanging") {
  asio::io_context ctx;
  TcpPair pair(ctx);
  pair.reader.close();
  std::string error;
  std::optional<bool> written;
  asio::co_spawn(
      ctx,
      [&]() -> awaitable<void> {
        // The first write may still be accepted by the kernel; the reset comes back for a later one.
        for (int i = 0; i < 100 && (!written || *written); ++i) {
          written = co_await write_all(pair.writer, pattern(65536), error);
          asio::steady_timer t(ctx, 1ms);
          co_await t.async_wait(use_nothrow);
        }
      },
      asio::detached);
  ctx.run_for(10s);
  REQUIRE(written.has_value());
  CHECK_FALSE(*written);
  CHECK_FALSE(error.empty());
}

TEST_CASE("io: a write started and its socket closed in one handler never reaches the file that gets its fd next") {
  asio::io_context ctx;
  for (int round = 0; round < 50; ++round) {
    LocalSocket x(ctx), x_peer(ctx);
    asio::local::connect_pair(x, x_peer);
    int reused[2] = {-1, -1};
    int closed_fd = -1;
    asio::post(ctx, [&] {
      // Queued, then closed with the write still in the queue; the next socket takes the lowest free fd.
      x.async_write_some(asio::buffer("SECRET", 6), [](boost::system::error_code, size_t) {});
      closed_fd = x.native_handle();
      x.close();
      REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, reused) == 0);
    });
    ctx.run();
    ctx.restart();
    CHECK(reused[0] == closed_fd);  // the case that matters: the fd number was taken again at once
    char buf[16];
    ssize_t n = ::recv(reused[1], buf, sizeof buf, MSG_DONTWAIT);
    CHECK_MESSAGE(n < 0, "the closed socket's write went to the new socket: " << n << " bytes");
    ::close(reused[0]);
    ::close(reused[1]);
  }
}

TEST_CASE("io: cancelling a read on one socket leaves another socket's pending read alone") {
  asio::io_context ctx;
  LocalSocket a(ctx), a_peer(ctx), b(ctx), b_peer(ctx);
  asio::local::connect_pair(a, a_peer);
  asio::local::connect_pair(b, b_peer);

  // 17,000 reads of socket a first: on io_uring they fill every slot of Asio's ring (16384 entries), so
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
