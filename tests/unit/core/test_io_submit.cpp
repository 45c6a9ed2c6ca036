// io_uring entries submitted by the loop's next wait (proxy/io_uring_asio_hooks.hpp): writes larger
// than a socket takes at once arrive whole and in order, and operations started on the loop's thread
// or elsewhere complete. Real sockets, no server.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/utsname.h>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "proxy/io/asio.hpp"
#include "proxy/io/frame_io.hpp"
#include "proxy/io/outbox.hpp"

using namespace pgroute;

namespace {
using namespace std::chrono_literals;

struct TcpPair {
  asio::io_context& ctx;
  tcp::socket writer{ctx}, reader{ctx};
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
awaitable<std::string> read_slowly(tcp::socket& sock, size_t want) {
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

// Runs ctx on another thread until stopped; the destructor stops it.
struct LoopThread {
  asio::io_context& ctx;
  asio::executor_work_guard<asio::io_context::executor_type> work{ctx.get_executor()};
  std::thread thread{[this] { ctx.run(); }};
  explicit LoopThread(asio::io_context& c) : ctx(c) {}
  ~LoopThread() {
    work.reset();
    ctx.stop();
    thread.join();
  }
};

using LocalSocket = asio::local::stream_protocol::socket;

// Starts a one-byte read on `sock` (posted to the loop's thread, or from this thread), sends the byte
// from `peer` and waits for the read to complete. Now and then it lets the loop fall asleep first.
void read_one_byte(asio::io_context& ctx, LocalSocket& sock, LocalSocket& peer, bool on_loop_thread, int i) {
  struct State {
    std::promise<size_t> done;
    char byte = 0;
  };
  auto state = std::make_shared<State>();  // outlives this call if the read never completes
  auto result = state->done.get_future();
  auto start = [&sock, state] {
    sock.async_read_some(asio::buffer(&state->byte, 1),
                         [state](boost::system::error_code ec, size_t n) { state->done.set_value(ec ? 0 : n); });
  };
  if (on_loop_thread)
    asio::post(ctx, start);
  else
    start();
  if (i % 100 == 0) std::this_thread::sleep_for(2ms);
  asio::write(peer, asio::buffer("x", 1));
  REQUIRE_MESSAGE(result.wait_for(5s) == std::future_status::ready, "read " << i << " never completed");
  REQUIRE(result.get() == 1);
}
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

TEST_CASE("io: reads started by handlers on the loop's thread are submitted while it sleeps (2,000 in a row)") {
  asio::io_context ctx;
  LocalSocket a(ctx), a_peer(ctx);
  asio::local::connect_pair(a, a_peer);
  LoopThread loop(ctx);
  // Posted from here, run on the loop's thread: each read is submitted by that thread's next wait.
  for (int i = 0; i < 2000; ++i) read_one_byte(ctx, a, a_peer, true, i);
}

TEST_CASE("io: a read started from a thread that ran the loop before reaches the loop now run elsewhere") {
  asio::io_context ctx;
  LocalSocket a(ctx), a_peer(ctx);
  asio::local::connect_pair(a, a_peer);
  // This thread runs the loop first (so it was the loop's thread)...
  bool ran = false;
  asio::post(ctx, [&] { ran = true; });
  ctx.run();
  ctx.restart();
  REQUIRE(ran);
  // ...then another thread runs it and sleeps in its wait; the reads are started from here.
  LoopThread loop(ctx);
  std::this_thread::sleep_for(20ms);
  for (int i = 0; i < 200; ++i) read_one_byte(ctx, a, a_peer, false, i);
}

TEST_CASE("io: a write started and its socket closed in one handler never reaches the file that gets its fd next") {
  asio::io_context ctx;
  // This thread is the loop's: its submissions wait for its next wait (proxy/io_uring_asio_hooks.hpp).
  asio::post(ctx, [] {});
  ctx.run();
  ctx.restart();
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

#ifdef PGROUTE_IO_URING_HOOKS
TEST_CASE("io: receives poll first where the kernel takes the flag (Linux 5.19 and later)") {
  asio::io_context ctx;  // sets up its ring through proxy/io/io_backend.cpp's io_uring_queue_init
  utsname u{};
  REQUIRE(uname(&u) == 0);
  int major = 0, minor = 0;
  REQUIRE(std::sscanf(u.release, "%d.%d", &major, &minor) == 2);
  const bool new_enough = major > 5 || (major == 5 && minor >= 19);
  CHECK_MESSAGE(pgroute::uring_hooks::recv_poll_first.load() == new_enough, "kernel " << u.release);
}
#endif
