// The Asio pieces pgroute uses, in one place so every file agrees on them.
#pragma once
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/version.hpp>

// pgroute runs Asio on epoll. Asio's io_uring backend before Boost 1.82 leaves stale user_data in its
// cancel entries, so cancelling one socket's read can complete another's with 0 bytes (docs/architecture.md).
#if defined(BOOST_ASIO_HAS_IO_URING) && BOOST_VERSION < 108200
#error "Asio on io_uring needs Boost 1.82 or later (see above): build without BOOST_ASIO_HAS_IO_URING"
#endif

namespace pgroute {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
// Sockets are bound to their worker's io_context by type, not through asio::any_io_executor: no
// type-erased executor call per completion, and a smaller socket and pending operation per client.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using asio::awaitable;
// Completion token for operations whose failure is an expected outcome: returns (error_code, result...).
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
}  // namespace pgroute
