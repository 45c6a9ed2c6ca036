// A write tried at once with a non-blocking send(2), before any asynchronous write is queued.
//
// Asio's io_uring backend queues every write as a submission and completes it in a later turn of the
// loop, so each forwarded message cost a submission, a completion and a resumption of the writer. A
// socket with room in its send buffer (nearly always, for a proxy) takes the bytes now; only what it
// does not take goes the asynchronous way.
#pragma once
#include <sys/socket.h>

#include <cerrno>
#include <string_view>

#include "proxy/asio.hpp"

namespace pgroute {

// Sends what the socket takes now. Returns the number of bytes sent (0 if it would block); a failure
// of the connection sets `ec` (the caller then reports it as it would a failed asynchronous write).
inline size_t send_now(tcp::socket& sock, std::string_view data, boost::system::error_code& ec) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(sock.native_handle(), data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ec.assign(errno, boost::system::system_category());
    break;
  }
  return sent;
}

}  // namespace pgroute
