// What the floor relays (floor_relay.cpp, floor_relay_uring.cpp, floor_relay_tls.cpp) do alike: their arguments, the
// listening socket and the blocking connect to PostgreSQL, all on 127.0.0.1.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace floor_relay {

inline sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline void no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct Ports {
  int listen = 0, server = 0;
};

// LISTEN_PORT SERVER_PORT, or a usage line and false.
inline bool parse_ports(int argc, char** argv, Ports& ports) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s LISTEN_PORT SERVER_PORT\n", argv[0]);
    return false;
  }
  ports = {std::atoi(argv[1]), std::atoi(argv[2])};
  return true;
}

// A listening socket (`type_flags` e.g. SOCK_NONBLOCK), or -1 with the reason printed.
inline int listen_on(int port, int type_flags, const char* who) {
  int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in at = loopback(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || listen(fd, 1024) != 0) {
    std::perror(who);
    return -1;
  }
  return fd;
}

// A blocking connection to PostgreSQL (loopback, a cold path), or -1.
inline int connect_to_server(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  no_delay(fd);
  return fd;
}

// Adds fd to the epoll set, level-triggered, for reading: registered once, for its whole life.
inline void watch(int ep, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

// Waits until fd is ready for `events` (a full send buffer, a blocking handshake step).
inline void wait_for(int fd, short events) {
  pollfd pfd{fd, events, 0};
  poll(&pfd, 1, -1);
}

// Sends all of it; a full send buffer (rare with PostgreSQL's message sizes) waits for the socket.
inline bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      wait_for(fd, POLLOUT);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace floor_relay
