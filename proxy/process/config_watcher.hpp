// Notices that the configuration file changed, however it was changed: written in place, replaced by
// rename (vim, sed -i, `mv new pgroute.yaml`), deleted and created again, or swapped through a
// symlink in its directory (Kubernetes ConfigMap volumes: pgroute.yaml -> ..data/pgroute.yaml, with
// ..data itself replaced by rename). Linux inotify on the file's DIRECTORY, since a replaced file is a
// new inode that a watch on the old one would never report. Bursts of events (an editor's write,
// fsync, rename) settle into one callback.
#pragma once

#include <sys/inotify.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "proxy/io/asio.hpp"

namespace pgroute {

class ConfigWatcher {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kSettle{200};
  // A missing directory is looked for again every kRetryEvery settle periods (1 s by default).
  static constexpr int kRetryEvery = 5;

  // on_change runs on ctx once no event about the file came for `settle` (at the latest 10 x settle
  // after the first event of a burst, so a file rewritten forever still gets looked at). It may find
  // the content unchanged (a touch, an unrelated link swap): comparing content is the caller's job.
  ConfigWatcher(asio::io_context& ctx, const std::string& path, std::function<void()> on_change,
                std::chrono::milliseconds settle = kSettle);
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Starts watching. false (with the reason) when inotify is unavailable or the directory cannot be
  // watched; the caller logs it and goes on without (SIGHUP still reloads). true with an error: a
  // link target's directory could not be watched (the file's own directory is).
  bool start(std::string& error);
  // No more callbacks: closes the inotify descriptor and cancels a pending settle, so the watcher
  // leaves no work behind on ctx (ctx.run() can return). Call on ctx's thread; idempotent.
  void stop();

  const std::string& path() const { return path_; }

 private:
  // One watched directory: the names in it whose events concern the file.
  struct Watch {
    std::string directory;
    std::set<std::string, std::less<>> names;
    bool primary = false;  // the directory named in path_ (where link swaps happen)
  };

  awaitable<void> read_loop();
  awaitable<void> settle_loop();
  awaitable<void> retry_loop();
  bool watching_own_directory() const;
  void dispatch(const char* buffer, size_t n);  // the events read into buffer, one by one
  // `event` is a copy of the header (its name member is not valid); `name` is the entry's name.
  void on_event(const inotify_event& event, std::string_view name);
  void schedule();
  // (Re)computes the watched directories: path_'s own, and its symlink target's when it is a link.
  // Returns the first failure ("" if none).
  std::string rewatch();

  asio::io_context& ctx_;
  std::string path_;  // absolute, as configured (not resolved: links are followed at every check)
  std::function<void()> on_change_;
  std::chrono::milliseconds settle_;
  std::optional<asio::posix::stream_descriptor> inotify_;
  asio::steady_timer timer_;
  asio::steady_timer retry_timer_;  // while the file's directory is missing
  std::map<int, Watch> watches_;    // by inotify watch descriptor
  bool via_link_ = false;           // path_ resolves through a symlink
  bool settling_ = false, stopped_ = false, retrying_ = false;
  Clock::time_point quiet_at_, latest_at_;
};

}  // namespace pgroute
