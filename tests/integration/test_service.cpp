// Running under systemd: sd_notify messages around start, reload and stop (observed on our own
// NOTIFY_SOCKET), and the installed unit passes `systemd-analyze verify`.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "harness.hpp"

using namespace pgroute::it;

namespace {

// A unix datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof addr.sun_path);
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() { close(fd_); }
  const std::filesystem::path& path() const { return path_; }

  // The next datagram, or "" if none arrives within `timeout`.
  std::string next(std::chrono::milliseconds timeout = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

bool has_line(const std::string& message, const std::string& line) {
  return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("service: sd_notify READY, RELOADING/READY around SIGHUP, STOPPING on SIGTERM") {
  TempDir dir("notify");
  NotifySocket notify(dir / "notify.sock");
  Proxy proxy(default_proxy_config(), {{"NOTIFY_SOCKET", notify.path().string()}});
  const std::string ready = notify.next();
  INFO("first message: " << ready);
  CHECK(has_line(ready, "READY=1"));
  CHECK(ready.find("STATUS=listening on 127.0.0.1:") != std::string::npos);

  proxy.signal(SIGHUP);
  const std::string reloading = notify.next();
  INFO("reload message: " << reloading);
  CHECK(has_line(reloading, "RELOADING=1"));
  CHECK(reloading.find("MONOTONIC_USEC=") != std::string::npos);
  const std::string reloaded = notify.next();
  CHECK(has_line(reloaded, "READY=1"));

  proxy.signal(SIGTERM);
  const std::string stopping = notify.next();
  CHECK(has_line(stopping, "STOPPING=1"));
  CHECK(proxy.wait_exit(10s));
}

TEST_CASE("service: cmake --install puts binary, unit and example config; systemd-analyze verify is clean") {
  TempDir dir("install");
  const std::string build_dir = std::filesystem::path(pgroute_binary()).parent_path().string();
  RunResult install = run({"cmake", "--install", build_dir, "--prefix", dir.path().string()}, {.timeout = 60s});
  INFO(install.describe());
  REQUIRE(install.exit_code == 0);
  const auto unit = dir / "lib/systemd/system/pgroute.service";
  CHECK(std::filesystem::exists(dir / "bin/pgroute"));
  CHECK(std::filesystem::exists(dir / "etc/pgroute/pgroute.yaml"));
  CHECK(std::filesystem::exists(dir / "lib/sysusers.d/pgroute.conf"));
  REQUIRE(std::filesystem::exists(unit));
  const std::string text = read_file(unit);
  CHECK(text.find("Type=notify") != std::string::npos);
  CHECK(text.find("ExecStart=" + (dir / "bin/pgroute").string() + " --config " +
                  (dir / "etc/pgroute/pgroute.yaml").string()) != std::string::npos);
  // The installed example passes pgroute's own lint.
  RunResult check =
      run({(dir / "bin/pgroute").string(), "--check", (dir / "etc/pgroute/pgroute.yaml").string()}, {.timeout = 10s});
  INFO(check.describe());
  CHECK(check.exit_code == 0);
  // tools/setup installs systemd: a missing systemd-analyze is a broken setup, not a reason to skip.
  REQUIRE(std::filesystem::exists("/usr/bin/systemd-analyze"));
  RunResult verify = run({"systemd-analyze", "verify", unit.string()}, {.timeout = 30s});
  INFO(verify.describe());
  CHECK(verify.exit_code == 0);
  CHECK(verify.out + verify.err == "");
}
