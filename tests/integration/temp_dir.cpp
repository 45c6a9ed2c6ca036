#include "temp_dir.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "process.hpp"

namespace pgroute::it {
namespace {

std::filesystem::path make_dir(const std::filesystem::path& parent, std::string_view prefix) {
  std::string pattern = (parent / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  return pattern;
}

// Owns run_root(); a function-local static so it is destroyed after the shared clusters that
// live inside it (those are constructed later, hence destroyed earlier).
struct RunRoot {
  std::filesystem::path path;
  RunRoot() : path(make_dir(std::filesystem::temp_directory_path(), "pgroute-it")) {
    // The postgres user must be able to reach cluster directories below it.
    chmod(path.c_str(), 0755);
    chown_to_postgres(path);
  }
  ~RunRoot() {
    const char* keep = std::getenv("PGROUTE_IT_KEEP");
    if (keep != nullptr && std::string_view(keep) == "1") {
      std::cerr << "PGROUTE_IT_KEEP=1: leaving " << path << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

const std::filesystem::path& run_root() {
  static RunRoot root;
  return root.path;
}

TempDir::TempDir(std::string_view prefix, bool owned_by_postgres) : path_(make_dir(run_root(), prefix)) {
  chmod(path_.c_str(), 0755);
  if (owned_by_postgres) chown_to_postgres(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

void write_file(const std::filesystem::path& file, std::string_view content) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void chown_to_postgres(const std::filesystem::path& path) {
  if (!running_as_root()) return;
  const Identity id = postgres_identity();
  if (chown(path.c_str(), id.uid, id.gid) != 0)
    throw std::system_error(errno, std::generic_category(), "chown " + path.string());
}

}  // namespace pgroute::it
