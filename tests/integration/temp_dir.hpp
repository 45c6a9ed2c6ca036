// Scratch space and ports for the integration tests.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace pgroute::it {

// One directory per test binary run (/tmp/pgroute-it-XXXXXX), removed when the binary exits
// unless PGROUTE_IT_KEEP=1. Owned by the postgres user when we are root, so clusters can live
// below it.
const std::filesystem::path& run_root();

// A fresh directory below run_root(), removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix, bool owned_by_postgres = false);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A loopback TCP port nobody listens on right now (bind 127.0.0.1:0 and read it back).
int free_port();

// True if something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

void write_file(const std::filesystem::path& file, std::string_view content);
std::string read_file(const std::filesystem::path& file);
void chown_to_postgres(const std::filesystem::path& path);

}  // namespace pgroute::it
