// The floor under a proxy that terminates client TLS: floor_relay.cpp with OpenSSL between it and the
// client. It answers PostgreSQL's SSLRequest with S, runs the handshake (blocking: a cold path), and then
// only moves bytes: decrypts what the client sends and passes it on, encrypts what the server answers.
// OpenSSL reads the socket itself (read-ahead, so one recv per batch of records) and is asked again only
// while it holds undecrypted bytes, so a round trip costs the same system calls as the plaintext floor.
// No pooling, no protocol beyond SSLRequest, no parsing. tools/bench --tls runs it as `floor-tls`.
//
// usage: floor_relay_tls LISTEN_PORT SERVER_PORT CERT KEY   (both ports on 127.0.0.1)
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "floor_sockets.hpp"

namespace {

using namespace floor_relay;

constexpr uint32_t kSslRequestCode = 80877103;  // PostgreSQL's SSLRequest: length 8, then this code

bool ssl_write_all(SSL* ssl, int fd, const char* p, size_t n) {
  while (n > 0) {
    const int w = SSL_write(ssl, p, static_cast<int>(n));
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    const int e = SSL_get_error(ssl, w);
    if (e == SSL_ERROR_WANT_WRITE) {
      wait_for(fd, POLLOUT);
    } else if (e == SSL_ERROR_WANT_READ) {
      wait_for(fd, POLLIN);
    } else {
      return false;
    }
  }
  return true;
}

// Reads exactly n bytes from a blocking socket.
bool read_exact(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t r = recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// SSLRequest answered S and the handshake done, on the still-blocking client socket; null if the client
// did not ask for TLS or the handshake failed.
SSL* start_tls(SSL_CTX* ctx, int client) {
  char request[8];
  if (!read_exact(client, request, sizeof request)) return nullptr;
  uint32_t length, code;
  std::memcpy(&length, request, 4);
  std::memcpy(&code, request + 4, 4);
  if (ntohl(length) != 8 || ntohl(code) != kSslRequestCode) return nullptr;  // TLS is required
  if (send(client, "S", 1, MSG_NOSIGNAL) != 1) return nullptr;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, client);
  if (SSL_accept(ssl) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

struct Pair {
  int other = -1;       // the other end of this socket's pair; -1: not a relayed socket
  SSL* ssl = nullptr;   // the pair's TLS (on the client's side), set on both ends' entries
  bool client = false;  // this end is the client's (TLS) socket
};

// Everything OpenSSL can decrypt now, on to the server. It is asked again only while it holds bytes it
// has read and not yet decrypted: no read that could only find the socket empty.
bool from_client(const Pair& p, std::vector<char>& buffer) {
  for (;;) {
    const int got = SSL_read(p.ssl, buffer.data(), static_cast<int>(buffer.size()));
    if (got > 0) {
      if (!send_all(p.other, buffer.data(), static_cast<size_t>(got))) return false;
      if (SSL_pending(p.ssl) == 0 && SSL_has_pending(p.ssl) == 0) return true;
      continue;
    }
    return SSL_get_error(p.ssl, got) == SSL_ERROR_WANT_READ;
  }
}

void end_pair(std::vector<Pair>& pairs, int fd) {
  Pair& p = pairs[static_cast<size_t>(fd)];
  const int other = p.other;
  SSL_free(p.ssl);
  pairs[static_cast<size_t>(fd)] = Pair{};
  pairs[static_cast<size_t>(other)] = Pair{};
  close(fd);  // closing removes both from the epoll set
  close(other);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s LISTEN_PORT SERVER_PORT CERT KEY\n", argv[0]);
    return 2;
  }
  const Ports ports{std::atoi(argv[1]), std::atoi(argv[2])};
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  const int listener = listen_on(ports.listen, SOCK_NONBLOCK, "floor_relay_tls: listen");
  if (listener < 0) return 1;
  const int ep = epoll_create1(0);
  watch(ep, listener);

  std::vector<Pair> pairs;
  std::vector<char> buffer(64 * 1024);
  epoll_event events[256];
  for (;;) {
    const int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener) {
        const int client = accept4(listener, nullptr, nullptr, 0);
        if (client < 0) continue;
        no_delay(client);
        SSL* ssl = start_tls(ctx, client);
        const int server = ssl ? connect_to_server(ports.server) : -1;
        if (server < 0) {
          SSL_free(ssl);
          close(client);
          continue;
        }
        fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
        const auto top = static_cast<size_t>(client > server ? client : server);
        if (pairs.size() <= top) pairs.resize(top + 1);
        pairs[static_cast<size_t>(client)] = Pair{server, ssl, true};
        pairs[static_cast<size_t>(server)] = Pair{client, ssl, false};
        watch(ep, client);
        watch(ep, server);
        // Read-ahead may have taken the startup packet in with the handshake's last flight.
        if (SSL_has_pending(ssl) && !from_client(pairs[static_cast<size_t>(client)], buffer)) end_pair(pairs, client);
        continue;
      }
      const Pair p = pairs[static_cast<size_t>(fd)];
      if (p.other < 0) continue;  // closed earlier in this batch
      bool ok = true;
      if (p.client) {
        ok = from_client(p, buffer);
      } else {
        const ssize_t got = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        ok = got > 0 && ssl_write_all(p.ssl, p.other, buffer.data(), static_cast<size_t>(got));
      }
      if (!ok) end_pair(pairs, fd);
    }
  }
}
