// Boost 1.81's Asio (1.26) submits some io_uring entries (the cancel behind socket.cancel(), timer
// queue updates) without setting their user_data, and liburing's io_uring_get_sqe() leaves the value
// of the slot's previous entry in place. The kernel reports such a cancel's completion under that stale
// value, and Asio completes whatever operation it points to: a read pending on another socket ends with
// 0 bytes, which looks like that client hanging up. Upstream fixed it in Asio 1.27 (Boost 1.82,
// chriskohlhoff/asio pull request 1215). Until Debian's Boost has it, every entry Asio takes starts
// with user_data 0, which Asio ignores on completion.
//
// Forced into every translation unit built on io_uring (-include, CMakeLists.txt), ahead of any Asio
// header, so all of them compile Asio's inline service code the same way.
#pragma once
#include <boost/version.hpp>

#if defined(BOOST_ASIO_HAS_IO_URING) && BOOST_VERSION < 108200
#include <liburing.h>

inline io_uring_sqe* pgroute_io_uring_get_sqe(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (sqe) io_uring_sqe_set_data(sqe, nullptr);
  return sqe;
}
#define io_uring_get_sqe pgroute_io_uring_get_sqe
#endif
