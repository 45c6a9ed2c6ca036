// Which event backend this binary's Asio runs on. Asio picks it at compile time; the default build runs
// on io_uring (fewer system calls per transaction) and ships a second executable, pgroute-epoll, built
// on epoll. Where io_uring is refused (kernel.io_uring_disabled, Docker's default seccomp profile, an
// old kernel) or the operator asks for epoll (PGROUTE_IO_URING=off), pgroute execs pgroute-epoll in its
// place: same PID (systemd's notify socket and the service's PID stay valid), same arguments.
#pragma once
#include <optional>
#include <string>

namespace pgroute {

// "io_uring" or "epoll".
const char* io_backend_name();

// Runs before anything else is started. Returns only when this binary can run (otherwise it has
// become pgroute-epoll, or it returns the reason it cannot start: the caller logs it and exits 1).
std::optional<std::string> ensure_io_backend(char** argv);

}  // namespace pgroute
