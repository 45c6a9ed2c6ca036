#include "proxy/io/frame_io.hpp"

namespace pgroute {

awaitable<ReadStatus> read_frame(Socket& sock, ReadBuffer& buf, uint32_t max_body, wire::Frame& frame,
                                 std::string& error) {
  for (;;) {
    size_t need = 0;
    switch (wire::next_frame(buf.view(), max_body, frame, need, &error)) {
      case wire::Decode::Ready: co_return ReadStatus::ok;
      case wire::Decode::Invalid: co_return ReadStatus::invalid;
      case wire::Decode::NeedMore: break;
    }
    auto [space, len] = buf.prepare(need > buf.size() ? need - buf.size() : 4096);
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(space, len), use_nothrow);
    if (ec || n == 0) {
      error = ec && ec != asio::error::eof ? ec.message() : std::string(kEndOfStream);
      co_return ReadStatus::closed;
    }
    buf.commit(n);
  }
}

awaitable<bool> write_all(Socket& sock, std::string_view data, std::string& error) {
  auto [ec, n] = co_await asio::async_write(sock, asio::buffer(data.data(), data.size()), use_nothrow);
  (void)n;
  if (ec) {
    error = ec.message();
    co_return false;
  }
  co_return true;
}

}  // namespace pgroute
