// The running proxy: worker threads, listeners, signal handling, reload and graceful shutdown.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "proxy/admin/control.hpp"
#include "proxy/asio.hpp"
#include "proxy/metrics/endpoint.hpp"
#include "proxy/runtime.hpp"
#include "proxy/worker.hpp"

namespace pgroute {

class ProxyServer {
 public:
  ProxyServer(std::string config_path, std::shared_ptr<const config::Config> cfg,
              std::shared_ptr<const router::RouterChain> chain);
  ~ProxyServer();
  // Runs until SIGTERM/SIGINT and every client has left (or the shutdown timeout passed). Returns the exit code.
  int run();

 private:
  bool listen(std::string& error);
  awaitable<void> accept_loop(Worker& w, tcp::acceptor& acceptor);
  awaitable<void> signal_loop();
  std::string reload();  // "" = applied; otherwise the problems (the old configuration stays)
  void begin_shutdown();

  std::string config_path_;
  std::unique_ptr<Runtime> rt_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;  // one per worker, SO_REUSEPORT
  asio::io_context control_;                              // signals and shutdown timing
  std::atomic<bool> stopping_{false};
  std::unique_ptr<admin::Control> admin_control_;
  std::unique_ptr<metrics::Endpoint> metrics_;            // after rt_: destroyed first
};

}  // namespace pgroute
