#include "proxy/process/config_watcher.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "proxy/base/log.hpp"

namespace pgroute {
namespace {

namespace fs = std::filesystem;

// Everything by which a file in a directory can get new content or a new identity, and the
// directory's own end (a ConfigMap's old data directory is deleted after the swap).
constexpr uint32_t kDirectoryEvents =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string errno_text() { return std::strerror(errno); }

}  // namespace

ConfigWatcher::ConfigWatcher(asio::io_context& ctx, const std::string& path, std::function<void()> on_change,
                             std::chrono::milliseconds settle)
    : ctx_(ctx),
      path_(fs::absolute(path).lexically_normal().string()),
      on_change_(std::move(on_change)),
      settle_(settle),
      timer_(ctx),
      retry_timer_(ctx) {}

ConfigWatcher::~ConfigWatcher() { stop(); }

bool ConfigWatcher::start(std::string& error) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    error = "inotify_init1: " + errno_text();
    return false;
  }
  inotify_.emplace(ctx_, fd);
  error = rewatch();
  if (watches_.empty()) {
    stop();
    return false;
  }
  asio::co_spawn(ctx_, read_loop(), asio::detached);
  return true;
}

void ConfigWatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  retry_timer_.cancel();
  if (inotify_) {
    boost::system::error_code ignore;
    inotify_->close(ignore);  // also drops every watch
  }
  watches_.clear();
}

std::string ConfigWatcher::rewatch() {
  std::map<std::string, Watch> wanted;  // by directory
  const fs::path configured(path_);
  Watch& own = wanted[configured.parent_path().string()];
  own.directory = configured.parent_path().string();
  own.names.insert(configured.filename().string());
  own.primary = true;
  // Through a symlink the content lives elsewhere: watch that directory too (it may be the same one).
  std::error_code ec;
  const fs::path real = fs::canonical(configured, ec);
  via_link_ = !ec && real != configured;
  if (via_link_) {
    Watch& target = wanted[real.parent_path().string()];
    target.directory = real.parent_path().string();
    target.names.insert(real.filename().string());
  }

  std::string error;
  std::map<int, Watch> watches;
  for (auto& [directory, watch] : wanted) {
    // Two spellings of one directory (a linked parent) yield one descriptor: merge what they want.
    int wd = ::inotify_add_watch(inotify_->native_handle(), directory.c_str(), kDirectoryEvents);
    if (wd < 0) {
      if (error.empty()) error = "cannot watch " + directory + ": " + errno_text();
      continue;
    }
    Watch& merged = watches[wd];
    merged.directory = directory;
    merged.names.insert(watch.names.begin(), watch.names.end());
    merged.primary = merged.primary || watch.primary;
  }
  for (const auto& [wd, watch] : watches_)
    if (!watches.contains(wd)) ::inotify_rm_watch(inotify_->native_handle(), wd);
  watches_ = std::move(watches);
  return error;
}

awaitable<void> ConfigWatcher::read_loop() {
  // The kernel returns whole events; a name is at most NAME_MAX + 1 bytes.
  char buffer[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
  for (;;) {
    auto [ec, n] = co_await inotify_->async_read_some(asio::buffer(buffer), use_nothrow);
    if (stopped_) co_return;
    if (ec) {
      PGR_LOG(warn) << "reload: stopped watching " << path_ << " (" << ec.message() << "); SIGHUP still reloads";
      co_return;
    }
    dispatch(buffer, n);
  }
}

// The buffer lives in the coroutine frame, whose alignment is the allocator's, not that of
// inotify_event: each header is copied out with memcpy rather than read in place (UBSan: misaligned
// access). Not a coroutine itself: a local inotify_event (flexible array member) cannot live in a frame.
void ConfigWatcher::dispatch(const char* buffer, size_t n) {
  for (size_t at = 0; at + sizeof(inotify_event) <= n;) {
    inotify_event header;
    std::memcpy(&header, buffer + at, sizeof header);
    const size_t name_at = at + sizeof(inotify_event);
    if (header.len > n - name_at) break;  // never split by the kernel; a guard all the same
    // The name is NUL-padded to header.len.
    const std::string_view name(buffer + name_at, ::strnlen(buffer + name_at, header.len));
    on_event(header, name);
    at = name_at + header.len;
  }
}

void ConfigWatcher::on_event(const inotify_event& event, std::string_view name) {
  if (event.mask & IN_Q_OVERFLOW) {  // events were lost: one of them may have been ours
    schedule();
    return;
  }
  auto it = watches_.find(event.wd);
  if (it == watches_.end()) return;
  const Watch& watch = it->second;
  if (event.mask & IN_IGNORED) {  // the directory is gone: look again (and re-resolve links) later
    watches_.erase(it);
    schedule();
    return;
  }
  if (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    schedule();
    return;
  }
  const bool ours = watch.names.contains(name);
  // A ConfigMap update renames a new `..data` link into place: any new entry beside a linked file.
  const bool link_swap = watch.primary && via_link_ && (event.mask & (IN_CREATE | IN_MOVED_TO));
  if (ours || link_swap) schedule();
}

void ConfigWatcher::schedule() {
  const auto now = Clock::now();
  quiet_at_ = now + settle_;
  if (settling_) return;
  settling_ = true;
  latest_at_ = now + 10 * settle_;
  asio::co_spawn(ctx_, settle_loop(), asio::detached);
}

awaitable<void> ConfigWatcher::settle_loop() {
  for (;;) {
    timer_.expires_at(std::min(quiet_at_, latest_at_));
    co_await timer_.async_wait(use_nothrow);
    if (stopped_) co_return;
    const auto now = Clock::now();
    if (now >= quiet_at_ || now >= latest_at_) break;
  }
  settling_ = false;
  // A swapped link may point into another directory now; a deleted directory may be back.
  if (std::string error = rewatch(); !error.empty()) {
    PGR_LOG(warn) << "reload: " << error;
    if (!watching_own_directory() && !retrying_) {
      retrying_ = true;
      PGR_LOG(warn) << "reload: looking for " << path_ << "'s directory again every "
                    << std::chrono::duration_cast<std::chrono::milliseconds>(kRetryEvery * settle_).count()
                    << " ms; SIGHUP still reloads";
      asio::co_spawn(ctx_, retry_loop(), asio::detached);
    }
  }
  on_change_();
}

bool ConfigWatcher::watching_own_directory() const {
  for (const auto& [wd, watch] : watches_)
    if (watch.primary) return true;
  return false;
}

// The file's directory is gone (deleted with the file, an unmounted volume): no event can say it is
// back, so look for it until it is, then treat it as a change (the file may have come back with it).
awaitable<void> ConfigWatcher::retry_loop() {
  for (;;) {
    retry_timer_.expires_after(kRetryEvery * settle_);
    co_await retry_timer_.async_wait(use_nothrow);
    if (stopped_) co_return;
    rewatch();
    if (watching_own_directory()) break;
  }
  retrying_ = false;
  PGR_LOG(info) << "reload: watching " << path_ << " again";
  schedule();
}

}  // namespace pgroute
