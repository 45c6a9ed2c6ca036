// The floor of a proxy's cost: a TCP relay that does nothing but move bytes, with the fewest system calls
// a user-space hop can make per round trip (recv from the client, send to the server, recv from the
// server, send to the client, plus a share of one epoll_wait). One thread, level-triggered epoll
// registered once per socket, no pooling (one server connection per client), no parsing.
// tools/bench runs it as the `floor` target: no real proxy can spend less CPU per transaction.
//
// usage: floor_relay LISTEN_PORT SERVER_PORT   (both on 127.0.0.1)
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "floor_sockets.hpp"

using namespace floor_relay;

int main(int argc, char** argv) {
  Ports ports;
  if (!parse_ports(argc, argv, ports)) return 2;
  const int listener = listen_on(ports.listen, SOCK_NONBLOCK, "floor_relay: listen");
  if (listener < 0) return 1;
  const int ep = epoll_create1(0);
  watch(ep, listener);

  std::vector<int> peer;  // peer[fd]: the other end of fd's pair, -1 when fd is not a relayed socket
  std::vector<char> buffer(64 * 1024);
  epoll_event events[256];
  for (;;) {
    const int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener) {
        const int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (client < 0) continue;
        const int server = connect_to_server(ports.server);
        if (server < 0) {
          close(client);
          continue;
        }
        no_delay(client);
        const auto top = static_cast<size_t>(client > server ? client : server);
        if (peer.size() <= top) peer.resize(top + 1, -1);
        peer[static_cast<size_t>(client)] = server;
        peer[static_cast<size_t>(server)] = client;
        watch(ep, client);
        watch(ep, server);
        continue;
      }
      const int other = peer[static_cast<size_t>(fd)];
      if (other < 0) continue;  // closed earlier in this batch
      const ssize_t got = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0 || !send_all(other, buffer.data(), static_cast<size_t>(got))) {
        peer[static_cast<size_t>(fd)] = peer[static_cast<size_t>(other)] = -1;
        close(fd);  // closing removes both from the epoll set
        close(other);
      }
    }
  }
}
