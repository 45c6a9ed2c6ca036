// The configuration file watcher against a real directory: in-place writes, replacement by rename,
// delete + create, a ConfigMap-style symlink swap, unrelated files, bursts, and a clean stop.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "proxy/process/config_watcher.hpp"

using namespace pgroute;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr auto kSettle = 40ms;
// Long enough for a settle that should not happen to have happened.
constexpr auto kQuiet = 10 * kSettle;

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

struct WatchFixture {
  fs::path dir;
  fs::path file;
  asio::io_context ctx;
  int changes = 0;
  std::unique_ptr<ConfigWatcher> watcher;

  WatchFixture() {
    std::string templ = (fs::temp_directory_path() / "pgroute-watch-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    dir = templ;
    file = dir / "pgroute.yaml";
  }
  ~WatchFixture() {
    watcher.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void start(const fs::path& watched) {
    watcher = std::make_unique<ConfigWatcher>(
        ctx, watched.string(), [this] { ++changes; }, kSettle);
    std::string error;
    REQUIRE(watcher->start(error));
    CHECK(error.empty());
  }
  // Runs the watcher until `count` changes were reported (or 5 s passed).
  bool await_changes(int count) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (changes < count && std::chrono::steady_clock::now() < deadline) ctx.run_one_for(50ms);
    return changes >= count;
  }
  // Runs the watcher for a while in which nothing (more) should be reported.
  void run_quietly() { ctx.run_for(kQuiet); }
  // Exactly `count` changes so far: they arrive, and no further one follows.
  void expect_changes(int count) {
    REQUIRE(await_changes(count));
    run_quietly();
    CHECK(changes == count);
  }
};

}  // namespace

TEST_CASE("config watcher: an in-place write is one change, a burst of writes too") {
  WatchFixture f;
  write(f.file, "a: 1\n");
  f.start(f.file);
  write(f.file, "a: 2\n");
  f.expect_changes(1);
  for (int i = 0; i < 5; ++i) write(f.file, "a: " + std::to_string(10 + i) + "\n");
  f.expect_changes(2);
}

TEST_CASE("config watcher: replacement by rename and delete + create are changes; other files are not") {
  WatchFixture f;
  write(f.file, "a: 1\n");
  f.start(f.file);
  write(f.dir / "other.yaml", "b: 1\n");
  write(f.dir / ".pgroute.yaml.swp", "junk");
  f.run_quietly();
  CHECK(f.changes == 0);

  write(f.dir / "pgroute.yaml.new", "a: 2\n");  // the temporary's own events are not about the file
  fs::rename(f.dir / "pgroute.yaml.new", f.file);
  f.expect_changes(1);

  fs::remove(f.file);
  write(f.file, "a: 3\n");
  f.expect_changes(2);
}

TEST_CASE("config watcher: a ConfigMap-style symlink swap, then an in-place write of the new target") {
  WatchFixture f;
  fs::create_directory(f.dir / "..v1");
  fs::create_directory(f.dir / "..v2");
  write(f.dir / "..v1" / "pgroute.yaml", "a: 1\n");
  write(f.dir / "..v2" / "pgroute.yaml", "a: 2\n");
  fs::create_directory_symlink("..v1", f.dir / "..data");
  fs::create_symlink("..data/pgroute.yaml", f.file);
  f.start(f.file);

  // Kubernetes: a new ..data link is renamed over the old one; pgroute.yaml itself never changes.
  fs::create_directory_symlink("..v2", f.dir / "..data_tmp");
  fs::rename(f.dir / "..data_tmp", f.dir / "..data");
  f.expect_changes(1);

  // After the swap the watcher follows the link to its new directory.
  write(f.dir / "..v2" / "pgroute.yaml", "a: 3\n");
  REQUIRE(f.await_changes(2));
  // The old target's directory is no longer the file's: edits there are not changes.
  write(f.dir / "..v1" / "pgroute.yaml", "a: 4\n");
  f.run_quietly();
  CHECK(f.changes == 2);
}

TEST_CASE("config watcher: the directory deleted and created again is watched again") {
  WatchFixture f;
  write(f.file, "a: 1\n");
  f.start(f.file);
  fs::remove_all(f.dir);  // the file goes with it: a change (the caller keeps the old rules)
  f.expect_changes(1);

  fs::create_directory(f.dir);
  write(f.file, "a: 2\n");
  REQUIRE(f.await_changes(2));  // found again within a retry period
  f.run_quietly();
  const int after_return = f.changes;
  write(f.file, "a: 3\n");  // and in-place writes are reported again
  f.expect_changes(after_return + 1);
}

TEST_CASE("config watcher: stop cancels a pending change and leaves no work on the io_context") {
  WatchFixture f;
  write(f.file, "a: 1\n");
  f.start(f.file);
  write(f.file, "a: 2\n");
  f.ctx.poll();  // the event is read; its settle is pending
  f.watcher->stop();
  f.ctx.run_for(5s);  // returns at once when nothing is left to do
  CHECK(f.ctx.stopped());
  CHECK(f.changes == 0);
}

TEST_CASE("config watcher: a directory that does not exist cannot be watched") {
  asio::io_context ctx;
  ConfigWatcher watcher(ctx, "/nonexistent-pgroute-dir/pgroute.yaml", [] {});
  std::string error;
  CHECK_FALSE(watcher.start(error));
  CHECK(error.find("/nonexistent-pgroute-dir") != std::string::npos);
}

TEST_CASE("config watcher: many unrelated files with names of odd lengths, then a change of the file") {
  // Each event is a header plus its NUL-padded name: events after odd-length names sit at offsets the
  // coroutine frame's buffer does not align for inotify_event (UBSan killed the proxy here).
  WatchFixture f;
  write(f.file, "a: 1\n");
  f.start(f.file);
  for (int i = 0; i < 200; ++i) write(f.dir / std::string(1 + i % 37, static_cast<char>('a' + i % 26)), "x");
  f.run_quietly();
  CHECK(f.changes == 0);
  write(f.file, "a: 2\n");
  f.expect_changes(1);
}
