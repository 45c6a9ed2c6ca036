#include "proxy/io/io_backend.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "proxy/base/log.hpp"

#ifdef BOOST_ASIO_HAS_IO_URING
#include <liburing.h>
#endif

namespace pgroute {

#ifdef BOOST_ASIO_HAS_IO_URING

const char* io_backend_name() { return "io_uring"; }

}  // namespace pgroute

// Asio (1.81) sets up each io_context's ring with io_uring_queue_init(entries, ring, 0). This
// definition is found before liburing's, so the rings ask for cooperative task running: a completion
// is processed when its thread next enters the kernel (Asio's next wait or peek: liburing enters when
// the ring flags pending task work) instead of the kernel interrupting the thread to run it. Kernels
// before 5.19 refuse the flags; the ring is then set up as Asio asked (and receives do not poll first).
extern "C" int io_uring_queue_init(unsigned entries, struct io_uring* ring, unsigned flags) {
  struct io_uring_params p;
  std::memset(&p, 0, sizeof p);
  p.flags = flags | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int rc = io_uring_queue_init_params(entries, ring, &p);
  // The same kernel release (5.19) takes receives that poll first (proxy/io_uring_asio_hooks.hpp).
#ifdef PGROUTE_IO_URING_HOOKS
  if (rc == 0) pgroute::uring_hooks::recv_poll_first.store(true, std::memory_order_relaxed);
#endif
  if (rc != -EINVAL) return rc;
  std::memset(&p, 0, sizeof p);
  p.flags = flags;
  return io_uring_queue_init_params(entries, ring, &p);
}

namespace pgroute {

namespace {

// Why this process cannot run on io_uring ("" = it can): a ring is set up and torn down, as Asio will.
std::string io_uring_refusal() {
  const char* wanted = std::getenv("PGROUTE_IO_URING");
  if (wanted && (std::string_view(wanted) == "off" || std::string_view(wanted) == "0"))
    return "PGROUTE_IO_URING=" + std::string(wanted);
  struct io_uring ring;
  int rc = io_uring_queue_init(4, &ring, 0);
  if (rc < 0) return std::string("io_uring cannot be set up here: ") + std::strerror(-rc);
  io_uring_queue_exit(&ring);
  return {};
}

}  // namespace

std::optional<std::string> ensure_io_backend(char** argv) {
  std::string why = io_uring_refusal();
  if (why.empty()) return std::nullopt;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  auto epoll = self.parent_path() / "pgroute-epoll";
  if (ec || !std::filesystem::exists(epoll, ec))
    return why + "; pgroute-epoll (the epoll build) is not installed next to " + self.string() +
           " (build with -DPGROUTE_IO_URING=OFF, or allow io_uring)";
  PGR_LOG(info) << why << ": running " << epoll.string() << " instead";
  std::string path = epoll.string();
  argv[0] = path.data();
  ::execv(path.c_str(), argv);
  return why + "; starting " + path + " failed: " + std::strerror(errno);
}

#else

const char* io_backend_name() { return "epoll"; }

std::optional<std::string> ensure_io_backend(char**) { return std::nullopt; }

#endif

}  // namespace pgroute
