// The running proxy: worker threads, listeners, signal handling, reload and graceful shutdown.
#pragma once
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <string>
#include <vector>

#include "proxy/io/asio.hpp"
#include "proxy/pool/runtime.hpp"
#include "proxy/process/metrics_endpoint.hpp"
#include "proxy/session/admin_control.hpp"
#include "proxy/session/worker.hpp"

namespace pgroute {
namespace config {
struct LoadResult;
}
class ConfigWatcher;

class ProxyServer {
 public:
  ProxyServer(std::string config_path, std::shared_ptr<const config::Config> cfg,
              std::shared_ptr<const router::RouterChain> chain, std::shared_ptr<const TlsContext> tls,
              BackendTlsContexts backend_tls);
  ~ProxyServer();
  // Runs until SIGTERM/SIGINT and every client has left (or the shutdown timeout passed). Returns the exit code.
  int run();

 private:
  bool listen(std::string& error);
  awaitable<void> accept_loop(Worker& w, tcp::acceptor& acceptor);
  awaitable<void> signal_loop();
  awaitable<void> park_sweep(Worker& w);
  std::string reload();  // "" = applied; otherwise the problems (the old configuration stays)
  // What a load produced: installed, or rejected with its problems logged (the old configuration stays).
  std::string apply(const config::LoadResult& result);
  std::string reject_reload(const std::vector<std::string>& reasons);  // returns them, one per line
  // Watches the file while `reload.watch` is on: started at start and by a reload that turns it on,
  // stopped by one that turns it off (watch: false means no inotify at all).
  void sync_watching();
  void reload_if_changed();  // the watcher's callback: reloads unless the content is the live one
  // tls: files are watched too (with reload.watch): a changed certificate, key or CA loads for new
  // connections; one that does not load is logged, and the one in force stays.
  void sync_tls_watching();
  void reload_tls_files();
  void begin_shutdown();

  std::string config_path_;
  std::unique_ptr<Runtime> rt_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;  // one per worker, SO_REUSEPORT
  asio::io_context control_;                               // signals, shutdown timing, the file watcher
  std::unique_ptr<asio::signal_set> signals_;              // on control_, installed before READY
  std::unique_ptr<ConfigWatcher> watcher_;                 // after control_: destroyed first; used on control_
  // Stopped watchers: their coroutines may still be resuming on control_ (a cancelled read), so they
  // live as long as the server. One per time a reload turns watching off.
  std::vector<std::unique_ptr<ConfigWatcher>> retired_watchers_;
  std::vector<std::unique_ptr<ConfigWatcher>> tls_watchers_;  // one per tls: file, as the config names them
  std::vector<std::string> tls_watched_files_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> last_accept_warning_ms_{-1000000};  // steady clock; accept failures logged at most 1/s
  std::atomic<int> accept_failures_{0};                    // since that message
  std::unique_ptr<admin::Control> admin_control_;
  std::unique_ptr<metrics::Endpoint> metrics_;  // after rt_: destroyed first
};

}  // namespace pgroute
