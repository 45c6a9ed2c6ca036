// floor_relay.cpp's relay on io_uring (liburing): a receive is kept posted on every socket and a send is
// queued when it completes, so one io_uring_enter per loop turn carries every receive and send of the
// batch. It answers whether dropping the per-call system-call cost moves the floor.
// tools/bench runs it as the `floor-uring` target.
//
// usage: floor_relay_uring LISTEN_PORT SERVER_PORT   (both on 127.0.0.1)
#include <liburing.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "floor_sockets.hpp"

namespace {

using namespace floor_relay;

constexpr size_t kBufferSize = 16 * 1024;

// One relayed socket: what it received waits in `buffer` until the peer's send of it completes.
struct End {
  int fd = -1;
  int peer = -1;
  char buffer[kBufferSize];
  size_t length = 0, sent = 0;
};

enum class Op : uint64_t { accept = 0, recv = 1, send = 2 };

uint64_t tag(Op op, int fd) { return (static_cast<uint64_t>(fd) << 2) | static_cast<uint64_t>(op); }

io_uring_sqe* sqe(io_uring& ring) {
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  if (!s) {  // the queue is full: hand it to the kernel and take a fresh one
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

void post_recv(io_uring& ring, End& e) {
  io_uring_sqe* s = sqe(ring);
  io_uring_prep_recv(s, e.fd, e.buffer, kBufferSize, 0);
  io_uring_sqe_set_data64(s, tag(Op::recv, e.fd));
}

// Sends what `from` holds to its peer.
void post_send(io_uring& ring, End& from) {
  io_uring_sqe* s = sqe(ring);
  io_uring_prep_send(s, from.peer, from.buffer + from.sent, from.length - from.sent, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, tag(Op::send, from.fd));
}

void post_accept(io_uring& ring, int listener) {
  io_uring_sqe* s = sqe(ring);
  io_uring_prep_accept(s, listener, nullptr, nullptr, 0);
  io_uring_sqe_set_data64(s, tag(Op::accept, listener));
}

}  // namespace

int main(int argc, char** argv) {
  Ports ports;
  if (!parse_ports(argc, argv, ports)) return 2;
  const int listener = listen_on(ports.listen, 0, "floor_relay_uring: listen");
  if (listener < 0) return 1;
  io_uring ring;
  if (int rc = io_uring_queue_init(4096, &ring, 0); rc < 0) {
    std::fprintf(stderr, "floor_relay_uring: io_uring_queue_init: %d\n", rc);
    return 1;
  }
  std::vector<std::unique_ptr<End>> ends;  // by fd
  auto end_of = [&](int fd) -> End& {
    if (ends.size() <= static_cast<size_t>(fd)) ends.resize(static_cast<size_t>(fd) + 1);
    if (!ends[static_cast<size_t>(fd)]) ends[static_cast<size_t>(fd)] = std::make_unique<End>();
    return *ends[static_cast<size_t>(fd)];
  };
  auto close_pair = [&](End& e) {
    if (e.fd < 0) return;
    End& p = end_of(e.peer);
    // Closing does not cancel a receive still posted on the socket: cancel both, then close.
    for (End* x : {&e, &p}) {
      io_uring_sqe* s = sqe(ring);
      io_uring_prep_cancel_fd(s, x->fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(s, 0);
    }
    io_uring_submit(&ring);
    close(e.fd);
    close(p.fd);
    e.fd = p.fd = -1;
  };
  post_accept(ring, listener);
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      const auto op = static_cast<Op>(data & 3);
      const int fd = static_cast<int>(data >> 2);
      const int res = cqe->res;
      // A cancel's own completion, or an operation it cancelled (its fd may be reused by now).
      if (data == 0 || res == -ECANCELED) continue;
      if (op == Op::accept) {
        post_accept(ring, listener);
        if (res < 0) continue;
        const int client = res;
        const int server = connect_to_server(ports.server);
        if (server < 0) {
          close(client);
          continue;
        }
        no_delay(client);
        End& c = end_of(client);
        End& s = end_of(server);
        c = End{};
        s = End{};
        c.fd = client;
        c.peer = server;
        s.fd = server;
        s.peer = client;
        post_recv(ring, c);
        post_recv(ring, s);
        continue;
      }
      End& e = end_of(fd);
      if (e.fd < 0) continue;  // the pair is closed; a cancelled operation completes
      if (op == Op::recv) {
        if (res <= 0) {
          close_pair(e);
          continue;
        }
        e.length = static_cast<size_t>(res);
        e.sent = 0;
        post_send(ring, e);
      } else {  // send of e's bytes to its peer
        if (res < 0) {
          close_pair(e);
          continue;
        }
        e.sent += static_cast<size_t>(res);
        if (e.sent < e.length) {
          post_send(ring, e);
        } else {
          post_recv(ring, e);
        }
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
