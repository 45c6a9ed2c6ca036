// Reading whole protocol messages from a socket into a ReadBuffer.
#pragma once
#include <string>
#include <string_view>

#include "proxy/io/asio.hpp"
#include "proxy/io/read_buffer.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/startup.hpp"

namespace pgroute {

enum class ReadStatus { ok, closed, invalid };
// The `error` of `closed` when the peer ended its stream (EOF) rather than failed (a reset, an error).
inline constexpr std::string_view kEndOfStream = "end of stream";

// Reads until one typed message is complete. The frame views into `buf`; the caller consumes
// frame.wire_size() when done with it. `error` explains `invalid` (oversized, bad length) or `closed`.
awaitable<ReadStatus> read_frame(Socket& sock, ReadBuffer& buf, uint32_t max_body, wire::Frame& frame,
                                 std::string& error);

// Writes all of `data`; returns false (with `error`) if the peer is gone.
awaitable<bool> write_all(Socket& sock, std::string_view data, std::string& error);

}  // namespace pgroute
