// A write that does not wait: as much as the socket's send buffer takes at once. The hot path writes a
// transaction's bytes this way first and starts an asynchronous write only for what is left (rarely
// anything: a query or a result set fits the kernel's buffer). An asynchronous write that could complete
// at once still costs a posted completion and a resumed coroutine on the loop.
#pragma once
#include <string_view>

#include "proxy/io/asio.hpp"

namespace pgroute {

// Bytes written (0 to bytes.size()); `ec` is set only for an error other than a full send buffer.
inline size_t write_now(Socket& sock, std::string_view bytes, boost::system::error_code& ec) {
  ec.clear();
  // Asio's synchronous write waits for the socket unless the socket is in non-blocking mode.
  if (!sock.non_blocking()) {
    sock.non_blocking(true, ec);
    if (ec) return 0;
  }
  size_t n = sock.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec.clear();
    return 0;
  }
  return ec ? 0 : n;
}

}  // namespace pgroute
